/*-------------------------------------------------------------------------
 *
 * chunks.c
 *		Pools of histogram chunks in shared memory (see chunks.h).
 *
 * Locking protocol: each pool's spinlock protects its free list, and is
 * held for a few instructions: pushing or popping one chunk, or pushing
 * the chunks of one histogram.  A chunk is zeroed by the backend that
 * takes it, before it publishes it by compare-and-swap into the
 * histogram's field; a backend that loses that race gives its chunk back.
 * Giving chunks back is the business of the histogram's owner (latency.c,
 * latency_windows.c), which does it only when no backend can be counting
 * into them: with the lock of the entry's partition held exclusive, or
 * before any backend exists.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "storage/shmem.h"
#include "storage/spin.h"

#include "chunks.h"

#define CHUNK_BYTES(pool)	((Size) (pool)->counter_size * GRD_HIST_PER_OCTAVE)

/* The link of a free chunk: its first four bytes. */
static inline uint32 *
chunk_link(GrdChunkPool *pool, uint32 c)
{
	return (uint32 *) grd_chunk_get(pool, c);
}

/*
 * Bytes of shared memory of the chunks of a pool of nchunks chunks (the
 * pool itself, GrdChunkPool, lives in its owner's shared header).
 */
Size
grd_chunk_pool_size(uint32 nchunks, uint32 counter_size)
{
	return mul_size(nchunks, (Size) counter_size * GRD_HIST_PER_OCTAVE);
}

/*
 * Create (or attach to) the chunks of a pool, named name, and set up the
 * pool when the owner's shared header is new (init_header).  Caller holds
 * AddinShmemInitLock.
 */
void
grd_chunk_pool_init(GrdChunkPool *pool, bool init_header, const char *name,
					uint32 nchunks, uint32 counter_size)
{
	char	   *base;
	bool		found;

	Assert(counter_size == 4 || counter_size == 8);
	base = ShmemInitStruct(name, grd_chunk_pool_size(nchunks, counter_size),
						   &found);
	if (init_header)
	{
		SpinLockInit(&pool->mutex);
		pool->nchunks = nchunks;
		pool->counter_size = counter_size;
		pool->base = base;
		/* chain them in order, so that chunks are taken in order */
		for (uint32 c = 1; c <= nchunks; c++)
			*chunk_link(pool, c) = (c < nchunks) ? c + 1 : 0;
		pool->first_free = nchunks > 0 ? 1 : 0;
		pool->nfree = nchunks;
	}
}

/* Zero the counters of a chunk just taken from the free list. */
static void
chunk_zero(GrdChunkPool *pool, uint32 c)
{
	if (pool->counter_size == 8)
	{
		GrdChunk64 *chunk = grd_chunk_get(pool, c);

		for (int i = 0; i < GRD_HIST_PER_OCTAVE; i++)
			pg_atomic_init_u64(&chunk->counts[i], 0);
	}
	else
	{
		GrdChunk32 *chunk = grd_chunk_get(pool, c);

		for (int i = 0; i < GRD_HIST_PER_OCTAVE; i++)
			pg_atomic_init_u32(&chunk->counts[i], 0);
	}
}

/*
 * Give the histogram field names a chunk, unless it has one: returns the
 * chunk it has then, or 0 when the pool is empty.  Another backend may do
 * the same at once; the loser of the compare-and-swap gives its chunk
 * back.  Never raises an error.
 */
uint32
grd_chunk_attach(GrdChunkPool *pool, pg_atomic_uint32 *field)
{
	uint32		c;
	uint32		expected = 0;

	/* an unlocked look first: when the pool is empty, it stays cheap */
	if (pool->nfree == 0)
		return pg_atomic_read_u32(field);
	SpinLockAcquire(&pool->mutex);
	c = pool->first_free;
	if (c != 0)
	{
		pool->first_free = *chunk_link(pool, c);
		pool->nfree--;
	}
	SpinLockRelease(&pool->mutex);
	if (c == 0)
		return pg_atomic_read_u32(field);

	chunk_zero(pool, c);
	/* a full barrier: the zeroes are visible before the chunk is */
	if (pg_atomic_compare_exchange_u32(field, &expected, c))
		return c;

	SpinLockAcquire(&pool->mutex);
	*chunk_link(pool, c) = pool->first_free;
	pool->first_free = c;
	pool->nfree++;
	SpinLockRelease(&pool->mutex);
	return expected;
}

/*
 * Give back the chunks named by nfields fields of a histogram, and clear
 * the fields.  Caller makes sure that no backend counts into them (see the
 * file header).
 */
void
grd_chunk_detach(GrdChunkPool *pool, pg_atomic_uint32 *fields, int nfields)
{
	uint32		given[GRD_HIST_OCTAVES];
	int			n = 0;

	Assert(nfields <= GRD_HIST_OCTAVES);
	for (int i = 0; i < nfields; i++)
	{
		uint32		c = pg_atomic_read_u32(&fields[i]);

		if (c == 0)
			continue;
		given[n++] = c;
		pg_atomic_write_u32(&fields[i], 0);
	}
	if (n == 0)
		return;
	SpinLockAcquire(&pool->mutex);
	for (int i = 0; i < n; i++)
	{
		*chunk_link(pool, given[i]) = pool->first_free;
		pool->first_free = given[i];
	}
	pool->nfree += n;
	SpinLockRelease(&pool->mutex);
}

StaticAssertDecl(sizeof(GrdChunk64) == GRD_HIST_PER_OCTAVE * sizeof(uint64),
				 "a chunk of 64-bit counters must have no padding");
StaticAssertDecl(sizeof(GrdChunk32) == GRD_HIST_PER_OCTAVE * sizeof(uint32),
				 "a chunk of 32-bit counters must have no padding");
