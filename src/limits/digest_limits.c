/*-------------------------------------------------------------------------
 *
 * digest_limits.c
 *		Limits and blocks per query digest: the rules of
 *		guardrails.digest_limits, the admission of each execution they
 *		apply to, and their SQL functions.
 *
 * During an incident an operator can rate-limit, cap the concurrency of,
 * or block one statement (a query digest), for every role or for one,
 * without touching the application: a rejected execution fails with
 * SQLSTATE 53R01 (limited) or 53B01 (blocked); a dry run only logs.
 *
 * Rules are rows of guardrails.digest_limits, read into a backend-local
 * array sorted by query id when config.c says they changed; with no rule,
 * or none for this digest, an execution costs one binary search and takes
 * no lock.  Each rule's state (token bucket, running executions, counters)
 * is an entry of a keyed table of buckets (token_bucket.c) keyed by
 * (database, role, query id), whose version is the rule's creation time:
 * a replaced rule starts over.
 *
 * Locking: GRD_LOCK_DIGEST_LIMITS is the lock of that table.  An entry is
 * found and updated with it held shared; entries are created, and idle
 * ones recycled, with it held exclusive.  An entry is never removed while
 * executions hold one of its concurrency slots (it is not idle), so a
 * slot can be given back without the lock.  The observed-rate window of
 * an entry is covered by its bucket's spinlock; counters are atomics.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/parallel.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/spin.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "config.h"
#include "grd_limits.h"
#include "module.h"
#include "token_bucket.h"
#include "workload.h"

/* settings */
static int	grd_max_digest_limits = 2000;

/* The settings of digest limits. */
static const GrdSetting digest_limits_settings[] = {
	GRD_SETTING_INT("guardrails.max_digest_limits", &grd_max_digest_limits, 2000, 10, INT_MAX / 2,
		PGC_POSTMASTER, 0,
		"Maximum number of digest limits with state in shared memory.",
		"Each takes about 150 bytes; the least recently used idle one is recycled when more are needed."),
	GRD_SETTINGS_END
};

/* Columns of guardrails.digest_limits. */
#define Anum_dl_queryid			1
#define Anum_dl_role			2
#define Anum_dl_per_second		3
#define Anum_dl_burst			4
#define Anum_dl_max_concurrent	5
#define Anum_dl_action			6
#define Anum_dl_created_at		9
#define Anum_dl_expires_at		10

typedef struct DigestRule
{
	uint64		queryid;
	Oid			roleid;			/* InvalidOid: every role */
	char		action;			/* 'l' limit, 'b' block, 'd' dry run */
	double		rate;			/* 0: no rate limit */
	double		burst;
	int			max_concurrent; /* 0: no cap */
	TimestampTz expires_at;		/* 0: never */
	TimestampTz created_at;		/* tells a replaced rule from the old one */
} DigestRule;

typedef struct GrdDigestKey
{
	Oid			dbid;
	Oid			roleid;
	uint64		queryid;
} GrdDigestKey;

typedef struct GrdDigestState
{
	GrdDigestKey key;			/* hash key, must be first */
	GrdBucketEntry common;		/* the bucket, whose mutex also covers the
								 * window; the version is the rule's
								 * created_at (the rule the counters are
								 * for); the last use is when the rule last
								 * matched an execution (or was created),
								 * shown as last_matched_at */
	int64		window_second;	/* for the observed rate: this second */
	uint32		window_count;	/* attempts in it */
	uint32		prev_count;		/* attempts in the second before */
	pg_atomic_uint32 running;
	pg_atomic_uint64 admitted;
	pg_atomic_uint64 rejected;
	pg_atomic_uint64 last_rejection;	/* TimestampTz */
} GrdDigestState;

static bool digest_state_recyclable(void *entry);
static void digest_state_reset(void *entry, bool created);

/* The state of every rule of every database. */
static GrdBucketTable digest_states =
	GRD_BUCKET_TABLE("pg_guardrails digest limits", GRD_LOCK_DIGEST_LIMITS,
					 GrdDigestState, digest_state_recyclable,
					 digest_state_reset);

/*
 * Admissions of the utility statements running in this backend that hold
 * concurrency slots, innermost first (each lives in hooks.c's frame).
 */
static GrdAdmission *utility_held = NULL;
static bool utility_exit_registered = false;

static void digest_admit_queryid(uint64 queryid, bool top,
								GrdAdmission *admission);
static void utility_held_exit(int code, Datum arg);

/* This backend's copy of the rules of its database. */
static GrdRulesArray digest_rules = {NULL, 0, 0, NULL};	/* of DigestRule */
static GrdRulesCache digest_rules_cache;

/* Executions holding slots, released when their executor state goes. */
typedef struct HeldSlots
{
	GrdAdmission admission;
	MemoryContextCallback callback;
} HeldSlots;

/* Bytes of the table of rule states, guardrails.max_digest_limits entries. */
static Size
digest_limits_shmem_size(void)
{
	return grd_bucket_table_shmem_size(&digest_states, grd_max_digest_limits);
}

/* Create (or attach to) the table of rule states. */
static void
digest_limits_shmem_startup(bool found)
{
	grd_bucket_table_attach(&digest_states, grd_max_digest_limits);
}

/* The table of states may recycle a rule's state that no execution holds. */
static bool
digest_state_recyclable(void *entry)
{
	GrdDigestState *state = (GrdDigestState *) entry;

	return pg_atomic_read_u32(&state->running) == 0;
}

/*
 * A rule's state was created, or its rule was replaced: its counters start
 * over (the table restarted its bucket).  Executions of the replaced rule
 * may still hold concurrency slots, which they give back to this state.
 */
static void
digest_state_reset(void *entry, bool created)
{
	GrdDigestState *state = (GrdDigestState *) entry;

	if (created)
	{
		state->window_second = 0;
		state->window_count = 0;
		state->prev_count = 0;
		pg_atomic_init_u32(&state->running, 0);
		pg_atomic_init_u64(&state->admitted, 0);
		pg_atomic_init_u64(&state->rejected, 0);
		pg_atomic_init_u64(&state->last_rejection, 0);
		return;
	}
	pg_atomic_write_u64(&state->admitted, 0);
	pg_atomic_write_u64(&state->rejected, 0);
	pg_atomic_write_u64(&state->last_rejection, 0);
}

/* Order of the rules in a backend's copy: by query id. */
static int
digest_rule_cmp(const void *a, const void *b)
{
	uint64		x = ((const DigestRule *) a)->queryid;
	uint64		y = ((const DigestRule *) b)->queryid;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* grd_rules_load() callback: one row of guardrails.digest_limits. */
static void
digest_rules_row(HeapTuple tuple, TupleDesc desc, GrdRulesArray *built,
				 void *arg)
{
	DigestRule *r;
	bool		isnull;
	Datum		d;
	char	   *action;

	d = heap_getattr(tuple, Anum_dl_queryid, desc, &isnull);
	if (isnull)
		return;
	r = grd_rules_append(built, sizeof(DigestRule), built->cxt);
	memset(r, 0, sizeof(DigestRule));
	r->queryid = (uint64) DatumGetInt64(d);
	d = heap_getattr(tuple, Anum_dl_role, desc, &isnull);
	r->roleid = isnull ? InvalidOid : DatumGetObjectId(d);
	d = heap_getattr(tuple, Anum_dl_per_second, desc, &isnull);
	r->rate = isnull ? 0 : DatumGetFloat8(d);
	d = heap_getattr(tuple, Anum_dl_burst, desc, &isnull);
	r->burst = isnull ? Max(1.0, ceil(r->rate)) : DatumGetInt32(d);
	d = heap_getattr(tuple, Anum_dl_max_concurrent, desc, &isnull);
	r->max_concurrent = isnull ? 0 : DatumGetInt32(d);
	d = heap_getattr(tuple, Anum_dl_expires_at, desc, &isnull);
	r->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = heap_getattr(tuple, Anum_dl_created_at, desc, &isnull);
	r->created_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = heap_getattr(tuple, Anum_dl_action, desc, &isnull);
	action = isnull ? "limit" : TextDatumGetCString(d);
	r->action = action[0] == 'b' ? 'b' : (action[0] == 'd' ? 'd' : 'l');
}

/*
 * Read guardrails.digest_limits, sorted by query id, if it changed since
 * the last time (config.c's loader says when, and checks that the table
 * is the extension's); keep the copy we have if the table is locked
 * exclusively.
 */
static void
load_digest_rules(void)
{
	(void) grd_rules_load(GRD_CONFIG_DIGEST_LIMITS, &digest_rules_cache,
						  &digest_rules, sizeof(DigestRule), digest_rule_cmp,
						  digest_rules_row, NULL);
}

/*
 * The shared state of a rule, created (or started over, if the rule was
 * replaced) if need be, returned with GRD_LOCK_DIGEST_LIMITS held shared
 * so that it cannot be recycled while the caller updates it; NULL, with
 * the lock not held, if there is no room.
 */
static GrdDigestState *
digest_state(const DigestRule *rule, TimestampTz now)
{
	GrdDigestKey key;

	key.dbid = MyDatabaseId;
	key.roleid = rule->roleid;
	key.queryid = rule->queryid;
	return grd_bucket_table_acquire(&digest_states, &key,
									(uint64) rule->created_at, now);
}

/*
 * Take a token, counting the attempt in the window the observed rate is
 * computed from.  Returns whether a token was taken, and the attempts per
 * second seen lately.
 */
static bool
take_token(GrdDigestState *state, const DigestRule *rule, TimestampTz now,
		   uint32 *observed)
{
	int64		second = now / USECS_PER_SEC;
	bool		taken;

	taken = grd_bucket_take(&state->common.bucket, rule->rate, rule->burst,
							now);

	SpinLockAcquire(&state->common.bucket.mutex);
	if (second != state->window_second)
	{
		state->prev_count = (second == state->window_second + 1) ?
			state->window_count : 0;
		state->window_second = second;
		state->window_count = 0;
	}
	state->window_count++;
	*observed = Max(state->window_count, state->prev_count);
	SpinLockRelease(&state->common.bucket.mutex);
	return taken;
}

/*
 * Count a rejection, release the lock digest_state() left held, and fail
 * the execution (or, for a dry run, log what would have failed).
 */
static void
digest_limit_reject(GrdDigestState *state, const DigestRule *rule, TimestampTz now,
	   int sqlerrcode, const char *reason, const char *detail)
{
	TimestampTz previous;

	pg_atomic_fetch_add_u64(&state->rejected, 1);
	previous = (TimestampTz) pg_atomic_exchange_u64(&state->last_rejection,
													(uint64) now);
	grd_bucket_table_release(&digest_states);

	if (rule->action == 'd')
	{
		/* a dry run logs what it would reject, once a second at most */
		if (previous / USECS_PER_SEC != now / USECS_PER_SEC)
			ereport(LOG,
					(errmsg("query digest %lld would be %s (dry run)",
							(long long) rule->queryid, reason),
					 errdetail_internal("%s", detail)));
		return;
	}
	ereport(ERROR,
			(errcode(sqlerrcode),
			 errmsg("query digest %lld is %s", (long long) rule->queryid, reason),
			 errdetail_internal("%s", detail),
			 errhint(sqlerrcode == GRD_ERRCODE_DIGEST_BLOCKED ?
					 "An operator blocked this statement; see guardrails.digest_limit_status." :
					 "Retry after a pause that grows with each attempt; see guardrails.digest_limit_status.")));
}

/*
 * Before ExecutorStart: apply every unexpired rule for this digest and
 * role (and for every role).  Rejects with ERROR, or returns the
 * concurrency slots taken, which the caller must hand to grd_digest_hold
 * or grd_digest_release.  EXPLAIN without ANALYZE executes nothing and is
 * never refused: an operator must be able to look at a blocked statement.
 */
void
grd_digest_admit(QueryDesc *queryDesc, int eflags, int nesting_level,
				 GrdAdmission *admission)
{
	admission->nheld = 0;
	if (IsParallelWorker() || (eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;					/* a worker's leader was admitted */
	digest_admit_queryid(GRD_QUERYID(queryDesc->plannedstmt),
						 nesting_level == 0, admission);
}

/*
 * The planned query a utility statement runs inside itself: that of
 * CREATE TABLE AS (SELECT INTO, CREATE MATERIALIZED VIEW) and DECLARE
 * CURSOR, also under EXPLAIN (ANALYZE); NULL for any other statement, and
 * for CREATE TABLE AS EXECUTE, whose prepared statement has its own id.
 */
static Query *
inner_query(Node *stmt)
{
	Node	   *query = NULL;

	if (IsA(stmt, ExplainStmt))
	{
		Query	   *explained = (Query *) ((ExplainStmt *) stmt)->query;

		if (explained == NULL || !IsA(explained, Query) ||
			explained->commandType != CMD_UTILITY ||
			explained->utilityStmt == NULL)
			return NULL;
		stmt = explained->utilityStmt;
	}
	if (IsA(stmt, CreateTableAsStmt))
		query = ((CreateTableAsStmt *) stmt)->query;
	else if (IsA(stmt, DeclareCursorStmt))
		query = ((DeclareCursorStmt *) stmt)->query;
	if (query == NULL || !IsA(query, Query) ||
		((Query *) query)->commandType == CMD_UTILITY)
		return NULL;
	return (Query *) query;
}

/*
 * Before a utility statement runs: give the query it runs inside itself
 * (see inner_query) the id core gives the same query on its own, where
 * core does not (up to 17, see compat.h), so that it reaches the executor
 * with its digest, and a rule on that digest applies to it.  Otherwise
 * CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW and DECLARE
 * CURSOR would run a blocked statement with id 0, which means no rule.
 * Returns the statement to run: a copy when the tree is read-only (a
 * cached plan's), and *readOnlyTree is then cleared.
 */
PlannedStmt *
grd_digest_identify_inner(PlannedStmt *pstmt, bool *readOnlyTree)
{
	Query	   *query;

	if (GRD_CORE_IDENTIFIES_INNER_QUERIES || !IsQueryIdEnabled())
		return pstmt;
	query = inner_query(pstmt->utilityStmt);
	if (query == NULL || query->queryId != UINT64CONST(0))
		return pstmt;
	if (*readOnlyTree)
	{
		pstmt = copyObject(pstmt);
		*readOnlyTree = false;
		query = inner_query(pstmt->utilityStmt);
	}
	grd_jumble_query(query);
	return pstmt;
}

/*
 * Before a query is planned: a planned query without an id, although ids
 * are computed, gets the id core gives the same query on its own.  Such a
 * query is one that a utility statement runs inside itself from a stored
 * definition, which core never identifies: REFRESH MATERIALIZED VIEW's,
 * and CREATE MATERIALIZED VIEW's, which fills the view by REFRESH from 17
 * on.  Without an id it would run a blocked statement unchecked.  (The
 * query is seen after the rewriter: one that reads a view is identified
 * by what the view reads, and so matches no rule on the statement as
 * written.)  Costs one comparison for every other query.
 */
void
grd_digest_identify_planned(Query *parse)
{
	if (parse->queryId != UINT64CONST(0) ||
		parse->commandType == CMD_UTILITY || !IsQueryIdEnabled())
		return;
	grd_jumble_query(parse);
}

/*
 * Before a utility statement: the same rules, for the digests of utility
 * statements (CALL, VACUUM, TRUNCATE, CREATE ...), which guardrails.latency
 * shows and an operator may pick during an incident.  The caller holds the
 * slots taken until the statement ends, then releases them.
 *
 * Never limited: transaction control (a refused COMMIT or ROLLBACK would
 * leave the session unable to end its transaction), EXPLAIN (never
 * refused, so that a blocked statement can be examined; EXPLAIN ANALYZE's
 * execution is admitted by the executor), EXECUTE (its statement is
 * admitted by the executor, under its own digest), PREPARE, DEALLOCATE,
 * and extension scripts.
 *
 * pg_stat_statements, when its hook runs before ours, zeroes the query id
 * of utility statements: for a top-level statement the id survives in the
 * backend's activity entry, where core reported it (as latency.c does).
 */
void
grd_digest_admit_utility(PlannedStmt *pstmt, int nesting_level,
						 GrdAdmission *admission)
{
	Node	   *parsetree = pstmt->utilityStmt;
	uint64		queryid;

	admission->nheld = 0;
	if (IsA(parsetree, TransactionStmt) || IsA(parsetree, ExplainStmt) ||
		IsA(parsetree, ExecuteStmt) || IsA(parsetree, PrepareStmt) ||
		IsA(parsetree, DeallocateStmt) || creating_extension)
		return;
	queryid = GRD_QUERYID(pstmt);
	if (queryid == UINT64CONST(0) && nesting_level == 0)
		queryid = (uint64) pgstat_get_my_query_id();
	/* never contained automatically (contain.c): planned statements are */
	digest_admit_queryid(queryid, false, admission);
	if (admission->nheld == 0)
		return;

	/* remembered until released, in case the backend exits first */
	if (!utility_exit_registered)
	{
		before_shmem_exit(utility_held_exit, (Datum) 0);
		utility_exit_registered = true;
	}
	admission->outer = utility_held;
	utility_held = admission;
}

/*
 * After a utility statement admitted with slots, normally or from an error
 * handler: give them back.  Statements nest, and end innermost first.
 */
void
grd_digest_release_utility(GrdAdmission *admission)
{
	if (admission->nheld == 0)
		return;
	Assert(utility_held == admission);
	utility_held = admission->outer;
	grd_digest_release(admission);
}

/*
 * The backend exits (FATAL, pg_terminate_backend) while utility statements
 * hold slots: their error handlers never run, and their admissions are
 * still on the stack that proc_exit() was called from.
 */
static void
utility_held_exit(int code, Datum arg)
{
	while (utility_held != NULL)
	{
		GrdAdmission *admission = utility_held;

		utility_held = admission->outer;
		grd_digest_release(admission);
	}
}

/*
 * The admission of one execution of a digest, planned or utility: a
 * top-level one (top) of a digest contained automatically takes a slot
 * of its containment first (contain.c); then every unexpired rule for it
 * and the current role (and for every role) applies.  Rejects with ERROR,
 * or returns the concurrency slots taken.
 */
static void
digest_admit_queryid(uint64 queryid, bool top, GrdAdmission *admission)
{
	Oid			userid;
	TimestampTz now = 0;
	DigestRule *rules;
	int			nrules;
	int			lo,
				hi;

	/* nothing held yet: a refusal here has nothing to give back */
	if (top)
		grd_contain_admit(queryid, admission);
	if (unlikely(grd_rules_stale(&digest_rules_cache)))
		load_digest_rules();
	if (digest_rules.n == 0 || queryid == UINT64CONST(0))
		return;
	rules = (DigestRule *) digest_rules.items;
	nrules = digest_rules.n;

	/* the first rule for this digest, by bisection */
	lo = 0;
	hi = nrules;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (rules[mid].queryid < queryid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == nrules || rules[lo].queryid != queryid)
		return;

	userid = GetUserId();
	PG_TRY();
	{
		for (int i = lo; i < nrules && rules[i].queryid == queryid; i++)
		{
			DigestRule *rule = &rules[i];
			GrdDigestState *state;
			uint32		observed = 0;
			char		detail[256];

			if (OidIsValid(rule->roleid) && rule->roleid != userid)
				continue;
			if (now == 0)
				now = GetCurrentTimestamp();
			if (rule->expires_at != 0 && rule->expires_at <= now)
				continue;
			state = digest_state(rule, now);
			if (state == NULL)
				continue;		/* no room: not enforced, never fails */

			if (rule->action == 'b' ||
				(rule->action == 'd' && rule->rate == 0 && rule->max_concurrent == 0))
			{
				snprintf(detail, sizeof(detail),
						 "Every execution of query digest %lld%s is refused.",
						 (long long) queryid,
						 OidIsValid(rule->roleid) ? " by this role" : "");
				digest_limit_reject(state, rule, now, GRD_ERRCODE_DIGEST_BLOCKED, "blocked", detail);
				continue;
			}
			if (rule->rate > 0 && !take_token(state, rule, now, &observed))
			{
				snprintf(detail, sizeof(detail),
						 "The limit is %g %s per second with bursts of %g; %u %s attempted in the last second.",
						 rule->rate,
						 rule->rate == 1 ? "execution" : "executions",
						 rule->burst, observed,
						 observed == 1 ? "was" : "were");
				digest_limit_reject(state, rule, now, GRD_ERRCODE_DIGEST_LIMITED, "rate limited", detail);
				continue;
			}
			if (rule->max_concurrent > 0)
			{
				uint32		running = pg_atomic_add_fetch_u32(&state->running, 1);

				if (running > (uint32) rule->max_concurrent)
				{
					pg_atomic_fetch_sub_u32(&state->running, 1);
					snprintf(detail, sizeof(detail),
							 rule->max_concurrent == 1 ?
							 "At most %d execution of it may run at once, and %u %s running." :
							 "At most %d executions of it may run at once, and %u %s running.",
							 rule->max_concurrent, running - 1,
							 running - 1 == 1 ? "is" : "are");
					digest_limit_reject(state, rule, now, GRD_ERRCODE_DIGEST_LIMITED,
						   "at its concurrency limit", detail);
					continue;
				}
				if (admission->nheld < GRD_MAX_HELD)
					admission->held[admission->nheld++] = &state->running;
				else
					pg_atomic_fetch_sub_u32(&state->running, 1);
			}
			pg_atomic_fetch_add_u64(&state->admitted, 1);
			grd_bucket_table_release(&digest_states);
		}
	}
	PG_CATCH();
	{
		grd_digest_release(admission);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Give back the concurrency slots an admission holds; no lock is needed,
 * since a state that a slot is held in is never recycled (nor is a
 * contained digest's entry, see contain.c).
 */
void
grd_digest_release(GrdAdmission *admission)
{
	for (int i = 0; i < admission->nheld; i++)
		pg_atomic_fetch_sub_u32(admission->held[i], 1);
	admission->nheld = 0;
}

/* Memory-context reset callback: the execution's executor state is going. */
static void
held_slots_release(void *arg)
{
	grd_digest_release(&((HeldSlots *) arg)->admission);
}

/*
 * After ExecutorStart: keep the slots until the execution's executor state
 * goes away, whether it ends, fails or is cancelled.
 */
void
grd_digest_hold(QueryDesc *queryDesc, GrdAdmission *admission)
{
	HeldSlots  *held;

	/* the slots are held, not yet handed over: an error returns them */
	GRD_INJECTION_POINT("pg-guardrails-digest-hold");
	held = MemoryContextAlloc(queryDesc->estate->es_query_cxt,
							  sizeof(HeldSlots));

	held->admission = *admission;
	held->callback.func = held_slots_release;
	held->callback.arg = held;
	MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt,
									   &held->callback);
	admission->nheld = 0;
}

/* What a row of digest_limit_stats() shows of one state. */
typedef struct DigestStateRow
{
	uint64		queryid;
	Oid			roleid;
	double		tokens;
	TimestampTz refilled_at;
	uint32		running;
	uint64		admitted;
	uint64		rejected;
	TimestampTz last_rejection;
	TimestampTz version;
	TimestampTz last_used;
} DigestStateRow;

/*
 * grd_bucket_table_copy() callback: the state of a rule of this database,
 * copied with the table's lock held (nothing here can fail).
 */
static bool
digest_state_copy(void *entry, void *dst)
{
	GrdDigestState *s = (GrdDigestState *) entry;
	DigestStateRow *r = (DigestStateRow *) dst;

	if (s->key.dbid != MyDatabaseId)
		return false;
	r->queryid = s->key.queryid;
	r->roleid = s->key.roleid;
	SpinLockAcquire(&s->common.bucket.mutex);
	r->tokens = s->common.bucket.tokens;
	r->refilled_at = s->common.bucket.refilled_at;
	SpinLockRelease(&s->common.bucket.mutex);
	r->running = pg_atomic_read_u32(&s->running);
	r->admitted = pg_atomic_read_u64(&s->admitted);
	r->rejected = pg_atomic_read_u64(&s->rejected);
	r->last_rejection = (TimestampTz) pg_atomic_read_u64(&s->last_rejection);
	r->version = (TimestampTz) s->common.version;
	r->last_used = (TimestampTz) pg_atomic_read_u64(&s->common.last_used);
	return true;
}

/*
 * guardrails.digest_limit_stats(): the shared state of every rule of this
 * database, for the view guardrails.digest_limit_status.
 */
PG_FUNCTION_INFO_V1(grd_digest_limit_stats);

Datum
grd_digest_limit_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	DigestStateRow *rows;
	int			n;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	rows = grd_bucket_table_copy(&digest_states, digest_state_copy,
								 sizeof(DigestStateRow), &n);
	for (int i = 0; i < n; i++)
	{
		DigestStateRow *r = &rows[i];
		Datum		values[10];
		bool		nulls[10] = {0};

		values[0] = Int64GetDatum((int64) r->queryid);
		values[1] = ObjectIdGetDatum(r->roleid);
		nulls[1] = !OidIsValid(r->roleid);
		values[2] = Float8GetDatum(r->tokens);
		values[3] = TimestampTzGetDatum(r->refilled_at);
		nulls[3] = r->refilled_at == 0;
		values[4] = Int32GetDatum((int32) r->running);
		values[5] = Int64GetDatum((int64) r->admitted);
		values[6] = Int64GetDatum((int64) r->rejected);
		values[7] = TimestampTzGetDatum(r->last_rejection);
		nulls[7] = r->last_rejection == 0;
		/* which rule the counters are for: the view hides a replaced one's */
		values[8] = TimestampTzGetDatum(r->version);
		/* set whenever the rule matched an execution, admitted or not */
		values[9] = TimestampTzGetDatum(r->last_used);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(rows);
	return (Datum) 0;
}

/*
 * guardrails.query_digest(sql text): the query id the server computes for
 * a sample statement, the same as pg_stat_statements.queryid.  Constants
 * may be written as they are or as $1, $2...
 */
PG_FUNCTION_INFO_V1(grd_query_digest);

Datum
grd_query_digest(PG_FUNCTION_ARGS)
{
	char	   *sql;
	List	   *parsetree;
	Oid		   *paramtypes = NULL;
	int			nparams = 0;
	Query	   *query;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statement must not be null")));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	parsetree = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(parsetree) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected one statement, got %d", list_length(parsetree)),
				 errhint("Pass a single statement, as the application sends it.")));
	query = parse_analyze_varparams(linitial_node(RawStmt, parsetree), sql,
									&paramtypes, &nparams, NULL);
	if (query->queryId == UINT64CONST(0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no query id was computed for this statement"),
				 errhint("Load pg_guardrails through \"shared_preload_libraries\", or set \"compute_query_id\" to on.")));
	PG_RETURN_INT64((int64) query->queryId);
}

/*
 * guardrails.digest_limits_changed(): AFTER trigger, for each statement,
 * on guardrails.digest_limits: every backend, and every standby on replay,
 * reloads its copy of the rules when the transaction commits.
 */
PG_FUNCTION_INFO_V1(grd_digest_limits_changed);

Datum
grd_digest_limits_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"digest_limits_changed\" was not called by trigger manager")));
	grd_warn_not_enforced("the change to guardrails.digest_limits");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

const GrdModule grd_digest_limits_module = {
	.name = "digest limits",
	.settings = digest_limits_settings,
	.shmem_size = digest_limits_shmem_size,
	.shmem_startup = digest_limits_shmem_startup,
};
