/*-------------------------------------------------------------------------
 *
 * hooks.c
 *		The one door: every hook of pg_guardrails enters here, calls the
 *		feature modules in a fixed order, and chains to whoever held the
 *		hook before us.
 *
 * Reading this file top to bottom tells which module sees a request, and
 * in which order.  The modules know nothing of hooks; they expose plain
 * functions that this file calls.
 *
 *	shmem_request	-> shmem: reserve the segment and LWLocks of every module
 *	shmem_startup	-> shmem: create or attach, load saved state
 *	post_parse_analyze
 *					-> previous hook -> workload_class: read the rules and
 *					   names classification needs, once a session (see
 *					   grd_post_parse_analyze)
 *	planner			-> digest_limits: the id of a query that has none
 *					   (REFRESH MATERIALIZED VIEW's) -> previous hook
 *	ExecutorStart	-> workload_class: the class of a top-level statement;
 *					   overload: at a transaction's first statement, while
 *					   shedding, admit (may wait or reject); wal_budget:
 *					   wait while its class is over its WAL budget (may
 *					   reject), note the WAL counter
 *					-> ddl_policy: rule lock_held, in a transaction that ran
 *					   a guarded utility statement (may reject)
 *					-> digest_limits: a contained digest (contain.c), then
 *					   digest limits and blocks (may reject)
 *					-> previous hook -> digest_limits: hold concurrency slots
 *					-> latency: open a timer
 *	ExecutorRun		-> latency: resume -> previous hook -> latency: pause
 *	ExecutorFinish	-> latency: resume -> previous hook -> latency: pause
 *					   (for a plain SELECT: the previous hook alone)
 *	ExecutorEnd		-> latency: record completed -> workload_class: a
 *					   top-level statement ended (wal_budget: charge its
 *					   WAL) -> previous hook
 *	ProcessUtility	-> digest_limits: the id of the query it runs inside
 *					   (CREATE TABLE AS, DECLARE CURSOR), where core
 *					   computes none
 *					-> ddl_statement: what is it? audited, guarded,
 *					   looking through EXPLAIN ANALYZE (decided once, here)
 *					-> ddl_audit: open a record, if audited
 *					-> workload_class: the class of a top-level statement
 *					   (not of COMMIT, ROLLBACK ...); overload, wal_budget:
 *					   admit (may wait or reject)
 *					-> latency: start timing
 *					   [ -> digest_limits: digest limits and blocks (may
 *							reject; concurrency slots held to the end)
 *						 -> ddl_policy: schema-change rules (may reject)
 *						 -> ddl_lock, if guarded: lock_timeout, take the
 *							targets' locks (may time out)
 *						 -> previous hook
 *						 -> ddl_lock: restore lock_timeout
 *						 -> digest_limits: release the slots ]
 *					-> ddl_audit: record the outcome (ok; or, from a catch
 *					   block around everything in brackets, build the
 *					   error/rejected entry, written after abort cleanup)
 *					-> latency: record the time (completed; or, from the
 *					   catch block, queue the failure)
 *	end of a (sub)transaction
 *					-> ddl_policy: the verdicts that wait for the commit
 *					   (pre-commit only; may reject)
 *					-> latency: record the queued failures
 *					-> ddl_audit: write the pending entries (abort only)
 *					-> workload_class: no top-level statement runs
 *					   (abort only; wal_budget: charge the failed
 *					   statement's WAL)
 *	ClientAuthentication
 *					-> previous hook -> connection_limits: limits on new
 *					   connections
 *	get_relation_info (build_simple_rel in 19)
 *					-> previous hook -> index_visibility: hide disabled indexes
 *	needs_fmgr_hook, fmgr_hook
 *					-> previous hook -> count the extension's own functions
 *					   running (config: which functions are ours)
 *
 * The extension's own statements are never limited.  Digest rules are
 * for the server's workload; the extension's housekeeping must not be
 * stopped by them, or an operator who blocks a digest could lose DDL
 * history (the worker's INSERT) or lock everyone out of unlimit_digest()
 * (its DELETE).  So ExecutorStart and ProcessUtility skip the digest
 * rules while grd_own_code_depth > 0, which is the case:
 *
 *	- in the DDL-history worker, for its whole life (all its statements
 *	  are the extension's);
 *	- while a function of the extension written in SQL or PL/pgSQL runs
 *	  (its event triggers and triggers included), with whatever it calls.
 *	  needs_fmgr_hook asks config.c, which keeps the OIDs of those
 *	  functions from pg_depend, refreshed with the rules tables' OIDs;
 *	  fmgr_hook then counts their calls in and out, errors included
 *	  (FHET_ABORT).  The cost is paid when the executor sets a function
 *	  up, not per row: an OID comparison for a built-in function, a binary
 *	  search in a handful of OIDs otherwise; ExecutorStart tests an int.
 *
 * The statement that calls the function is the caller's, and is still
 * subject to the rules (SELECT guardrails.unlimit_digest(...) can be
 * limited like any statement).
 *
 * Chaining and errors: each hook calls the one it replaced through
 * GRD_PREV_HOOK.  What a module began and must end if a later step throws
 * (concurrency slots, the audit record, the utility timer, the nesting
 * level) is guarded by a PG_TRY written where it is begun, and only when
 * there is something to undo.  A catch block here restores backend-local
 * state (and gives back concurrency slots, atomics that cannot fail) and
 * re-throws: it takes no lock, does no I/O, allocates nothing but the
 * audit's copy of the error, from memory reserved for it.  It may run
 * while this backend still holds an LWLock that only abort cleanup
 * releases (an error while the extension's own views were being read), so
 * taking one there could wait on itself.  The accounting of a failed
 * statement (its latency, its DDL log entry) is queued there and done by
 * the transaction callbacks below, after abort cleanup.
 *
 * Nesting: grd_nesting_level counts executor and utility calls in
 * progress, as pg_stat_statements' does (it is incremented around
 * ExecutorRun, ExecutorFinish and the utility statements we time), so
 * "top-level" means the same thing for both extensions.  It is restored on
 * every error, by PG_FINALLY or PG_CATCH.  The DDL audit keeps its own
 * stack of open statements, which grd_ddl_audit_failed() pops as an
 * error unwinds through each level.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/backend_status.h"

#include "compat.h"
#include "config.h"
#include "ddl.h"
#include "grd_limits.h"
#include "hooks.h"
#include "index_visibility.h"
#include "latency.h"
#include "shmem.h"

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static post_parse_analyze_hook_type prev_post_parse_analyze_hook = NULL;
static planner_hook_type prev_planner_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static grd_relinfo_hook_type prev_relinfo_hook = NULL;
static ClientAuthentication_hook_type prev_ClientAuthentication = NULL;
static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

/*
 * Functions of the extension running in this backend (or, in the worker,
 * always 1): while above 0, no statement is subject to digest rules.
 */
static int	grd_own_code_depth = 0;

/* Executor and utility calls in progress in this backend; 0 = top level. */
static int	grd_nesting_level = 0;

/* grd_xact_callback and grd_subxact_callback are registered. */
static bool xact_callbacks_registered = false;

/*
 * A utility statement on its way through grd_ProcessUtility: the arguments
 * of ProcessUtility, passed on as one, and what was decided about it.
 */
typedef struct GrdUtilityCall
{
	PlannedStmt *pstmt;
	const char *queryString;
	bool		readOnlyTree;
	ProcessUtilityContext context;
	ParamListInfo params;
	QueryEnvironment *queryEnv;
	DestReceiver *dest;
	QueryCompletion *qc;
	GrdDdlStatement st;			/* what it is, decided once, by
								 * grd_ProcessUtility */
	bool		top;			/* a top-level statement, classified */
	bool		timed;			/* latency times it */
} GrdUtilityCall;

static void grd_shmem_request_hook(void);
static void grd_shmem_startup_hook(void);
static void grd_post_parse_analyze(ParseState *pstate, Query *query,
								   GRD_JUMBLESTATE *jstate);
static PlannedStmt *grd_planner(GRD_PLANNER_ARGS);
static void grd_ExecutorStart(QueryDesc *queryDesc, int eflags);
static void grd_ExecutorRun(GRD_EXECUTORRUN_ARGS);
static void grd_ExecutorFinish(QueryDesc *queryDesc);
static void grd_ExecutorEnd(QueryDesc *queryDesc);
static void grd_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							   bool readOnlyTree,
							   ProcessUtilityContext context,
							   ParamListInfo params,
							   QueryEnvironment *queryEnv,
							   DestReceiver *dest, QueryCompletion *qc);
static void grd_utility_body(const GrdUtilityCall *call);
static void grd_utility_run(const GrdUtilityCall *call);
static void grd_relation_info(GRD_RELINFO_ARGS);
static void grd_ClientAuthentication(Port *port, int status);
static bool grd_needs_fmgr_hook(Oid fn_oid);
static void grd_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo,
						  Datum *private);
static void grd_register_xact_callbacks(void);
static void grd_xact_callback(XactEvent event, void *arg);
static void grd_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
								 SubTransactionId parentSubid, void *arg);

/*
 * Called from _PG_init, in the postmaster, while shared_preload_libraries
 * are being loaded.
 */
void
grd_hooks_install(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = grd_shmem_request_hook;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = grd_shmem_startup_hook;

	prev_post_parse_analyze_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = grd_post_parse_analyze;
	prev_planner_hook = planner_hook;
	planner_hook = grd_planner;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = grd_ExecutorStart;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = grd_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = grd_ExecutorFinish;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = grd_ExecutorEnd;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = grd_ProcessUtility;

	prev_relinfo_hook = GRD_RELINFO_HOOK;
	GRD_RELINFO_HOOK = grd_relation_info;

	prev_ClientAuthentication = ClientAuthentication_hook;
	ClientAuthentication_hook = grd_ClientAuthentication;

	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = grd_needs_fmgr_hook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = grd_fmgr_hook;
}

/*
 * For a process whose every statement is the extension's own (the
 * DDL-history worker): digest rules never apply in it.
 */
void
grd_hooks_own_process(void)
{
	grd_own_code_depth = 1;
}

static void
grd_shmem_request_hook(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	grd_shmem_request();
}

static void
grd_shmem_startup_hook(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	grd_shmem_startup();
}

/*
 * Call whoever held the hook before us, or the standard function if nobody
 * did.  A macro, so that the executor hooks, which run for every
 * statement, pay for no extra call.
 */
#define GRD_PREV_HOOK(prev_hook, standard, ...) \
	((prev_hook) ? (prev_hook) (__VA_ARGS__) : (standard) (__VA_ARGS__))

/*
 * The body of ExecutorRun and ExecutorFinish: call, the previous hook, runs
 * with the nesting level raised and this execution's clock running (when
 * it is timed); both are put back whether call returns or throws.
 */
#define GRD_EXECUTOR_TIMED_CALL(queryDesc, call) \
	do { \
		GrdExecTimer *timer_ = grd_latency_exec_resume(queryDesc); \
		\
		grd_nesting_level++; \
		PG_TRY(); \
		{ \
			call; \
		} \
		PG_FINALLY(); \
		{ \
			grd_nesting_level--; \
			if (timer_) \
				grd_latency_exec_pause(timer_); \
		} \
		PG_END_TRY(); \
	} while (0)

/*
 * Submit a statement to the digest rules (admit_call, which fills in
 * admission), unless it is the extension's own (see the header), which
 * holds no concurrency slot.
 */
#define GRD_ADMIT_UNLESS_OWN(admission, admit_call) \
	do { \
		if (likely(grd_own_code_depth == 0)) \
			admit_call; \
		else \
			(admission).nheld = 0; \
	} while (0)

/*
 * A top-level statement starts: its workload class.  The callbacks that
 * say when it ends by an error are registered first.
 */
#define GRD_WORKLOAD_START(queryid, stmt, queryDesc) \
	do { \
		if (unlikely(!xact_callbacks_registered)) \
			grd_register_xact_callbacks(); \
		grd_workload_start((queryid), grd_own_code_depth > 0, (stmt), \
						   (queryDesc)); \
	} while (0)

/*
 * After parse analysis: what classifying a statement reads from the
 * catalogs (the rules table, the extension's objects, the database's
 * name) is read here the first time in a session, and again after a
 * change, rather than inside the statement's execution, where it would be
 * counted in the statement's time: by our timer, or by another
 * extension's around ProcessUtility (pg_stat_statements').
 */
static void
grd_post_parse_analyze(ParseState *pstate, Query *query,
					   GRD_JUMBLESTATE *jstate)
{
	if (prev_post_parse_analyze_hook)
		prev_post_parse_analyze_hook(pstate, query, jstate);
	grd_workload_prepare();
}

/*
 * The planner: a query that reaches it without an id gets one, so that
 * the digest rules apply to it in ExecutorStart (see digest_limits.c).
 */
static PlannedStmt *
grd_planner(GRD_PLANNER_ARGS)
{
	grd_digest_identify_planned(parse);
	return GRD_PREV_HOOK(prev_planner_hook, standard_planner,
						 GRD_PLANNER_PASS);
}

/*
 * ExecutorStart: the digest rules, the previous hook, then the latency
 * timer (see the header for why in this order).
 */
static void
grd_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	GrdAdmission admission;

	if (grd_nesting_level == 0 && !IsParallelWorker() &&
		!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
		GRD_WORKLOAD_START(GRD_QUERYID(queryDesc->plannedstmt), queryDesc,
						   queryDesc);

	grd_ddl_policy_check_executor(queryDesc, eflags, grd_nesting_level);
	GRD_ADMIT_UNLESS_OWN(admission,
						 grd_digest_admit(queryDesc, eflags, grd_nesting_level,
										  &admission));

	if (likely(admission.nheld == 0))
		GRD_PREV_HOOK(prev_ExecutorStart, standard_ExecutorStart,
					  queryDesc, eflags);
	else
	{
		/*
		 * Concurrency slots taken: given back if the start fails, or if the
		 * callback that gives them back when the execution ends cannot be
		 * allocated (grd_digest_hold hands them over, nheld = 0, only once
		 * it is registered).
		 */
		PG_TRY();
		{
			GRD_PREV_HOOK(prev_ExecutorStart, standard_ExecutorStart,
						  queryDesc, eflags);
			grd_digest_hold(queryDesc, &admission);
		}
		PG_CATCH();
		{
			grd_digest_release(&admission);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}

	grd_latency_exec_start(queryDesc, grd_nesting_level);
}

/* ExecutorRun: timed, at one more nesting level. */
static void
grd_ExecutorRun(GRD_EXECUTORRUN_ARGS)
{
	GRD_EXECUTOR_TIMED_CALL(queryDesc,
							GRD_PREV_HOOK(prev_ExecutorRun, standard_ExecutorRun,
										  GRD_EXECUTORRUN_PASS));
}

/*
 * ExecutorFinish: timed, at one more nesting level, unless it has nothing
 * to run (grd_latency_finish_is_noop): then it is called alone.
 */
static void
grd_ExecutorFinish(QueryDesc *queryDesc)
{
	if (grd_latency_finish_is_noop(queryDesc))
	{
		GRD_PREV_HOOK(prev_ExecutorFinish, standard_ExecutorFinish, queryDesc);
		return;
	}
	GRD_EXECUTOR_TIMED_CALL(queryDesc,
							GRD_PREV_HOOK(prev_ExecutorFinish,
										  standard_ExecutorFinish, queryDesc));
}

/* ExecutorEnd: the execution completed; record it, then end it. */
static void
grd_ExecutorEnd(QueryDesc *queryDesc)
{
	grd_latency_exec_end(queryDesc);
	grd_workload_end(queryDesc);

	GRD_PREV_HOOK(prev_ExecutorEnd, standard_ExecutorEnd, queryDesc);
}

/*
 * A utility statement returned: the DDL audit records its outcome, then
 * latency its time, if each was begun.  Naming the object of a statement
 * that succeeded may still fail (a cancel while it waits to read a
 * catalog): its entry is then left pending by the audit itself, and its
 * time queued as failed, as the error that reaches its client says.
 */
static void
grd_utility_finish(bool audited, GrdDdlAudit *audit,
				   bool timed, GrdUtilityTimer *timer)
{
	if (audited && timed)
	{
		PG_TRY();
		{
			grd_ddl_audit_end(audit);
		}
		PG_CATCH();
		{
			grd_latency_utility_failed(timer);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	else if (audited)
		grd_ddl_audit_end(audit);
	if (timed)
		grd_latency_utility_end(timer);
}

/*
 * A utility statement.  What it is (audited, guarded by the lock guard,
 * the statement EXPLAIN ANALYZE runs) is decided once, here, by
 * ddl_statement.c, and read by the audit, the policy and the lock guard;
 * plain SELECT and DML never come this way, and pay nothing.  Its time
 * is taken around everything we do, as pg_stat_statements takes it around
 * everything its hook calls, so that the two agree in either order of
 * shared_preload_libraries; a statement refused by a digest rule or the
 * schema-change policy, or timed out on its lock, is recorded as failed.
 * An audited statement is recorded whatever happens to it, so its record
 * covers everything else we and the previous hook do: a rejection by the
 * policy or a lock timeout is recorded as its outcome.  A statement that
 * is neither timed nor audited, and holds no concurrency slot, pays for no
 * PG_TRY.
 */
static void
grd_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				   bool readOnlyTree, ProcessUtilityContext context,
				   ParamListInfo params, QueryEnvironment *queryEnv,
				   DestReceiver *dest, QueryCompletion *qc)
{
	GrdUtilityCall call = {
		.pstmt = pstmt,
		.queryString = queryString,
		.readOnlyTree = readOnlyTree,
		.context = context,
		.params = params,
		.queryEnv = queryEnv,
		.dest = dest,
		.qc = qc,
	};
	GrdUtilityTimer timer;
	GrdDdlAudit audit;
	bool		audited;

	/* the query it runs inside itself gets its digest (digest_limits.c) */
	call.pstmt = grd_digest_identify_inner(pstmt, &call.readOnlyTree);
	grd_ddl_classify(pstmt->utilityStmt, &call.st);
	audited = call.st.audited &&
		grd_ddl_audit_begin(pstmt, call.st.stmt, queryString, &audit);

	/*
	 * The class of a top-level statement, and its admission (which may
	 * wait or reject), before the timer starts, as in ExecutorStart: the
	 * time a statement is held back is not its own, nor is the reading of
	 * the rules tables at a session's first statement.  A refusal is
	 * audited like any failed DDL.
	 */
	call.top = grd_nesting_level == 0 &&
		!IsA(pstmt->utilityStmt, TransactionStmt);
	if (call.top)
	{
		uint64		queryid = GRD_QUERYID(call.pstmt);

		/* zeroed by pg_stat_statements, if it ran first (digest_limits.c) */
		if (queryid == UINT64CONST(0))
			queryid = (uint64) pgstat_get_my_query_id();
		if (!audited)
			GRD_WORKLOAD_START(queryid, call.pstmt, NULL);
		else
		{
			PG_TRY();
			{
				GRD_WORKLOAD_START(queryid, call.pstmt, NULL);
			}
			PG_CATCH();
			{
				/* built and queued only: written after abort cleanup */
				grd_ddl_audit_failed(&audit);
				PG_RE_THROW();
			}
			PG_END_TRY();
		}
	}

	call.timed = grd_latency_utility_start(pstmt, grd_nesting_level, &timer);

	/*
	 * What the catch block queues is recorded by the transaction callbacks,
	 * and what the policy decides at the commit (ddl_policy.c) is decided
	 * there: they are registered by the first statement that could queue
	 * or leave something, so that a backend that runs none pays nothing at
	 * each transaction end.
	 */
	if (unlikely(!xact_callbacks_registered) &&
		(call.timed || audited || call.st.guarded))
		grd_register_xact_callbacks();

	if (!call.timed && !audited)
	{
		grd_utility_body(&call);
		return;
	}
	PG_TRY();
	{
		grd_utility_body(&call);
	}
	PG_CATCH();
	{
		/* built and queued only: written after abort cleanup */
		if (audited)
			grd_ddl_audit_failed(&audit);
		if (call.timed)
			grd_latency_utility_failed(&timer);
		PG_RE_THROW();
	}
	PG_END_TRY();
	grd_utility_finish(audited, &audit, call.timed, &timer);
}

/*
 * What grd_ProcessUtility runs, audited or not: the digest limits, then
 * grd_utility_run() while the concurrency slots they took are held.
 */
static void
grd_utility_body(const GrdUtilityCall *call)
{
	GrdAdmission admission;
	bool		top = call->top;

	GRD_ADMIT_UNLESS_OWN(admission,
						 grd_digest_admit_utility(call->pstmt, grd_nesting_level,
												  &admission));

	if (likely(admission.nheld == 0))
	{
		grd_utility_run(call);
		if (top)
			grd_workload_end(call->pstmt);
		return;
	}

	/* the slots are given back however the statement ends */
	PG_TRY();
	{
		GRD_INJECTION_POINT("pg-guardrails-digest-slots-held");
		grd_utility_run(call);
	}
	PG_FINALLY();
	{
		grd_digest_release_utility(&admission);
	}
	PG_END_TRY();
	if (top)
		grd_workload_end(call->pstmt);
}

/*
 * An admitted utility statement: the schema-change rules, the lock timeout
 * and lock wait of DDL, and the previous hook, with the nesting level
 * raised while it runs when the statement is timed (as pg_stat_statements
 * raises its own).
 */
static void
grd_utility_run(const GrdUtilityCall *call)
{
	GrdDdlLock	ddl_lock = {.guc_nest_level = -1};

	/* EXPLAIN ANALYZE is judged by what it executes */
	grd_ddl_policy_check(call->st.stmt, call->st.guarded);
	if (call->st.guarded)
		grd_ddl_lock_begin(&call->st, call->context, &ddl_lock);

	GRD_INJECTION_POINT("pg-guardrails-utility-run");
	if (!call->timed)
		GRD_PREV_HOOK(prev_ProcessUtility, standard_ProcessUtility,
					  call->pstmt, call->queryString, call->readOnlyTree,
					  call->context, call->params, call->queryEnv,
					  call->dest, call->qc);
	else
	{
		grd_nesting_level++;
		PG_TRY();
		{
			GRD_PREV_HOOK(prev_ProcessUtility, standard_ProcessUtility,
						  call->pstmt, call->queryString, call->readOnlyTree,
						  call->context, call->params, call->queryEnv,
						  call->dest, call->qc);
		}
		PG_FINALLY();
		{
			grd_nesting_level--;
		}
		PG_END_TRY();
	}
	grd_ddl_lock_end(&ddl_lock);
}

/*
 * The planner has built a base relation's description from the catalogs:
 * let the previous hook edit it first (it might add hypothetical indexes),
 * then hide the disabled indexes.
 */
static void
grd_relation_info(GRD_RELINFO_ARGS)
{
	if (prev_relinfo_hook)
		prev_relinfo_hook(GRD_RELINFO_PASS);

	grd_indexvis_filter(root, GRD_RELINFO_RELID, rel);
}

/*
 * A client has authenticated (or failed to): the previous hook first, as
 * contrib's auth_delay expects, then the limits on new connections, which
 * end the connection with FATAL when one is exceeded.
 */
static void
grd_ClientAuthentication(Port *port, int status)
{
	if (prev_ClientAuthentication)
		prev_ClientAuthentication(port, status);

	grd_connection_check(port, status);
}

/*
 * Whether fmgr_hook must see calls of this function: the previous hook's
 * functions, and the extension's own functions that run SQL.
 */
static bool
grd_needs_fmgr_hook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && prev_needs_fmgr_hook(fn_oid))
		return true;
	return grd_config_own_function(fn_oid);
}

/*
 * What fmgr_hook carries from a hooked function's start to its end, in
 * the Datum that fmgr gives the hook for that (*private).  The previous
 * hook's Datum is kept inside, so that both can chain.  Whether the
 * function is the extension's is decided once, at its start: the list of
 * the extension's functions may be reloaded while it runs, and deciding
 * again at its end could leave the count of the extension's code running
 * above 0 for good.
 */
typedef struct GrdFmgrPrivate
{
	Datum		prev_private;	/* the previous hook's */
	bool		own;			/* counted in grd_own_code_depth */
} GrdFmgrPrivate;

/*
 * A hooked function starts, ends or fails: count the extension's own in
 * and out.  Called for the previous hook's functions too, which are not
 * counted.  The private state is allocated, in the function's own memory
 * context, before the previous hook starts, so that an error there leaves
 * nothing counted (fmgr calls no FHET_ABORT for a failed FHET_START).
 */
static void
grd_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	GrdFmgrPrivate *state = (GrdFmgrPrivate *) DatumGetPointer(*private);

	if (event == FHET_START && state == NULL)
	{
		state = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(GrdFmgrPrivate));
		*private = PointerGetDatum(state);
	}
	if (unlikely(state == NULL))
	{
		/* an end without a start through us: nothing of ours to count */
		if (prev_fmgr_hook)
			prev_fmgr_hook(event, flinfo, private);
		return;
	}
	if (prev_fmgr_hook)
		prev_fmgr_hook(event, flinfo, &state->prev_private);

	if (event == FHET_START)
	{
		state->own = grd_config_own_function(flinfo->fn_oid);
		if (state->own)
			grd_own_code_depth++;
	}
	else if (state->own)
	{
		/* FHET_END, FHET_ABORT */
		state->own = false;
		if (grd_own_code_depth > 0)
			grd_own_code_depth--;
	}
}

/*
 * Register the callbacks below, once per backend: by the first statement
 * that could leave something for them, so that a backend that runs none
 * pays nothing at each transaction end.
 */
static void
grd_register_xact_callbacks(void)
{
	RegisterXactCallback(grd_xact_callback, NULL);
	RegisterSubXactCallback(grd_subxact_callback, NULL);
	xact_callbacks_registered = true;
}

/*
 * The end of a transaction: record what failed statements queued (see the
 * header).  Latency is recorded at every end, since recording cannot
 * fail; DDL log entries, whose log line allocates, only at an abort,
 * never after a commit record (where an error would be a PANIC), and
 * otherwise before the next entry is written.
 */
static void
grd_xact_callback(XactEvent event, void *arg)
{
	/* may raise an error, which aborts the transaction */
	if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PRE_PREPARE)
		grd_ddl_policy_pre_commit();
	grd_latency_record_pending();
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		grd_ddl_audit_write_pending();
		grd_workload_abort();
	}
}

/* The end of a subtransaction: the same, at its abort. */
static void
grd_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB)
		grd_latency_record_pending();
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		grd_ddl_audit_write_pending();
		/* a top-level statement failed (not one a function caught) */
		if (grd_nesting_level == 0)
			grd_workload_abort();
	}
}
