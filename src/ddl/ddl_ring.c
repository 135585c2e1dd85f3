/*-------------------------------------------------------------------------
 *
 * ddl_ring.c
 *		The DDL log's shared ring: the last guardrails.ddl_log_size entries,
 *		their sequence numbers and the reservation of those numbers, the
 *		interface the background worker reads it through, its section of
 *		the state file, its settings and its rows of guardrails.status.
 *
 * ddl_audit.c builds the entry of a statement that ended and hands it to
 * grd_ddl_ring_put(), which gives it its sequence number and copies it
 * into its slot; the background worker (ddl_worker.c) finds it there at
 * its next tick (at most a second later), and the view reads it through
 * ddl_log_sql.c.
 *
 * Sequence numbers increase across restarts.  A clean shutdown saves the
 * ring and the next number in shmem.c's state file.  To survive a crash,
 * numbers are reserved in blocks in pg_stat/pg_guardrails_ddl.seq
 * (ddl_seq_file.c), written with a durable rename by the postmaster at
 * start and then by the background worker, which the ring writer wakes
 * when the block runs low; a backend writes it itself (before its
 * statement runs, outside the ring lock) only if the block is used up.
 * After a crash numbering resumes after the reserved block, leaving a gap;
 * no number is handed out beyond the block (grd_ddl_ring_put).  The worker
 * also raises the next number above the highest one of this server's
 * timeline in the table (the sequence file was lost).  Entries are stored
 * as (system identifier, timeline, seq): a promoted standby needs no
 * number of its primary's.
 *
 * Locking protocol:
 *	- GRD_LOCK_DDL_RING protects the slots.  A writer holds it exclusive
 *	  while it takes a number (next_seq, an atomic advanced only under the
 *	  lock) and copies its entry into the slot; readers (the views, the
 *	  worker) hold it shared while they copy one slot out.
 *	- GRD_LOCK_DDL_SEQ serialises writers of the reservation file;
 *	  reserved_seq is an atomic, written under it.
 *	- stored_seq (the worker's progress), reset_seq and the counters are
 *	  atomics.
 *	- mutex protects worker_latch.
 *	No code path holds both LWLocks.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "compat.h"
#include "ddl_entry.h"
#include "ddl_ring.h"
#include "ddl_seq_file.h"
#include "module.h"

#define GRD_DDL_SEQ_BLOCK		1024	/* numbers reserved at a time */
#define GRD_DDL_SEQ_MARGIN		512 /* reserve again when fewer are left */

#define GRD_DDL_FILE_MAGIC		0x47444C32	/* "GDL2": entries carry their
											 * encoding */

typedef struct GrdDdlShared
{
	pg_atomic_uint64 next_seq;	/* number of the next entry */
	pg_atomic_uint64 reserved_seq;	/* highest number in the reservation
									 * file */
	pg_atomic_uint64 stored_seq;	/* the worker is done with every entry
									 * up to this one */
	pg_atomic_uint32 stored_known;	/* stored_seq is the worker's progress
									 * (not known after a crash until the
									 * worker read the table) */
	pg_atomic_uint64 reset_seq; /* ddl_log shows entries after this one */
	pg_atomic_uint64 overwritten;	/* entries overwritten before the worker
									 * stored them */
	pg_atomic_uint64 counters[GRD_DDL_NCOUNTERS];	/* grd_ddl_count() */
	uint64		crash_seq;		/* numbers below this one and above the
								 * last stored one were lost in a crash;
								 * set by the postmaster at start */
	uint64		skip_from;		/* the last run of numbers given to entries
								 * not for the table (under the ring lock) */
	uint64		skip_to;
	slock_t		mutex;			/* protects worker_latch */
	Latch	   *worker_latch;	/* the worker's, while it runs */
	char		ring[FLEXIBLE_ARRAY_MEMBER];	/* grd_ddl_log_size slots */
} GrdDdlShared;

/* What the state file holds before the entries. */
typedef struct GrdDdlFileHeader
{
	uint32		magic;
	uint32		entry_header_size;	/* offsetof(GrdDdlEntry, query) */
	uint64		next_seq;
	uint64		stored_seq;
	uint64		reset_seq;
	uint64		overwritten;
	uint64		counters[GRD_DDL_NCOUNTERS];
	uint64		crash_seq;
	uint32		stored_known;
	uint32		nentries;
} GrdDdlFileHeader;

int			grd_ddl_destinations = GRD_DDL_DEST_VIEW | GRD_DDL_DEST_LOG |
GRD_DDL_DEST_TABLE;

static GrdDdlShared *ddl_shared = NULL;
static LWLock *ring_lock = NULL;
static Size entry_size = 0;
static bool reserve_warned = false;

static inline bool seq_low(void);
static bool seq_reserve(void);
static GrdDdlEntry *ring_slot(uint64 seq);

/* settings */
static int	grd_ddl_log_size = 1000;
int			grd_ddl_log_max_query_len = 4096;
static char *grd_ddl_log_destination = NULL;

static bool check_ddl_log_destination(char **newval, void **extra,
									  GucSource source);
static void assign_ddl_log_destination(const char *newval, void *extra);

/* The settings of the DDL log. */
static const GrdSetting ddl_log_settings[] = {
	GRD_SETTING_INT("guardrails.ddl_log_size", &grd_ddl_log_size, 1000, 1, 1000000,
		PGC_POSTMASTER, 0,
		"Number of DDL statements the shared ring of the DDL log holds.",
		"guardrails.ddl_log shows them; the oldest is overwritten when it is full."),
	GRD_SETTING_INT("guardrails.ddl_log_max_query_len", &grd_ddl_log_max_query_len, 4096, 64, 1024 * 1024,
		PGC_POSTMASTER, GUC_UNIT_BYTE,
		"Longest statement text the DDL log keeps; longer ones are truncated.",
		"Each entry of the ring takes this much shared memory, plus about 1.5 kB."),
	GRD_SETTING_STRING("guardrails.ddl_log_destination", &grd_ddl_log_destination, "view, log, table", PGC_SIGHUP, GUC_LIST_INPUT,
		check_ddl_log_destination, assign_ddl_log_destination,
		"Where DDL statements are recorded: view, log and table.",
		"view: the ring shown by guardrails.ddl_log; log: one line per statement in the server log; " "table: guardrails.ddl_history, filled from the ring by a background worker. Empty: nowhere."),
	GRD_SETTINGS_END
};

/* ----------------------------------------------------------------
 *		Shared memory
 * ----------------------------------------------------------------
 */

/* Bytes of one slot: the fixed part and the longest text kept. */
Size
grd_ddl_entry_size(void)
{
	return MAXALIGN(offsetof(GrdDdlEntry, query) +
					grd_ddl_log_max_query_len + 1);
}

static Size
ddl_log_shmem_size(void)
{
	return add_size(MAXALIGN(offsetof(GrdDdlShared, ring)),
					mul_size(grd_ddl_entry_size(), grd_ddl_log_size));
}

static GrdDdlEntry *
ring_slot(uint64 seq)
{
	return (GrdDdlEntry *) (ddl_shared->ring +
							((seq - 1) % grd_ddl_log_size) * entry_size);
}

/*
 * Create or attach to the ring.  The postmaster then loads the state file
 * (shmem.c) and calls ddl_log_after_load().
 */
static void
ddl_log_shmem_startup(bool found)
{
	bool		found_ring;

	entry_size = grd_ddl_entry_size();
	ddl_shared = ShmemInitStruct("pg_guardrails ddl log",
								 ddl_log_shmem_size(), &found_ring);
	ring_lock = grd_lock(GRD_LOCK_DDL_RING);
	if (found_ring)
		return;

	pg_atomic_init_u64(&ddl_shared->next_seq, 1);
	pg_atomic_init_u64(&ddl_shared->reserved_seq, 0);
	pg_atomic_init_u64(&ddl_shared->stored_seq, 0);
	pg_atomic_init_u32(&ddl_shared->stored_known, 0);
	pg_atomic_init_u64(&ddl_shared->reset_seq, 0);
	pg_atomic_init_u64(&ddl_shared->overwritten, 0);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		pg_atomic_init_u64(&ddl_shared->counters[i], 0);
	ddl_shared->crash_seq = 0;
	ddl_shared->skip_from = 0;
	ddl_shared->skip_to = 0;
	SpinLockInit(&ddl_shared->mutex);
	ddl_shared->worker_latch = NULL;
	memset(ddl_shared->ring, 0, mul_size(entry_size, grd_ddl_log_size));
}

/*
 * In the postmaster, after the state file was read (loaded = the ring came
 * from it) or not (first start, crash restart, damaged file): without a
 * saved ring, start empty, numbering after the last reserved number.
 */
static void
ddl_log_after_load(bool loaded)
{
	uint64		reserved = grd_ddl_seq_file_read();
	uint64		next;

	if (!loaded)
	{
		/*
		 * The segment was just created (ddl_log_shmem_startup: shmem.c
		 * loads the state file only then), and ddl_log_load sets the
		 * counters only when it succeeds: they are still zero.  Only the
		 * slots, which a damaged section may have half filled, and the
		 * numbering are to be set.
		 */
		memset(ddl_shared->ring, 0, mul_size(entry_size, grd_ddl_log_size));
		pg_atomic_write_u64(&ddl_shared->next_seq, reserved + 1);
		ddl_shared->crash_seq = reserved + 1;
	}
	next = pg_atomic_read_u64(&ddl_shared->next_seq);
	reserved = Max(reserved, next - 1);

	/* the first block, so that no statement has to write the file */
	if (grd_ddl_seq_file_write(next + GRD_DDL_SEQ_BLOCK))
		reserved = next + GRD_DDL_SEQ_BLOCK;
	else
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", GRD_DDL_SEQ_FILE_TMP)));
	pg_atomic_write_u64(&ddl_shared->reserved_seq, reserved);
}

/* ----------------------------------------------------------------
 *		Sequence numbers that survive a crash
 * ----------------------------------------------------------------
 */

/* Whether the reserved block is running low. */
static inline bool
seq_low(void)
{
	return pg_atomic_read_u64(&ddl_shared->next_seq) + GRD_DDL_SEQ_MARGIN >
		pg_atomic_read_u64(&ddl_shared->reserved_seq);
}

/*
 * Reserve the next block of numbers if the current one runs low.  The
 * worker calls this; a backend only when the block is used up, before its
 * statement runs (never in an error path).  A failure to write the file is
 * logged (once per process) and costs only the guarantee after a crash.
 */
void
grd_ddl_reserve_seq(void)
{
	if (ddl_shared != NULL && seq_low())
		seq_reserve();
}

/* Reserve the next block; false if the file could not be written. */
static bool
seq_reserve(void)
{
	uint64		target;
	bool		ok;

	LWLockAcquire(grd_lock(GRD_LOCK_DDL_SEQ), LW_EXCLUSIVE);
	if (!seq_low())
	{
		LWLockRelease(grd_lock(GRD_LOCK_DDL_SEQ));
		return true;			/* another process did it */
	}
	target = pg_atomic_read_u64(&ddl_shared->next_seq) + GRD_DDL_SEQ_BLOCK;
	GRD_INJECTION_POINT("pg-guardrails-ddl-seq-reserve");
	ok = grd_ddl_seq_file_write(target);
	if (ok)
		pg_atomic_write_u64(&ddl_shared->reserved_seq, target);
	LWLockRelease(grd_lock(GRD_LOCK_DDL_SEQ));

	if (!ok && !reserve_warned)
	{
		reserve_warned = true;
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", GRD_DDL_SEQ_FILE_TMP),
				 errdetail("DDL log sequence numbers may repeat after a crash.")));
	}
	return ok;
}

/*
 * Before a statement, in a backend: reserve the next block only if the
 * current one is used up (the worker has not kept up).
 */
void
grd_ddl_reserve_seq_if_used_up(void)
{
	if (pg_atomic_read_u64(&ddl_shared->next_seq) >=
		pg_atomic_read_u64(&ddl_shared->reserved_seq))
		seq_reserve();
}

/* ----------------------------------------------------------------
 *		Writing the ring
 * ----------------------------------------------------------------
 */

/*
 * Whether this backend holds one of the DDL log's locks: then nothing may
 * write an entry until it is released (see ddl_audit.c's pending entries).
 */
bool
grd_ddl_ring_locked_by_me(void)
{
	return LWLockHeldByMe(ring_lock) ||
		LWLockHeldByMe(grd_lock(GRD_LOCK_DDL_SEQ));
}

/* Whether the ring exists: the library was preloaded. */
bool
grd_ddl_ring_attached(void)
{
	return ddl_shared != NULL;
}

/*
 * Give the entry its number and copy it into its slot.  Returns the
 * number.  may_reserve is false when the entry is written after an error
 * (ddl_audit.c's pending entries, from a transaction's abort): that path
 * does no file I/O, so a used-up block of numbers is then overrun, as when
 * the file cannot be written, and the worker is woken to reserve the next.
 *
 * The slot is written even when the entry goes to neither the view nor the
 * table (entry->destinations says where it goes), so that the worker finds
 * every number and can tell an entry that was not for the table from one
 * that was overwritten; but an entry for the log only does not overwrite
 * one the worker has still to store.  Each entry also carries the last
 * run of numbers given to entries not for the table, so that the worker
 * knows them even once they are overwritten (grd_ddl_ring_never_for_table).
 * An entry not for the table that comes when the
 * worker has stored everything before it is done with at once: the worker
 * may be idle (guardrails.ddl_log_destination without table) for as long
 * as the ring takes to wrap around.  What is overwritten before the worker
 * stored it is counted only if it was for the table.
 */
uint64
grd_ddl_ring_put(GrdDdlEntry *entry, bool may_reserve)
{
	GrdDdlEntry *slot;
	uint64		seq;
	uint64		stored;
	bool		unstored;

	/*
	 * Never a number beyond the reserved block: concurrent statements that
	 * all passed the check of grd_ddl_reserve_seq_if_used_up() could
	 * otherwise run past it, and a crash would hand those numbers out
	 * again.  The file is written outside the ring lock; if it cannot be
	 * written, the number is taken all the same (that was logged).
	 */
	for (;;)
	{
		LWLockAcquire(ring_lock, LW_EXCLUSIVE);
		if (pg_atomic_read_u64(&ddl_shared->next_seq) <=
			pg_atomic_read_u64(&ddl_shared->reserved_seq))
			break;
		LWLockRelease(ring_lock);
		if (!may_reserve || !seq_reserve())
		{
			LWLockAcquire(ring_lock, LW_EXCLUSIVE);
			break;
		}
	}
	seq = pg_atomic_fetch_add_u64(&ddl_shared->next_seq, 1);
	stored = pg_atomic_read_u64(&ddl_shared->stored_seq);
	slot = ring_slot(seq);
	unstored = slot->seq != 0 && slot->seq > stored &&
		(slot->destinations & GRD_DDL_DEST_TABLE);
	if (!(entry->destinations & GRD_DDL_DEST_TABLE))
	{
		if (ddl_shared->skip_to == 0 || ddl_shared->skip_to + 1 != seq)
			ddl_shared->skip_from = seq;
		ddl_shared->skip_to = seq;
	}
	entry->seq = seq;
	entry->skip_from = ddl_shared->skip_from;
	entry->skip_to = ddl_shared->skip_to;

	/* an entry for the log only never costs one for the table */
	if ((entry->destinations & (GRD_DDL_DEST_VIEW | GRD_DDL_DEST_TABLE)) ||
		!unstored)
	{
		if (unstored)
			pg_atomic_fetch_add_u64(&ddl_shared->overwritten, 1);
		memcpy(slot, entry, offsetof(GrdDdlEntry, query) + entry->query_len + 1);
	}
	if (!(entry->destinations & GRD_DDL_DEST_TABLE) && stored + 1 == seq)
		grd_ddl_set_stored(seq);
	LWLockRelease(ring_lock);
	return seq;
}

/*
 * Wake the worker if the reserved block of numbers runs low.  It is not
 * woken for new entries: it stores them at its next tick (within a
 * second), so that its transaction does not compete for the CPU with the
 * statement's own end, whose time guardrails.latency and
 * pg_stat_statements measure.
 */
void
grd_ddl_wake_worker_if_low(void)
{
	Latch	   *latch;

	if (seq_low())
	{
		SpinLockAcquire(&ddl_shared->mutex);
		latch = ddl_shared->worker_latch;
		SpinLockRelease(&ddl_shared->mutex);
		if (latch != NULL)
			SetLatch(latch);
	}
}

/* ----------------------------------------------------------------
 *		Reading the ring (the worker, the view)
 * ----------------------------------------------------------------
 */

uint64
grd_ddl_next_seq(void)
{
	return pg_atomic_read_u64(&ddl_shared->next_seq);
}

/* The oldest number that may still be in the ring. */
uint64
grd_ddl_oldest_seq(void)
{
	uint64		next = pg_atomic_read_u64(&ddl_shared->next_seq);

	return next > (uint64) grd_ddl_log_size ? next - grd_ddl_log_size : 1;
}

/*
 * Make the next number at least seq (the worker found higher numbers in
 * the table: this server was promoted, or lost its reservation file).
 */
void
grd_ddl_raise_next_seq(uint64 seq)
{
	LWLockAcquire(ring_lock, LW_EXCLUSIVE);
	if (pg_atomic_read_u64(&ddl_shared->next_seq) < seq)
		pg_atomic_write_u64(&ddl_shared->next_seq, seq);
	LWLockRelease(ring_lock);
}

/* Copy entry number seq out of the ring; false if it is not there. */
bool
grd_ddl_ring_read(uint64 seq, GrdDdlEntry *entry)
{
	GrdDdlEntry *slot;
	bool		found;

	LWLockAcquire(ring_lock, LW_SHARED);
	slot = ring_slot(seq);
	found = slot->seq == seq;
	if (found)
		memcpy(entry, slot, offsetof(GrdDdlEntry, query) + slot->query_len + 1);
	LWLockRelease(ring_lock);
	return found;
}

/*
 * Number seq is not in the ring: whether it was given to an entry that
 * was not for the table (the worker passes over it) rather than to one
 * overwritten before the worker stored it (a loss).  Its slot holds an
 * older number when the entry was not written (for the log only), or a
 * newer entry that knows the last run of numbers not for the table; an
 * older run, cut by entries for the table and overwritten since, cannot
 * be told, and counts as a loss.
 */
bool
grd_ddl_ring_never_for_table(uint64 seq)
{
	GrdDdlEntry *slot;
	bool		result;

	LWLockAcquire(ring_lock, LW_SHARED);
	slot = ring_slot(seq);
	result = (slot->seq < seq) ||
		(slot->seq > seq && slot->skip_from <= seq && seq <= slot->skip_to);
	LWLockRelease(ring_lock);
	return result;
}

/*
 * The worker is done with every entry up to seq.  Only ever moves forward:
 * grd_ddl_ring_put() advances it too, over entries not meant for the table.
 */
void
grd_ddl_set_stored(uint64 seq)
{
	uint64		old = pg_atomic_read_u64(&ddl_shared->stored_seq);

	while (old < seq &&
		   !pg_atomic_compare_exchange_u64(&ddl_shared->stored_seq, &old, seq))
		;
	pg_atomic_write_u32(&ddl_shared->stored_known, 1);
}

/*
 * The worker's progress, kept in shared memory across its restarts and in
 * the state file across clean restarts; false when it is not known (after
 * a crash, or before a worker ever ran), and the table must tell.
 */
bool
grd_ddl_stored_known(uint64 *seq)
{
	*seq = pg_atomic_read_u64(&ddl_shared->stored_seq);
	return pg_atomic_read_u32(&ddl_shared->stored_known) != 0;
}

/* See crash_seq; 0 when the ring was loaded from a clean shutdown's file. */
uint64
grd_ddl_crash_seq(void)
{
	return ddl_shared->crash_seq;
}

void
grd_ddl_count(int counter, uint64 n)
{
	Assert(counter >= 0 && counter < GRD_DDL_NCOUNTERS);
	pg_atomic_fetch_add_u64(&ddl_shared->counters[counter], n);
}

/* The worker starts (attach) or stops: where to wake it. */
void
grd_ddl_worker_attach(bool attach)
{
	SpinLockAcquire(&ddl_shared->mutex);
	ddl_shared->worker_latch = attach ? MyLatch : NULL;
	SpinLockRelease(&ddl_shared->mutex);
}

/*
 * Hide the ring's current entries from guardrails.ddl_log and zero the
 * counters (guardrails.ddl_log_reset()).  Returns how many entries were
 * hidden.
 */
uint64
grd_ddl_ring_reset(void)
{
	uint64		next;
	uint64		from;

	LWLockAcquire(ring_lock, LW_EXCLUSIVE);
	next = pg_atomic_read_u64(&ddl_shared->next_seq);
	from = Max(grd_ddl_oldest_seq(),
			   pg_atomic_read_u64(&ddl_shared->reset_seq) + 1);
	pg_atomic_write_u64(&ddl_shared->reset_seq, next - 1);
	pg_atomic_write_u64(&ddl_shared->overwritten, 0);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		pg_atomic_write_u64(&ddl_shared->counters[i], 0);
	LWLockRelease(ring_lock);
	return next > from ? next - from : 0;
}

/* guardrails.ddl_log shows the entries after this one. */
uint64
grd_ddl_reset_seq(void)
{
	return pg_atomic_read_u64(&ddl_shared->reset_seq);
}

/* ----------------------------------------------------------------
 *		State file (shmem.c)
 * ----------------------------------------------------------------
 */

/*
 * Write the ring's entries, oldest first, and the counters.  Called by the
 * postmaster at shutdown, when no backend is left.
 */
static bool
ddl_log_save(FILE *file)
{
	GrdDdlFileHeader header;
	uint64		next = pg_atomic_read_u64(&ddl_shared->next_seq);
	uint64		first = grd_ddl_oldest_seq();

	memset(&header, 0, sizeof(header));
	header.magic = GRD_DDL_FILE_MAGIC;
	header.entry_header_size = offsetof(GrdDdlEntry, query);
	header.next_seq = next;
	header.stored_seq = pg_atomic_read_u64(&ddl_shared->stored_seq);
	header.reset_seq = pg_atomic_read_u64(&ddl_shared->reset_seq);
	header.overwritten = pg_atomic_read_u64(&ddl_shared->overwritten);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		header.counters[i] = pg_atomic_read_u64(&ddl_shared->counters[i]);
	header.crash_seq = ddl_shared->crash_seq;
	header.stored_known = pg_atomic_read_u32(&ddl_shared->stored_known);
	for (uint64 seq = first; seq < next; seq++)
		if (ring_slot(seq)->seq == seq)
			header.nentries++;
	if (!grd_file_write(file, &header, sizeof(header)))
		return false;

	for (uint64 seq = first; seq < next; seq++)
	{
		GrdDdlEntry *slot = ring_slot(seq);

		if (slot->seq == seq &&
			!grd_file_write(file, slot,
							offsetof(GrdDdlEntry, query) + slot->query_len + 1))
			return false;
	}
	return true;
}

/*
 * Read back what ddl_log_save wrote, in the postmaster at start.  A
 * ring made smaller keeps the newest entries; texts longer than the
 * current guardrails.ddl_log_max_query_len are cut.
 */
static bool
ddl_log_load(FILE *file, uint32 version, uint64 length)
{
	GrdDdlFileHeader header;
	GrdDdlEntry *entry;
	bool		ok = true;

	if (!grd_file_read(file, &header, sizeof(header)) ||
		header.magic != GRD_DDL_FILE_MAGIC ||
		header.entry_header_size != offsetof(GrdDdlEntry, query))
		return false;
	/* numbers a running server could have reached, consistent */
	if (header.next_seq == 0 || header.next_seq >= GRD_DDL_SEQ_MAX ||
		header.stored_seq >= header.next_seq ||
		header.reset_seq >= header.next_seq ||
		header.crash_seq > header.next_seq ||
		header.nentries > header.next_seq - 1)
		return false;

	entry = palloc(offsetof(GrdDdlEntry, query) + 1024 * 1024 + 1);
	for (uint32 i = 0; i < header.nentries && ok; i++)
	{
		GrdDdlEntry *slot;
		int			len;

		if (!grd_file_read(file, entry, offsetof(GrdDdlEntry, query)) ||
			entry->query_len < 0 || entry->query_len > 1024 * 1024 ||
			entry->seq == 0 || entry->seq >= header.next_seq ||
			!grd_file_read(file, entry->query, entry->query_len + 1))
		{
			ok = false;
			break;
		}
		len = Min(entry->query_len, grd_ddl_log_max_query_len);
		entry->query[len] = '\0';
		entry->query_len = len;
		slot = ring_slot(entry->seq);
		memcpy(slot, entry, offsetof(GrdDdlEntry, query) + len + 1);
	}
	pfree(entry);
	if (!ok)
		return false;

	pg_atomic_write_u64(&ddl_shared->next_seq, header.next_seq);
	pg_atomic_write_u64(&ddl_shared->stored_seq, header.stored_seq);
	pg_atomic_write_u64(&ddl_shared->reset_seq, header.reset_seq);
	pg_atomic_write_u64(&ddl_shared->overwritten, header.overwritten);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		pg_atomic_write_u64(&ddl_shared->counters[i], header.counters[i]);
	ddl_shared->crash_seq = header.crash_seq;
	pg_atomic_write_u32(&ddl_shared->stored_known, header.stored_known != 0);
	return true;
}

/* ----------------------------------------------------------------
 *		Settings
 * ----------------------------------------------------------------
 */

/*
 * Check hook of guardrails.ddl_log_destination: a list of view, log and
 * table; any other item is named in the error.
 */
static bool
check_ddl_log_destination(char **newval, void **extra, GucSource source)
{
	char	   *rawstring = pstrdup(*newval);
	List	   *items;
	ListCell   *lc;
	int			dest = 0;
	int		   *result;

	if (!SplitIdentifierString(rawstring, ',', &items))
	{
		GUC_check_errdetail("List syntax is invalid.");
		pfree(rawstring);
		list_free(items);
		return false;
	}
	foreach(lc, items)
	{
		char	   *item = (char *) lfirst(lc);

		if (pg_strcasecmp(item, "view") == 0)
			dest |= GRD_DDL_DEST_VIEW;
		else if (pg_strcasecmp(item, "log") == 0)
			dest |= GRD_DDL_DEST_LOG;
		else if (pg_strcasecmp(item, "table") == 0)
			dest |= GRD_DDL_DEST_TABLE;
		else
		{
			GUC_check_errdetail("Unrecognized destination \"%s\": expected view, log or table.",
								item);
			pfree(rawstring);
			list_free(items);
			return false;
		}
	}
	pfree(rawstring);
	list_free(items);

	result = (int *) grd_guc_malloc(sizeof(int));
	if (result == NULL)
		return false;
	*result = dest;
	*extra = result;
	return true;
}

static void
assign_ddl_log_destination(const char *newval, void *extra)
{
	grd_ddl_destinations = *((int *) extra);
}

/*
 * Rows of guardrails.status owned by this module.
 */
static void
ddl_log_status(GrdStatus *status)
{
	uint64		next = pg_atomic_read_u64(&ddl_shared->next_seq);
	uint64		stored = pg_atomic_read_u64(&ddl_shared->stored_seq);
	uint64		done = stored;

	/*
	 * Until a worker has told its progress (after a crash, and on a standby,
	 * where none runs), numbers below crash_seq were given to no entry of
	 * this run: they are a crash gap, or a copy of the primary's reservation
	 * that a standby starts after.  Only entries since are pending.
	 */
	if (pg_atomic_read_u32(&ddl_shared->stored_known) == 0 &&
		ddl_shared->crash_seq > 0)
		done = Max(stored, ddl_shared->crash_seq - 1);

	grd_status_put(status, "ddl_log_memory_bytes",
				   (int64) ddl_log_shmem_size());
	grd_status_put(status, "ddl_log_size", grd_ddl_log_size);
	grd_status_put(status, "ddl_log_next_seq", (int64) next);
	grd_status_put(status, "ddl_log_overwritten",
				   (int64) pg_atomic_read_u64(&ddl_shared->overwritten));
	grd_status_put(status, "ddl_history_stored_seq", (int64) stored);
	/*
	 * On a standby no worker runs: its entries (of statements refused
	 * there) wait for a promotion, and are not a worker falling behind,
	 * which is what the row is watched for.
	 */
	grd_status_put(status, "ddl_history_pending",
				   (grd_ddl_destinations & GRD_DDL_DEST_TABLE) &&
				   !RecoveryInProgress() && next - 1 > done ?
				   (int64) (next - 1 - done) : 0);
	grd_status_put(status, "ddl_history_stored",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_STORED]));
	grd_status_put(status, "ddl_history_not_stored",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_NOT_STORED]));
	grd_status_put(status, "ddl_history_missed",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_MISSED]));
	grd_status_put(status, "ddl_history_crash_gap",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_CRASH_GAP]));
	grd_status_put(status, "ddl_history_collided",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_COLLIDED]));
}

const GrdModule grd_ddl_log_module = {
	.name = "DDL log",
	.settings = ddl_log_settings,
	.shmem_size = ddl_log_shmem_size,
	.shmem_startup = ddl_log_shmem_startup,
	.section_tag = GRD_SECTION_TAG('D', 'D', 'L', 'R'),
	.section_version = 1,
	.save = ddl_log_save,
	.load = ddl_log_load,
	.after_load = ddl_log_after_load,
	.status = ddl_log_status,
};
