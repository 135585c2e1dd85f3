/*-------------------------------------------------------------------------
 *
 * ddl_rules_rename.c
 *		Schema-change rule rename: RENAME of a table or a column, SET
 *		SCHEMA of a table, which break every client that runs.
 *
 * A table renamed (or moved) inside a transaction block may get a view
 * under its old name later in the block, the backward-compatible way the
 * rule's hint gives: its verdict waits for the commit
 * (grd_ddl_check_renames_at_commit), and is given only if nothing bears
 * the old name then.  check_migration() does the same within a script's
 * block (ddl_check.c).
 *
 * Locking: none of its own.  The renames pending in a transaction are
 * backend-local, in its memory, and forgotten when it ends.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "catalog/pg_class.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

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

/* A table rename whose verdict waits for the commit. */
typedef struct PendingRename
{
	Oid			relid;
	char	   *oldname;
	Oid			oldnspid;
	BlockNumber pages;
} PendingRename;

/*
 * The table renames of the transaction pending_lxid, in its top memory
 * context; a list of another transaction's is gone with it.
 */
static List *pending_renames = NIL;
static LocalTransactionId pending_lxid = InvalidLocalTransactionId;

static const char *rename_column_hint =
"Make the change in backward-compatible steps: add the new column, write both, move the readers to it, then drop the old one.";
static const char *rename_table_hint =
"Make the change in backward-compatible steps: for example, rename the table and create a view with the old name in one transaction, and drop the view once no client uses it.";

/*
 * Rule rename on a table that gets a new name or schema: inside a
 * transaction block, at run time, the verdict waits for the commit, where
 * a view created under the old name meanwhile makes it backward
 * compatible.
 */
static void
report_table_rename(Oid relid, BlockNumber pages, const char *what)
{
	MemoryContext oldcxt;
	PendingRename *pending;
	ListCell   *lc;

	if (grd_ddl_collecting() || !IsTransactionBlock())
	{
		report_rename(relid, pages, what, rename_table_hint);
		return;
	}
	if (pending_lxid != GRD_MY_LXID)
	{
		pending_renames = NIL;
		pending_lxid = GRD_MY_LXID;
	}
	/* what counts is the name the table had when the transaction began */
	foreach(lc, pending_renames)
	{
		if (((PendingRename *) lfirst(lc))->relid == relid)
			return;
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	pending = palloc(sizeof(PendingRename));
	pending->relid = relid;
	pending->oldname = pstrdup(get_rel_name(relid));
	pending->oldnspid = get_rel_namespace(relid);
	pending->pages = pages;
	pending_renames = lappend(pending_renames, pending);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * Before the transaction commits (hooks.c): the verdicts of its table
 * renames that no view replaced, by then, under the old name.  A rename
 * undone (rolled back to a savepoint, or renamed back) is no rename.
 */
void
grd_ddl_check_renames_at_commit(void)
{
	List	   *renames;
	ListCell   *lc;

	if (pending_lxid != GRD_MY_LXID || pending_renames == NIL)
		return;
	renames = pending_renames;
	pending_renames = NIL;
	foreach(lc, renames)
	{
		PendingRename *pending = (PendingRename *) lfirst(lc);
		char	   *name = get_rel_name(pending->relid);
		Oid			nspid = get_rel_namespace(pending->relid);
		Oid			view = get_relname_relid(pending->oldname,
											 pending->oldnspid);
		char	   *what;

		if (name == NULL ||
			(strcmp(name, pending->oldname) == 0 &&
			 nspid == pending->oldnspid) ||
			(OidIsValid(view) && get_rel_relkind(view) == RELKIND_VIEW))
			continue;
		/* what the transaction did, all its statements taken together */
		if (nspid == pending->oldnspid)
			what = psprintf("renaming table \"%s\" to \"%s\"",
							pending->oldname, name);
		else if (strcmp(name, pending->oldname) == 0)
			what = psprintf("moving table \"%s\" to schema \"%s\"",
							name, get_namespace_name(nspid));
		else
			what = psprintf("moving table \"%s\" to schema \"%s\" as \"%s\"",
							pending->oldname, get_namespace_name(nspid),
							name);
		report_rename(pending->relid, pending->pages, what,
					  rename_table_hint);
	}
}

/*
 * ALTER SCHEMA ... RENAME: every client that qualifies a name with the
 * schema's breaks, whatever the schema holds; for its owner, who may run
 * it.
 */
static void
check_schema_rename(RenameStmt *stmt)
{
	Oid			nspid = get_namespace_oid(stmt->subname, true);

	if (!OidIsValid(nspid) || !grd_namespace_ownercheck(nspid, GetUserId()))
		return;
	grd_ddl_report(GRD_RULE_RENAME, InvalidOid, 0,
				   grd_ddl_violates(GRD_RULE_RENAME,
									psprintf("renaming schema \"%s\" to \"%s\"",
											 stmt->subname, stmt->newname)),
				   "Every running client that names an object of the schema with the old schema name fails once the statement commits.",
				   "Make the change in backward-compatible steps: create the new schema, move the objects and leave views (or a search_path that finds both) under the old name until no client uses it.");
}

/*
 * ALTER TYPE ... RENAME VALUE of an enum: every client that sends or
 * compares with the old value fails; for the type's owner.
 */
void
grd_ddl_check_enum_rename(AlterEnumStmt *stmt)
{
	Oid			typid;

	if (stmt->oldVal == NULL)
		return;
	typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(stmt->typeName),
							  true);
	if (!OidIsValid(typid) || !grd_type_ownercheck(typid, GetUserId()))
		return;
	grd_ddl_report(GRD_RULE_RENAME, InvalidOid, 0,
				   grd_ddl_violates(GRD_RULE_RENAME,
									psprintf("renaming value \"%s\" of enum type \"%s\" to \"%s\"",
											 stmt->oldVal, format_type_be(typid),
											 stmt->newVal)),
				   "Every running client that writes or compares the old value fails once the statement commits.",
				   "Make the change in backward-compatible steps: add the new value with ALTER TYPE ... ADD VALUE, move the clients and the rows to it, and stop using the old one.");
}

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
			case OBJECT_SCHEMA:
				check_schema_rename(stmt);
				return;
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
			report_table_rename(relid, pages,
								psprintf("renaming table \"%s\" to \"%s\"",
										 get_rel_name(relid), stmt->newname));
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
		report_table_rename(relid, pages,
							psprintf("moving table \"%s\" to schema \"%s\"",
									 get_rel_name(relid), stmt->newschema));
	}
}
