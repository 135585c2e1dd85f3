/*-------------------------------------------------------------------------
 *
 * ddl_rules_rename.c
 *		Schema-change rule rename: RENAME of a table or a column, SET
 *		SCHEMA of a table, which break every client that runs.
 *
 * Locking: none of its own.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * Rule rename: a table or one of its columns gets a new name (or schema).
 * Every client that runs names the old one, and fails from the commit on:
 * the change is not backward compatible.
 */
static void
report_rename(Oid relid, BlockNumber pages, const char *what,
			  const char *hint)
{
	grd_ddl_report(GRD_RULE_RENAME, relid, pages,
				   grd_ddl_violates(GRD_RULE_RENAME, what),
				   psprintf("Every running client that uses the old name fails once the statement commits; table \"%s\" holds %s.",
							grd_ddl_relation_name(relid), grd_ddl_pages_pretty(pages)),
				   hint);
}

static const char *rename_column_hint =
"Make the change in backward-compatible steps: add the new column, write both, move the readers to it, then drop the old one.";
static const char *rename_table_hint =
"Make the change in backward-compatible steps: for example, rename the table and create a view with the old name in one transaction, and drop the view once no client uses it.";

/*
 * RENAME of a table or a column, SET SCHEMA of a table: rule rename.
 * Which relation is renamed is decided by its kind, not by the statement's
 * words, which PostgreSQL lets differ: ALTER INDEX renames a table, ALTER
 * VIEW, ALTER FOREIGN TABLE and ALTER TYPE ... RENAME ATTRIBUTE rename a
 * table's column, ALTER TABLE renames an index.
 */
void
grd_ddl_check_rename(Node *parsetree)
{
	Oid			relid;
	BlockNumber pages;

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;
		bool		column;

		switch (stmt->renameType)
		{
			case OBJECT_COLUMN:
			case OBJECT_ATTRIBUTE:
				column = true;
				break;
			case OBJECT_TABLE:
			case OBJECT_INDEX:
			case OBJECT_VIEW:
			case OBJECT_MATVIEW:
			case OBJECT_SEQUENCE:
			case OBJECT_FOREIGN_TABLE:
				column = false;
				break;
			default:
				return;			/* a constraint, trigger, rule, policy... */
		}
		relid = grd_ddl_relid(stmt->relation);
		if (!grd_ddl_is_table(relid))
			return;
		pages = grd_ddl_table_pages(relid, false);
		if (pages == 0)
			return;
		if (column)
			report_rename(relid, pages,
						  psprintf("renaming column \"%s\" of table \"%s\" to \"%s\"",
								   stmt->subname, get_rel_name(relid),
								   stmt->newname),
						  rename_column_hint);
		else
			report_rename(relid, pages,
						  psprintf("renaming table \"%s\" to \"%s\"",
								   get_rel_name(relid), stmt->newname),
						  rename_table_hint);
	}
	else
	{
		AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

		/* every SET SCHEMA that names a relation, whatever its words */
		if (stmt->relation == NULL)
			return;
		relid = grd_ddl_relid(stmt->relation);
		if (!grd_ddl_is_table(relid))
			return;
		pages = grd_ddl_table_pages(relid, false);
		if (pages == 0)
			return;
		report_rename(relid, pages,
					  psprintf("moving table \"%s\" to schema \"%s\"",
							   get_rel_name(relid), stmt->newschema),
					  rename_table_hint);
	}
}
