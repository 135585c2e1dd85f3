/*-------------------------------------------------------------------------
 *
 * latency_windows.c
 *		The windows of the latency histograms: the last 1, 5, 15 and 60
 *		slots of each digest that has windows.  Their shared memory and
 *		free list, recording an execution into the current slot, reusing a
 *		slot, and copying a window into a snapshot.  latency.c owns the
 *		entries, and calls these with the lock of the entry's partition held.
 *
 * Time is cut into slots of guardrails.latency_window_slot seconds,
 * numbered by the monotonic clock (slot n covers
 * [n * width, (n + 1) * width)).  A window of k slots covers the k
 * complete slots before the current one, and the current one so far: the
 * "5 minutes" of a 1-minute slot are the last 5 to 6 minutes.  The 60-slot
 * window is coarser: the last 12 complete blocks of 5 slots and the
 * current block, 60 to 65 slots.
 *
 * Each digest with windows (at most guardrails.max_window_digests of them,
 * given by latency.c to the digests that ran most lately, and freed when
 * the digest is evicted, reset or loses them) has a ring of FINE_SLOTS
 * slots, the last 17 slots, and a ring of COARSE_SLOTS blocks of 5 slots.  Executions are recorded into the fine
 * ring only.  When a fine slot is reused for a new slot number, its counts
 * are first added into the coarse block its old number belongs to (or
 * dropped if that block is older than the coarse ring): every slot's
 * counts are then in exactly one place, the fine ring or one coarse block.
 * The 1, 5 and 15-slot windows read the fine ring; the 60-slot window
 * reads both.
 *
 * Counters are 32 bits, which holds 14 million executions a second of one
 * digest for a 5-minute block; the slot width is at most 60 seconds.  A
 * slot's histogram is sparse: its two end buckets, and a chunk of 35
 * counters for each octave a value landed in (chunks.h), from the windows'
 * pool.  A slot keeps its chunks, zeroed, when it is reused, so that a
 * backend still counting into the slot it found never counts into a chunk
 * given to another; they go back to the pool when the windows are freed.
 * When the pool is empty, an execution that needs a new chunk is left out
 * of its windows.
 *
 * Locking: recording into the current slot takes no lock (atomics, under
 * the partition lock shared as for the entry).  Reusing a slot (once per
 * slot per digest) reads, adds and zeroes up to 3,500 counters, far too
 * many for a spinlock: the reuser claims the windows by turning "changes"
 * from even to odd with a compare-and-swap, does the work, and publishes
 * it by making "changes" even again.  "changes" is thus a sequence
 * counter whose odd values are also the one reuser's claim: a second
 * reuser (another backend recording the same digest into the same new
 * slot) waits with a spin delay until it is even, and then finds the
 * slot reused.  Readers copy without a lock, and start over, after a spin
 * delay, until they copied with "changes" even and unmoved, so that they
 * never see a slot's counts both in the fine ring and in a coarse block,
 * or in neither.  The claim is held for a bounded piece of work that
 * cannot fail or sleep, so both waits end.  Freeing windows
 * (grd_window_detach) takes the partition lock exclusive, so no reuser or
 * reader is there.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/atomics.h"
#include "storage/s_lock.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "compat.h"
#include "histogram.h"
#include "latency.h"
#include "latency_windows.h"

#define COARSE_FACTOR	5
#define LONG_WINDOW		60		/* slots of the coarse window */

const int	grd_window_slots[GRD_NUM_WINDOWS] = {1, 5, 15, LONG_WINDOW};


GrdLatencyWindows *grd_lat_windows = NULL;
GrdChunkPool *grd_window_chunks = NULL;
static GrdWindowFreeList *free_list = NULL; /* in latency.c's shared header */
uint64		grd_window_slot_ns = 0;

/*
 * Chunks of the windows: CHUNKS_PER_SLOT per slot on average.  A slot keeps
 * the chunks it got when it is reused, so the slots of a digest hold the
 * octaves its executions took in the last hour or so.
 */
#define CHUNKS_PER_SLOT		4

static uint32
windows_nchunks(void)
{
	return (uint32) Min((uint64) grd_max_window_digests *
						(FINE_SLOTS + COARSE_SLOTS) * CHUNKS_PER_SLOT,
						(uint64) PG_INT32_MAX);
}

/* Bytes of the windows of one digest, its share of the chunks included. */
Size
grd_windows_bytes_per_digest(void)
{
	return sizeof(GrdLatencyWindows) +
		(FINE_SLOTS + COARSE_SLOTS) * CHUNKS_PER_SLOT * sizeof(GrdChunk32);
}

/* Bytes of the windows of all digests that may have them. */
Size
grd_windows_size(void)
{
	return add_size(mul_size(sizeof(GrdLatencyWindows),
							 grd_max_window_digests),
					grd_chunk_pool_size(windows_nchunks(), sizeof(uint32)));
}

/*
 * Create (or attach to) the windows, and fill their free list, which lives
 * in latency.c's shared header, when they are new.  Returns whether they
 * existed.  Caller (latency.c's startup) holds AddinShmemInitLock.
 */
bool
grd_windows_shmem_startup(GrdWindowFreeList *list)
{
	bool		found;

	free_list = list;
	grd_lat_windows = ShmemInitStruct("pg_guardrails latency windows",
									  mul_size(sizeof(GrdLatencyWindows),
											   grd_max_window_digests),
									  &found);
	grd_window_chunks = &free_list->chunks;
	grd_chunk_pool_init(grd_window_chunks, !found,
						"pg_guardrails latency window chunks",
						windows_nchunks(), sizeof(uint32));
	if (!found)
	{
		SpinLockInit(&free_list->free_mutex);
		free_list->nfree = grd_max_window_digests;
		for (int i = 0; i < grd_max_window_digests; i++)
		{
			GrdLatencyWindows *w = &grd_lat_windows[i];

			/* the last free first, so that windows are taken in order */
			free_list->free_windows[i] = grd_max_window_digests - 1 - i;
			pg_atomic_init_u32(&w->changes, 0);
			for (int j = 0; j < FINE_SLOTS + COARSE_SLOTS; j++)
			{
				GrdWindowSlot *slot = j < FINE_SLOTS ? &w->fine[j] :
					&w->coarse[j - FINE_SLOTS];

				pg_atomic_init_u64(&slot->number, 0);
				pg_atomic_init_u32(&slot->calls, 0);
				pg_atomic_init_u32(&slot->failed, 0);
				pg_atomic_init_u32(&slot->underflow, 0);
				pg_atomic_init_u32(&slot->overflow, 0);
				for (int c = 0; c < GRD_HIST_OCTAVES; c++)
					pg_atomic_init_u32(&slot->chunks[c], 0);
			}
		}
	}
	grd_window_slot_ns = (uint64) grd_window_slot * UINT64CONST(1000000000);
	return found;
}


/*
 * Empty a slot and give it a new number.  Caller has claimed the windows
 * ("changes" odd).
 */
static void
window_slot_reset(GrdWindowSlot *slot, uint64 number)
{
	pg_atomic_write_u32(&slot->calls, 0);
	pg_atomic_write_u32(&slot->failed, 0);
	pg_atomic_write_u32(&slot->underflow, 0);
	pg_atomic_write_u32(&slot->overflow, 0);
	for (int c = 0; c < GRD_HIST_OCTAVES; c++)
	{
		uint32		chunk = pg_atomic_read_u32(&slot->chunks[c]);

		if (chunk != 0)
		{
			GrdChunk32 *counts = grd_chunk32(grd_window_chunks, chunk);

			for (int i = 0; i < GRD_HIST_PER_OCTAVE; i++)
				pg_atomic_write_u32(&counts->counts[i], 0);
		}
	}
	pg_write_barrier();
	pg_atomic_write_u64(&slot->number, number);
}

/*
 * Move a fine slot's counts (of slot number old) into the coarse block of
 * old, unless that block is older than the coarse ring, and empty the slot
 * for slot number.  Caller has claimed the windows ("changes" odd).
 */
static void
window_slot_move(GrdLatencyWindows *w, GrdWindowSlot *slot, uint64 old,
				 uint64 number)
{
	if (old != 0)
	{
		uint64		block = old / COARSE_FACTOR;
		GrdWindowSlot *c = &w->coarse[block % COARSE_SLOTS];
		uint64		cnum = pg_atomic_read_u64(&c->number);

		if (cnum < block)
		{
			window_slot_reset(c, block);
			cnum = block;
		}
		if (cnum == block)
		{
			pg_atomic_fetch_add_u32(&c->calls,
									pg_atomic_read_u32(&slot->calls));
			pg_atomic_fetch_add_u32(&c->failed,
									pg_atomic_read_u32(&slot->failed));
			for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
			{
				pg_atomic_uint32 *from = grd_window_counter(slot, b, false);
				uint32		v = from != NULL ? pg_atomic_read_u32(from) : 0;
				pg_atomic_uint32 *to;

				if (v == 0)
					continue;
				/* no chunk left: these counts are missing from the block */
				to = grd_window_counter(c, b, true);
				if (to != NULL)
					pg_atomic_fetch_add_u32(to, v);
			}
		}
	}
	window_slot_reset(slot, number);
}

/*
 * Reuse the fine slot for slot number, unless another backend did or it
 * holds a later slot already (see "Locking" in the file header): claim the
 * windows, move the slot's counts into their coarse block, empty it,
 * publish.  When another backend holds the claim, wait for it to publish,
 * and look again.  Readers see "changes" odd meanwhile, and wait too.
 */
void
grd_window_reuse(GrdLatencyWindows *w, GrdWindowSlot *slot, uint64 number)
{
	SpinDelayStatus delay;
	bool		waited = false;

	for (;;)
	{
		uint32		changes;

		if (pg_atomic_read_u64(&slot->number) >= number)
			break;
		changes = pg_atomic_read_u32(&w->changes);
		if (changes % 2 == 0 &&
			pg_atomic_compare_exchange_u32(&w->changes, &changes,
										   changes + 1))
		{
			uint64		old;

			/*
			 * Claimed (the compare-and-swap is a full barrier).  Look at the
			 * slot again: the previous claimer may have reused it since.
			 */
			old = pg_atomic_read_u64(&slot->number);

			/*
			 * Tests stop a reuser here, with the claim held; only a wait
			 * may be attached: an error would leave the claim held.
			 */
			GRD_INJECTION_POINT("pg-guardrails-window-reuse");
			if (old < number)
				window_slot_move(w, slot, old, number);
			/* publish: a full barrier, then even again */
			pg_atomic_fetch_add_u32(&w->changes, 1);
			break;
		}
		if (!waited)
		{
			init_local_spin_delay(&delay);
			waited = true;
		}
		perform_spin_delay(&delay);
	}
	if (waited)
		finish_spin_delay(&delay);
}

/*
 * Give an entry windows, if some are free: window is its field holding
 * 1 + the index of its windows.  Caller holds the lock shared or
 * exclusive; another backend may do the same at once, and the loser of
 * the compare-and-swap puts its windows back.  The slots were emptied when
 * the windows were freed.
 */
void
grd_window_attach(pg_atomic_uint32 *window)
{
	int			idx = -1;
	uint32		expected = 0;

	/* an unlocked look first: when all are taken, this is the common case */
	if (free_list->nfree == 0)
		return;
	SpinLockAcquire(&free_list->free_mutex);
	if (free_list->nfree > 0)
		idx = free_list->free_windows[--free_list->nfree];
	SpinLockRelease(&free_list->free_mutex);
	if (idx < 0)
		return;
	if (!pg_atomic_compare_exchange_u32(window, &expected,
										(uint32) idx + 1))
	{
		SpinLockAcquire(&free_list->free_mutex);
		free_list->free_windows[free_list->nfree++] = idx;
		SpinLockRelease(&free_list->free_mutex);
	}
}

/*
 * Give an entry's windows back, emptied (window: as for attach).  Caller
 * holds the lock exclusive,
 * so no backend is recording into them.
 */
void
grd_window_detach(pg_atomic_uint32 *window)
{
	uint32		w = pg_atomic_read_u32(window);

	if (w == 0)
		return;
	for (int j = 0; j < FINE_SLOTS; j++)
	{
		pg_atomic_write_u64(&grd_lat_windows[w - 1].fine[j].number, 0);
		grd_chunk_detach(grd_window_chunks, grd_lat_windows[w - 1].fine[j].chunks,
						 GRD_HIST_OCTAVES);
	}
	for (int j = 0; j < COARSE_SLOTS; j++)
	{
		pg_atomic_write_u64(&grd_lat_windows[w - 1].coarse[j].number, 0);
		grd_chunk_detach(grd_window_chunks, grd_lat_windows[w - 1].coarse[j].chunks,
						 GRD_HIST_OCTAVES);
	}
	pg_atomic_write_u32(window, 0);
	SpinLockAcquire(&free_list->free_mutex);
	free_list->free_windows[free_list->nfree++] = (int) w - 1;
	SpinLockRelease(&free_list->free_mutex);
}

/* Add a window slot's counters to a snapshot. */
static void
window_slot_add(GrdLatencySnapshot *snap, GrdWindowSlot *slot)
{
	snap->totals.calls += pg_atomic_read_u32(&slot->calls);
	snap->totals.failed += pg_atomic_read_u32(&slot->failed);
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		pg_atomic_uint32 *counter = grd_window_counter(slot, b, false);
		uint32		v = counter != NULL ? pg_atomic_read_u32(counter) : 0;

		snap->counts[b] += v;
		snap->nvalues += v;
	}
}

/*
 * Add one entry's window (an index of grd_window_slots) to a snapshot, as
 * of slot number cur; w is the entry's 1 + index of its windows, 0 if
 * none.  The slots are copied without a lock; a copy made
 * while a slot was being reused is started over from the snapshot as it
 * was (kept in scratch), after a spin delay, until one is made with no
 * reuse under way: a reuse is a bounded piece of work that cannot fail,
 * so this ends, and the copy is never torn nor dropped.  (Interrupts are
 * held off here anyway: caller holds the lock, at least shared, so that
 * the windows cannot be freed.)
 */
void
grd_window_snapshot_add(GrdLatencySnapshot *snap, GrdLatencySnapshot *scratch,
						uint32 w, int window, uint64 cur)
{
	GrdLatencyWindows *win;
	int			k = grd_window_slots[window];
	uint64		first;
	SpinDelayStatus delay;
	bool		waited = false;

	if (w == 0)
		return;
	win = &grd_lat_windows[w - 1];
	if (k < LONG_WINDOW)
		first = cur - k;
	else
		first = (cur / COARSE_FACTOR) * COARSE_FACTOR - LONG_WINDOW;
	memcpy(scratch, snap, sizeof(GrdLatencySnapshot));
	for (;;)
	{
		uint32		before = pg_atomic_read_u32(&win->changes);

		if (before % 2 == 0)
		{
			pg_read_barrier();
			for (int j = 0; j < FINE_SLOTS; j++)
			{
				if (pg_atomic_read_u64(&win->fine[j].number) >= first)
					window_slot_add(snap, &win->fine[j]);
			}
			if (k == LONG_WINDOW)
			{
				for (int j = 0; j < COARSE_SLOTS; j++)
				{
					if (pg_atomic_read_u64(&win->coarse[j].number) >=
						first / COARSE_FACTOR)
						window_slot_add(snap, &win->coarse[j]);
				}
			}
			pg_read_barrier();
			if (pg_atomic_read_u32(&win->changes) == before)
				break;
			memcpy(snap, scratch, sizeof(GrdLatencySnapshot));
		}
		if (!waited)
		{
			init_local_spin_delay(&delay);
			waited = true;
		}
		perform_spin_delay(&delay);
	}
	if (waited)
		finish_spin_delay(&delay);
}

/* The slot number of now, for the readers of windows. */
uint64
grd_window_now(void)
{
	return grd_window_slot_number(grd_now_ns());
}
