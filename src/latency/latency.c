/*-------------------------------------------------------------------------
 *
 * latency.c
 *		Recording a latency histogram per query digest: the shared digest
 *		table, the timers of executions and utility statements, eviction,
 *		the table's section of the state file, and the module's settings.
 *		The windows of each entry are in latency_windows.c, the SQL
 *		functions that read the table in latency_sql.c.
 *
 * A digest is (database, user, queryid), the key pg_stat_statements uses
 * (less its "toplevel" flag), with the query ids core computes.  Each entry
 * holds completed calls, failed calls (errors and cancels), their total
 * times, min and max, and a sparse histogram of GRD_HIST_NBUCKETS buckets
 * (histogram.h): the two end buckets, and a chunk of counters for each
 * octave its executions took, from a shared pool (chunks.h).  The table
 * is split into GRD_LATENCY_PARTITIONS partitions by the hash of the key,
 * each a hash table of its own share of guardrails.max_digests, with a
 * lock of its own.  When a partition or the pool is full, the least used
 * entries of that partition are evicted.
 * Which statements are timed, and over what interval, mirrors
 * pg_stat_statements exactly, so that calls and total times agree:
 * planned statements from ExecutorStart to ExecutorEnd, counting only the
 * time spent in ExecutorRun and ExecutorFinish; utility statements around
 * ProcessUtility, except EXECUTE, PREPARE and (up to 16) DEALLOCATE.
 * When another module has the executor instrument an execution, its clock
 * is the one we record, so both report the very same time.
 *
 * Unlike pg_stat_statements, executions that fail are recorded too, with
 * the time they ran before failing.  A timer is allocated in the query's
 * executor memory context with a reset callback; ExecutorEnd records a
 * completed call and disarms it, and any other way out (an error, a
 * cancel, a portal dropped at abort) frees the context and fires the
 * callback, which records a failed call.  A utility statement that fails
 * is only queued by hooks.c's catch block, which takes no lock: the error
 * may have come from this backend's own reading of the table, with the
 * lock still held until abort cleanup releases it.  The queue is recorded
 * from hooks.c's transaction callbacks, after that cleanup.
 *
 * Locking protocol ("the lock" of an entry is its partition's):
 *	- A partition's lock (GRD_LOCK_LATENCY + its number) protects the
 *	  membership of its hash table.  Finding an entry takes it shared;
 *	  creating, evicting or removing entries takes it exclusive.  A backend
 *	  holds at most one partition's lock, except to rebalance the windows,
 *	  which takes them all exclusive, in order.
 *	- The counters of an entry are atomics, updated with the lock held
 *	  shared (so that the entry cannot be removed meanwhile) and never
 *	  under a spinlock: backends recording executions never wait for one
 *	  another.  An entry takes a chunk for an octave, with the lock held
 *	  shared, by compare-and-swap (chunks.c); its chunks go back to the
 *	  pool when it is removed, with the lock held exclusive.
 *	- usage and usage_seen, used only to choose what to evict, are read and
 *	  written with the lock held exclusive; recent and recent_seen, used to
 *	  choose which digests get windows, with every partition's.
 *	- Whoever removes entries bumps its partition's "removals" before
 *	  releasing the exclusive lock, so that a backend holding the lock
 *	  shared can tell whether a pointer to an entry it found earlier is
 *	  still valid.
 *	- A reader may see one execution's bucket increment before its calls
 *	  increment; readers therefore take the number of values from the
 *	  bucket counts they read, so every quantile is consistent with itself.
 *	  Readers outside this file (latency_sql.c) see no entry: they get
 *	  snapshots (GrdLatencySnapshot) from grd_latency_foreach() and
 *	  grd_latency_collect(), which take the lock shared and follow this
 *	  rule, and remove entries through grd_latency_remove().  Nothing that
 *	  can raise an error runs while the lock is held: readers copy, release
 *	  it, then build their rows.
 *	- Nothing takes the lock in an error path: failures are recorded after
 *	  abort cleanup, or queued when this backend still holds the lock.
 *	- An entry's windows (latency_windows.c) are recorded into like its
 *	  counters, with the lock held shared; the free list of windows has a
 *	  spinlock of its own; reusing a slot is claimed by a compare-and-swap
 *	  of the windows' change counter, and no spinlock is held meanwhile.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "common/hashfn.h"
#include "executor/instrument.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "chunks.h"
#include "compat.h"
#include "histogram.h"
#include "latency.h"
#include "latency_windows.h"
#include "module.h"

/* guardrails.track: which statements get a latency histogram */
typedef enum GrdTrackLevel
{
	GRD_TRACK_NONE,				/* none */
	GRD_TRACK_TOP,				/* top-level statements only */
	GRD_TRACK_ALL				/* also statements run by functions */
} GrdTrackLevel;

static const struct config_enum_entry track_options[] =
{
	{"none", GRD_TRACK_NONE, false},
	{"top", GRD_TRACK_TOP, false},
	{"all", GRD_TRACK_ALL, false},
	{NULL, 0, false}
};

/* settings */
static int	grd_max_digests = 5000;
static int	grd_track = GRD_TRACK_TOP;
static bool grd_track_utility = true;
static bool grd_save = true;
int			grd_window_slot = 60;	/* seconds */
int			grd_max_window_digests = 100;

/*
 * The format of the module's section of the state file.  It changes with
 * the bucket layout; add 1000000 when GrdLatencyRecord changes.
 */
#define LATENCY_SECTION_VERSION	(GRD_HIST_NBUCKETS * 1000 + GRD_HIST_PER_OCTAVE)

/* Fraction of a partition freed when it is full, and the usage decay. */
#define EVICT_FRACTION	0.05
#define USAGE_DECAY		0.99

typedef struct GrdLatencyEntry
{
	GrdLatencyKey key;			/* hash key, must be first */
	pg_atomic_uint64 calls;		/* completed executions */
	pg_atomic_uint64 failed;	/* executions ended by an error or cancel */
	pg_atomic_uint64 total_ns;	/* time of completed executions */
	pg_atomic_uint64 failed_ns; /* time of failed executions */
	pg_atomic_uint64 min_ns;	/* over all executions */
	pg_atomic_uint64 max_ns;
	double		usage;			/* decayed use count, exclusive lock */
	uint64		usage_seen;		/* calls + failed when usage was updated */
	uint64		recent;			/* executions between the last two window
								 * rebalances, every partition's lock */
	uint64		recent_seen;	/* calls + failed at the last one */
	pg_atomic_uint32 window;	/* 1 + index of its windows, 0 if none;
								 * set once by compare-and-swap, cleared
								 * with the lock held exclusive */
	pg_atomic_uint64 underflow; /* the two end buckets */
	pg_atomic_uint64 overflow;
	pg_atomic_uint32 chunks[GRD_HIST_OCTAVES];	/* the chunk of each octave
												 * (chunks.h), 0 if none;
												 * set once by
												 * compare-and-swap, cleared
												 * with the lock held
												 * exclusive */
} GrdLatencyEntry;

/*
 * Chunks of the cumulative histograms: CHUNKS_PER_DIGEST per digest on
 * average.  When they run out, the least used digests are evicted, as when
 * the table is full.
 */
#define CHUNKS_PER_DIGEST	4

/*
 * The shared part of a partition: bumped, under the partition's lock held
 * exclusive, by anything that removes entries from it.  A cache line each,
 * as backends recording into different partitions read them.
 */
typedef union GrdLatencyPartition
{
	pg_atomic_uint64 removals;
	char		pad[PG_CACHE_LINE_SIZE];
} GrdLatencyPartition;

typedef struct GrdLatencyShared
{
	GrdLatencyPartition parts[GRD_LATENCY_PARTITIONS];
	pg_atomic_uint64 evictions; /* entries evicted to make room */
	pg_atomic_uint64 dropped;	/* executions not recorded: no room */
	pg_atomic_uint64 balanced_slot; /* the window slot of the last
									 * rebalance of the windows */
	pg_atomic_uint64 window_moves;	/* rebalances of the windows */
	GrdChunkPool chunks;		/* of the cumulative histograms */
	GrdWindowFreeList windows_free; /* of latency_windows.c; last, as it
									 * ends with a flexible array */
} GrdLatencyShared;

/* The settings of latency recording. */
static const GrdSetting latency_settings[] = {
	GRD_SETTING_INT("guardrails.max_digests", &grd_max_digests, 5000, 100, INT_MAX / 2,
		PGC_POSTMASTER, 0,
		"Maximum number of query digests with a latency histogram.",
		"Each digest takes about 1.4 kB of shared memory."),
	GRD_SETTING_INT("guardrails.max_window_digests", &grd_max_window_digests, 100, 0,
		INT_MAX / (int) sizeof(GrdLatencyWindows), PGC_POSTMASTER, 0,
		"Maximum number of query digests with windowed latency histograms.",
		"Each takes about 22 kB of shared memory; 0 turns windows off."),
	GRD_SETTING_INT("guardrails.latency_window_slot", &grd_window_slot, 60, 1, 60,
		PGC_POSTMASTER, GUC_UNIT_S,
		"Width of the time slots of the latency windows.",
		"The windows cover the last 1, 5, 15 and 60 slots."),
	GRD_SETTING_ENUM("guardrails.track", &grd_track, GRD_TRACK_TOP, track_options,
		PGC_SUSET, 0,
		"Which statements get a latency histogram.",
		"top: statements issued by clients; all: also " "statements run inside functions; none: nothing."),
	GRD_SETTING_BOOL("guardrails.track_utility", &grd_track_utility, true, PGC_SUSET, 0,
		"Whether utility statements get a latency histogram.",
		NULL),
	GRD_SETTING_BOOL("guardrails.save", &grd_save, true, PGC_SIGHUP, 0,
		"Save latency histograms across server shutdowns.",
		NULL),
	GRD_SETTINGS_END
};

/* An execution being timed; lives in the query's executor memory context. */
struct GrdExecTimer
{
	QueryDesc  *queryDesc;
	GrdExecTimer *next;			/* open timers of this backend */
	GrdLatencyKey key;
	uint64		elapsed_ns;		/* inside Run/Finish so far */
	uint64		resumed_at;		/* start of the current Run/Finish, or 0 */
	uint64		paused_at;		/* end of the last Run/Finish, or 0 */
	bool		done;			/* recorded by ExecutorEnd */
	MemoryContextCallback callback;
};

/* A partition of the digest table, as this backend reaches it. */
typedef struct LatencyPart
{
	HTAB	   *hash;
	LWLock	   *lock;
	pg_atomic_uint64 *removals; /* in the partition's shared part */
	long		capacity;		/* its share of guardrails.max_digests */
} LatencyPart;

static GrdLatencyShared *lat_shared = NULL;
static GrdChunkPool *lat_chunks = NULL;	/* &lat_shared->chunks */
static LatencyPart lat_parts[GRD_LATENCY_PARTITIONS];
static bool lat_attached = false;	/* lat_parts are set */

/* Backend-local: the timers of executions still open, newest first. */
static GrdExecTimer *open_exec_timers = NULL;

/*
 * Failed executions waiting to be recorded (see the file header): queued
 * without a lock or an allocation, recorded by grd_latency_record_pending().
 * Beyond MAX_PENDING, which only errors nested that deep reach, a failure
 * is counted in "dropped".
 */
#define MAX_PENDING		64

typedef struct PendingFailure
{
	GrdLatencyKey key;
	uint64		ns;
	uint64		end_ns;
} PendingFailure;

static PendingFailure pending_failures[MAX_PENDING];
static int	npending_failures = 0;

/* Scratch space for eviction, allocated once per backend. */
static GrdLatencyEntry **latency_evict_scratch = NULL;

/*
 * The entry this backend recorded into last, its partition, and the
 * partition's removal count then.  A backend mostly runs the same few
 * statements, so this saves hashing the key and the lookup; the entry is
 * trusted only while the lock is held and no entry of its partition has
 * been removed since (entries never move while they exist).
 */
static GrdLatencyEntry *last_recorded_entry = NULL;
static GrdLatencyKey last_recorded_key;
static LatencyPart *last_recorded_part = NULL;
static uint64 last_recorded_removals = 0;

static void exec_timer_release(void *arg);
static void latency_queue_failure(const GrdLatencyKey *key, uint64 ns,
								  uint64 end_ns);
static void latency_record(const GrdLatencyKey *key, uint64 ns, bool failed,
						   uint64 end_ns);
static void latency_entry_remove(LatencyPart *part, GrdLatencyEntry *entry);
static GrdLatencyEntry *latency_entry_alloc(LatencyPart *part,
											const GrdLatencyKey *key,
											uint32 hashcode);
static void latency_entry_init(GrdLatencyEntry *entry);
static inline pg_atomic_uint64 *latency_counter_at(GrdLatencyEntry *entry,
												   int bucket, uint32 octave,
												   uint32 pos, bool attach);
static inline pg_atomic_uint64 *latency_counter(GrdLatencyEntry *entry,
												int bucket, bool attach);
static void latency_evict(LatencyPart *part);
static bool latency_rebalance_due(uint64 end_ns);
static void latency_rebalance_windows(void);

/* ----------------------------------------------------------------
 *		Shared memory
 * ----------------------------------------------------------------
 */

/*
 * Hash of a digest key.  The query id is already a well-mixed 64-bit hash,
 * so hashing all 16 bytes of the key again would be wasted work on every
 * execution; fold in the database and the user.
 */
static uint32
latency_key_hash(const void *key, Size keysize)
{
	const GrdLatencyKey *k = (const GrdLatencyKey *) key;

	return hash_combine((uint32) (k->queryid ^ (k->queryid >> 32)),
						hash_combine(murmurhash32(k->dbid),
									 murmurhash32(k->userid)));
}

/*
 * The share of guardrails.max_digests of partition i: the digests are
 * spread evenly, and the shares add up to the setting.
 */
static long
latency_part_capacity(int i)
{
	return grd_max_digests / GRD_LATENCY_PARTITIONS +
		(i < grd_max_digests % GRD_LATENCY_PARTITIONS ? 1 : 0);
}

/* The partition of a key's hash code. */
static inline LatencyPart *
latency_part(uint32 hashcode)
{
	return &lat_parts[hashcode % GRD_LATENCY_PARTITIONS];
}

/* Take every partition's lock, in order, and release them. */
static void
latency_lock_all(LWLockMode mode)
{
	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
		LWLockAcquire(lat_parts[i].lock, mode);
}

static void
latency_unlock_all(void)
{
	for (int i = GRD_LATENCY_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(lat_parts[i].lock);
}

/* Whether this backend holds any partition's lock. */
static bool
latency_lock_held(void)
{
	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
		if (LWLockHeldByMe(lat_parts[i].lock))
			return true;
	return false;
}

/* Bytes of the shared header, with its free list of windows. */
static Size
latency_shared_size(void)
{
	return add_size(offsetof(GrdLatencyShared, windows_free) +
					offsetof(GrdWindowFreeList, free_windows),
					mul_size(sizeof(int), grd_max_window_digests));
}

/* The number of chunks of the cumulative histograms, and their bytes. */
static uint32
latency_nchunks(void)
{
	return (uint32) Min((uint64) grd_max_digests * CHUNKS_PER_DIGEST,
						(uint64) PG_INT32_MAX);
}

static Size
latency_shmem_size(void)
{
	Size		size = MAXALIGN(latency_shared_size());

	/* the windows and the two pools of chunks are allocations of their own */
	size = add_size(size, 3 * PG_CACHE_LINE_SIZE);
	size = add_size(size, MAXALIGN(grd_windows_size()));
	size = add_size(size, MAXALIGN(grd_chunk_pool_size(latency_nchunks(),
														 sizeof(uint64))));
	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
		size = add_size(size, hash_estimate_size(latency_part_capacity(i),
												 sizeof(GrdLatencyEntry)));
	return size;
}

static void
latency_shmem_startup(bool found)
{
	HASHCTL		info;
	bool		found_shared;

	lat_shared = ShmemInitStruct("pg_guardrails latency",
								 latency_shared_size(), &found_shared);
	lat_chunks = &lat_shared->chunks;
	grd_chunk_pool_init(lat_chunks, !found_shared,
						"pg_guardrails latency chunks",
						latency_nchunks(), sizeof(uint64));
	found_shared = grd_windows_shmem_startup(&lat_shared->windows_free);
	if (!found_shared)
	{
		for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
			pg_atomic_init_u64(&lat_shared->parts[i].removals, 0);
		pg_atomic_init_u64(&lat_shared->evictions, 0);
		pg_atomic_init_u64(&lat_shared->dropped, 0);
		pg_atomic_init_u64(&lat_shared->balanced_slot, 0);
		pg_atomic_init_u64(&lat_shared->window_moves, 0);
	}

	info.keysize = sizeof(GrdLatencyKey);
	info.entrysize = sizeof(GrdLatencyEntry);
	info.hash = latency_key_hash;
	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
	{
		LatencyPart *part = &lat_parts[i];
		char		name[64];

		snprintf(name, sizeof(name), "pg_guardrails latency digests %d", i);
		part->capacity = latency_part_capacity(i);
		part->hash = grd_ShmemInitHash(name, part->capacity, &info,
									   HASH_ELEM | HASH_FUNCTION);
		part->lock = grd_lock(GRD_LOCK_LATENCY + i);
		part->removals = &lat_shared->parts[i].removals;
	}
	lat_attached = true;
}

/* ----------------------------------------------------------------
 *		Recording
 * ----------------------------------------------------------------
 */

static inline bool
latency_enabled(int nesting_level)
{
	return (grd_track == GRD_TRACK_ALL ||
			(grd_track == GRD_TRACK_TOP && nesting_level == 0)) &&
		!IsParallelWorker();
}

/*
 * ExecutorStart, after the executor state exists: open a timer if this
 * execution is to be recorded.
 */
void
grd_latency_exec_start(QueryDesc *queryDesc, int nesting_level)
{
	uint64		queryid = GRD_QUERYID(queryDesc->plannedstmt);
	GrdExecTimer *timer;

	/* A zero id means a statement run inside a utility: not ours to time. */
	if (queryid == UINT64CONST(0) || !latency_enabled(nesting_level))
		return;

	timer = MemoryContextAlloc(queryDesc->estate->es_query_cxt,
							   sizeof(GrdExecTimer));
	timer->queryDesc = queryDesc;
	timer->key.dbid = MyDatabaseId;
	timer->key.userid = GetUserId();
	timer->key.queryid = queryid;
	timer->elapsed_ns = 0;
	timer->resumed_at = 0;
	timer->paused_at = 0;
	timer->done = false;
	timer->callback.func = exec_timer_release;
	timer->callback.arg = timer;
	MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt,
									   &timer->callback);
	timer->next = open_exec_timers;
	open_exec_timers = timer;
}

/*
 * Before ExecutorRun or ExecutorFinish: start the clock of this execution,
 * if it has a timer.
 */
GrdExecTimer *
grd_latency_exec_resume(QueryDesc *queryDesc)
{
	GrdExecTimer *timer;

	for (timer = open_exec_timers; timer != NULL; timer = timer->next)
	{
		if (timer->queryDesc == queryDesc)
		{
			timer->resumed_at = grd_now_ns();
			return timer;
		}
	}
	return NULL;
}

/*
 * After ExecutorRun or ExecutorFinish, normally or by error: stop the clock.
 */
void
grd_latency_exec_pause(GrdExecTimer *timer)
{
	if (timer->resumed_at != 0)
	{
		timer->paused_at = grd_now_ns();
		timer->elapsed_ns += timer->paused_at - timer->resumed_at;
		timer->resumed_at = 0;
	}
}

/*
 * ExecutorEnd: record a completed execution.
 *
 * When another module instruments the execution too (pg_stat_statements
 * and auto_explain ask for the query-level instrumentation, which the
 * executor runs over the same interval we time), take its total, so that
 * both report exactly the same time for the same execution.
 */
void
grd_latency_exec_end(QueryDesc *queryDesc)
{
	for (GrdExecTimer *timer = open_exec_timers; timer != NULL; timer = timer->next)
	{
		if (timer->queryDesc == queryDesc)
		{
			uint64		ns = timer->elapsed_ns;

			if (GRD_QUERY_INSTR(queryDesc) != NULL)
				ns = grd_instr_total_ns(GRD_QUERY_INSTR(queryDesc));
			timer->done = true;

			/*
			 * The end of the last Run or Finish is the execution's end, for
			 * its window; no clock read for that.
			 */
			latency_record(&timer->key, ns, false,
						   timer->paused_at != 0 ? timer->paused_at :
						   grd_now_ns());
			return;
		}
	}
}

/*
 * Reset callback of the executor memory context: the execution is over.
 * If ExecutorEnd did not record it, it failed; record it now.  This runs
 * during (sub)transaction abort, after LWLockReleaseAll(), and must not
 * raise an error: latency_record() does not.  Should a context be freed
 * while this backend holds the table's lock (nothing of ours does that,
 * but the callback cannot know who frees it), the failure is queued
 * instead, since taking the lock again would wait on ourselves.
 */
static void
exec_timer_release(void *arg)
{
	GrdExecTimer *timer = (GrdExecTimer *) arg;
	GrdExecTimer **link;

	for (link = &open_exec_timers; *link != NULL; link = &(*link)->next)
	{
		if (*link == timer)
		{
			*link = timer->next;
			break;
		}
	}

	if (!timer->done && lat_attached)
	{
		uint64		end_ns;

		grd_latency_exec_pause(timer);
		end_ns = timer->paused_at != 0 ? timer->paused_at : grd_now_ns();
		if (latency_lock_held())
			latency_queue_failure(&timer->key, timer->elapsed_ns, end_ns);
		else
			latency_record(&timer->key, timer->elapsed_ns, true, end_ns);
	}
}

/*
 * Before ProcessUtility: start timing a utility statement if it is to be
 * recorded.  Returns whether it is; the caller then increments the nesting
 * level around the statement, as pg_stat_statements does.
 */
bool
grd_latency_utility_start(PlannedStmt *pstmt, int nesting_level,
						  GrdUtilityTimer *timer)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (!grd_track_utility || !latency_enabled(nesting_level))
		return false;

	/* EXECUTE, PREPARE and (up to 16) DEALLOCATE: see compat.h */
	if (!GRD_UTILITY_IS_TIMED(parsetree))
		return false;

	/*
	 * pg_stat_statements, when its hook runs before ours, zeroes the query
	 * id of utility statements.  For a top-level statement the id survives
	 * in our backend's activity entry, where core reported it.
	 */
	timer->queryid = GRD_QUERYID(pstmt);
	if (timer->queryid == UINT64CONST(0) && nesting_level == 0)
		timer->queryid = (uint64) pgstat_get_my_query_id();
	if (timer->queryid == UINT64CONST(0))
		return false;

	/* failures queued outside a utility statement (see exec_timer_release) */
	if (unlikely(npending_failures != 0))
		grd_latency_record_pending();

	timer->start_ns = grd_now_ns();
	return true;
}

/*
 * The digest of a timed utility statement, as it ends.  The user is taken
 * now, as pg_stat_statements does, so SET ROLE is recorded under the role
 * it sets.
 */
static inline void
utility_key(const GrdUtilityTimer *timer, GrdLatencyKey *key)
{
	key->dbid = MyDatabaseId;
	key->userid = GetUserId();
	key->queryid = timer->queryid;
}

/* After ProcessUtility returned: record a completed statement. */
void
grd_latency_utility_end(GrdUtilityTimer *timer)
{
	GrdLatencyKey key;
	uint64		now = grd_now_ns();

	utility_key(timer, &key);
	latency_record(&key, now - timer->start_ns, false, now);
}

/*
 * From hooks.c's catch block: the statement failed.  Only queued: no lock,
 * no allocation, nothing that can fail (see the file header).
 */
void
grd_latency_utility_failed(GrdUtilityTimer *timer)
{
	GrdLatencyKey key;
	uint64		now = grd_now_ns();

	utility_key(timer, &key);
	latency_queue_failure(&key, now - timer->start_ns, now);
}

/* Queue a failed execution; see pending_failures. */
static void
latency_queue_failure(const GrdLatencyKey *key, uint64 ns, uint64 end_ns)
{
	PendingFailure *p;

	if (npending_failures >= MAX_PENDING)
	{
		pg_atomic_fetch_add_u64(&lat_shared->dropped, 1);
		return;
	}
	p = &pending_failures[npending_failures++];
	p->key = *key;
	p->ns = ns;
	p->end_ns = end_ns;
}

/*
 * Record the queued failures, unless this backend holds the table's lock
 * (then they wait for the next call).  hooks.c calls this at the end of
 * every transaction and subtransaction, once a utility statement could
 * have queued one, after abort cleanup has released the LWLocks; the next
 * utility statement timed calls it too.  Never raises an error.
 */
void
grd_latency_record_pending(void)
{
	int			n = npending_failures;

	if (likely(n == 0) || !lat_attached || latency_lock_held())
		return;
	npending_failures = 0;
	for (int i = 0; i < n; i++)
		latency_record(&pending_failures[i].key, pending_failures[i].ns,
					   true, pending_failures[i].end_ns);
}

/*
 * Remove an entry of a partition, freeing its windows.  Caller holds the
 * partition's lock exclusive, and bumps its removal count before releasing
 * it.
 */
static void
latency_entry_remove(LatencyPart *part, GrdLatencyEntry *entry)
{
	grd_window_detach(&entry->window);
	grd_chunk_detach(lat_chunks, entry->chunks, GRD_HIST_OCTAVES);
	hash_search(part->hash, &entry->key, HASH_REMOVE, NULL);
}

/*
 * Add one execution to its digest's histogram, creating the entry if need
 * be.  Never raises an error: a full table that cannot be evicted costs the
 * sample, counted in "dropped", not the query.
 */
static void
latency_record(const GrdLatencyKey *key, uint64 ns, bool failed,
			   uint64 end_ns)
{
	GrdLatencyEntry *entry;
	pg_atomic_uint64 *counter = NULL;
	uint64		cur;
	int			bucket = grd_hist_bucket(ns);
	uint32		octave = GRD_CHUNK_OF(bucket);	/* of a regular bucket */
	uint32		pos = GRD_CHUNK_POS(bucket);
	uint32		w;
	bool		rebalance = false;
	bool		same = last_recorded_entry != NULL &&
		memcmp(&last_recorded_key, key, sizeof(GrdLatencyKey)) == 0;
	uint32		hashcode = 0;
	LatencyPart *part;

	if (likely(same))
		part = last_recorded_part;
	else
	{
		hashcode = latency_key_hash(key, sizeof(GrdLatencyKey));
		part = latency_part(hashcode);
	}

	LWLockAcquire(part->lock, LW_SHARED);
	if (likely(same) &&
		pg_atomic_read_u64(part->removals) == last_recorded_removals)
		entry = last_recorded_entry;
	else
	{
		if (same)
			hashcode = latency_key_hash(key, sizeof(GrdLatencyKey));
		entry = hash_search_with_hash_value(part->hash, key, hashcode,
											HASH_FIND, NULL);
	}
	if (likely(entry != NULL))
		counter = latency_counter_at(entry, bucket, octave, pos, true);
	if (unlikely(counter == NULL))
	{
		/*
		 * A new digest, or no chunk left for this octave: make room as
		 * pg_stat_statements does, with the partition's lock held
		 * exclusive.  Evicting may remove this very entry, which is then
		 * made anew.
		 */
		hashcode = latency_key_hash(key, sizeof(GrdLatencyKey));
		LWLockRelease(part->lock);
		LWLockAcquire(part->lock, LW_EXCLUSIVE);
		entry = latency_entry_alloc(part, key, hashcode);
		counter = entry != NULL ? latency_counter(entry, bucket, true) : NULL;
		if (entry != NULL && counter == NULL)
		{
			latency_evict(part);
			entry = latency_entry_alloc(part, key, hashcode);
			counter = entry != NULL ? latency_counter(entry, bucket, true) : NULL;
		}
		if (counter == NULL)
		{
			LWLockRelease(part->lock);
			pg_atomic_fetch_add_u64(&lat_shared->dropped, 1);
			return;
		}
	}
	last_recorded_entry = entry;
	last_recorded_key = *key;
	last_recorded_part = part;
	last_recorded_removals = pg_atomic_read_u64(part->removals);

	if (failed)
	{
		pg_atomic_fetch_add_u64(&entry->failed, 1);
		pg_atomic_fetch_add_u64(&entry->failed_ns, ns);
	}
	else
	{
		pg_atomic_fetch_add_u64(&entry->calls, 1);
		pg_atomic_fetch_add_u64(&entry->total_ns, ns);
	}
	pg_atomic_fetch_add_u64(counter, 1);

	cur = pg_atomic_read_u64(&entry->min_ns);
	while (ns < cur &&
		   !pg_atomic_compare_exchange_u64(&entry->min_ns, &cur, ns))
		;
	cur = pg_atomic_read_u64(&entry->max_ns);
	while (ns > cur &&
		   !pg_atomic_compare_exchange_u64(&entry->max_ns, &cur, ns))
		;

	/* The windows: the slot of the execution's end, in the fine ring. */
	w = pg_atomic_read_u32(&entry->window);
	if (unlikely(w == 0) && grd_max_window_digests > 0)
	{
		grd_window_attach(&entry->window);
		w = pg_atomic_read_u32(&entry->window);
		if (w == 0)
			rebalance = latency_rebalance_due(end_ns);
	}
	if (likely(w != 0))
		grd_window_record(w, end_ns, failed, bucket, octave, pos);

	LWLockRelease(part->lock);

	if (unlikely(rebalance))
	{
		latency_lock_all(LW_EXCLUSIVE);
		latency_rebalance_windows();
		latency_unlock_all();
	}
}

/*
 * Whether this backend is to rebalance the windows now: a digest without
 * windows ran while none were free, and no backend has rebalanced them in
 * this slot yet (the compare-and-swap makes one backend the one).  Caller
 * holds the digest's partition's lock shared.
 */
static bool
latency_rebalance_due(uint64 end_ns)
{
	uint64		slot = grd_window_slot_number(end_ns);
	uint64		last = pg_atomic_read_u64(&lat_shared->balanced_slot);

	return slot > last &&
		pg_atomic_compare_exchange_u64(&lat_shared->balanced_slot, &last, slot);
}

static int
latency_recent_cmp(const void *a, const void *b)
{
	GrdLatencyEntry *ea = *(GrdLatencyEntry *const *) a;
	GrdLatencyEntry *eb = *(GrdLatencyEntry *const *) b;
	bool		wa = pg_atomic_read_u32(&ea->window) != 0;
	bool		wb = pg_atomic_read_u32(&eb->window) != 0;

	/* the busiest first; among equals, those that hold windows */
	if (ea->recent != eb->recent)
		return ea->recent > eb->recent ? -1 : 1;
	return (int) wb - (int) wa;
}

/*
 * Give the windows to the digests that ran most since the last rebalance
 * (at most once a slot, and only while some digest goes without): those
 * beyond the first guardrails.max_window_digests of them give theirs back,
 * and those among them that ran and have none get them.  A digest that
 * did not run since gets none.  Windows taken away lose what they held.
 * Caller holds every partition's lock exclusive.  Allocates its scratch
 * array as latency_evict() does, without raising an error.
 */
static void
latency_rebalance_windows(void)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	int			n = 0;

	if (latency_evict_scratch == NULL)
		latency_evict_scratch =
			MemoryContextAllocExtended(TopMemoryContext,
									   sizeof(GrdLatencyEntry *) * grd_max_digests,
									   MCXT_ALLOC_NO_OOM);
	if (latency_evict_scratch == NULL)
		return;

	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
	{
		hash_seq_init(&status, lat_parts[i].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			uint64		uses = pg_atomic_read_u64(&entry->calls) +
				pg_atomic_read_u64(&entry->failed);

			entry->recent = uses - entry->recent_seen;
			entry->recent_seen = uses;
			if (n < grd_max_digests)
				latency_evict_scratch[n++] = entry;
		}
	}
	qsort(latency_evict_scratch, n, sizeof(GrdLatencyEntry *),
		  latency_recent_cmp);

	/* first take back, then give, so that what is taken can be given */
	for (int i = grd_max_window_digests; i < n; i++)
		grd_window_detach(&latency_evict_scratch[i]->window);
	for (int i = 0; i < Min(n, grd_max_window_digests); i++)
	{
		entry = latency_evict_scratch[i];
		if (entry->recent > 0 && pg_atomic_read_u32(&entry->window) == 0)
			grd_window_attach(&entry->window);
	}
	pg_atomic_fetch_add_u64(&lat_shared->window_moves, 1);
}

/*
 * Find or create the entry for key, of hash code hashcode, in its
 * partition.  Caller holds the partition's lock exclusive.  Another
 * backend may have created it since our shared-lock lookup, in which case
 * HASH_ENTER finds it.
 */
static GrdLatencyEntry *
latency_entry_alloc(LatencyPart *part, const GrdLatencyKey *key,
					uint32 hashcode)
{
	GrdLatencyEntry *entry;
	bool		found;

	entry = hash_search_with_hash_value(part->hash, key, hashcode,
										HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	/* never beyond its share: the elements past it are not ours */
	if (hash_get_num_entries(part->hash) >= part->capacity)
	{
		latency_evict(part);
		if (hash_get_num_entries(part->hash) >= part->capacity)
			return NULL;
	}

	entry = hash_search_with_hash_value(part->hash, key, hashcode,
										HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
		latency_entry_init(entry);
	return entry;
}

static void
latency_entry_init(GrdLatencyEntry *entry)
{
	pg_atomic_init_u64(&entry->calls, 0);
	pg_atomic_init_u64(&entry->failed, 0);
	pg_atomic_init_u64(&entry->total_ns, 0);
	pg_atomic_init_u64(&entry->failed_ns, 0);
	pg_atomic_init_u64(&entry->min_ns, PG_UINT64_MAX);
	pg_atomic_init_u64(&entry->max_ns, 0);
	entry->usage = 0;
	entry->usage_seen = 0;
	entry->recent = 0;
	entry->recent_seen = 0;
	pg_atomic_init_u32(&entry->window, 0);
	pg_atomic_init_u64(&entry->underflow, 0);
	pg_atomic_init_u64(&entry->overflow, 0);
	for (int c = 0; c < GRD_HIST_OCTAVES; c++)
		pg_atomic_init_u32(&entry->chunks[c], 0);
}

/*
 * The counter of a bucket of an entry, or NULL if its octave has no chunk
 * (and, when attach, none could be had); octave and pos are
 * GRD_CHUNK_OF(bucket) and GRD_CHUNK_POS(bucket).  Caller holds the lock,
 * at least shared.
 */
static inline pg_atomic_uint64 *
latency_counter_at(GrdLatencyEntry *entry, int bucket, uint32 octave,
				   uint32 pos, bool attach)
{
	uint32		c;

	if (unlikely(bucket == GRD_HIST_UNDERFLOW))
		return &entry->underflow;
	if (unlikely(bucket == GRD_HIST_OVERFLOW))
		return &entry->overflow;
	c = pg_atomic_read_u32(&entry->chunks[octave]);
	if (unlikely(c == 0))
	{
		if (!attach)
			return NULL;
		c = grd_chunk_attach(lat_chunks, &entry->chunks[octave]);
		if (c == 0)
			return NULL;
	}
	return &grd_chunk64(lat_chunks, c)->counts[pos];
}

static inline pg_atomic_uint64 *
latency_counter(GrdLatencyEntry *entry, int bucket, bool attach)
{
	return latency_counter_at(entry, bucket, GRD_CHUNK_OF(bucket),
							  GRD_CHUNK_POS(bucket), attach);
}

/* Read a bucket of an entry.  Caller holds the lock, at least shared. */
static inline uint64
latency_bucket_read(GrdLatencyEntry *entry, int bucket)
{
	pg_atomic_uint64 *counter = latency_counter(entry, bucket, false);

	return counter != NULL ? pg_atomic_read_u64(counter) : 0;
}

static int
latency_usage_cmp(const void *a, const void *b)
{
	double		ua = (*(GrdLatencyEntry *const *) a)->usage;
	double		ub = (*(GrdLatencyEntry *const *) b)->usage;

	return ua < ub ? -1 : (ua > ub ? 1 : 0);
}

/*
 * Make room in a partition by removing its least used entries, as
 * pg_stat_statements does in its one table: usage is a count of
 * executions that decays by 1% at every eviction round of the partition,
 * so that digests that were busy long ago fade out.  Caller holds the
 * partition's lock exclusive.  Allocates its scratch array without ever
 * raising an error; without it, nothing is evicted.
 */
static void
latency_evict(LatencyPart *part)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	int			n = 0;
	int			nvictims;

	if (latency_evict_scratch == NULL)
		latency_evict_scratch =
			MemoryContextAllocExtended(TopMemoryContext,
									   sizeof(GrdLatencyEntry *) * grd_max_digests,
									   MCXT_ALLOC_NO_OOM);
	if (latency_evict_scratch == NULL)
		return;

	hash_seq_init(&status, part->hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		uint64		uses = pg_atomic_read_u64(&entry->calls) +
			pg_atomic_read_u64(&entry->failed);

		entry->usage = entry->usage * USAGE_DECAY +
			(double) (uses - entry->usage_seen);
		entry->usage_seen = uses;
		if (n < grd_max_digests)
			latency_evict_scratch[n++] = entry;
	}

	qsort(latency_evict_scratch, n, sizeof(GrdLatencyEntry *), latency_usage_cmp);
	nvictims = Max(1, (int) (n * EVICT_FRACTION));
	nvictims = Min(nvictims, n);
	for (int i = 0; i < nvictims; i++)
		latency_entry_remove(part, latency_evict_scratch[i]);
	pg_atomic_fetch_add_u64(&lat_shared->evictions, nvictims);
	pg_atomic_fetch_add_u64(part->removals, 1);
}

/* ----------------------------------------------------------------
 *		State file
 * ----------------------------------------------------------------
 */

typedef struct GrdLatencyRecord
{
	GrdLatencyKey key;
	GrdLatencyTotals totals;
	double		usage;
	uint32		nonzero;		/* (bucket, count) pairs that follow */
} GrdLatencyRecord;

typedef struct GrdBucketRecord
{
	uint32		bucket;
	uint64		count;
} GrdBucketRecord;

/*
 * Write every entry, with only its non-empty buckets; nothing when
 * guardrails.save is off.  Called by the postmaster at shutdown, when no
 * backend is left to change anything.
 */
static bool
latency_save(FILE *file)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	uint64		counters[2];
	uint32		nentries = 0;

	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
		nentries += (uint32) hash_get_num_entries(lat_parts[i].hash);
	if (!grd_save)
		return true;
	counters[0] = pg_atomic_read_u64(&lat_shared->evictions);
	counters[1] = pg_atomic_read_u64(&lat_shared->dropped);
	if (!grd_file_write(file, counters, sizeof(counters)) ||
		!grd_file_write(file, &nentries, sizeof(nentries)))
		return false;

	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
	{
		hash_seq_init(&status, lat_parts[i].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			GrdLatencyRecord rec;

			memset(&rec, 0, sizeof(rec));
			rec.key = entry->key;
			rec.totals.calls = pg_atomic_read_u64(&entry->calls);
			rec.totals.failed = pg_atomic_read_u64(&entry->failed);
			rec.totals.total_ns = pg_atomic_read_u64(&entry->total_ns);
			rec.totals.failed_ns = pg_atomic_read_u64(&entry->failed_ns);
			rec.totals.min_ns = pg_atomic_read_u64(&entry->min_ns);
			rec.totals.max_ns = pg_atomic_read_u64(&entry->max_ns);
			rec.usage = entry->usage;
			for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
				rec.nonzero += (latency_bucket_read(entry, b) != 0);
			if (!grd_file_write(file, &rec, sizeof(rec)))
			{
				hash_seq_term(&status);
				return false;
			}
			for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
			{
				GrdBucketRecord br;

				br.bucket = b;
				br.count = latency_bucket_read(entry, b);
				if (br.count != 0 && !grd_file_write(file, &br, sizeof(br)))
				{
					hash_seq_term(&status);
					return false;
				}
			}
		}
	}
	return true;
}

/*
 * Read back what latency_save wrote, unless guardrails.save is now off.
 * Called by the postmaster at start, before any backend exists.  Entries
 * beyond their partition's share of guardrails.max_digests (if it was
 * lowered) are skipped.
 */
static bool
latency_load(FILE *file, uint32 version, uint64 length)
{
	uint64		counters[2];
	uint32		nentries;

	if (!grd_save)
		return true;
	if (!grd_file_read(file, counters, sizeof(counters)) ||
		!grd_file_read(file, &nentries, sizeof(nentries)))
		return false;
	pg_atomic_write_u64(&lat_shared->evictions, counters[0]);
	pg_atomic_write_u64(&lat_shared->dropped, counters[1]);

	for (uint32 i = 0; i < nentries; i++)
	{
		GrdLatencyRecord rec;
		GrdLatencyEntry *entry = NULL;
		LatencyPart *part;
		bool		found;

		if (!grd_file_read(file, &rec, sizeof(rec)) ||
			rec.nonzero > GRD_HIST_NBUCKETS)
			return false;
		part = latency_part(latency_key_hash(&rec.key, sizeof(GrdLatencyKey)));
		if (hash_get_num_entries(part->hash) < part->capacity)
			entry = hash_search(part->hash, &rec.key, HASH_ENTER_NULL, &found);
		if (entry != NULL)
		{
			if (found)
				return false;	/* duplicate key: not our file */
			latency_entry_init(entry);
			pg_atomic_write_u64(&entry->calls, rec.totals.calls);
			pg_atomic_write_u64(&entry->failed, rec.totals.failed);
			pg_atomic_write_u64(&entry->total_ns, rec.totals.total_ns);
			pg_atomic_write_u64(&entry->failed_ns, rec.totals.failed_ns);
			pg_atomic_write_u64(&entry->min_ns, rec.totals.min_ns);
			pg_atomic_write_u64(&entry->max_ns, rec.totals.max_ns);
			entry->usage = rec.usage;
			entry->usage_seen = rec.totals.calls + rec.totals.failed;
		}
		for (uint32 k = 0; k < rec.nonzero; k++)
		{
			GrdBucketRecord br;

			if (!grd_file_read(file, &br, sizeof(br)) ||
				br.bucket >= GRD_HIST_NBUCKETS)
				return false;
			if (entry != NULL)
			{
				pg_atomic_uint64 *counter = latency_counter(entry, br.bucket,
															true);

				/*
				 * Chunks may be fewer than when the file was written (a
				 * lower guardrails.max_digests): the entries read so far
				 * keep them, this one is dropped.
				 */
				if (counter == NULL)
				{
					latency_entry_remove(part, entry);
					entry = NULL;
				}
				else
					pg_atomic_write_u64(counter, br.count);
			}
		}
	}
	return true;
}

/*
 * After the state file was read: a latency section that was not read
 * leaves no entries behind.
 */
static void
latency_after_load(bool loaded)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;

	if (loaded)
		return;
	for (int i = 0; i < GRD_LATENCY_PARTITIONS; i++)
	{
		hash_seq_init(&status, lat_parts[i].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
			latency_entry_remove(&lat_parts[i], entry);
		pg_atomic_fetch_add_u64(lat_parts[i].removals, 1);
	}
}

/* ----------------------------------------------------------------
 *		Read access for the SQL functions (latency_sql.c)
 * ----------------------------------------------------------------
 */

static void
latency_snapshot_init(GrdLatencySnapshot *snap, bool exact)
{
	memset(snap, 0, sizeof(*snap));
	snap->totals.min_ns = PG_UINT64_MAX;
	snap->exact = exact;
}

/*
 * A window's snapshot has no recorded min and max: take the values
 * reported for its lowest and highest non-empty buckets, which are within
 * the accuracy bound of the true ones.
 */
static void
latency_snapshot_finish(GrdLatencySnapshot *snap)
{
	int			lo = -1;
	int			hi = -1;

	if (snap->exact || snap->nvalues == 0)
		return;
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		if (snap->counts[b] != 0)
		{
			if (lo < 0)
				lo = b;
			hi = b;
		}
	}
	snap->totals.min_ns = (uint64) grd_hist_value(lo, 0.0, (double) PG_UINT64_MAX);
	snap->totals.max_ns = (uint64) grd_hist_value(hi, 0.0, (double) PG_UINT64_MAX);
	if (snap->totals.max_ns < snap->totals.min_ns)
		snap->totals.max_ns = snap->totals.min_ns;
}

/* Add one entry to a snapshot.  Caller holds the lock, at least shared. */
static void
latency_snapshot_add(GrdLatencySnapshot *snap, GrdLatencyEntry *entry)
{
	uint64		v;

	snap->totals.calls += pg_atomic_read_u64(&entry->calls);
	snap->totals.failed += pg_atomic_read_u64(&entry->failed);
	snap->totals.total_ns += pg_atomic_read_u64(&entry->total_ns);
	snap->totals.failed_ns += pg_atomic_read_u64(&entry->failed_ns);
	v = pg_atomic_read_u64(&entry->min_ns);
	snap->totals.min_ns = Min(snap->totals.min_ns, v);
	v = pg_atomic_read_u64(&entry->max_ns);
	snap->totals.max_ns = Max(snap->totals.max_ns, v);
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		v = latency_bucket_read(entry, b);
		snap->counts[b] += v;
		snap->nvalues += v;
	}
}

/*
 * Call visit for every digest that has values, with a snapshot of its
 * entry.  The keys are copied under the lock, then each entry is looked up
 * again and copied with the lock held shared, and visit runs with no lock
 * held: it builds rows, which can fail (a temporary file that cannot be
 * written, out of memory), and an error must never find this backend
 * holding the lock (see the file header).  The rows of one call are
 * therefore not of one instant: an entry removed in between is skipped,
 * one created in between is not shown.  An entry just created by another
 * backend, which has no value yet, is skipped too.
 */
void
grd_latency_foreach(int window, GrdLatencyVisitor visit, void *arg)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	GrdLatencySnapshot *snap = palloc(sizeof(GrdLatencySnapshot));
	GrdLatencySnapshot *scratch = palloc(sizeof(GrdLatencySnapshot));
	uint64		cur = grd_window_now();
	GrdLatencyKey *keys;
	long		nkeys = 0;
	long		capacity;

	/*
	 * Room for every key there can be, allocated before a lock is taken:
	 * eviction keeps the partitions within guardrails.max_digests entries
	 * in all, and they never hold more than that.
	 */
	capacity = grd_max_digests;
	keys = palloc_array(GrdLatencyKey, capacity);

	for (int p = 0; p < GRD_LATENCY_PARTITIONS; p++)
	{
		LWLockAcquire(lat_parts[p].lock, LW_SHARED);
		if (p == 0)
			GRD_INJECTION_POINT("pg-guardrails-latency-read");
		hash_seq_init(&status, lat_parts[p].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			if (nkeys < capacity)
				keys[nkeys++] = entry->key;
		}
		LWLockRelease(lat_parts[p].lock);
	}

	for (long i = 0; i < nkeys; i++)
	{
		uint32		hashcode = latency_key_hash(&keys[i], sizeof(GrdLatencyKey));
		LatencyPart *part = latency_part(hashcode);
		bool		found;

		LWLockAcquire(part->lock, LW_SHARED);
		entry = hash_search_with_hash_value(part->hash, &keys[i], hashcode,
											HASH_FIND, NULL);
		found = entry != NULL;
		if (found)
		{
			latency_snapshot_init(snap, window == GRD_WINDOW_NONE);
			if (window == GRD_WINDOW_NONE)
				latency_snapshot_add(snap, entry);
			else
				grd_window_snapshot_add(snap, scratch,
										pg_atomic_read_u32(&entry->window),
										window, cur);
		}
		LWLockRelease(part->lock);
		if (!found || snap->nvalues == 0)
			continue;
		latency_snapshot_finish(snap);
		visit(&keys[i], snap, arg);
	}
	pfree(keys);
	pfree(snap);
	pfree(scratch);
}

/*
 * Merge every entry matching queryid and, unless any_db or any_user,
 * dbid and userid.  Returns false if there is none, or none has a value.
 * Only the matching entries are read, so a call costs little however
 * many digests there are.
 */
bool
grd_latency_collect(GrdLatencySnapshot *snap, int window, uint64 queryid,
					bool any_db, Oid dbid, bool any_user, Oid userid)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	bool		any = false;
	GrdLatencySnapshot *scratch = NULL;
	uint64		cur = 0;

	if (window != GRD_WINDOW_NONE)
	{
		scratch = palloc(sizeof(GrdLatencySnapshot));
		cur = grd_window_now();
	}
	latency_snapshot_init(snap, window == GRD_WINDOW_NONE);
	for (int p = 0; p < GRD_LATENCY_PARTITIONS; p++)
	{
		LWLockAcquire(lat_parts[p].lock, LW_SHARED);
		hash_seq_init(&status, lat_parts[p].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			if (entry->key.queryid != queryid ||
				(!any_db && entry->key.dbid != dbid) ||
				(!any_user && entry->key.userid != userid))
				continue;
			if (window == GRD_WINDOW_NONE)
				latency_snapshot_add(snap, entry);
			else
				grd_window_snapshot_add(snap, scratch,
										pg_atomic_read_u32(&entry->window),
										window, cur);
			any = true;
		}
		LWLockRelease(lat_parts[p].lock);
	}
	if (scratch != NULL)
		pfree(scratch);
	latency_snapshot_finish(snap);
	return any && snap->nvalues > 0;
}

/*
 * Remove every entry (all), or those of one queryid; returns how many.
 * Removing everything also zeroes the evictions and dropped counters.
 */
int64
grd_latency_remove(bool all, uint64 queryid)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	int64		removed = 0;

	for (int p = 0; p < GRD_LATENCY_PARTITIONS; p++)
	{
		LWLockAcquire(lat_parts[p].lock, LW_EXCLUSIVE);
		hash_seq_init(&status, lat_parts[p].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			if (all || entry->key.queryid == queryid)
			{
				latency_entry_remove(&lat_parts[p], entry);
				removed++;
			}
		}
		pg_atomic_fetch_add_u64(lat_parts[p].removals, 1);
		LWLockRelease(lat_parts[p].lock);
	}
	if (all)
	{
		pg_atomic_write_u64(&lat_shared->evictions, 0);
		pg_atomic_write_u64(&lat_shared->dropped, 0);
	}
	return removed;
}

/*
 * Copy the key, the completed calls and their time of at most max digests
 * into out, with each partition's lock held shared in turn, reading no
 * bucket; returns how many were copied.  For the containment scan
 * (contain.c), which needs only these, once a second: nothing here can
 * fail.
 */
int
grd_latency_totals(GrdLatencyDigestTotals *out, int max)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	int			n = 0;

	if (!lat_attached)
		return 0;
	for (int p = 0; p < GRD_LATENCY_PARTITIONS && n < max; p++)
	{
		LWLockAcquire(lat_parts[p].lock, LW_SHARED);
		hash_seq_init(&status, lat_parts[p].hash);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			if (n >= max)
			{
				hash_seq_term(&status);
				break;
			}
			out[n].key = entry->key;
			out[n].calls = pg_atomic_read_u64(&entry->calls);
			out[n].total_ns = pg_atomic_read_u64(&entry->total_ns);
			n++;
		}
		LWLockRelease(lat_parts[p].lock);
	}
	return n;
}

/* ----------------------------------------------------------------
 *		The module: status rows, settings, descriptor
 * ----------------------------------------------------------------
 */

/*
 * Rows of guardrails.status owned by this module.
 */
static void
latency_status(GrdStatus *status)
{
	HASH_SEQ_STATUS seq;
	GrdLatencyEntry *entry;
	int64		digests = 0;
	int64		below = 0;
	int64		above = 0;
	int64		windowed = 0;

	for (int p = 0; p < GRD_LATENCY_PARTITIONS; p++)
	{
		LWLockAcquire(lat_parts[p].lock, LW_SHARED);
		hash_seq_init(&seq, lat_parts[p].hash);
		while ((entry = hash_seq_search(&seq)) != NULL)
		{
			digests++;
			windowed += (pg_atomic_read_u32(&entry->window) != 0);
			below += pg_atomic_read_u64(&entry->underflow);
			above += pg_atomic_read_u64(&entry->overflow);
		}
		LWLockRelease(lat_parts[p].lock);
	}

	grd_status_put(status, "latency_memory_bytes",
				   (int64) latency_shmem_size());
	grd_status_put(status, "latency_digests", digests);
	grd_status_put(status, "latency_max_digests", grd_max_digests);
	grd_status_put(status, "latency_evictions",
				   (int64) pg_atomic_read_u64(&lat_shared->evictions));
	grd_status_put(status, "latency_dropped",
				   (int64) pg_atomic_read_u64(&lat_shared->dropped));
	grd_status_put(status, "latency_values_below_range", below);
	grd_status_put(status, "latency_values_above_range", above);
	grd_status_put(status, "latency_window_memory_bytes",
				   (int64) grd_windows_size());
	grd_status_put(status, "latency_window_bytes_per_digest",
				   (int64) grd_windows_bytes_per_digest());
	grd_status_put(status, "latency_window_digests", windowed);
	grd_status_put(status, "latency_max_window_digests",
				   grd_max_window_digests);
	grd_status_put(status, "latency_window_slot_seconds", grd_window_slot);
	grd_status_put(status, "latency_window_rebalances",
				   (int64) pg_atomic_read_u64(&lat_shared->window_moves));
	grd_status_put(status, "latency_chunks", lat_chunks->nchunks);
	grd_status_put(status, "latency_chunks_free", lat_chunks->nfree);
	grd_status_put(status, "latency_window_chunks",
				   grd_window_chunks->nchunks);
	grd_status_put(status, "latency_window_chunks_free",
				   grd_window_chunks->nfree);
}

/*
 * In _PG_init: the bucket boundaries, computed once and inherited by every
 * backend.
 */
static void
latency_init(void)
{
	grd_hist_init();
}

/* The slot width, in seconds, for the SQL functions. */
int
grd_window_slot_seconds(void)
{
	return grd_window_slot;
}

const GrdModule grd_latency_module = {
	.name = "latency",
	.settings = latency_settings,
	.init = latency_init,
	.shmem_size = latency_shmem_size,
	.shmem_startup = latency_shmem_startup,
	.section_tag = GRD_SECTION_TAG('L', 'A', 'T', 'N'),
	.section_version = LATENCY_SECTION_VERSION,
	.save = latency_save,
	.load = latency_load,
	.after_load = latency_after_load,
	.status = latency_status,
};