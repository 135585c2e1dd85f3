/*-------------------------------------------------------------------------
 *
 * latency_windows.h
 *		The windows of the latency histograms (latency_windows.c): what
 *		latency.c calls, with the lock of the entry's partition held as
 *		each function says.
 *		Private to src/latency/.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_LATENCY_WINDOWS_H
#define GRD_LATENCY_WINDOWS_H

#include "port/atomics.h"
#include "storage/s_lock.h"

#include "chunks.h"
#include "histogram.h"
#include "latency.h"

#define FINE_SLOTS		17		/* 15 complete + the current + one spare */
#define COARSE_SLOTS	13		/* 12 complete blocks + the current one */

typedef struct GrdWindowSlot
{
	pg_atomic_uint64 number;	/* slot (or block) number; 0: empty */
	pg_atomic_uint32 calls;
	pg_atomic_uint32 failed;
	pg_atomic_uint32 underflow; /* the two end buckets */
	pg_atomic_uint32 overflow;
	pg_atomic_uint32 chunks[GRD_HIST_OCTAVES];	/* of grd_window_chunks, 0
												 * if none; a slot keeps
												 * them when it is reused */
} GrdWindowSlot;

typedef struct GrdLatencyWindows
{
	pg_atomic_uint32 changes;	/* sequence counter: odd while a slot is
								 * being reused, which the reuser claimed
								 * by a compare-and-swap from even */
	GrdWindowSlot fine[FINE_SLOTS];
	GrdWindowSlot coarse[COARSE_SLOTS];
} GrdLatencyWindows;

/*
 * The free list of windows.  It lives at the end of latency.c's shared
 * header (GrdLatencyShared), as it always has.
 */
typedef struct GrdWindowFreeList
{
	slock_t		free_mutex;		/* protects nfree and free_windows */
	int			nfree;
	GrdChunkPool chunks;		/* of the windows' slots */
	int			free_windows[FLEXIBLE_ARRAY_MEMBER];
} GrdWindowFreeList;

/* The settings, in latency.c's table. */
extern int	grd_max_window_digests;
extern int	grd_window_slot;

extern Size grd_windows_size(void);
extern Size grd_windows_bytes_per_digest(void);
extern bool grd_windows_shmem_startup(GrdWindowFreeList *free_list);
extern void grd_window_attach(pg_atomic_uint32 *window);
extern void grd_window_detach(pg_atomic_uint32 *window);
extern uint64 grd_window_now(void);
extern void grd_window_snapshot_add(GrdLatencySnapshot *snap,
									GrdLatencySnapshot *scratch, uint32 w,
									int window, uint64 cur);

/*
 * Slot numbers start at SLOT_OFFSET, a multiple of COARSE_FACTOR, so that
 * neither a slot nor a block is ever number 0 (empty) and "the slot 60
 * slots ago" never wraps, even just after the machine booted.
 */
#define SLOT_OFFSET		100

/* Set up by grd_windows_shmem_startup(); read by the inline recorder. */
extern GrdLatencyWindows *grd_lat_windows;
extern GrdChunkPool *grd_window_chunks;
extern uint64 grd_window_slot_ns;

extern void grd_window_reuse(GrdLatencyWindows *w, GrdWindowSlot *slot,
							 uint64 number);

/* The number of the slot holding a time of the monotonic clock. */
static inline uint64
grd_window_slot_number(uint64 ns)
{
	return ns / grd_window_slot_ns + SLOT_OFFSET;
}

/*
 * The counter of a bucket of a slot, or NULL if its octave has no chunk
 * (and, when attach, none could be had).  octave and pos are
 * GRD_CHUNK_OF(bucket) and GRD_CHUNK_POS(bucket), which the recorder
 * computes once for the entry and its windows.
 */
static inline pg_atomic_uint32 *
grd_window_counter_at(GrdWindowSlot *slot, int bucket, uint32 octave,
					  uint32 pos, bool attach)
{
	uint32		c;

	if (unlikely(bucket == GRD_HIST_UNDERFLOW))
		return &slot->underflow;
	if (unlikely(bucket == GRD_HIST_OVERFLOW))
		return &slot->overflow;
	c = pg_atomic_read_u32(&slot->chunks[octave]);
	if (unlikely(c == 0))
	{
		if (!attach)
			return NULL;
		c = grd_chunk_attach(grd_window_chunks, &slot->chunks[octave]);
		if (c == 0)
			return NULL;
	}
	return &grd_chunk32(grd_window_chunks, c)->counts[pos];
}

static inline pg_atomic_uint32 *
grd_window_counter(GrdWindowSlot *slot, int bucket, bool attach)
{
	return grd_window_counter_at(slot, bucket, GRD_CHUNK_OF(bucket),
								 GRD_CHUNK_POS(bucket), attach);
}

/*
 * Record one execution, ended at end_ns (monotonic clock), into the
 * current fine slot of windows w (1 + their index): the windows of the
 * entry latency_record() is recording into.  Caller holds the lock shared.
 * Inline: it runs for every execution of a digest with windows.
 */
static inline void
grd_window_record(uint32 w, uint64 end_ns, bool failed, int bucket,
				  uint32 octave, uint32 pos)
{
	GrdLatencyWindows *win = &grd_lat_windows[w - 1];
	uint64		number = grd_window_slot_number(end_ns);
	GrdWindowSlot *slot = &win->fine[number % FINE_SLOTS];

	if (unlikely(pg_atomic_read_u64(&slot->number) != number))
		grd_window_reuse(win, slot, number);
	if (likely(pg_atomic_read_u64(&slot->number) == number))
	{
		pg_atomic_uint32 *counter = grd_window_counter_at(slot, bucket,
														  octave, pos, true);

		/* no chunk left: the execution is missing from its windows */
		if (likely(counter != NULL))
		{
			pg_atomic_fetch_add_u32(failed ? &slot->failed : &slot->calls, 1);
			pg_atomic_fetch_add_u32(counter, 1);
		}
	}
}

#endif							/* GRD_LATENCY_WINDOWS_H */
