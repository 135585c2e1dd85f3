/*-------------------------------------------------------------------------
 *
 * latency.c
 *		A latency histogram per query digest, in shared memory, and the SQL
 *		functions that read it.
 *
 * A digest is (database, user, queryid), the key pg_stat_statements uses
 * (less its "toplevel" flag), with the query ids core computes.  Each entry
 * holds completed calls, failed calls (errors and cancels), their total
 * times, min and max, and GRD_HIST_NBUCKETS bucket counters (histogram.h).
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
 * callback, which records a failed call.
 *
 * Locking protocol:
 *	- GRD_LOCK_LATENCY protects the membership of the hash table.  Finding
 *	  an entry takes it shared; creating, evicting or removing entries takes
 *	  it exclusive.
 *	- The counters of an entry are atomics, updated with the lock held
 *	  shared (so that the entry cannot be removed meanwhile) and never
 *	  under a spinlock: backends recording executions never wait for one
 *	  another.
 *	- usage and usage_seen, used only to choose what to evict, are read and
 *	  written with the lock held exclusive.
 *	- Whoever removes entries bumps "removals" before releasing the
 *	  exclusive lock, so that a backend holding the lock shared can tell
 *	  whether a pointer to an entry it found earlier is still valid.
 *	- A reader may see one execution's bucket increment before its calls
 *	  increment; readers therefore take the number of values from the
 *	  bucket counts they read, so every quantile is consistent with itself.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/instrument.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "histogram.h"
#include "latency.h"
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

/*
 * The format of the module's section of the state file.  It changes with
 * the bucket layout; add 1000000 when GrdLatencyRecord changes.
 */
#define LATENCY_SECTION_VERSION	(GRD_HIST_NBUCKETS * 1000 + GRD_HIST_PER_OCTAVE)

/* Fraction of the table freed when it is full, and the usage decay. */
#define EVICT_FRACTION	0.05
#define EVICT_MIN		10
#define USAGE_DECAY		0.99

/* Width of the bars drawn by latency_histogram(), in characters. */
#define BAR_WIDTH		40

typedef struct GrdLatencyKey
{
	Oid			dbid;
	Oid			userid;
	uint64		queryid;
} GrdLatencyKey;

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
	pg_atomic_uint64 buckets[GRD_HIST_NBUCKETS];
} GrdLatencyEntry;

/* The README promises at most 10 kB per digest, hash overhead included. */
StaticAssertDecl(sizeof(GrdLatencyEntry) + 64 <= 10240,
				 "a latency entry must fit in 10 kB of shared memory");

typedef struct GrdLatencyShared
{
	pg_atomic_uint64 evictions; /* entries evicted to make room */
	pg_atomic_uint64 dropped;	/* executions not recorded: no room */
	pg_atomic_uint64 removals;	/* bumped, under the exclusive lock, by
								 * anything that removes entries */
} GrdLatencyShared;

/* An execution being timed; lives in the query's executor memory context. */
struct GrdExecTimer
{
	QueryDesc  *queryDesc;
	GrdExecTimer *next;			/* open timers of this backend */
	GrdLatencyKey key;
	uint64		elapsed_ns;		/* inside Run/Finish so far */
	uint64		resumed_at;		/* start of the current Run/Finish, or 0 */
	bool		done;			/* recorded by ExecutorEnd */
	MemoryContextCallback callback;
};

static GrdLatencyShared *lat_shared = NULL;
static HTAB *lat_hash = NULL;
static LWLock *lat_lock = NULL;

/* Backend-local: the timers of executions still open, newest first. */
static GrdExecTimer *open_timers = NULL;

/* Scratch space for eviction, allocated once per backend. */
static GrdLatencyEntry **evict_scratch = NULL;

/*
 * The entry this backend recorded into last, and the removal count then.
 * A backend mostly runs the same few statements, so this saves the hash
 * lookup; it is trusted only while the lock is held and no entry has been
 * removed since (entries never move while they exist).
 */
static GrdLatencyEntry *last_entry = NULL;
static GrdLatencyKey last_key;
static uint64 last_removals = 0;

static void timer_release(void *arg);
static void latency_record(const GrdLatencyKey *key, uint64 ns, bool failed);
static GrdLatencyEntry *entry_alloc(const GrdLatencyKey *key);
static void entry_init(GrdLatencyEntry *entry);
static void entry_evict(void);

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

static Size
latency_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(GrdLatencyShared)),
					hash_estimate_size(grd_max_digests,
									   sizeof(GrdLatencyEntry)));
}

static void
latency_shmem_startup(bool found)
{
	HASHCTL		info;
	bool		found_shared;

	lat_shared = ShmemInitStruct("pg_guardrails latency",
								 sizeof(GrdLatencyShared), &found_shared);
	if (!found_shared)
	{
		pg_atomic_init_u64(&lat_shared->evictions, 0);
		pg_atomic_init_u64(&lat_shared->dropped, 0);
		pg_atomic_init_u64(&lat_shared->removals, 0);
	}

	info.keysize = sizeof(GrdLatencyKey);
	info.entrysize = sizeof(GrdLatencyEntry);
	info.hash = latency_key_hash;
	lat_hash = grd_ShmemInitHash("pg_guardrails latency digests",
								 grd_max_digests, &info,
								 HASH_ELEM | HASH_FUNCTION);
	lat_lock = grd_lock(GRD_LOCK_LATENCY);
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
	timer->done = false;
	timer->callback.func = timer_release;
	timer->callback.arg = timer;
	MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt,
									   &timer->callback);
	timer->next = open_timers;
	open_timers = timer;
}

/*
 * Before ExecutorRun or ExecutorFinish: start the clock of this execution,
 * if it has a timer.
 */
GrdExecTimer *
grd_latency_exec_resume(QueryDesc *queryDesc)
{
	GrdExecTimer *timer;

	for (timer = open_timers; timer != NULL; timer = timer->next)
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
		timer->elapsed_ns += grd_now_ns() - timer->resumed_at;
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
	for (GrdExecTimer *timer = open_timers; timer != NULL; timer = timer->next)
	{
		if (timer->queryDesc == queryDesc)
		{
			uint64		ns = timer->elapsed_ns;

			if (GRD_QUERY_INSTR(queryDesc) != NULL)
				ns = grd_instr_total_ns(GRD_QUERY_INSTR(queryDesc));
			timer->done = true;
			latency_record(&timer->key, ns, false);
			return;
		}
	}
}

/*
 * Reset callback of the executor memory context: the execution is over.
 * If ExecutorEnd did not record it, it failed; record it now.  This runs
 * during (sub)transaction abort, after LWLockReleaseAll(), and must not
 * raise an error: latency_record() does not.
 */
static void
timer_release(void *arg)
{
	GrdExecTimer *timer = (GrdExecTimer *) arg;
	GrdExecTimer **link;

	for (link = &open_timers; *link != NULL; link = &(*link)->next)
	{
		if (*link == timer)
		{
			*link = timer->next;
			break;
		}
	}

	if (!timer->done && lat_hash != NULL)
	{
		grd_latency_exec_pause(timer);
		latency_record(&timer->key, timer->elapsed_ns, true);
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

	timer->start_ns = grd_now_ns();
	return true;
}

/*
 * After ProcessUtility, normally or (failed = true) from an error handler.
 * The user is taken now, as pg_stat_statements does, so SET ROLE is
 * recorded under the role it sets.
 */
void
grd_latency_utility_end(GrdUtilityTimer *timer, bool failed)
{
	GrdLatencyKey key;

	key.dbid = MyDatabaseId;
	key.userid = GetUserId();
	key.queryid = timer->queryid;
	latency_record(&key, grd_now_ns() - timer->start_ns, failed);
}

/*
 * Add one execution to its digest's histogram, creating the entry if need
 * be.  Never raises an error: a full table that cannot be evicted costs the
 * sample, counted in "dropped", not the query.
 */
static void
latency_record(const GrdLatencyKey *key, uint64 ns, bool failed)
{
	GrdLatencyEntry *entry;
	uint64		cur;

	LWLockAcquire(lat_lock, LW_SHARED);
	if (last_entry != NULL &&
		pg_atomic_read_u64(&lat_shared->removals) == last_removals &&
		memcmp(&last_key, key, sizeof(GrdLatencyKey)) == 0)
		entry = last_entry;
	else
		entry = hash_search(lat_hash, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		LWLockRelease(lat_lock);
		LWLockAcquire(lat_lock, LW_EXCLUSIVE);
		entry = entry_alloc(key);
		if (entry == NULL)
		{
			LWLockRelease(lat_lock);
			pg_atomic_fetch_add_u64(&lat_shared->dropped, 1);
			return;
		}
	}
	last_entry = entry;
	last_key = *key;
	last_removals = pg_atomic_read_u64(&lat_shared->removals);

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
	pg_atomic_fetch_add_u64(&entry->buckets[grd_hist_bucket(ns)], 1);

	cur = pg_atomic_read_u64(&entry->min_ns);
	while (ns < cur &&
		   !pg_atomic_compare_exchange_u64(&entry->min_ns, &cur, ns))
		;
	cur = pg_atomic_read_u64(&entry->max_ns);
	while (ns > cur &&
		   !pg_atomic_compare_exchange_u64(&entry->max_ns, &cur, ns))
		;

	LWLockRelease(lat_lock);
}

/*
 * Find or create the entry for key.  Caller holds the lock exclusive.
 * Another backend may have created it since our shared-lock lookup, in
 * which case HASH_ENTER finds it.
 */
static GrdLatencyEntry *
entry_alloc(const GrdLatencyKey *key)
{
	GrdLatencyEntry *entry;
	bool		found;

	entry = hash_search(lat_hash, key, HASH_FIND, NULL);
	if (entry != NULL)
		return entry;

	if (hash_get_num_entries(lat_hash) >= grd_max_digests)
		entry_evict();

	entry = hash_search(lat_hash, key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
		entry_init(entry);
	return entry;
}

static void
entry_init(GrdLatencyEntry *entry)
{
	pg_atomic_init_u64(&entry->calls, 0);
	pg_atomic_init_u64(&entry->failed, 0);
	pg_atomic_init_u64(&entry->total_ns, 0);
	pg_atomic_init_u64(&entry->failed_ns, 0);
	pg_atomic_init_u64(&entry->min_ns, PG_UINT64_MAX);
	pg_atomic_init_u64(&entry->max_ns, 0);
	entry->usage = 0;
	entry->usage_seen = 0;
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
		pg_atomic_init_u64(&entry->buckets[b], 0);
}

static int
usage_cmp(const void *a, const void *b)
{
	double		ua = (*(GrdLatencyEntry *const *) a)->usage;
	double		ub = (*(GrdLatencyEntry *const *) b)->usage;

	return ua < ub ? -1 : (ua > ub ? 1 : 0);
}

/*
 * Make room by removing the least used entries, as pg_stat_statements
 * does: usage is a count of executions that decays by 1% at every
 * eviction round, so that digests that were busy long ago fade out.
 * Caller holds the lock exclusive.  Allocates its scratch array without
 * ever raising an error; without it, nothing is evicted.
 */
static void
entry_evict(void)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	int			n = 0;
	int			nvictims;

	if (evict_scratch == NULL)
		evict_scratch =
			MemoryContextAllocExtended(TopMemoryContext,
									   sizeof(GrdLatencyEntry *) * grd_max_digests,
									   MCXT_ALLOC_NO_OOM);
	if (evict_scratch == NULL)
		return;

	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		uint64		uses = pg_atomic_read_u64(&entry->calls) +
			pg_atomic_read_u64(&entry->failed);

		entry->usage = entry->usage * USAGE_DECAY +
			(double) (uses - entry->usage_seen);
		entry->usage_seen = uses;
		if (n < grd_max_digests)
			evict_scratch[n++] = entry;
	}

	qsort(evict_scratch, n, sizeof(GrdLatencyEntry *), usage_cmp);
	nvictims = Max(EVICT_MIN, (int) (n * EVICT_FRACTION));
	nvictims = Min(nvictims, n);
	for (int i = 0; i < nvictims; i++)
		hash_search(lat_hash, &evict_scratch[i]->key, HASH_REMOVE, NULL);
	pg_atomic_fetch_add_u64(&lat_shared->evictions, nvictims);
	pg_atomic_fetch_add_u64(&lat_shared->removals, 1);
}

/* ----------------------------------------------------------------
 *		State file
 * ----------------------------------------------------------------
 */

typedef struct GrdLatencyRecord
{
	GrdLatencyKey key;
	uint64		calls;
	uint64		failed;
	uint64		total_ns;
	uint64		failed_ns;
	uint64		min_ns;
	uint64		max_ns;
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
	uint32		nentries = (uint32) hash_get_num_entries(lat_hash);

	if (!grd_save)
		return true;
	counters[0] = pg_atomic_read_u64(&lat_shared->evictions);
	counters[1] = pg_atomic_read_u64(&lat_shared->dropped);
	if (!grd_file_write(file, counters, sizeof(counters)) ||
		!grd_file_write(file, &nentries, sizeof(nentries)))
		return false;

	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		GrdLatencyRecord rec;

		memset(&rec, 0, sizeof(rec));
		rec.key = entry->key;
		rec.calls = pg_atomic_read_u64(&entry->calls);
		rec.failed = pg_atomic_read_u64(&entry->failed);
		rec.total_ns = pg_atomic_read_u64(&entry->total_ns);
		rec.failed_ns = pg_atomic_read_u64(&entry->failed_ns);
		rec.min_ns = pg_atomic_read_u64(&entry->min_ns);
		rec.max_ns = pg_atomic_read_u64(&entry->max_ns);
		rec.usage = entry->usage;
		for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
			rec.nonzero += (pg_atomic_read_u64(&entry->buckets[b]) != 0);
		if (!grd_file_write(file, &rec, sizeof(rec)))
		{
			hash_seq_term(&status);
			return false;
		}
		for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
		{
			GrdBucketRecord br;

			br.bucket = b;
			br.count = pg_atomic_read_u64(&entry->buckets[b]);
			if (br.count != 0 && !grd_file_write(file, &br, sizeof(br)))
			{
				hash_seq_term(&status);
				return false;
			}
		}
	}
	return true;
}

/*
 * Read back what latency_save wrote, unless guardrails.save is now off.
 * Called by the postmaster at start, before any backend exists.  Entries
 * beyond guardrails.max_digests (if it was lowered) are skipped.
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
		bool		found;

		if (!grd_file_read(file, &rec, sizeof(rec)) ||
			rec.nonzero > GRD_HIST_NBUCKETS)
			return false;
		if (hash_get_num_entries(lat_hash) < grd_max_digests)
			entry = hash_search(lat_hash, &rec.key, HASH_ENTER_NULL, &found);
		if (entry != NULL)
		{
			if (found)
				return false;	/* duplicate key: not our file */
			entry_init(entry);
			pg_atomic_write_u64(&entry->calls, rec.calls);
			pg_atomic_write_u64(&entry->failed, rec.failed);
			pg_atomic_write_u64(&entry->total_ns, rec.total_ns);
			pg_atomic_write_u64(&entry->failed_ns, rec.failed_ns);
			pg_atomic_write_u64(&entry->min_ns, rec.min_ns);
			pg_atomic_write_u64(&entry->max_ns, rec.max_ns);
			entry->usage = rec.usage;
			entry->usage_seen = rec.calls + rec.failed;
		}
		for (uint32 k = 0; k < rec.nonzero; k++)
		{
			GrdBucketRecord br;

			if (!grd_file_read(file, &br, sizeof(br)) ||
				br.bucket >= GRD_HIST_NBUCKETS)
				return false;
			if (entry != NULL)
				pg_atomic_write_u64(&entry->buckets[br.bucket], br.count);
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
	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
		hash_search(lat_hash, &entry->key, HASH_REMOVE, NULL);
	pg_atomic_fetch_add_u64(&lat_shared->removals, 1);
}

/* ----------------------------------------------------------------
 *		Reading: snapshots and the SQL functions
 * ----------------------------------------------------------------
 */

/* A consistent-enough copy of one or more entries, merged. */
typedef struct LatencySnapshot
{
	uint64		calls;
	uint64		failed;
	uint64		total_ns;
	uint64		failed_ns;
	uint64		min_ns;
	uint64		max_ns;
	uint64		nvalues;		/* sum of the bucket counts below */
	uint64		counts[GRD_HIST_NBUCKETS];
} LatencySnapshot;

static void
snapshot_init(LatencySnapshot *snap)
{
	memset(snap, 0, sizeof(*snap));
	snap->min_ns = PG_UINT64_MAX;
}

/* Add one entry to a snapshot.  Caller holds the lock, at least shared. */
static void
snapshot_add(LatencySnapshot *snap, GrdLatencyEntry *entry)
{
	uint64		v;

	snap->calls += pg_atomic_read_u64(&entry->calls);
	snap->failed += pg_atomic_read_u64(&entry->failed);
	snap->total_ns += pg_atomic_read_u64(&entry->total_ns);
	snap->failed_ns += pg_atomic_read_u64(&entry->failed_ns);
	v = pg_atomic_read_u64(&entry->min_ns);
	snap->min_ns = Min(snap->min_ns, v);
	v = pg_atomic_read_u64(&entry->max_ns);
	snap->max_ns = Max(snap->max_ns, v);
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		v = pg_atomic_read_u64(&entry->buckets[b]);
		snap->counts[b] += v;
		snap->nvalues += v;
	}
}

/* The q-quantile of a snapshot in milliseconds; the snapshot is not empty. */
static double
snapshot_quantile_ms(const LatencySnapshot *snap, double q)
{
	return grd_hist_quantile(snap->counts, snap->nvalues, q,
							 (double) snap->min_ns, (double) snap->max_ns) / 1e6;
}

static void
check_quantile(double q)
{
	if (isnan(q) || q < 0.0 || q > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quantile %g is not between 0 and 1", q)));
}

/*
 * Merge every entry matching queryid and, when not NULL, dbid and userid.
 * Returns false if there is none.
 */
static bool
snapshot_collect(LatencySnapshot *snap, uint64 queryid,
				 bool any_db, Oid dbid, bool any_user, Oid userid)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	bool		any = false;

	snapshot_init(snap);
	LWLockAcquire(lat_lock, LW_SHARED);
	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.queryid != queryid ||
			(!any_db && entry->key.dbid != dbid) ||
			(!any_user && entry->key.userid != userid))
			continue;
		snapshot_add(snap, entry);
		any = true;
	}
	LWLockRelease(lat_lock);
	return any && snap->nvalues > 0;
}

/*
 * guardrails.latency_stats(): one row per digest, for the view
 * guardrails.latency.
 */
PG_FUNCTION_INFO_V1(grd_latency_stats);

Datum
grd_latency_stats(PG_FUNCTION_ARGS)
{
	static const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	LatencySnapshot *snap;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	snap = palloc(sizeof(LatencySnapshot));

	LWLockAcquire(lat_lock, LW_SHARED);
	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		Datum		values[13];
		bool		nulls[13];
		int			i = 0;

		snapshot_init(snap);
		snapshot_add(snap, entry);
		if (snap->nvalues == 0)
			continue;

		memset(nulls, 0, sizeof(nulls));
		values[i++] = ObjectIdGetDatum(entry->key.dbid);
		values[i++] = ObjectIdGetDatum(entry->key.userid);
		values[i++] = Int64GetDatum((int64) entry->key.queryid);
		values[i++] = Int64GetDatum((int64) snap->calls);
		values[i++] = Int64GetDatum((int64) snap->failed);
		values[i++] = Float8GetDatum((double) snap->total_ns / 1e6);
		values[i++] = Float8GetDatum((double) snap->min_ns / 1e6);
		values[i++] = Float8GetDatum((double) snap->max_ns / 1e6);
		for (int k = 0; k < lengthof(quantiles); k++)
		{
			double		q = snapshot_quantile_ms(snap, quantiles[k]);

			values[i++] = Float8GetDatum(q);
		}
		Assert(i == lengthof(values));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(lat_lock);

	pfree(snap);
	return (Datum) 0;
}

/*
 * guardrails.quantile(queryid, q, dbid, userid): the q-quantile, in
 * milliseconds, of the executions of queryid, over every database and user
 * unless dbid or userid narrow it.  NULL when queryid or q is NULL or
 * nothing was recorded for it.
 */
PG_FUNCTION_INFO_V1(grd_quantile);

Datum
grd_quantile(PG_FUNCTION_ARGS)
{
	LatencySnapshot *snap;
	double		q;
	double		result;

	grd_require_preload();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	q = PG_GETARG_FLOAT8(1);
	check_quantile(q);

	snap = palloc(sizeof(LatencySnapshot));
	if (!snapshot_collect(snap, (uint64) PG_GETARG_INT64(0),
						  PG_ARGISNULL(2), PG_GETARG_OID(2),
						  PG_ARGISNULL(3), PG_GETARG_OID(3)))
		PG_RETURN_NULL();
	result = snapshot_quantile_ms(snap, q);
	pfree(snap);
	PG_RETURN_FLOAT8(result);
}

/*
 * A bar of width proportional to count / max, in block characters when the
 * database encoding can show them and '#' otherwise.
 */
static text *
draw_bar(uint64 count, uint64 max)
{
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	int			eighths = (int) rint((double) count / max * BAR_WIDTH * 8);
	StringInfoData buf;

	static const char *const partial[] = {"", "\u258F", "\u258E", "\u258D",
	"\u258C", "\u258B", "\u258A", "\u2589"};

	if (eighths == 0 && count > 0)
		eighths = 1;			/* never hide a non-empty bucket */
	initStringInfo(&buf);
	if (utf8)
	{
		for (int i = 0; i < eighths / 8; i++)
			appendStringInfoString(&buf, "\u2588");
		appendStringInfoString(&buf, partial[eighths % 8]);
	}
	else
	{
		for (int i = 0; i < (eighths + 7) / 8; i++)
			appendStringInfoChar(&buf, '#');
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

/*
 * guardrails.latency_histogram(queryid, dbid, userid, per_octave): the
 * non-empty buckets of a digest, merged over databases and users as
 * quantile() does.  per_octave (a divisor of 35) merges adjacent buckets
 * into coarser ones for display.
 */
PG_FUNCTION_INFO_V1(grd_latency_histogram);

Datum
grd_latency_histogram(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LatencySnapshot *snap;
	int			per_octave;
	int			group;
	uint64		counts[GRD_HIST_NBUCKETS];
	int			first[GRD_HIST_NBUCKETS];
	int			last[GRD_HIST_NBUCKETS];
	int			ngroups = 0;
	uint64		max = 0;
	uint64		cumulative = 0;

	grd_require_preload();
	per_octave = PG_ARGISNULL(3) ? GRD_HIST_PER_OCTAVE : PG_GETARG_INT32(3);
	if (per_octave <= 0 || GRD_HIST_PER_OCTAVE % per_octave != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per_octave must be a divisor of %d, not %d",
						GRD_HIST_PER_OCTAVE, per_octave),
				 errhint("Use 35 (full resolution), 7, 5 or 1.")));
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;

	snap = palloc(sizeof(LatencySnapshot));
	if (!snapshot_collect(snap, (uint64) PG_GETARG_INT64(0),
						  PG_ARGISNULL(1), PG_GETARG_OID(1),
						  PG_ARGISNULL(2), PG_GETARG_OID(2)))
		return (Datum) 0;

	/* Merge buckets into display groups: the end buckets stay alone. */
	group = GRD_HIST_PER_OCTAVE / per_octave;
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		if (b == GRD_HIST_UNDERFLOW || b == GRD_HIST_OVERFLOW ||
			(b - 1) % group == 0)
		{
			first[ngroups] = b;
			counts[ngroups] = 0;
			ngroups++;
		}
		last[ngroups - 1] = b;
		counts[ngroups - 1] += snap->counts[b];
	}
	for (int g = 0; g < ngroups; g++)
		max = Max(max, counts[g]);

	for (int g = 0; g < ngroups; g++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (counts[g] == 0)
			continue;
		cumulative += counts[g];
		values[0] = Float8GetDatum(grd_hist_lower(first[g]) / 1e6);
		values[1] = Float8GetDatum(grd_hist_upper(last[g]) / 1e6);
		values[2] = Int64GetDatum((int64) counts[g]);
		values[3] = Float8GetDatum((double) cumulative / snap->nvalues);
		values[4] = PointerGetDatum(draw_bar(counts[g], max));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(snap);
	return (Datum) 0;
}

/*
 * guardrails.latency_bucket_counts(): for each digest, the cumulative number
 * of executions at or below each of a fixed set of bounds (in seconds),
 * the form of a Prometheus histogram.  A bound that falls inside one of
 * our buckets counts that bucket in the next bound: a value is never
 * counted below a bound it exceeds, and is at most 2% below the first
 * bound that counts it.
 */
PG_FUNCTION_INFO_V1(grd_latency_bucket_counts);

Datum
grd_latency_bucket_counts(PG_FUNCTION_ARGS)
{
	static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
		0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
	INFINITY};
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	LatencySnapshot *snap;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	snap = palloc(sizeof(LatencySnapshot));

	LWLockAcquire(lat_lock, LW_SHARED);
	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		uint64		cumulative = 0;
		int			b = 0;

		snapshot_init(snap);
		snapshot_add(snap, entry);
		if (snap->nvalues == 0)
			continue;

		for (int k = 0; k < lengthof(bounds); k++)
		{
			Datum		values[6];
			bool		nulls[6] = {false, false, false, false, false, false};

			while (b < GRD_HIST_NBUCKETS &&
				   grd_hist_upper(b) <= bounds[k] * 1e9)
				cumulative += snap->counts[b++];

			values[0] = ObjectIdGetDatum(entry->key.dbid);
			values[1] = ObjectIdGetDatum(entry->key.userid);
			values[2] = Int64GetDatum((int64) entry->key.queryid);
			values[3] = Float8GetDatum(bounds[k]);
			values[4] = Int64GetDatum((int64) cumulative);
			values[5] = Float8GetDatum((snap->total_ns + snap->failed_ns) / 1e9);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
		}
	}
	LWLockRelease(lat_lock);

	pfree(snap);
	return (Datum) 0;
}

/*
 * Remove every entry, or those of one queryid; returns how many.
 */
static int64
latency_reset(bool all, uint64 queryid)
{
	HASH_SEQ_STATUS status;
	GrdLatencyEntry *entry;
	int64		removed = 0;

	LWLockAcquire(lat_lock, LW_EXCLUSIVE);
	hash_seq_init(&status, lat_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (all || entry->key.queryid == queryid)
		{
			hash_search(lat_hash, &entry->key, HASH_REMOVE, NULL);
			removed++;
		}
	}
	if (all)
	{
		pg_atomic_write_u64(&lat_shared->evictions, 0);
		pg_atomic_write_u64(&lat_shared->dropped, 0);
	}
	pg_atomic_fetch_add_u64(&lat_shared->removals, 1);
	LWLockRelease(lat_lock);
	return removed;
}

/*
 * guardrails.latency_reset(): forget every digest.
 */
PG_FUNCTION_INFO_V1(grd_latency_reset_all);

Datum
grd_latency_reset_all(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	PG_RETURN_INT64(latency_reset(true, 0));
}

/*
 * guardrails.latency_reset(queryid): forget one digest, in every database
 * and for every user.
 */
PG_FUNCTION_INFO_V1(grd_latency_reset_queryid);

Datum
grd_latency_reset_queryid(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queryid must not be null"),
				 errhint("Call guardrails.latency_reset() without arguments to reset every digest.")));
	PG_RETURN_INT64(latency_reset(false, (uint64) PG_GETARG_INT64(0)));
}

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

	LWLockAcquire(lat_lock, LW_SHARED);
	hash_seq_init(&seq, lat_hash);
	while ((entry = hash_seq_search(&seq)) != NULL)
	{
		digests++;
		below += pg_atomic_read_u64(&entry->buckets[GRD_HIST_UNDERFLOW]);
		above += pg_atomic_read_u64(&entry->buckets[GRD_HIST_OVERFLOW]);
	}
	LWLockRelease(lat_lock);

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
}

/*
 * The settings of latency recording; in _PG_init.
 */
static void
latency_init(void)
{
	grd_hist_init();

	DefineCustomIntVariable("guardrails.max_digests",
							"Maximum number of query digests with a latency histogram.",
							"Each digest takes about 9.4 kB of shared memory.",
							&grd_max_digests,
							5000,
							100,
							INT_MAX / 2,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("guardrails.track",
							 "Which statements get a latency histogram.",
							 "top: statements issued by clients; all: also "
							 "statements run inside functions; none: nothing.",
							 &grd_track,
							 GRD_TRACK_TOP,
							 track_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("guardrails.track_utility",
							 "Whether utility statements get a latency histogram.",
							 NULL,
							 &grd_track_utility,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("guardrails.save",
							 "Save latency histograms across server shutdowns.",
							 NULL,
							 &grd_save,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}

const GrdModule grd_latency_module = {
	.name = "latency",
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
