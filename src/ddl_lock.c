/*-------------------------------------------------------------------------
 *
 * ddl_lock.c
 *		DDL that cannot freeze a table: every DDL statement runs with a lock
 *		timeout, and by default takes its lock without joining the queue.
 *
 * A schema change waits for its lock behind any long-running query, and
 * while it waits in the lock queue every new query on the table queues
 * behind it: the table is down.  So:
 *
 * 1. Every DDL statement (grd_ddl_is_ddl), at any nesting level, runs with
 *	  lock_timeout set to the smaller of the session's own (when set) and
 *	  guardrails.ddl_lock_timeout, in a GUC nesting level of its own, so
 *	  the session's value is back as soon as the statement ends.
 *
 * 2. Before the statement runs, we take the lock it is about to take on
 *	  its target relation ourselves (same relation, same mode: see
 *	  ddl_targets), so that we control the wait.  With guardrails.
 *	  ddl_lock_wait = retry we never join the lock queue: conditional
 *	  attempts, separated by short jittered pauses, until the budget is
 *	  spent.  Ordinary queries never wait behind a DDL that has not got its
 *	  lock.  With queue, we wait in the queue as PostgreSQL would, under
 *	  the lock timeout, inside a subtransaction so that a timeout can be
 *	  caught and reported.  Either way, when the statement then asks for
 *	  the same lock, it already holds it and does not wait.
 *
 * 3. When the budget is spent the statement fails with 55P03, as a lock
 *	  timeout does, and its detail names the sessions that blocked it.  A
 *	  top-level statement outside a transaction block may first be retried
 *	  guardrails.ddl_lock_retries times, after growing pauses.
 *
 * Statements whose target we cannot name exactly, or whose target the user
 * does not own (we must not lock what the statement would refuse to touch),
 * get the lock timeout of point 1 only.  The CONCURRENTLY forms are left
 * entirely alone: the lock they wait for blocks neither reads nor writes,
 * and they then wait for older transactions to end, a wait a lock timeout
 * would turn into a failed build and an invalid index.
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
#include "ddl_audit.h"
#include "ddl_lock.h"
#include "ddl_statement.h"
#include "module.h"

/* guardrails.ddl_lock_wait: how DDL waits for its lock */
typedef enum GrdDdlLockWait
{
	GRD_DDL_LOCK_WAIT_QUEUE,	/* in the lock queue, as PostgreSQL does */
	GRD_DDL_LOCK_WAIT_RETRY		/* conditional attempts, never queued */
} GrdDdlLockWait;

static const struct config_enum_entry ddl_lock_wait_options[] =
{
	{"queue", GRD_DDL_LOCK_WAIT_QUEUE, false},
	{"retry", GRD_DDL_LOCK_WAIT_RETRY, false},
	{NULL, 0, false}
};

/* settings */
static int	grd_ddl_lock_timeout = 5000;
static int	grd_ddl_lock_wait = GRD_DDL_LOCK_WAIT_RETRY;
static int	grd_ddl_lock_retries = 0;

/* The settings of the DDL lock guard. */
static const GrdSetting ddl_lock_settings[] = {
	GRD_SETTING_INT("guardrails.ddl_lock_timeout", &grd_ddl_lock_timeout, 5000, 0, INT_MAX,
		PGC_SUSET, GUC_UNIT_MS,
		"Longest time a DDL statement may wait for a lock.",
		"DDL runs with the smaller of this and the session's lock_timeout; 0 turns it off."),
	GRD_SETTING_ENUM("guardrails.ddl_lock_wait", &grd_ddl_lock_wait, GRD_DDL_LOCK_WAIT_RETRY, ddl_lock_wait_options,
		PGC_SUSET, 0,
		"How a DDL statement waits for the lock on its table.",
		"retry: short conditional attempts that never join the lock queue, " "so queries never wait behind it; queue: in the lock queue, as PostgreSQL does."),
	GRD_SETTING_INT("guardrails.ddl_lock_retries", &grd_ddl_lock_retries, 0, 0, 100,
		PGC_SUSET, 0,
		"How many times a DDL statement that timed out on its lock is retried.",
		"Only top-level statements outside a transaction block are retried."),
	GRD_SETTINGS_END
};

/* A statement locks at most this many relations that we take for it. */
#define GRD_MAX_TARGETS		8

/* Pauses between conditional attempts: from 2 ms, doubling, up to 50 ms. */
#define GRD_FIRST_PAUSE_MS	2
#define GRD_MAX_PAUSE_MS	50

/* Pauses between retries of a whole statement: from 1 s, up to 30 s. */
#define GRD_RETRY_PAUSE_MS	1000
#define GRD_MAX_RETRY_PAUSE_MS	30000

typedef struct DdlTarget
{
	Oid			relid;
	LOCKMODE	mode;
} DdlTarget;

/*
 * Add a relation to the targets, if it exists and the user owns it.  Names
 * are looked up without a lock, as the statement itself will look them up
 * again under its lock: if a name moved to another relation in between, we
 * hold a lock the statement did not need until the transaction ends,
 * nothing worse.
 */
static void
add_target(DdlTarget *targets, int *n, Oid relid, LOCKMODE mode)
{
	if (!OidIsValid(relid) || *n >= GRD_MAX_TARGETS ||
		!grd_relation_ownercheck(relid, GetUserId()))
		return;
	targets[*n].relid = relid;
	targets[*n].mode = mode;
	(*n)++;
}

/*
 * The relations a DDL statement is about to lock, and in which mode: the
 * first lock each of these statements takes, the mode PostgreSQL itself
 * asks for (for ALTER TABLE, the very function it uses).  Other statements
 * have no targets.
 */
static int
ddl_targets(Node *parsetree, DdlTarget *targets)
{
	int			n = 0;
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

				add_target(targets, &n, grd_ddl_relid(stmt->relation),
						   AlterTableGetLockLevel(stmt->cmds));
				break;
			}
		case T_IndexStmt:
			add_target(targets, &n, grd_ddl_relid(((IndexStmt *) parsetree)->relation),
					   ShareLock);
			break;
		case T_CreateTrigStmt:
			add_target(targets, &n,
					   grd_ddl_relid(((CreateTrigStmt *) parsetree)->relation),
					   ShareRowExclusiveLock);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				switch (stmt->renameType)
				{
					case OBJECT_TABLE:
					case OBJECT_VIEW:
					case OBJECT_MATVIEW:
					case OBJECT_SEQUENCE:
					case OBJECT_FOREIGN_TABLE:
					case OBJECT_COLUMN:
					case OBJECT_TABCONSTRAINT:
						add_target(targets, &n, grd_ddl_relid(stmt->relation),
								   AccessExclusiveLock);
						break;
					default:
						break;
				}
				break;
			}
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;

				if (stmt->removeType != OBJECT_TABLE &&
					stmt->removeType != OBJECT_INDEX &&
					stmt->removeType != OBJECT_VIEW &&
					stmt->removeType != OBJECT_MATVIEW &&
					stmt->removeType != OBJECT_SEQUENCE &&
					stmt->removeType != OBJECT_FOREIGN_TABLE)
					break;
				foreach(lc, stmt->objects)
				{
					Oid			relid;

					relid = grd_ddl_relid(makeRangeVarFromNameList((List *) lfirst(lc)));
					/* DROP INDEX locks the index's table first */
					if (stmt->removeType == OBJECT_INDEX && OidIsValid(relid))
						add_target(targets, &n, IndexGetRelation(relid, true),
								   AccessExclusiveLock);
					add_target(targets, &n, relid, AccessExclusiveLock);
				}
				break;
			}
		case T_GrdClusterStmt:
			add_target(targets, &n, grd_ddl_relid(grd_cluster_relation(parsetree)),
					   grd_cluster_concurrent(parsetree) ?
					   ShareUpdateExclusiveLock : AccessExclusiveLock);
			break;
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;

				add_target(targets, &n, grd_ddl_relid(stmt->relation),
						   stmt->concurrent ? ExclusiveLock : AccessExclusiveLock);
				break;
			}
		default:
			break;
	}
	return n;
}

/*
 * One round of conditional attempts: all the targets, or none of them
 * (locks taken in a failed round are given back, so that a statement
 * waiting for its second relation does not block readers of the first).
 * *failed is set to the target that was not free.
 */
static bool
lock_all_now(DdlTarget *targets, int n, int *failed)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		if (!ConditionalLockRelationOid(targets[i].relid, targets[i].mode))
		{
			*failed = i;
			while (--i >= 0)
				UnlockRelationOid(targets[i].relid, targets[i].mode);
			return false;
		}
	}
	return true;
}

/* Sleep for ms milliseconds, or until interrupted. */
static void
pause_ms(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
}

/*
 * ddl_lock_wait = retry: conditional attempts with short, growing,
 * jittered pauses until timeout_ms have passed.  We are never in the lock
 * queue, so nobody ever waits behind us.
 */
static bool
lock_retrying(DdlTarget *targets, int n, int timeout_ms, int *failed)
{
	TimestampTz start = GetCurrentTimestamp();
	long		pause = GRD_FIRST_PAUSE_MS;

	for (;;)
	{
		long		elapsed;
		long		sleep;

		if (lock_all_now(targets, n, failed))
			return true;
		elapsed = TimestampDifferenceMilliseconds(start, GetCurrentTimestamp());
		if (elapsed >= timeout_ms)
			return false;

		/* jitter, so that two DDLs retrying do not keep colliding */
		sleep = (long) (pause * (0.5 + pg_prng_double(&pg_global_prng_state)));
		sleep = Max(1, Min(sleep, timeout_ms - elapsed));
		pause_ms(sleep);
		pause = Min(pause * 2, GRD_MAX_PAUSE_MS);
	}
}

/*
 * ddl_lock_wait = queue: wait in the lock queue as PostgreSQL would, under
 * the lock_timeout already in force.  The wait runs in a subtransaction so
 * that a lock timeout can be caught, reported with its blockers, and
 * retried; the locks it takes pass to the statement's transaction.  Any
 * other error (a cancel, a deadlock) is thrown on.
 */
static bool
lock_queued(DdlTarget *targets, int n, int *failed)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool got = true;
	volatile int i;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		for (i = 0; i < n; i++)
			LockRelationOid(targets[i].relid, targets[i].mode);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
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
find_blockers(DdlTarget *targets, int n, Blocker **blockers)
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
describe_blockers(DdlTarget *targets, int n, Blocker *initial, int ninitial)
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
 * up to retries retries.  Errors out with 55P03 when all are spent.  The
 * wait is noted in the audit entry of parsetree, if it has one of its own.
 */
static void
lock_targets_or_fail(Node *parsetree, DdlTarget *targets, int n,
					 int timeout_ms, int retries)
{
	int			attempt;
	int			failed = 0;
	Blocker    *initial;
	int			ninitial;
	TimestampTz start;

	/* the usual case: nobody in the way */
	if (lock_all_now(targets, n, &failed))
	{
		grd_ddl_audit_note_lock_wait(parsetree, 0);
		return;
	}
	start = GetCurrentTimestamp();
	ninitial = find_blockers(targets, n, &initial);

	for (attempt = 0;; attempt++)
	{
		bool		got;
		char	   *blockers;
		long		pause;

		if (grd_ddl_lock_wait == GRD_DDL_LOCK_WAIT_RETRY)
			got = lock_retrying(targets, n, timeout_ms, &failed);
		else
			got = lock_queued(targets, n, &failed);
		grd_ddl_audit_note_lock_wait(parsetree,
									 GetCurrentTimestamp() - start);
		if (got)
			return;

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

/*
 * Before a DDL statement (hooks.c asks grd_ddl_is_ddl): set lock_timeout for
 * its duration, in a GUC nesting level of its own recorded in *state for
 * grd_ddl_lock_end() (on an error, the (sub)transaction abort restores the
 * session's value), then take its target's lock as ddl_lock_wait says.
 */
void
grd_ddl_lock_begin(Node *parsetree, ProcessUtilityContext context,
				   GrdDdlLock *state)
{
	DdlTarget	targets[GRD_MAX_TARGETS];
	int			ntargets;

	state->guc_nest_level = -1;
	if (grd_ddl_lock_timeout <= 0 || grd_ddl_is_concurrent(parsetree))
		return;

	if (LockTimeout <= 0 || LockTimeout > grd_ddl_lock_timeout)
	{
		char		value[32];

		state->guc_nest_level = NewGUCNestLevel();
		state->lxid = GRD_MY_LXID;
		snprintf(value, sizeof(value), "%d", grd_ddl_lock_timeout);
		(void) set_config_option("lock_timeout", value, PGC_SUSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
								 false);
	}

	/*
	 * A statement that cannot write (on a standby, in a read-only
	 * transaction) is about to fail, before any lock: take none for it.
	 */
	if (XactReadOnly || RecoveryInProgress())
		return;
	ntargets = ddl_targets(parsetree, targets);
	if (ntargets > 0)
		lock_targets_or_fail(parsetree, targets, ntargets, LockTimeout,
							 (context == PROCESS_UTILITY_TOPLEVEL &&
							  !IsTransactionBlock()) ?
							 grd_ddl_lock_retries : 0);
}

/*
 * After the statement succeeded: the session's lock_timeout again.  A
 * statement that committed its transaction and started others (CLUSTER of
 * every table, say) has had its settings restored by that commit, which
 * also closed our nesting level: there is nothing left to undo.
 */
void
grd_ddl_lock_end(GrdDdlLock *state)
{
	if (state->guc_nest_level >= 0 && GRD_MY_LXID == state->lxid)
		AtEOXact_GUC(true, state->guc_nest_level);
}

const GrdModule grd_ddl_lock_module = {
	.name = "DDL lock guard",
	.settings = ddl_lock_settings,
};
