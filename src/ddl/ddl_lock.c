/*-------------------------------------------------------------------------
 *
 * ddl_lock.c
 *		Statements that cannot freeze a table: every guarded statement
 *		(DDL, and the others that lock an existing table beyond ROW
 *		EXCLUSIVE: ddl_statement.c decides) runs with a lock timeout, and
 *		takes its locks without staying in the queue.
 *
 * A schema change waits for its lock behind any long-running query, and
 * while it waits in the lock queue every new query on the table queues
 * behind it: the table is down.  So:
 *
 * 1. Every guarded statement, at any nesting level, runs with lock_timeout
 *	  set to the smaller of the session's own (when set) and guardrails.
 *	  ddl_lock_timeout, in a GUC nesting level of its own, so the session's
 *	  value is back as soon as the statement ends.
 *
 * 2. Before the statement runs, we take the locks it is about to take
 *	  ourselves (same relations, same modes: grd_ddl_targets), so that we
 *	  control the wait.  With guardrails.ddl_lock_wait = retry we never
 *	  join the lock queue: conditional attempts, separated by short
 *	  jittered pauses, until the budget is spent (but a transaction that
 *	  already holds a lock on the table, which those queued wait for
 *	  anyway, queues for a couple of milliseconds at a time, so that it can
 *	  go ahead of them as PostgreSQL lets it).  With queue, we wait in
 *	  the queue as PostgreSQL would, under the lock timeout, inside a
 *	  subtransaction so that a timeout can be caught and reported.  With
 *	  hybrid, we wait in the queue for GRD_HYBRID_SLICE_MS at most, leave
 *	  it, pause, and queue again: readers wait behind us for one slice at
 *	  most, and we need no instant at which the table is free, only the end
 *	  of the queries running when we join.  Either way, when the statement
 *	  then asks for the same locks, it already holds them and does not
 *	  wait; the locks it takes beyond them wait under what remains of the
 *	  budget (lock_timeout is lowered by the time ours took).
 *
 * 3. When the budget is spent the statement fails with 55P03, as a lock
 *	  timeout does, and its detail names the sessions that blocked it.  A
 *	  top-level statement outside a transaction block may first be retried
 *	  guardrails.ddl_lock_retries times, after growing pauses.
 *
 * The CONCURRENTLY forms are not guarded: the lock they wait for blocks
 * neither reads nor writes, and they then wait for older transactions to
 * end, a wait a lock timeout would turn into a failed build and an invalid
 * index.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/tablecmds.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_audit.h"
#include "ddl_statement.h"
#include "module.h"

/* guardrails.ddl_lock_wait: how DDL waits for its lock */
typedef enum GrdDdlLockWait
{
	GRD_DDL_LOCK_WAIT_QUEUE,	/* in the lock queue, as PostgreSQL does */
	GRD_DDL_LOCK_WAIT_RETRY,	/* conditional attempts, never queued */
	GRD_DDL_LOCK_WAIT_HYBRID	/* queued for short slices, with pauses */
} GrdDdlLockWait;

static const struct config_enum_entry ddl_lock_wait_options[] =
{
	{"queue", GRD_DDL_LOCK_WAIT_QUEUE, false},
	{"retry", GRD_DDL_LOCK_WAIT_RETRY, false},
	{"hybrid", GRD_DDL_LOCK_WAIT_HYBRID, false},
	{NULL, 0, false}
};

/* settings */
static int	grd_ddl_lock_timeout = 5000;
static int	grd_ddl_lock_wait = GRD_DDL_LOCK_WAIT_HYBRID;
static int	grd_ddl_lock_retries = 0;

/* The settings of the DDL lock guard. */
static const GrdSetting ddl_lock_settings[] = {
	GRD_SETTING_INT("guardrails.ddl_lock_timeout", &grd_ddl_lock_timeout, 5000, 0, INT_MAX,
		PGC_SUSET, GUC_UNIT_MS,
		"Longest time a DDL statement may wait for a lock.",
		"DDL runs with the smaller of this and the session's lock_timeout; 0 turns it off."),
	GRD_SETTING_ENUM("guardrails.ddl_lock_wait", &grd_ddl_lock_wait, GRD_DDL_LOCK_WAIT_HYBRID, ddl_lock_wait_options,
		PGC_SUSET, 0,
		"How a DDL statement waits for the lock on its table.",
		"retry: short conditional attempts that never join the lock queue, "
		"so queries never wait behind it; queue: in the lock queue, as PostgreSQL does; "
		"hybrid: in the queue for 30 ms at a time, with pauses between."),
	GRD_SETTING_INT("guardrails.ddl_lock_retries", &grd_ddl_lock_retries, 0, 0, 100,
		PGC_SUSET, 0,
		"How many times a DDL statement that timed out on its lock is retried.",
		"Only top-level statements outside a transaction block are retried."),
	GRD_SETTINGS_END
};

/* Pauses between conditional attempts: from 2 ms, doubling, up to 50 ms. */
#define GRD_FIRST_PAUSE_MS	2
#define GRD_MAX_PAUSE_MS	50

/*
 * ddl_lock_wait = hybrid: the longest a statement stays in the lock queue
 * at a time, which is the longest a reader arriving meanwhile waits.
 */
#define GRD_HYBRID_SLICE_MS	30

/*
 * ddl_lock_wait = retry, in a transaction that already holds a lock on a
 * target: how long each attempt stays in the lock queue (see
 * lock_with_pauses()).
 */
#define GRD_STRENGTHEN_SLICE_MS	2

/* Pauses between retries of a whole statement: from 1 s, up to 30 s. */
#define GRD_RETRY_PAUSE_MS	1000
#define GRD_MAX_RETRY_PAUSE_MS	30000

/*
 * The lock tag of a relation.  We lock through the lock manager itself,
 * rather than LockRelationOid(), because a statement that commits
 * transactions of its own (VACUUM) needs session locks, which outlive
 * those commits, and because the statement must still process the
 * invalidations when it asks for the lock itself (it does: our lock is not
 * marked clear).
 */
static void
target_tag(const GrdDdlTarget *target, LOCKTAG *tag)
{
	SET_LOCKTAG_RELATION(*tag,
						 IsSharedRelation(target->relid) ? InvalidOid : MyDatabaseId,
						 target->relid);
}

/* Take a target's lock; with wait false, only if it is free now. */
static bool
lock_target(const GrdDdlTarget *target, bool session, bool wait)
{
	LOCKTAG		tag;

	target_tag(target, &tag);
	return LockAcquire(&tag, target->mode, session, !wait) !=
		LOCKACQUIRE_NOT_AVAIL;
}

/* Give a target's lock back. */
static void
unlock_target(const GrdDdlTarget *target, bool session)
{
	LOCKTAG		tag;

	target_tag(target, &tag);
	LockRelease(&tag, target->mode, session);
}

/*
 * One round of conditional attempts: all the targets, or none of them
 * (locks taken in a failed round are given back, so that a statement
 * waiting for its second relation does not block readers of the first).
 * *failed is set to the target that was not free.
 */
static bool
lock_all_now(GrdDdlTarget *targets, int n, bool session, int *failed)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (!lock_target(&targets[i], session, false))
		{
			*failed = i;
			while (--i >= 0)
				unlock_target(&targets[i], session);
			return false;
		}
	}
	return true;
}

/*
 * Sleep for ms milliseconds, or until a cancel or terminate ends the wait
 * (CHECK_FOR_INTERRUPTS throws).  Any signal sets the latch, and most (a
 * reload, a notification, pg_log_backend_memory_contexts) are no reason
 * to stop: the retry's log line said how long we would wait, so wait
 * again for what remains.
 */
static void
pause_ms(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	for (;;)
	{
		long		remaining;

		remaining = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
		if (remaining <= 0)
			break;
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 remaining, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Wait in the lock queue for the targets, as PostgreSQL would, under the
 * lock_timeout already in force, or, when slice_ms > 0, under a
 * lock_timeout of slice_ms for each lock.  The wait runs in a
 * subtransaction so that a lock timeout can be caught, reported with its
 * blockers, and retried; the locks it takes pass to the statement's
 * transaction (session locks are the session's anyway).  On a timeout, the
 * locks taken are all given back.  Any other error (a cancel, a deadlock)
 * is thrown on.
 */
static bool
lock_queued(GrdDdlTarget *targets, int n, bool session, int slice_ms,
			int *failed)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool got = true;
	volatile int i = 0;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int			nest_level = -1;

		if (slice_ms > 0)
		{
			char		value[32];

			/* undone below, or by the subtransaction's abort */
			nest_level = NewGUCNestLevel();
			snprintf(value, sizeof(value), "%d", slice_ms);
			(void) set_config_option("lock_timeout", value, PGC_SUSET,
									 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
									 false);
		}
		for (i = 0; i < n; i++)
			(void) lock_target(&targets[i], session, true);
		if (nest_level >= 0)
			AtEOXact_GUC(false, nest_level);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		int			j;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		/* the subtransaction's abort does not release session locks */
		if (session)
			for (j = 0; j < i; j++)
				unlock_target(&targets[j], session);
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
		*failed = i;
		got = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return got;
}

/*
 * Whether this transaction (or session) already holds a lock, in any mode,
 * on one of the targets.
 */
static bool
holds_a_target(const GrdDdlTarget *targets, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (CheckRelationOidLockedByMe(targets[i].relid, AccessShareLock, true))
			return true;
	return false;
}

/*
 * ddl_lock_wait = retry (hybrid false): conditional attempts with short,
 * growing, jittered pauses until timeout_ms have passed.  We are never in
 * the lock queue, so nobody ever waits behind us.
 *
 * Except when the transaction already holds a lock on a target (BEGIN;
 * CREATE INDEX; ALTER TABLE): a conditional attempt fails whenever a
 * conflicting request is queued, and the requests queued behind the lock
 * we hold stay queued until we commit, so every attempt would fail and
 * those sessions would stay blocked for the whole budget.  A real wait is
 * granted at once, or put ahead of the requests that wait for us
 * (ProcSleep), as PostgreSQL does without us.  So each attempt is then a
 * wait in the queue of GRD_STRENGTHEN_SLICE_MS at most: what remains
 * queued behind us for that long are newcomers only.
 *
 * ddl_lock_wait = hybrid: wait in the queue, but for GRD_HYBRID_SLICE_MS
 * at most, then leave it, let the readers that queued behind us through,
 * pause (as retry does), try once without queueing, and queue again, until
 * timeout_ms have passed.  Readers wait behind us for one slice at most;
 * unlike retry, we need no instant when the table is free, only the end of
 * the queries running when we join, which is what queue gets, and why it
 * succeeds where retry may not on a table with overlapping queries.
 */
static bool
lock_with_pauses(GrdDdlTarget *targets, int n, bool session, int timeout_ms,
				 bool hybrid, int *failed)
{
	TimestampTz start = GetCurrentTimestamp();
	long		pause = GRD_FIRST_PAUSE_MS;
	bool		strengthen = !hybrid && holds_a_target(targets, n);

	for (;;)
	{
		long		elapsed;
		long		sleep;
		bool		got;

		elapsed = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (hybrid)
			got = lock_queued(targets, n, session,
							  (int) Max(1, Min(GRD_HYBRID_SLICE_MS,
											   timeout_ms - elapsed)),
							  failed);
		else if (strengthen)
			got = lock_queued(targets, n, session,
							  (int) Max(1, Min(GRD_STRENGTHEN_SLICE_MS,
											   timeout_ms - elapsed)),
							  failed);
		else
			got = lock_all_now(targets, n, session, failed);
		if (got)
			return true;
		elapsed = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (elapsed >= timeout_ms)
			return false;

		/* jitter, so that two DDLs retrying do not keep colliding */
		sleep = (long) (pause * (0.5 + pg_prng_double(&pg_global_prng_state)));
		sleep = Max(1, Min(sleep, timeout_ms - elapsed));
		pause_ms(sleep);
		pause = Min(pause * 2, GRD_MAX_PAUSE_MS);
		if (hybrid && lock_all_now(targets, n, session, failed))
			return true;
	}
}

/* pg_stat_activity's name for a backend state. */
static const char *
state_name(BackendState state)
{
	switch (state)
	{
		case STATE_IDLE:
			return "idle";
		case STATE_RUNNING:
			return "active";
		case STATE_IDLEINTRANSACTION:
			return "idle in transaction";
		case STATE_FASTPATH:
			return "fastpath function call";
		case STATE_IDLEINTRANSACTION_ABORTED:
			return "idle in transaction (aborted)";
		case STATE_DISABLED:
			return "disabled";
		default:
			return "unknown";
	}
}

/*
 * Describe one blocking session, from the activity it reports, as
 * pg_stat_activity would show it to the current user: its role's own
 * sessions, or everyone's for members of pg_read_all_stats.
 */
static void
describe_session(StringInfo buf, int pid, LOCKMODE held, bool waiting)
{
	int			nbackends = pgstat_fetch_stat_numbackends();
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	appendStringInfo(buf, "pid %d %s %s", pid,
					 waiting ? "waiting for" : "holding",
					 GetLockmodeName(DEFAULT_LOCKMETHOD, held));

	for (i = 1; i <= nbackends; i++)
	{
		LocalPgBackendStatus *local = grd_local_beentry(i);
		PgBackendStatus *be;

		if (local == NULL || local->backendStatus.st_procpid != pid)
			continue;
		be = &local->backendStatus;
		if (!has_privs_of_role(GetUserId(), be->st_userid) &&
			!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		{
			appendStringInfoString(buf, " (insufficient privilege to see more)");
			return;
		}
		appendStringInfo(buf, " (application_name \"%s\", state \"%s\"",
						 be->st_appname ? be->st_appname : "",
						 state_name(be->st_state));
		if (be->st_xact_start_timestamp != 0)
			appendStringInfo(buf, ", transaction age %.3f s",
							 (double) (now - be->st_xact_start_timestamp) / 1000000.0);
		if (be->st_activity_start_timestamp != 0)
			appendStringInfo(buf, ", query started at %s",
							 timestamptz_to_str(be->st_activity_start_timestamp));
		appendStringInfoChar(buf, ')');
		return;
	}
}

/* A session standing between a DDL statement and its lock. */
typedef struct Blocker
{
	int			pid;			/* the session (a parallel worker's leader) */
	LOCKMODE	mode;			/* the conflicting mode it holds or awaits */
	bool		waiting;		/* queued for it rather than holding it */
} Blocker;

/*
 * The sessions that stand between us and our locks now: those holding a
 * lock on a target that conflicts with the mode we want, and, failing
 * those, those queued for one (a conditional attempt also fails behind a
 * queue).  Parallel workers are reported as their leader.  Returns how
 * many were stored in *blockers (palloc'd).
 */
static int
find_blockers(GrdDdlTarget *targets, int n, Blocker **blockers)
{
	LockData   *lockdata = GetLockStatusData();
	Blocker    *found = palloc(sizeof(Blocker) * (lockdata->nelements + 1));
	int			nfound = 0;
	int			pass;

	for (pass = 0; pass < 2 && nfound == 0; pass++)
	{
		int			i;

		for (i = 0; i < lockdata->nelements; i++)
		{
			LockInstanceData *l = &lockdata->locks[i];
			int			t;

			if (l->pid == MyProcPid || l->leaderPid == MyProcPid ||
				l->locktag.locktag_type != LOCKTAG_RELATION)
				continue;
			for (t = 0; t < n; t++)
			{
				LockMethod	method = GetLockTagsMethodTable(&l->locktag);
				LOCKMASK	conflicts = method->conflictTab[targets[t].mode];
				LOCKMODE	mode = NoLock;
				int			j;

				if (l->locktag.locktag_field2 != targets[t].relid ||
					l->locktag.locktag_field1 !=
					(IsSharedRelation(targets[t].relid) ? InvalidOid : MyDatabaseId))
					continue;
				if (pass == 0)
				{
					/* the strongest conflicting mode it holds */
					for (j = MaxLockMode; j > NoLock; j--)
						if ((l->holdMask & LOCKBIT_ON(j)) && (conflicts & LOCKBIT_ON(j)))
						{
							mode = j;
							break;
						}
				}
				else if (l->waitLockMode != NoLock &&
						 (conflicts & LOCKBIT_ON(l->waitLockMode)))
					mode = l->waitLockMode;
				if (mode == NoLock)
					continue;

				for (j = 0; j < nfound; j++)
					if (found[j].pid == l->leaderPid)
						break;
				if (j == nfound)
				{
					found[nfound].pid = l->leaderPid;
					found[nfound].mode = mode;
					found[nfound].waiting = (pass == 1);
					nfound++;
				}
				break;
			}
		}
	}
	*blockers = found;
	return nfound;
}

/*
 * The error detail's list of blockers: those blocking now that were
 * already blocking when the wait began, so that a query that got its lock
 * in a gap of ours (or, in queue mode, once we left the queue) is not
 * blamed; everyone blocking now if none of them remains.
 */
static char *
describe_blockers(GrdDdlTarget *targets, int n, Blocker *initial, int ninitial)
{
	Blocker    *now;
	int			nnow = find_blockers(targets, n, &now);
	int			nkept = 0;
	StringInfoData buf;
	int			pass;

	initStringInfo(&buf);
	pgstat_clear_backend_activity_snapshot();
	for (pass = 0; pass < 2 && nkept == 0; pass++)
	{
		int			i;

		for (i = 0; i < nnow; i++)
		{
			int			j;

			for (j = 0; j < ninitial; j++)
				if (initial[j].pid == now[i].pid)
					break;
			if (pass == 0 && j == ninitial)
				continue;
			if (buf.len > 0)
				appendStringInfoString(&buf, "; ");
			describe_session(&buf, now[i].pid, now[i].mode, now[i].waiting);
			nkept++;
		}
	}
	if (nkept == 0)
		appendStringInfoString(&buf, "sessions that have ended since");
	return buf.data;
}

/*
 * Take the targets' locks within timeout_ms, in the configured way, with
 * up to retries retries.  Errors out with 55P03 when all are spent; else
 * returns how many milliseconds the successful attempt waited.  The wait
 * is noted in the audit entry of parsetree, if it has one of its own.
 */
static long
lock_targets_or_fail(Node *parsetree, GrdDdlTarget *targets, int n,
					 bool session, int timeout_ms, int retries)
{
	int			attempt;
	int			failed = 0;
	Blocker    *initial;
	int			ninitial;
	TimestampTz start;

	/* the usual case: nobody in the way */
	if (lock_all_now(targets, n, session, &failed))
	{
		grd_ddl_audit_note_lock_wait(parsetree, 0);
		return 0;
	}
	start = GetCurrentTimestamp();
	ninitial = find_blockers(targets, n, &initial);

	for (attempt = 0;; attempt++)
	{
		TimestampTz attempt_start = GetCurrentTimestamp();
		bool		got;
		char	   *blockers;
		long		pause;

		switch (grd_ddl_lock_wait)
		{
			case GRD_DDL_LOCK_WAIT_RETRY:
				got = lock_with_pauses(targets, n, session, timeout_ms, false,
									   &failed);
				break;
			case GRD_DDL_LOCK_WAIT_HYBRID:
				got = lock_with_pauses(targets, n, session, timeout_ms, true,
									   &failed);
				break;
			default:
				got = lock_queued(targets, n, session, 0, &failed);
				break;
		}
		grd_ddl_audit_note_lock_wait(parsetree,
									 GetCurrentTimestamp() - start);
		if (got)
			return TimestampDifferenceMilliseconds(attempt_start,
												   GetCurrentTimestamp());

		blockers = describe_blockers(targets, n, initial, ninitial);
		if (attempt >= retries)
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("canceling statement due to lock timeout"),
					 errdetail("The statement waited %d ms for %s on relation \"%s\"; blocked by %s.",
							   timeout_ms,
							   GetLockmodeName(DEFAULT_LOCKMETHOD, targets[failed].mode),
							   grd_ddl_relation_name(targets[failed].relid), blockers),
					 errhint("Retry when the blocking transactions have ended, or end them.")));

		pause = GRD_RETRY_PAUSE_MS << Min(attempt, 5);
		pause = Min(pause, GRD_MAX_RETRY_PAUSE_MS);
		pause = (long) (pause * (0.5 + pg_prng_double(&pg_global_prng_state)));
		ereport(LOG,
				(errmsg("DDL statement could not lock relation \"%s\" within %d ms, retry %d of %d in %ld ms",
						grd_ddl_relation_name(targets[failed].relid), timeout_ms, attempt + 1,
						retries, pause),
				 errdetail("Blocked by %s.", blockers)));
		pause_ms(pause);
	}
}

/* Set lock_timeout to ms for the statement, at *state's nesting level. */
static void
set_lock_timeout(GrdDdlLock *state, int ms)
{
	char		value[32];

	if (state->guc_nest_level < 0)
	{
		state->guc_nest_level = NewGUCNestLevel();
		state->lxid = GRD_MY_LXID;
	}
	snprintf(value, sizeof(value), "%d", ms);
	(void) set_config_option("lock_timeout", value, PGC_SUSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
							 false);
}

/*
 * Before a guarded statement (st->guarded: DDL, or a statement that locks
 * an existing relation in a mode stronger than ROW EXCLUSIVE): set
 * lock_timeout for its duration, in a GUC nesting level of its own
 * recorded in *state for grd_ddl_lock_end() (on an error, the
 * (sub)transaction abort restores the session's value), then take the
 * locks it is about to take (grd_ddl_targets) as ddl_lock_wait says.
 *
 * One budget: the locks the statement takes after ours (those we could
 * not name) are waited for under what remains of the lock timeout once
 * ours are held.
 *
 * A statement that commits transactions of its own (VACUUM FULL) would
 * lose a transaction's locks at its first commit: its targets are locked
 * for the session, and released by grd_ddl_lock_end(), or, on an error,
 * by the abort of the top-level transaction (such statements refuse to
 * run anywhere else, so we lock nothing for them anywhere else).
 */
void
grd_ddl_lock_begin(const GrdDdlStatement *st, ProcessUtilityContext context,
				   GrdDdlLock *state)
{
	GrdDdlTarget *targets;
	int			ntargets;
	bool		toplevel;
	long		waited;

	state->guc_nest_level = -1;
	state->session_targets = NULL;
	state->nsession = 0;
	if (grd_ddl_lock_timeout <= 0 || !st->guarded)
		return;

	if (LockTimeout <= 0 || LockTimeout > grd_ddl_lock_timeout)
		set_lock_timeout(state, grd_ddl_lock_timeout);

	/*
	 * A statement that cannot write (on a standby, in a read-only
	 * transaction) is about to fail, before any lock: take none for it.
	 * But LOCK TABLE, REINDEX, VACUUM FULL and CLUSTER do run in a read-only
	 * transaction (ClassifyUtilityCommandAsReadOnly: they change nothing
	 * pg_dump would show), and would queue there for their lock with every
	 * reader behind them; only TRUNCATE of the strong-lock statements is
	 * refused.
	 */
	if (RecoveryInProgress() ||
		(XactReadOnly &&
		 (!st->strong_lock || IsA(st->stmt, TruncateStmt))))
		return;
	toplevel = (context == PROCESS_UTILITY_TOPLEVEL && !IsTransactionBlock());
	if (st->own_xacts && !toplevel)
		return;
	ntargets = grd_ddl_targets(st, &targets);
	if (ntargets == 0)
		return;
	waited = lock_targets_or_fail(st->stmt, targets, ntargets, st->own_xacts,
								  LockTimeout,
								  toplevel ? grd_ddl_lock_retries : 0);
	/* an error from here on leaves the locks to the abort (see above) */
	GRD_INJECTION_POINT("pg-guardrails-ddl-lock-held");
	if (st->own_xacts)
	{
		state->session_targets = targets;
		state->nsession = ntargets;
	}
	else if (waited > 0)
		set_lock_timeout(state, (int) Max(1, LockTimeout - waited));
}

/*
 * After the statement succeeded: the session's lock_timeout again, and
 * the session locks given back.  A statement that committed its
 * transaction and started others (VACUUM, CLUSTER of every table) has had
 * its settings restored by that commit, which also closed our nesting
 * level: there is nothing left to undo there.
 */
void
grd_ddl_lock_end(GrdDdlLock *state)
{
	int			i;

	if (state->guc_nest_level >= 0 && GRD_MY_LXID == state->lxid)
		AtEOXact_GUC(true, state->guc_nest_level);
	for (i = 0; i < state->nsession; i++)
		unlock_target(&state->session_targets[i], true);
	state->nsession = 0;
}

const GrdModule grd_ddl_lock_module = {
	.name = "DDL lock guard",
	.settings = ddl_lock_settings,
};
