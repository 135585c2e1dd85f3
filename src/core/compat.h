/*-------------------------------------------------------------------------
 *
 * compat.h
 *		The one place that knows which PostgreSQL major we are built for.
 *
 * pg_guardrails supports PostgreSQL 15 to 19.  Every PG_VERSION_NUM test
 * lives here, as a macro or a typedef with one meaning on every version, so
 * that the rest of the code reads as if there were a single server API.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_COMPAT_H
#define GRD_COMPAT_H

#include <math.h>

#include "executor/executor.h"
#include "executor/instrument.h"
#include "portability/instr_time.h"
#include "storage/shmem.h"

#if PG_VERSION_NUM < 150000
#error "pg_guardrails requires PostgreSQL 15 or later"
#endif

/* EnableQueryId() moved from utils/ to nodes/ in 16. */
#if PG_VERSION_NUM >= 160000
#include "nodes/queryjumble.h"
#else
#include "utils/queryjumble.h"
#endif

/*
 * The query that CREATE TABLE AS (and SELECT INTO, CREATE MATERIALIZED
 * VIEW) and DECLARE CURSOR run inside themselves, directly or under
 * EXPLAIN ANALYZE, gets its query id from core only from 18 on
 * (ExecCreateTableAs, PerformCursorOpen and ExplainOneUtility jumble it);
 * up to 17 it reaches the executor with id 0, which no digest rule
 * matches.  GRD_CORE_IDENTIFIES_INNER_QUERIES says whether core does it;
 * grd_jumble_query() sets the id of a planned (not utility) query as core
 * computes it for the same query on its own.  JumbleQuery() lost its text
 * argument, used only for utility statements, in 16.
 */
#if PG_VERSION_NUM >= 180000
#define GRD_CORE_IDENTIFIES_INNER_QUERIES	true
#else
#define GRD_CORE_IDENTIFIES_INNER_QUERIES	false
#endif
#if PG_VERSION_NUM >= 160000
#define grd_jumble_query(query)		((void) JumbleQuery(query))
#else
#define grd_jumble_query(query)		((void) JumbleQuery(query, NULL))
#endif

/*
 * The planner hook gets the EXPLAIN state in 19.  Hooks are written with
 * GRD_PLANNER_ARGS and pass GRD_PLANNER_PASS on.
 */
#include "optimizer/planner.h"
#if PG_VERSION_NUM >= 190000
#define GRD_PLANNER_ARGS \
	Query *parse, const char *query_string, int cursorOptions, \
	ParamListInfo boundParams, ExplainState *es
#define GRD_PLANNER_PASS	parse, query_string, cursorOptions, boundParams, es
#else
#define GRD_PLANNER_ARGS \
	Query *parse, const char *query_string, int cursorOptions, \
	ParamListInfo boundParams
#define GRD_PLANNER_PASS	parse, query_string, cursorOptions, boundParams
#endif

/*
 * From 18 on the module magic block carries the name and version, which
 * the Makefile takes from the control file (GRD_VERSION).
 */
#if PG_VERSION_NUM >= 180000
#define GRD_MODULE_MAGIC \
	PG_MODULE_MAGIC_EXT(.name = "pg_guardrails", .version = GRD_VERSION)
#else
#define GRD_MODULE_MAGIC	PG_MODULE_MAGIC
#endif

/*
 * Query identifiers are uint64 up to 17 and int64 from 18 on.  We keep them
 * as uint64 internally and show them as bigint, as pg_stat_statements does.
 */
#define GRD_QUERYID(pstmt)	((uint64) (pstmt)->queryId)

/*
 * ExecutorRun loses its execute_once argument in 18.  Hook definitions are
 * written with GRD_EXECUTORRUN_ARGS and pass GRD_EXECUTORRUN_PASS on.
 */
#if PG_VERSION_NUM >= 180000
#define GRD_EXECUTORRUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count
#define GRD_EXECUTORRUN_PASS	queryDesc, direction, count
#else
#define GRD_EXECUTORRUN_ARGS \
	QueryDesc *queryDesc, ScanDirection direction, uint64 count, \
	bool execute_once
#define GRD_EXECUTORRUN_PASS	queryDesc, direction, count, execute_once
#endif

/*
 * instr_time is a struct timespec up to 15 and an int64 of nanoseconds from
 * 16 on; we only ever need "now" as nanoseconds.
 */
#if PG_VERSION_NUM >= 160000
#define GRD_INSTR_TIME_NS(t)	((uint64) INSTR_TIME_GET_NANOSEC(t))
#else
#define GRD_INSTR_TIME_NS(t) \
	((uint64) (t).tv_sec * UINT64CONST(1000000000) + (uint64) (t).tv_nsec)
#endif

/*
 * The post-parse-analysis hook gets its JumbleState as const from 19.
 */
#if PG_VERSION_NUM >= 190000
#define GRD_JUMBLESTATE			const JumbleState
#else
#define GRD_JUMBLESTATE			JumbleState
#endif

/*
 * ShmemInitHash takes one element count in 19, instead of an initial and a
 * maximum size; ours are always equal (the table never grows).
 */
#if PG_VERSION_NUM >= 190000
#define grd_ShmemInitHash(name, nelems, info, flags) \
	ShmemInitHash(name, nelems, info, flags)
#else
#define grd_ShmemInitHash(name, nelems, info, flags) \
	ShmemInitHash(name, nelems, nelems, info, flags)
#endif

/*
 * The planner hook that lets us edit a base relation's index list: 19
 * replaces get_relation_info_hook with build_simple_rel_hook, which gets
 * the range-table entry instead of the relation's OID.  Hooks are written
 * with GRD_RELINFO_ARGS, pass GRD_RELINFO_PASS on, and find the relation
 * with GRD_RELINFO_RELID (InvalidOid when it is not a table).
 */
#if PG_VERSION_NUM >= 190000
#include "optimizer/pathnode.h"
#define GRD_RELINFO_HOOK		build_simple_rel_hook
typedef build_simple_rel_hook_type grd_relinfo_hook_type;
#define GRD_RELINFO_ARGS \
	PlannerInfo *root, RelOptInfo *rel, RangeTblEntry *rte
#define GRD_RELINFO_PASS		root, rel, rte
#define GRD_RELINFO_RELID \
	(rte->rtekind == RTE_RELATION ? rte->relid : InvalidOid)
#else
#include "optimizer/plancat.h"
#define GRD_RELINFO_HOOK		get_relation_info_hook
typedef get_relation_info_hook_type grd_relinfo_hook_type;
#define GRD_RELINFO_ARGS \
	PlannerInfo *root, Oid relationObjectId, bool inhparent, RelOptInfo *rel
#define GRD_RELINFO_PASS		root, relationObjectId, inhparent, rel
#define GRD_RELINFO_RELID		relationObjectId
#endif

/* The backend's local transaction id moved into PGPROC.vxid in 17. */
#include "storage/proc.h"
#if PG_VERSION_NUM >= 170000
#define GRD_PROC_LXID(proc)	((proc)->vxid.lxid)
#else
#define GRD_PROC_LXID(proc)	((proc)->lxid)
#endif
#define GRD_MY_LXID		GRD_PROC_LXID(MyProc)

/*
 * This backend's index among the PGPROCs, below MaxBackends for a regular
 * backend: MyProcNumber from 17 on.
 */
#if PG_VERSION_NUM >= 170000
#define GRD_MY_PROC_INDEX	((int) MyProcNumber)
#else
#define GRD_MY_PROC_INDEX	(MyProc->pgprocno)
#endif

/* Ownership checks became generic over catalogs in 16. */
#include "utils/acl.h"
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#define grd_relation_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, relid, roleid)
#define grd_type_ownercheck(typid, roleid) \
	object_ownercheck(TypeRelationId, typid, roleid)
#else
#define grd_relation_ownercheck(relid, roleid) \
	pg_class_ownercheck(relid, roleid)
#define grd_type_ownercheck(typid, roleid) \
	pg_type_ownercheck(typid, roleid)
#endif

/*
 * Ownership of a schema and of a database (16 made the checks generic), and
 * the MAINTAIN privilege of 17, which lets a role that does not own a table
 * VACUUM, CLUSTER, REINDEX or REFRESH it.
 */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_database.h"
#include "catalog/pg_namespace.h"
#define grd_namespace_ownercheck(nspid, roleid) \
	object_ownercheck(NamespaceRelationId, nspid, roleid)
#define grd_database_ownercheck(dbid, roleid) \
	object_ownercheck(DatabaseRelationId, dbid, roleid)
#define grd_namespace_may_create(nspid, roleid) \
	(object_aclcheck(NamespaceRelationId, nspid, roleid, ACL_CREATE) == ACLCHECK_OK)
#else
#define grd_namespace_ownercheck(nspid, roleid) \
	pg_namespace_ownercheck(nspid, roleid)
#define grd_database_ownercheck(dbid, roleid) \
	pg_database_ownercheck(dbid, roleid)
#define grd_namespace_may_create(nspid, roleid) \
	(pg_namespace_aclcheck(nspid, roleid, ACL_CREATE) == ACLCHECK_OK)
#endif
#if PG_VERSION_NUM >= 170000
#include "catalog/pg_authid.h"
#define grd_relation_may_maintain(relid, roleid) \
	(pg_class_aclcheck(relid, roleid, ACL_MAINTAIN) == ACLCHECK_OK)
#define grd_role_maintains_all(roleid) \
	has_privs_of_role(roleid, ROLE_PG_MAINTAIN)
#else
#define grd_relation_may_maintain(relid, roleid)	((void) (relid), false)
#define grd_role_maintains_all(roleid)	((void) (roleid), false)
#endif

/* The local copy of the activity of backend i (1-based), renamed in 16. */
#include "utils/backend_status.h"
#if PG_VERSION_NUM >= 160000
#define grd_local_beentry(i)	pgstat_get_local_beentry_by_index(i)
#else
#define grd_local_beentry(i)	pgstat_fetch_stat_local_beentry(i)
#endif

/*
 * A check hook's extra is freed by core: with free() up to 15, with
 * guc_free() (a pfree in GUC's memory context) from 16 on, so it must come
 * from the matching allocator.  NULL on out-of-memory, reported at LOG.
 */
#include "utils/guc.h"
#if PG_VERSION_NUM >= 160000
#define grd_guc_malloc(size)	guc_malloc(LOG, (size))
#define grd_guc_free(ptr)		guc_free(ptr)
#else
#define grd_guc_malloc(size)	malloc(size)
#define grd_guc_free(ptr)		free(ptr)
#endif

/*
 * The query-level instrumentation that pg_stat_statements and auto_explain
 * ask the executor for: QueryDesc.totaltime, whose total is a double of
 * seconds settled by InstrEndLoop, up to 18; QueryDesc.query_instr, whose
 * total is an instr_time kept current by InstrStop, from 19 on.  NULL when
 * nobody asked.
 */
#if PG_VERSION_NUM >= 190000
#define GRD_QUERY_INSTR(queryDesc)	((queryDesc)->query_instr)
static inline uint64
grd_instr_total_ns(Instrumentation *instr)
{
	return (uint64) INSTR_TIME_GET_NANOSEC(instr->total);
}
#else
#define GRD_QUERY_INSTR(queryDesc)	((queryDesc)->totaltime)
static inline uint64
grd_instr_total_ns(Instrumentation *instr)
{
	/* idempotent: several modules may do this */
	InstrEndLoop(instr);
	return (uint64) rint(instr->total * 1e9);
}
#endif

/*
 * Utility statements timed like pg_stat_statements times them: EXECUTE is
 * timed by the executor hooks under the prepared statement's id, PREPARE
 * not at all, and DEALLOCATE not at all up to 16; from 17 on core jumbles
 * DEALLOCATE (all its names share one digest) and it is timed.
 */
#if PG_VERSION_NUM >= 170000
#define GRD_UTILITY_IS_TIMED(parsetree) \
	(!IsA(parsetree, ExecuteStmt) && !IsA(parsetree, PrepareStmt))
#else
#define GRD_UTILITY_IS_TIMED(parsetree) \
	(!IsA(parsetree, ExecuteStmt) && !IsA(parsetree, PrepareStmt) && \
	 !IsA(parsetree, DeallocateStmt))
#endif

/*
 * Membership of pg_use_reserved_connections, the role that may use
 * reserved_connections, from 16 on; before 16 only superusers could.
 */
#if PG_VERSION_NUM >= 160000
#include "catalog/pg_authid_d.h"
#define grd_uses_reserved_connections(roleid) \
	has_privs_of_role((roleid), ROLE_PG_USE_RESERVED_CONNECTIONS)
#else
#define grd_uses_reserved_connections(roleid)	((void) (roleid), false)
#endif

/*
 * Keep a scanner started by scanner_init() from warning about backslashes
 * in literals (the setting and the warning are gone in 19).
 */
#if PG_VERSION_NUM >= 190000
#define grd_scanner_quiet(yyextra)	((void) (yyextra))
#else
#define grd_scanner_quiet(yyextra)	((yyextra)->escape_string_warning = false)
#endif

/*
 * CLUSTER is a ClusterStmt up to 18.  From 19 on it is a form of REPACK
 * (RepackStmt, whose relation is a VacuumRelation), and REPACK has a
 * CONCURRENTLY option, under which it takes only SHARE UPDATE EXCLUSIVE.
 * T_GrdClusterStmt is the node tag of either; the functions read it.
 */
#if PG_VERSION_NUM >= 190000
#include "commands/defrem.h"
#define T_GrdClusterStmt	T_RepackStmt
static inline RangeVar *
grd_cluster_relation(Node *stmt)
{
	VacuumRelation *rel = ((RepackStmt *) stmt)->relation;

	return rel != NULL ? rel->relation : NULL;
}
static inline bool
grd_cluster_concurrent(Node *stmt)
{
	ListCell   *lc;

	foreach(lc, ((RepackStmt *) stmt)->params)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "concurrently") == 0)
			return defGetBoolean(opt);
	}
	return false;
}
static inline const char *
grd_cluster_command(Node *stmt)
{
	return ((RepackStmt *) stmt)->command == REPACK_COMMAND_CLUSTER ?
		"CLUSTER" : "REPACK";
}
#else
#define T_GrdClusterStmt	T_ClusterStmt
#define grd_cluster_relation(stmt)		(((ClusterStmt *) (stmt))->relation)
#define grd_cluster_concurrent(stmt)	false
#define grd_cluster_command(stmt)		"CLUSTER"
#endif

/*
 * Whether a domain has constraints: 19 adds an out argument that says
 * whether any is volatile, which we do not need.
 */
#include "utils/typcache.h"
#if PG_VERSION_NUM >= 190000
#define grd_domain_has_constraints(typid)	DomainHasConstraints(typid, NULL)
#else
#define grd_domain_has_constraints(typid)	DomainHasConstraints(typid)
#endif

static inline uint64
grd_now_ns(void)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	return GRD_INSTR_TIME_NS(now);
}

/*
 * Injection points: declared by the extension where it holds a lock or has
 * begun a record, so that TAP tests can make it fail there.  17 brought
 * them (INJECTION_POINT(name)), 18 added an argument; a server built
 * without --enable-injection-points, and 15 and 16, compile them away.
 */
#if PG_VERSION_NUM >= 180000
#include "utils/injection_point.h"
#define GRD_INJECTION_POINT(name)	INJECTION_POINT(name, NULL)
#elif PG_VERSION_NUM >= 170000
#include "utils/injection_point.h"
#define GRD_INJECTION_POINT(name)	INJECTION_POINT(name)
#else
#define GRD_INJECTION_POINT(name)	((void) 0)
#endif

#endif							/* GRD_COMPAT_H */
