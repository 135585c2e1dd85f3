/*-------------------------------------------------------------------------
 *
 * ddl_rules_tables.c
 *		Schema-change rules about whole tables: table_rewrite (SET
 *		TABLESPACE, VACUUM FULL, CLUSTER, REFRESH MATERIALIZED VIEW, and
 *		the ALTER TABLE rewrites that the table_rewrite event or
 *		check_migration() reports) and new_tables.
 *
 * Locking: none of its own.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * SET TABLESPACE of a relation that has storage: a copy of all of it
 * (rule table_rewrite), which PostgreSQL's table_rewrite event does not
 * report.  Nothing is copied when the tablespace does not change.
 */
void
grd_ddl_check_set_tablespace(Oid relid, const char *tablespace)
{
	Oid			newts = get_tablespace_oid(tablespace, true);
	Oid			oldts = get_rel_tablespace(relid);
	char		relkind = get_rel_relkind(relid);
	BlockNumber pages;

	if (!OidIsValid(newts) || newts == oldts ||
		(newts == MyDatabaseTableSpace && oldts == InvalidOid) ||
		!RELKIND_HAS_STORAGE(relkind))
		return;
	pages = grd_ddl_table_pages(relid, false);
	if (pages == 0)
		return;
	grd_ddl_report(GRD_RULE_TABLE_REWRITE, relid, pages,
				   grd_ddl_violates(GRD_RULE_TABLE_REWRITE,
									psprintf("moving %s \"%s\" to tablespace \"%s\"",
											 relkind == RELKIND_INDEX ? "index" :
											 relkind == RELKIND_MATVIEW ? "materialized view" : "table",
											 get_rel_name(relid), tablespace)),
				   psprintf("SET TABLESPACE copies all %s of \"%s\" under an ACCESS EXCLUSIVE lock, which blocks every query on %s.",
							grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid),
							relkind == RELKIND_INDEX ? "its table" : "it"),
				   relkind == RELKIND_INDEX ?
				   "Build a new index with CREATE INDEX CONCURRENTLY ... TABLESPACE, then drop the old one with DROP INDEX CONCURRENTLY." :
				   "Move it with a tool that rebuilds tables online, or in a maintenance window with the rule set to off.");
}

/*
 * Rule table_rewrite, for a statement that always rewrites the table rv
 * names (command says which statement).
 */
static void
check_rewrite(RangeVar *rv, const char *command, const char *hint)
{
	Oid			relid = grd_ddl_relid(rv);
	BlockNumber pages = grd_ddl_table_pages(relid, true);

	if (pages == 0)
		return;
	grd_ddl_report(GRD_RULE_TABLE_REWRITE, relid, pages,
				   grd_ddl_violates(GRD_RULE_TABLE_REWRITE,
									psprintf("rewriting table \"%s\"", get_rel_name(relid))),
				   psprintf("%s rewrites all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
							command, grd_ddl_pages_pretty(pages),
							grd_ddl_relation_name(relid)),
				   hint);
}

static const char *vacuum_full_hint =
"Use plain VACUUM, or a tool that rebuilds tables online.";

/*
 * ALTER TABLE ALL IN TABLESPACE ... SET TABLESPACE: a copy of every table
 * (or index, or materialized view) it moves, rule table_rewrite.  Which
 * ones it moves (the user's own, or those OWNED BY) is known only as it
 * runs, so no size is given.
 */
void
grd_ddl_check_move_all(AlterTableMoveAllStmt *stmt)
{
	Oid			oldts = get_tablespace_oid(stmt->orig_tablespacename, true);
	Oid			newts = get_tablespace_oid(stmt->new_tablespacename, true);

	if (!OidIsValid(oldts) || !OidIsValid(newts) || oldts == newts)
		return;
	grd_ddl_report(GRD_RULE_TABLE_REWRITE, InvalidOid, 0,
				   grd_ddl_violates(GRD_RULE_TABLE_REWRITE,
									psprintf("moving every relation of tablespace \"%s\" to tablespace \"%s\"",
											 stmt->orig_tablespacename,
											 stmt->new_tablespacename)),
				   "ALTER ... ALL IN TABLESPACE copies each relation it moves under an ACCESS EXCLUSIVE lock.",
				   "Move the relations one by one with a tool that rebuilds them online, or in a maintenance window with the rule set to off.");
}

/* VACUUM FULL: rule table_rewrite. */
void
grd_ddl_check_vacuum(VacuumStmt *stmt)
{
	bool		full = false;
	ListCell   *lc;

	if (!stmt->is_vacuumcmd)
		return;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "full") == 0)
			full = defGetBoolean(opt);
	}
	if (!full)
		return;

	if (stmt->rels == NIL)
		grd_ddl_report(GRD_RULE_TABLE_REWRITE, InvalidOid, 0,
					   grd_ddl_violates(GRD_RULE_TABLE_REWRITE, "rewriting every table"),
					   psprintf("VACUUM FULL without a table rewrites every table of database \"%s\", each under an ACCESS EXCLUSIVE lock.",
								get_database_name(MyDatabaseId)),
					   vacuum_full_hint);
	foreach(lc, stmt->rels)
		check_rewrite(lfirst_node(VacuumRelation, lc)->relation, "VACUUM FULL",
					  vacuum_full_hint);
}

/*
 * The schema a new relation would be created in, without an error: the one
 * named, or the first of search_path; InvalidOid if there is none.
 */
Oid
grd_ddl_creation_namespace(RangeVar *rv)
{
	List	   *path;

	if (rv->schemaname != NULL)
		return get_namespace_oid(rv->schemaname, true);
	path = fetch_search_path(false);
	return path == NIL ? InvalidOid : linitial_oid(path);
}

/*
 * CREATE TABLE, CREATE TABLE AS, SELECT INTO: rule new_tables, for users
 * who may create a table in the schema (others get PostgreSQL's error).
 */
void
grd_ddl_check_new_table(RangeVar *rv, bool is_partition)
{
	Oid			nspid;

	if (grd_allow_new_tables || rv->relpersistence == RELPERSISTENCE_TEMP ||
		is_partition || OidIsValid(grd_ddl_relid(rv)))
		return;
	nspid = grd_ddl_creation_namespace(rv);
	if (!OidIsValid(nspid) || !grd_namespace_may_create(nspid, GetUserId()))
		return;
	grd_ddl_report(GRD_RULE_NEW_TABLES, InvalidOid, 0,
				   grd_ddl_violates(GRD_RULE_NEW_TABLES,
									psprintf("creating table \"%s\"", rv->relname)),
				   "guardrails.allow_new_tables is off: this instance takes no new tables.",
				   "Create the table on an instance that is open to new workloads.");
}

/*
 * Rule table_rewrite on relid, of pages, which ALTER TABLE rewrites (or,
 * when certain is false, may rewrite) for reason: from the table_rewrite
 * event, when PostgreSQL has decided, or from check_migration(), when it
 * predicts.
 */
void
grd_ddl_report_rewrite(Oid relid, BlockNumber pages, const char *reason, bool certain)
{
	grd_ddl_report(GRD_RULE_TABLE_REWRITE, relid, pages,
				   grd_ddl_violates(GRD_RULE_TABLE_REWRITE,
									psprintf("%s table \"%s\"",
											 certain ? "rewriting" : "possibly rewriting",
											 get_rel_name(relid))),
				   certain ?
				   psprintf("ALTER TABLE would rewrite all %s of table \"%s\" under an ACCESS EXCLUSIVE lock, for %s.",
							grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid), reason) :
				   psprintf("Whether ALTER TABLE rewrites all %s of table \"%s\" for %s is decided only when it runs; the policy then applies the rule.",
							grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid), reason),
				   "Make the change without a rewrite (for example, a new column backfilled in batches), or make it in a maintenance window with the rule set to off.");
}


/* CLUSTER (REPACK from 19) without CONCURRENTLY: rule table_rewrite. */
void
grd_ddl_check_cluster(Node *parsetree)
{
	/* REPACK CONCURRENTLY (19+) lets writes go on: no rule */
	if (grd_cluster_concurrent(parsetree))
		return;
	if (grd_cluster_relation(parsetree) == NULL)
		grd_ddl_report(GRD_RULE_TABLE_REWRITE, InvalidOid, 0,
					   grd_ddl_violates(GRD_RULE_TABLE_REWRITE,
										"rewriting every clustered table"),
					   psprintf("%s without a table rewrites every table clustered before, each under an ACCESS EXCLUSIVE lock.",
								grd_cluster_command(parsetree)),
					   vacuum_full_hint);
	else
		check_rewrite(grd_cluster_relation(parsetree),
					  grd_cluster_command(parsetree), vacuum_full_hint);
}

/*
 * REFRESH MATERIALIZED VIEW without CONCURRENTLY (and WITH DATA): rule
 * table_rewrite.
 */
void
grd_ddl_check_refresh(RefreshMatViewStmt *stmt)
{
	if (!stmt->concurrent && !stmt->skipData)
		check_rewrite(stmt->relation, "REFRESH MATERIALIZED VIEW",
					  "Use REFRESH MATERIALIZED VIEW CONCURRENTLY, which needs a unique index on the materialized view.");
}
