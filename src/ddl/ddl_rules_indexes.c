/*-------------------------------------------------------------------------
 *
 * ddl_rules_indexes.c
 *		Schema-change rule index_concurrently: CREATE INDEX, DROP INDEX
 *		and REINDEX without CONCURRENTLY, and the constraints that build
 *		an index the same way.
 *
 * Locking: none of its own.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * Rule index_concurrently, for a statement that builds indexes; hint NULL
 * for CREATE INDEX.
 */
void
grd_ddl_report_index_build(Oid relid, BlockNumber pages, const char *hint)
{
	if (hint == NULL && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		hint = "Create the index on each partition with CREATE INDEX CONCURRENTLY, then on the parent with CREATE INDEX ON ONLY, and attach each partition's index with ALTER INDEX ... ATTACH PARTITION.";
	else if (hint == NULL)
		hint = "Build it with CREATE INDEX CONCURRENTLY.";

	grd_ddl_report(GRD_RULE_INDEX_CONCURRENTLY, relid, pages,
				   grd_ddl_violates(GRD_RULE_INDEX_CONCURRENTLY,
									psprintf("building an index on table \"%s\" without CONCURRENTLY",
											 get_rel_name(relid))),
				   psprintf("Table \"%s\" holds %s, and writes to it would be blocked until the build ends.",
							grd_ddl_relation_name(relid), grd_ddl_pages_pretty(pages)),
				   hint);
}

/*
 * DROP INDEX without CONCURRENTLY (rule index_concurrently): an ACCESS
 * EXCLUSIVE lock on the index's table.  An index of a partitioned table
 * cannot be dropped concurrently: nothing safer exists, nothing is said.
 */
void
grd_ddl_check_drop_index(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_INDEX || stmt->concurrent)
		return;
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			indexid = grd_ddl_relid(rv);
		Oid			relid;
		BlockNumber pages;

		if (!OidIsValid(indexid) || get_rel_relkind(indexid) != RELKIND_INDEX)
			continue;
		relid = IndexGetRelation(indexid, true);
		pages = grd_ddl_table_pages(relid, false);
		if (pages == 0)
			continue;
		grd_ddl_report(GRD_RULE_INDEX_CONCURRENTLY, relid, pages,
					   grd_ddl_violates(GRD_RULE_INDEX_CONCURRENTLY,
										psprintf("dropping index \"%s\" without CONCURRENTLY",
												 rv->relname)),
					   psprintf("It takes an ACCESS EXCLUSIVE lock on table \"%s\" (%s), which blocks every query on it until the transaction ends.",
								grd_ddl_relation_name(relid), grd_ddl_pages_pretty(pages)),
					   "Drop it with DROP INDEX CONCURRENTLY.");
	}
}

/* REINDEX without CONCURRENTLY: rule index_concurrently. */
void
grd_ddl_check_reindex(ReindexStmt *stmt)
{
	Oid			relid;
	BlockNumber pages;

	if (grd_ddl_is_concurrent((Node *) stmt))
		return;
	switch (stmt->kind)
	{
		case REINDEX_OBJECT_INDEX:
			relid = grd_ddl_relid(stmt->relation);
			if (OidIsValid(relid))
				relid = IndexGetRelation(relid, true);
			break;
		case REINDEX_OBJECT_TABLE:
			relid = grd_ddl_relid(stmt->relation);
			break;
		case REINDEX_OBJECT_SCHEMA:
		case REINDEX_OBJECT_DATABASE:

			/*
			 * Whoever may not run it (or names no schema that exists) gets
			 * PostgreSQL's error, not ours.
			 */
			if (stmt->kind == REINDEX_OBJECT_SCHEMA)
			{
				Oid			nspid = get_namespace_oid(stmt->name, true);

				if (!OidIsValid(nspid) ||
					!(grd_namespace_ownercheck(nspid, GetUserId()) ||
					  grd_role_maintains_all(GetUserId())))
					return;
			}
			else if (!(grd_database_ownercheck(MyDatabaseId, GetUserId()) ||
					   grd_role_maintains_all(GetUserId())))
				return;
			grd_ddl_report(GRD_RULE_INDEX_CONCURRENTLY, InvalidOid, 0,
						   grd_ddl_violates(GRD_RULE_INDEX_CONCURRENTLY,
											"rebuilding indexes without CONCURRENTLY"),
						   psprintf("REINDEX %s \"%s\" rebuilds every index in it, blocking writes to each table in turn.",
									stmt->kind == REINDEX_OBJECT_SCHEMA ? "SCHEMA" : "DATABASE",
									stmt->name ? stmt->name : get_database_name(MyDatabaseId)),
						   "Rebuild them with REINDEX CONCURRENTLY.");
			return;
		default:
			return;				/* SYSTEM has no concurrent form */
	}
	pages = grd_ddl_table_pages(relid, true);
	if (pages > 0)
		grd_ddl_report_index_build(relid, pages,
								   "Rebuild it with REINDEX CONCURRENTLY.");
}


/* CREATE INDEX without CONCURRENTLY: rule index_concurrently. */
void
grd_ddl_check_create_index(IndexStmt *stmt)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	BlockNumber pages;

	if (stmt->concurrent)
		return;

	/*
	 * ON ONLY a partitioned table builds nothing: the index is invalid until
	 * each partition's, built CONCURRENTLY, is attached (the rule's hint).
	 */
	if (!stmt->relation->inh &&
		get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		return;
	pages = grd_ddl_table_pages(relid, false);
	if (pages > 0)
		grd_ddl_report_index_build(relid, pages, NULL);
}
