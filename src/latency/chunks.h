/*-------------------------------------------------------------------------
 *
 * chunks.h
 *		Sparse latency histograms (chunks.c): a histogram's regular buckets
 *		come in chunks of one octave each (GRD_HIST_PER_OCTAVE buckets),
 *		taken from a shared pool the first time a value lands in that
 *		octave.  Private to src/latency/.
 *
 * A histogram of executions that take between 100 us and 10 ms touches
 * 7 of the 33 octaves; most touch fewer.  The underflow and overflow
 * buckets stay with the histogram itself.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_CHUNKS_H
#define GRD_CHUNKS_H

#include "port/atomics.h"
#include "storage/s_lock.h"

#include "histogram.h"

/* The chunk of a regular bucket, and its place in the chunk. */
/* (unsigned: a multiplication and a shift, for a regular bucket) */
#define GRD_CHUNK_OF(bucket)	((uint32) ((bucket) - 1) / GRD_HIST_PER_OCTAVE)
#define GRD_CHUNK_POS(bucket)	((uint32) ((bucket) - 1) % GRD_HIST_PER_OCTAVE)
#define GRD_CHUNK_BUCKET(c, i)	(1 + (c) * GRD_HIST_PER_OCTAVE + (i))

/*
 * A pool of chunks of one size, in shared memory.  A chunk is named by
 * 1 + its index, so that 0 means "none"; free chunks are chained through
 * their first four bytes, under the spinlock.  A histogram's field that
 * names its chunk is set once by compare-and-swap, and only cleared (the
 * chunk given back) by whoever knows that no backend can be counting into
 * it any more: see the callers.
 */
typedef struct GrdChunkPool
{
	slock_t		mutex;			/* protects first_free and nfree */
	uint32		first_free;		/* 1 + index, 0 if none */
	uint32		nfree;
	uint32		nchunks;		/* constant */
	uint32		counter_size;	/* 4 or 8 bytes: constant */
	char	   *base;			/* constant: the chunks, a shared memory
								 * allocation of their own */
} GrdChunkPool;

/* The chunks of the cumulative histograms (64 bits) and of the windows. */
typedef struct GrdChunk64
{
	pg_atomic_uint64 counts[GRD_HIST_PER_OCTAVE];
} GrdChunk64;

typedef struct GrdChunk32
{
	pg_atomic_uint32 counts[GRD_HIST_PER_OCTAVE];
} GrdChunk32;

extern Size grd_chunk_pool_size(uint32 nchunks, uint32 counter_size);
extern void grd_chunk_pool_init(GrdChunkPool *pool, bool init_header,
								const char *name, uint32 nchunks,
								uint32 counter_size);
extern uint32 grd_chunk_attach(GrdChunkPool *pool, pg_atomic_uint32 *field);
extern void grd_chunk_detach(GrdChunkPool *pool, pg_atomic_uint32 *fields,
							 int nfields);

/* The chunk named c (not 0) of a pool. */
static inline void *
grd_chunk_get(const GrdChunkPool *pool, uint32 c)
{
	return pool->base + (Size) (c - 1) * pool->counter_size *
		GRD_HIST_PER_OCTAVE;
}

/* The same, for a pool known to hold 64-bit or 32-bit counters. */
static inline GrdChunk64 *
grd_chunk64(const GrdChunkPool *pool, uint32 c)
{
	return (GrdChunk64 *) pool->base + (c - 1);
}

static inline GrdChunk32 *
grd_chunk32(const GrdChunkPool *pool, uint32 c)
{
	return (GrdChunk32 *) pool->base + (c - 1);
}

#endif							/* GRD_CHUNKS_H */
