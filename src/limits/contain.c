/*-------------------------------------------------------------------------
 *
 * contain.c
 *		New query shapes, contained automatically: a query digest that is
 *		new, or whose cost per second jumped far above its own baseline,
 *		and that is expensive, gets a concurrency limit on this server
 *		until it proves cheap again.
 *
 * Detection is done by the overload controller's background worker
 * (overload.c calls grd_contain_tick() on each of its wakeups), once a
 * second, from the latency store's cumulative counters of each digest
 * (grd_latency_totals(): completed calls and their time, no bucket read):
 * the difference between two scans is the digest's cost over the last
 * second, its mean time per call, and its cost per second.  Why the
 * worker rather than a backend at statement end: the decision needs a
 * digest's recent cost, which a backend could only have by reading the
 * latency store again at every statement (a lock and a hash lookup each
 * time) and by keeping a per-digest history somewhere shared; the worker
 * already wakes every 10 to 100 ms with no database and no transaction,
 * keeps that history in its own memory, and costs the hot path nothing.
 * A digest is contained about one to two seconds after its first
 * expensive executions complete.  What has not completed yet is not seen.
 *
 * A digest is new when the worker first saw it less than
 * guardrails.contain_new_digest_interval ago; the digests present at the
 * worker's first scan (after a start or a restart of the worker, with the
 * histograms kept across restarts) are not new.  Its cost jumped when its
 * cost per second (milliseconds of execution per second) is above
 * guardrails.contain_cost_jump times its own baseline, an average over
 * about a minute of the seconds it was not contained (and never below
 * guardrails.contain_min_ms a second).  It is expensive when its mean
 * time per call, over the last second, is at least guardrails.contain_min_ms.
 *
 * A contained digest may run guardrails.contain_max_concurrent executions
 * at once on this server (1 while the overload controller sheds the
 * class of the statement); more are refused with SQLSTATE 53C02.  After
 * guardrails.contain_cooldown it is probing: executions are also let in
 * at guardrails.contain_probe_rate a second at most; once PROBE_CALLS of
 * them have completed, it is released if their mean time is below
 * guardrails.contain_min_ms, and contained again for another cool-down
 * otherwise.  A probing digest of which no execution completed, and none
 * runs, after another cool-down is released.  An operator may release one (guardrails.release_contained()),
 * after which it is no longer new, and its baseline is its cost now.
 *
 * Only top-level planned statements are contained (the queries and DML
 * a client sends; a utility statement, such as a migration's DDL or a
 * VACUUM, is never refused automatically, though an expensive new one is
 * shown in the view), and
 * never an exempt one: a superuser's, a WAL sender's, the extension's own,
 * transaction control, nor one of the critical workload class (a workload
 * rule naming the digest with class critical exempts it).  The admission
 * reuses digest_limits.c's concurrency slots: a slot taken here is held
 * and given back exactly as a digest limit's is.
 *
 * Shared state: a fixed table of CONTAIN_SLOTS entries.  The worker alone
 * fills and frees entries; guardrails.release_contained() only moves an
 * entry from the state it saw to RELEASING, by compare-and-swap, which the
 * worker frees at its next scan (the worker's own moves between contained
 * and probing are compare-and-swaps too, so that neither undoes the
 * other).  Executions read the entries through atomics, and take a slot
 * with an atomic increment: no lock.  The descriptive fields (reason,
 * cost, since) are written and read with the table's spinlock held, for a
 * few loads and stores; an execution takes it only to word its refusal.  An entry is reused only when no execution holds one of its
 * slots; a backend that took a slot in an entry just being freed sees the
 * digest change when it looks again, and gives the slot back.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "grd_limits.h"
#include "latency.h"
#include "module.h"
#include "workload.h"

/* An execution refused because its digest is contained. */
#define GRD_ERRCODE_DIGEST_CONTAINED	MAKE_SQLSTATE('5','3','C','0','2')

#define CONTAIN_SLOTS		64		/* digests contained at once */
#define SCAN_MS				1000	/* the worker looks this often */
#define PROBE_CALLS			3		/* probes judged before a release */
#define BASELINE_ALPHA		0.05	/* weight of a second in the baseline */
#define BASELINE_SCANS		10		/* seconds seen before it counts */
#define FORGET_SECONDS		600		/* a digest not seen this long is
									 * forgotten */

/* settings */
int			grd_contain_mode = GRD_CONTAIN_OFF;
static int	grd_contain_new_interval = 600;
static int	grd_contain_min_ms = 100;
static double grd_contain_cost_jump = 10.0;
static int	grd_contain_max_concurrent = 2;
static int	grd_contain_cooldown = 60;
static double grd_contain_probe_rate = 1.0;

static const struct config_enum_entry contain_options[] = {
	{"off", GRD_CONTAIN_OFF, false},
	{"dry_run", GRD_CONTAIN_DRY_RUN, false},
	{"on", GRD_CONTAIN_ON, false},
	{NULL, 0, false}
};

static const GrdSetting contain_settings[] = {
	GRD_SETTING_ENUM("guardrails.contain", &grd_contain_mode,
		GRD_CONTAIN_OFF, contain_options, PGC_SIGHUP, 0,
		"Whether new or suddenly costly expensive query digests are contained: off, dry_run or on.",
		"dry_run counts and logs what would be refused, and refuses nothing."),
	GRD_SETTING_INT("guardrails.contain_new_digest_interval", &grd_contain_new_interval,
		600, 0, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S,
		"A digest first seen less than this long ago is new.",
		"0: no digest is new; only cost jumps are contained."),
	GRD_SETTING_INT("guardrails.contain_min_ms", &grd_contain_min_ms,
		100, 1, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_MS,
		"Mean time per call from which a digest is expensive enough to be contained.",
		NULL),
	GRD_SETTING_REAL("guardrails.contain_cost_jump", &grd_contain_cost_jump,
		10.0, 0.0, 1000000.0, PGC_SIGHUP, 0,
		"Factor over its own baseline cost per second from which a digest's cost jumped.",
		"0: cost jumps are not contained, only new digests."),
	GRD_SETTING_INT("guardrails.contain_max_concurrent", &grd_contain_max_concurrent,
		2, 1, 10000, PGC_SIGHUP, 0,
		"Executions of a contained digest that may run at once on this server.",
		"1 while the overload controller sheds the statement's class."),
	GRD_SETTING_INT("guardrails.contain_cooldown", &grd_contain_cooldown,
		60, 1, INT_MAX / 1000, PGC_SIGHUP, GUC_UNIT_S,
		"How long a digest is contained before it is let in at the probe rate.",
		NULL),
	GRD_SETTING_REAL("guardrails.contain_probe_rate", &grd_contain_probe_rate,
		1.0, 0.001, 1000000.0, PGC_SIGHUP, 0,
		"Executions per second let in while a contained digest is probed.",
		NULL),
	GRD_SETTINGS_END
};

typedef enum ContainState
{
	CONTAIN_FREE,
	CONTAIN_CONTAINED,
	CONTAIN_PROBING,
	CONTAIN_RELEASING			/* released by an operator; the worker frees
								 * it */
} ContainState;

typedef enum ContainReason
{
	REASON_NEW,
	REASON_COST_JUMP
} ContainReason;

static const char *const reason_names[] = {"new", "cost jump"};
static const char *const state_names[] = {
	"free", "contained", "probing", "releasing"
};

typedef struct GrdContained
{
	pg_atomic_uint64 queryid;	/* 0: free */
	pg_atomic_uint32 dbid;
	pg_atomic_uint32 state;		/* ContainState */
	pg_atomic_uint32 limit;		/* concurrent executions */
	pg_atomic_uint32 running;	/* executions holding a slot */
	pg_atomic_uint64 next_probe;	/* TimestampTz of the next probe */
	pg_atomic_uint64 admitted;
	pg_atomic_uint64 exempt;	/* let through: superuser, critical... */
	pg_atomic_uint64 refused;	/* or, in dry run, would have been */
	/* with the table's mutex held */
	int			reason;			/* ContainReason */
	double		cost_ms;		/* mean time per call when last measured */
	double		cost_per_s;		/* ms of execution per second, then */
	TimestampTz since;			/* contained */
	TimestampTz state_since;	/* in this state */
} GrdContained;

typedef struct GrdContainShared
{
	slock_t		mutex;			/* the descriptive fields, and the moves
								 * to RELEASING */
	pg_atomic_uint32 ncontained;	/* entries in use */
	pg_atomic_uint64 mask;		/* bit (queryid & 63) of each entry in use:
								 * the hot path's test */
	pg_atomic_uint64 contained_total;
	pg_atomic_uint64 released_total;
	pg_atomic_uint64 refused_total;
	pg_atomic_uint64 full;		/* digests not contained for want of room */
	pg_atomic_uint64 scans;		/* scans done by the worker */
	GrdContained entries[CONTAIN_SLOTS];
} GrdContainShared;

static GrdContainShared *grd_contain_shared = NULL;
pg_atomic_uint64 *grd_contain_mask = NULL;

/* The worker's memory of each digest, by (database, query id). */
typedef struct DigestKey
{
	Oid			dbid;
	uint64		queryid;
} DigestKey;

typedef struct DigestSeen
{
	DigestKey	key;			/* hash key, must be first */
	TimestampTz first_seen;		/* 0: known before the worker's first scan,
								 * or released */
	TimestampTz last_seen;
	uint64		calls;			/* as of the last scan */
	uint64		total_ns;
	uint64		cur_calls;		/* this scan, summed over roles */
	uint64		cur_total_ns;
	uint64		scan;			/* the scan cur_* belong to */
	double		baseline;		/* ms per second */
	int			nbaseline;		/* seconds in it */
	int			slot;			/* index of its entry, -1 if none */
	bool		released;		/* by an operator: never contained again
								 * while the worker remembers it */
	uint64		probe_calls;	/* completed while probing */
	uint64		probe_ns;
} DigestSeen;

static HTAB *seen_digests = NULL;
static MemoryContext scan_cxt = NULL;
static uint64 scan_number = 0;
static TimestampTz last_scan = 0;
static GrdLatencyDigestTotals *totals_buf = NULL;
static int	totals_max = 0;
static bool was_off = true;

static Size
contain_shmem_size(void)
{
	return MAXALIGN(sizeof(GrdContainShared));
}

static void
contain_shmem_startup(bool found)
{
	GrdContainShared *cs;

	cs = ShmemInitStruct("pg_guardrails containment", contain_shmem_size(),
						 &found);
	grd_contain_shared = cs;
	grd_contain_mask = &cs->mask;
	if (found)
		return;
	SpinLockInit(&cs->mutex);
	pg_atomic_init_u32(&cs->ncontained, 0);
	pg_atomic_init_u64(&cs->mask, 0);
	pg_atomic_init_u64(&cs->contained_total, 0);
	pg_atomic_init_u64(&cs->released_total, 0);
	pg_atomic_init_u64(&cs->refused_total, 0);
	pg_atomic_init_u64(&cs->full, 0);
	pg_atomic_init_u64(&cs->scans, 0);
	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		GrdContained *e = &cs->entries[i];

		memset(e, 0, sizeof(GrdContained));
		pg_atomic_init_u64(&e->queryid, 0);
		pg_atomic_init_u32(&e->dbid, InvalidOid);
		pg_atomic_init_u32(&e->state, CONTAIN_FREE);
		pg_atomic_init_u32(&e->limit, 0);
		pg_atomic_init_u32(&e->running, 0);
		pg_atomic_init_u64(&e->next_probe, 0);
		pg_atomic_init_u64(&e->admitted, 0);
		pg_atomic_init_u64(&e->exempt, 0);
		pg_atomic_init_u64(&e->refused, 0);
	}
}

/*
 * Refuse an execution of a contained digest (unless in dry run, where it
 * is only counted).  The caller gave its slot back, if it took one.
 */
static void
contain_refuse(GrdContained *e, uint64 queryid, uint32 limit, uint32 running,
			   bool probing)
{
	int			reason;
	double		cost_ms;

	pg_atomic_fetch_add_u64(&e->refused, 1);
	pg_atomic_fetch_add_u64(&grd_contain_shared->refused_total, 1);
	if (grd_contain_mode == GRD_CONTAIN_DRY_RUN)
		return;
	SpinLockAcquire(&grd_contain_shared->mutex);
	reason = e->reason;
	cost_ms = e->cost_ms;
	SpinLockRelease(&grd_contain_shared->mutex);
	ereport(ERROR,
			(errcode(GRD_ERRCODE_DIGEST_CONTAINED),
			 errmsg("query digest %lld is contained: %s",
					(long long) queryid,
					reason == REASON_NEW ? "it is new and expensive" :
					"its cost jumped"),
			 probing ?
			 errdetail("Its executions took %.1f ms each; while it is probed, %g may start per second on this server.",
					   cost_ms, grd_contain_probe_rate) :
			 errdetail("Its executions took %.1f ms each; at most %u may run at once on this server, and %u %s running.",
					   cost_ms, limit, running, running == 1 ? "is" : "are"),
			 errhint("Retry after a pause that grows with each attempt; see guardrails.contained_digests.")));
}

/*
 * The admission of a contained digest's top-level execution, called by
 * grd_contain_admit() once it found that something is contained.  Takes a
 * concurrency slot into admission, or refuses with ERROR.
 */
void
grd_contain_admit_slow(uint64 queryid, GrdAdmission *admission)
{
	GrdContainShared *cs = grd_contain_shared;
	GrdContained *e = NULL;
	uint32		state;
	uint32		limit;
	uint32		running;
	uint32		permille;

	if (queryid == UINT64CONST(0) || IsParallelWorker())
		return;
	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		if (pg_atomic_read_u64(&cs->entries[i].queryid) == queryid &&
			pg_atomic_read_u32(&cs->entries[i].dbid) == MyDatabaseId)
		{
			e = &cs->entries[i];
			break;
		}
	}
	if (e == NULL)
		return;
	state = pg_atomic_read_u32(&e->state);
	if (state != CONTAIN_CONTAINED && state != CONTAIN_PROBING)
		return;
	if (grd_workload_current.exempt ||
		grd_workload_current.cls == GRD_CLASS_CRITICAL)
	{
		pg_atomic_fetch_add_u64(&e->exempt, 1);
		return;
	}

	/* lowered while the controller sheds this statement's class */
	limit = pg_atomic_read_u32(&e->limit);
	if (unlikely(grd_overload_shedding()))
	{
		permille = grd_overload_class_permille(grd_workload_current.cls);
		if (permille > 0)
			limit = 1;
	}

	if (state == CONTAIN_PROBING)
	{
		TimestampTz now = GetCurrentTimestamp();
		uint64		next = pg_atomic_read_u64(&e->next_probe);

		if ((uint64) now < next ||
			!pg_atomic_compare_exchange_u64(&e->next_probe, &next,
											(uint64) now + (uint64) (USECS_PER_SEC / grd_contain_probe_rate)))
		{
			contain_refuse(e, queryid, limit, 0, true);
			return;				/* dry run */
		}
	}

	running = pg_atomic_add_fetch_u32(&e->running, 1);
	if (pg_atomic_read_u64(&e->queryid) != queryid ||
		pg_atomic_read_u32(&e->dbid) != MyDatabaseId)
	{
		/* freed, and maybe reused, as we looked: not contained now */
		pg_atomic_fetch_sub_u32(&e->running, 1);
		return;
	}
	if (running > limit && grd_contain_mode != GRD_CONTAIN_DRY_RUN)
	{
		pg_atomic_fetch_sub_u32(&e->running, 1);
		contain_refuse(e, queryid, limit, running - 1, false);
		return;
	}
	if (running > limit)
		contain_refuse(e, queryid, limit, running - 1, false);	/* counted */
	else
		pg_atomic_fetch_add_u64(&e->admitted, 1);
	if (admission->nheld < GRD_MAX_HELD)
		admission->held[admission->nheld++] = &e->running;
	else
		pg_atomic_fetch_sub_u32(&e->running, 1);
}

/* ----------------------------------------------------------------
 *		Detection, in the overload controller's worker
 * ----------------------------------------------------------------
 */

/*
 * The bits of the digests in the table, which executions test before
 * they look at it (worker only): a digest that shares no bit with one
 * contained pays one atomic read.
 */
static void
contain_set_mask(void)
{
	uint64		mask = 0;

	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		uint64		queryid = pg_atomic_read_u64(&grd_contain_shared->entries[i].queryid);

		if (queryid != 0)
			mask |= GRD_CONTAIN_BIT(queryid);
	}
	pg_atomic_write_u64(&grd_contain_shared->mask, mask);
}

/* Free an entry (worker only); log why. */
static void
contain_free(DigestSeen *d, const char *why, double cost_ms)
{
	GrdContainShared *cs = grd_contain_shared;
	GrdContained *e = &cs->entries[d->slot];
	TimestampTz since;

	SpinLockAcquire(&cs->mutex);
	since = e->since;
	SpinLockRelease(&cs->mutex);
	pg_atomic_write_u32(&e->state, CONTAIN_FREE);
	pg_write_barrier();
	pg_atomic_write_u64(&e->queryid, 0);
	pg_atomic_write_u32(&e->dbid, InvalidOid);
	pg_atomic_fetch_sub_u32(&cs->ncontained, 1);
	contain_set_mask();
	pg_atomic_fetch_add_u64(&cs->released_total, 1);
	d->slot = -1;
	/* no longer new; its baseline starts from now */
	d->first_seen = 0;
	d->nbaseline = BASELINE_SCANS;
	ereport(LOG,
			(errmsg("query digest %lld of database %u released after %.0f s: %s",
					(long long) d->key.queryid, d->key.dbid,
					(double) (GetCurrentTimestamp() - since) / USECS_PER_SEC,
					why),
			 cost_ms >= 0 ?
			 errdetail("Its last executions took %.1f ms each.", cost_ms) : 0));
}

/* Contain a digest (worker only), if an entry is free; log it. */
static void
contain_start(DigestSeen *d, int reason, double cost_ms, double cost_per_s,
			  TimestampTz now)
{
	GrdContainShared *cs = grd_contain_shared;
	GrdContained *e = NULL;
	int			slot = -1;
	bool		dry = grd_contain_mode == GRD_CONTAIN_DRY_RUN;

	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		if (pg_atomic_read_u32(&cs->entries[i].state) == CONTAIN_FREE &&
			pg_atomic_read_u64(&cs->entries[i].queryid) == 0 &&
			pg_atomic_read_u32(&cs->entries[i].running) == 0)
		{
			slot = i;
			e = &cs->entries[i];
			break;
		}
	}
	if (e == NULL)
	{
		pg_atomic_fetch_add_u64(&cs->full, 1);
		return;
	}
	SpinLockAcquire(&cs->mutex);
	e->reason = reason;
	e->cost_ms = cost_ms;
	e->cost_per_s = cost_per_s;
	e->since = now;
	e->state_since = now;
	SpinLockRelease(&cs->mutex);
	pg_atomic_write_u32(&e->limit, (uint32) grd_contain_max_concurrent);
	pg_atomic_write_u64(&e->next_probe, 0);
	pg_atomic_write_u64(&e->admitted, 0);
	pg_atomic_write_u64(&e->exempt, 0);
	pg_atomic_write_u64(&e->refused, 0);
	pg_atomic_write_u32(&e->dbid, d->key.dbid);
	pg_atomic_write_u32(&e->state, CONTAIN_CONTAINED);
	pg_write_barrier();
	pg_atomic_write_u64(&e->queryid, d->key.queryid);
	pg_atomic_fetch_add_u32(&cs->ncontained, 1);
	contain_set_mask();
	pg_atomic_fetch_add_u64(&cs->contained_total, 1);
	d->slot = slot;
	d->probe_calls = 0;
	d->probe_ns = 0;
	ereport(LOG,
			(errmsg("query digest %lld of database %u contained%s: %s",
					(long long) d->key.queryid, d->key.dbid,
					dry ? " (dry run)" : "",
					reason == REASON_NEW ? "new and expensive" : "its cost jumped"),
			 reason == REASON_NEW ?
			 errdetail("Its executions took %.1f ms each; at most %d may run at once on this server.",
					   cost_ms, grd_contain_max_concurrent) :
			 errdetail("Its executions took %.1f ms each, %.0f ms a second against a baseline of %.0f; at most %d may run at once on this server.",
					   cost_ms, cost_per_s, d->baseline,
					   grd_contain_max_concurrent)));
}

/* One contained digest, at a scan: its cool-down, probes and release. */
static void
contain_step(DigestSeen *d, uint64 dcalls, uint64 dns, double cost_per_s,
			 TimestampTz now)
{
	GrdContainShared *cs = grd_contain_shared;
	GrdContained *e = &cs->entries[d->slot];
	uint32		state = pg_atomic_read_u32(&e->state);
	TimestampTz state_since;
	int64		cooldown_us = (int64) grd_contain_cooldown * USECS_PER_SEC;

	if (state == CONTAIN_RELEASING)
	{
		contain_free(d, "released by an operator", -1);
		d->released = true;
		return;
	}
	SpinLockAcquire(&cs->mutex);
	state_since = e->state_since;
	if (dcalls > 0)
	{
		e->cost_ms = (double) dns / dcalls / 1.0e6;
		e->cost_per_s = cost_per_s;
	}
	SpinLockRelease(&cs->mutex);

	if (state == CONTAIN_CONTAINED)
	{
		if (now - state_since < cooldown_us)
			return;
		/* not if an operator released it as we looked: freed next scan */
		pg_atomic_write_u64(&e->next_probe, 0);
		if (!pg_atomic_compare_exchange_u32(&e->state, &state, CONTAIN_PROBING))
			return;
		SpinLockAcquire(&cs->mutex);
		e->state_since = now;
		SpinLockRelease(&cs->mutex);
		d->probe_calls = 0;
		d->probe_ns = 0;
		return;
	}

	/* probing */
	d->probe_calls += dcalls;
	d->probe_ns += dns;
	if (d->probe_calls >= PROBE_CALLS)
	{
		double		mean_ms = (double) d->probe_ns / d->probe_calls / 1.0e6;

		if (mean_ms < grd_contain_min_ms)
		{
			contain_free(d, "its probes were cheap", mean_ms);
			d->baseline = cost_per_s;
			return;
		}
		if (!pg_atomic_compare_exchange_u32(&e->state, &state, CONTAIN_CONTAINED))
			return;
		SpinLockAcquire(&cs->mutex);
		e->state_since = now;
		SpinLockRelease(&cs->mutex);
		ereport(LOG,
				(errmsg("query digest %lld of database %u contained again: its probes took %.1f ms each",
						(long long) d->key.queryid, d->key.dbid, mean_ms)));
	}
	else if (d->probe_calls == 0 && pg_atomic_read_u32(&e->running) == 0 &&
			 now - state_since >= cooldown_us)
		contain_free(d, "it did not run while probed", -1);
}

/* Free every entry: containment was switched off. */
static void
contain_release_all(void)
{
	HASH_SEQ_STATUS status;
	DigestSeen *d;

	if (seen_digests == NULL)
		return;
	hash_seq_init(&status, seen_digests);
	while ((d = hash_seq_search(&status)) != NULL)
	{
		if (d->slot >= 0)
			contain_free(d, "containment was switched off", -1);
	}
}

/*
 * The worker (re)started while digests were contained: take their entries
 * back, so that they go on through their cool-down and are released.
 */
static void
contain_adopt(TimestampTz now)
{
	GrdContainShared *cs = grd_contain_shared;

	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		GrdContained *e = &cs->entries[i];
		DigestKey	key;
		DigestSeen *d;

		memset(&key, 0, sizeof(key));
		key.queryid = pg_atomic_read_u64(&e->queryid);
		key.dbid = pg_atomic_read_u32(&e->dbid);
		if (key.queryid == 0 ||
			pg_atomic_read_u32(&e->state) == CONTAIN_FREE)
			continue;
		d = hash_search(seen_digests, &key, HASH_ENTER, NULL);
		memset(((char *) d) + sizeof(DigestKey), 0,
			   sizeof(DigestSeen) - sizeof(DigestKey));
		d->last_seen = now;
		d->slot = i;
	}
	contain_set_mask();
}

/*
 * One scan: read every digest's totals, work out what each cost over the
 * last scan, contain what is new or jumped and expensive, and move the
 * contained ones along.
 */
static void
contain_scan(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	DigestSeen *d;
	int			n;
	double		dt;
	bool		first = scan_number == 0;
	MemoryContext old;

	if (seen_digests == NULL)
	{
		HASHCTL		ctl;
		const char *max = GetConfigOption("guardrails.max_digests", true, false);

		ctl.keysize = sizeof(DigestKey);
		ctl.entrysize = sizeof(DigestSeen);
		seen_digests = hash_create("pg_guardrails digests seen", 1024, &ctl,
								   HASH_ELEM | HASH_BLOBS);
		scan_cxt = AllocSetContextCreate(TopMemoryContext,
										 "pg_guardrails containment scan",
										 ALLOCSET_DEFAULT_SIZES);
		totals_max = (max ? atoi(max) : 5000) + 1024;
		totals_buf = MemoryContextAlloc(TopMemoryContext,
										sizeof(GrdLatencyDigestTotals) * totals_max);
		contain_adopt(now);
	}
	scan_number++;
	n = grd_latency_totals(totals_buf, totals_max);
	for (int i = 0; i < n; i++)
	{
		DigestKey	key;
		bool		found;

		memset(&key, 0, sizeof(key));
		key.dbid = totals_buf[i].key.dbid;
		key.queryid = totals_buf[i].key.queryid;
		if (key.queryid == 0)
			continue;
		d = hash_search(seen_digests, &key, HASH_ENTER, &found);
		if (!found)
		{
			d->first_seen = first ? 0 : now;
			d->calls = d->total_ns = 0;
			d->baseline = 0;
			d->nbaseline = 0;
			d->slot = -1;
			d->probe_calls = d->probe_ns = 0;
			d->scan = 0;
			d->released = false;
		}
		if (d->scan != scan_number)
		{
			d->scan = scan_number;
			d->cur_calls = d->cur_total_ns = 0;
		}
		d->cur_calls += totals_buf[i].calls;
		d->cur_total_ns += totals_buf[i].total_ns;
		d->last_seen = now;
	}

	dt = last_scan == 0 ? SCAN_MS / 1000.0 :
		Max(0.001, (double) (now - last_scan) / USECS_PER_SEC);
	last_scan = now;
	old = MemoryContextSwitchTo(scan_cxt);
	hash_seq_init(&status, seen_digests);
	while ((d = hash_seq_search(&status)) != NULL)
	{
		uint64		dcalls = 0;
		uint64		dns = 0;
		double		cost_per_s;
		double		mean_ms;

		if (d->scan == scan_number && first)
		{
			/* known before: its totals are where its deltas start */
			d->calls = d->cur_calls;
			d->total_ns = d->cur_total_ns;
			continue;
		}
		if (d->scan == scan_number)
		{
			/* counters that went back: the digest was evicted, or reset */
			if (d->cur_calls >= d->calls && d->cur_total_ns >= d->total_ns)
			{
				dcalls = d->cur_calls - d->calls;
				dns = d->cur_total_ns - d->total_ns;
			}
			d->calls = d->cur_calls;
			d->total_ns = d->cur_total_ns;
		}
		else if (d->slot < 0 && now - d->last_seen > FORGET_SECONDS * USECS_PER_SEC)
		{
			(void) hash_search(seen_digests, &d->key, HASH_REMOVE, NULL);
			continue;
		}
		cost_per_s = (double) dns / 1.0e6 / dt;
		mean_ms = dcalls > 0 ? (double) dns / dcalls / 1.0e6 : 0;

		if (d->slot >= 0)
		{
			contain_step(d, dcalls, dns, cost_per_s, now);
			continue;
		}
		if (!first && !d->released && dcalls > 0 &&
			mean_ms >= grd_contain_min_ms)
		{
			bool		is_new = d->first_seen != 0 &&
				now - d->first_seen < (int64) grd_contain_new_interval * USECS_PER_SEC;
			bool		jumped = grd_contain_cost_jump > 0 &&
				d->nbaseline >= BASELINE_SCANS &&
				cost_per_s > grd_contain_cost_jump *
				Max(d->baseline, (double) grd_contain_min_ms);

			if (is_new || jumped)
			{
				contain_start(d, is_new ? REASON_NEW : REASON_COST_JUMP,
							  mean_ms, cost_per_s, now);
				continue;
			}
		}
		d->baseline += (d->nbaseline == 0 ? 1.0 : BASELINE_ALPHA) *
			(cost_per_s - d->baseline);
		if (d->nbaseline < BASELINE_SCANS)
			d->nbaseline++;
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(scan_cxt);
	pg_atomic_fetch_add_u64(&grd_contain_shared->scans, 1);
}

/*
 * Called by the overload controller at each of its wakeups: a scan once a
 * second while containment is on; once it is switched off, every
 * contained digest is released.
 */
void
grd_contain_tick(void)
{
	TimestampTz now;

	if (grd_contain_shared == NULL)
		return;
	if (grd_contain_mode == GRD_CONTAIN_OFF)
	{
		if (!was_off)
		{
			contain_release_all();
			was_off = true;
		}
		return;
	}
	now = GetCurrentTimestamp();
	if (was_off)
	{
		/* what ran while it was off is not new: start from a first scan */
		was_off = false;
		scan_number = 0;
		last_scan = 0;
		if (seen_digests != NULL)
		{
			hash_destroy(seen_digests);
			seen_digests = NULL;
		}
	}
	else if (now - last_scan < SCAN_MS * 1000)
		return;
	contain_scan(now);
}

/* ----------------------------------------------------------------
 *		SQL functions
 * ----------------------------------------------------------------
 */

/*
 * guardrails.release_contained(queryid bigint): let a contained digest
 * run again, in every database of this server; the worker frees it (and
 * logs it) at its next scan, and no longer counts it as new.  Returns
 * whether one was contained.  Granted to guardrails_admin.
 */
PG_FUNCTION_INFO_V1(grd_release_contained);

Datum
grd_release_contained(PG_FUNCTION_ARGS)
{
	GrdContainShared *cs = grd_contain_shared;
	uint64		queryid;
	bool		released = false;

	grd_require_preload();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queryid must not be null")));
	queryid = (uint64) PG_GETARG_INT64(0);
	SpinLockAcquire(&cs->mutex);
	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		GrdContained *e = &cs->entries[i];
		uint32		state = pg_atomic_read_u32(&e->state);

		/* from the state seen only: the worker may free it meanwhile */
		if (queryid != 0 && pg_atomic_read_u64(&e->queryid) == queryid &&
			(state == CONTAIN_CONTAINED || state == CONTAIN_PROBING) &&
			pg_atomic_compare_exchange_u32(&e->state, &state,
										   CONTAIN_RELEASING))
			released = true;
	}
	SpinLockRelease(&cs->mutex);
	if (!released)
		ereport(NOTICE,
				(errmsg("query digest %lld is not contained on this server",
						(long long) queryid)));
	PG_RETURN_BOOL(released);
}

/*
 * guardrails.contained_digest_stats(): the digests contained on this
 * server, for the view guardrails.contained_digests.
 */
PG_FUNCTION_INFO_V1(grd_contained_digest_stats);

Datum
grd_contained_digest_stats(PG_FUNCTION_ARGS)
{
	GrdContainShared *cs = grd_contain_shared;
	ReturnSetInfo *rsinfo;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	for (int i = 0; i < CONTAIN_SLOTS; i++)
	{
		GrdContained *e = &cs->entries[i];
		uint64		queryid = pg_atomic_read_u64(&e->queryid);
		uint32		state = pg_atomic_read_u32(&e->state);
		Datum		values[13];
		bool		nulls[13] = {0};
		int			reason;
		double		cost_ms,
					cost_per_s;
		TimestampTz since;

		if (queryid == 0 || state == CONTAIN_FREE)
			continue;
		SpinLockAcquire(&cs->mutex);
		reason = e->reason;
		cost_ms = e->cost_ms;
		cost_per_s = e->cost_per_s;
		since = e->since;
		SpinLockRelease(&cs->mutex);
		values[0] = Int64GetDatum((int64) queryid);
		values[1] = ObjectIdGetDatum(pg_atomic_read_u32(&e->dbid));
		values[2] = CStringGetTextDatum(reason_names[reason]);
		values[3] = Float8GetDatum(cost_ms);
		values[4] = Float8GetDatum(cost_per_s);
		values[5] = TimestampTzGetDatum(since);
		values[6] = CStringGetTextDatum(state_names[state]);
		values[7] = Int32GetDatum((int32) pg_atomic_read_u32(&e->limit));
		values[8] = Int32GetDatum((int32) pg_atomic_read_u32(&e->running));
		values[9] = Int64GetDatum((int64) pg_atomic_read_u64(&e->admitted));
		values[10] = Int64GetDatum((int64) pg_atomic_read_u64(&e->exempt));
		values[11] = Int64GetDatum((int64) pg_atomic_read_u64(&e->refused));
		values[12] = CStringGetTextDatum(contain_options[grd_contain_mode].name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Rows of guardrails.status. */
static void
contain_status(GrdStatus *status)
{
	GrdContainShared *cs = grd_contain_shared;

	if (cs == NULL)
		return;
	grd_status_put(status, "contain_contained_now",
				   pg_atomic_read_u32(&cs->ncontained));
	grd_status_put(status, "contain_contained",
				   (int64) pg_atomic_read_u64(&cs->contained_total));
	grd_status_put(status, "contain_released",
				   (int64) pg_atomic_read_u64(&cs->released_total));
	grd_status_put(status, "contain_refused",
				   (int64) pg_atomic_read_u64(&cs->refused_total));
	grd_status_put(status, "contain_scans",
				   (int64) pg_atomic_read_u64(&cs->scans));
	grd_status_put(status, "contain_table_full",
				   (int64) pg_atomic_read_u64(&cs->full));
}

const GrdModule grd_contain_module = {
	.name = "containment",
	.settings = contain_settings,
	.shmem_size = contain_shmem_size,
	.shmem_startup = contain_shmem_startup,
	.status = contain_status,
};
