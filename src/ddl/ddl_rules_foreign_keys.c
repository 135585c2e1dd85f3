/*-------------------------------------------------------------------------
 *
 * ddl_rules_foreign_keys.c
 *		Schema-change rule fk_index: a foreign key whose referencing columns
 *		no index leads with (eugene's E15).
 *
 * Every DELETE of a row of the referenced table, and every UPDATE of its
 * key, looks for the referencing rows: without an index whose leading
 * columns are the foreign key's columns (in any order), that is a scan of
 * the whole referencing table, for each row, under a lock that blocks its
 * writers.  The statement that adds the key blocks nothing for long, and a
 * new table holds nothing yet, but the table grows: the rule is about the
 * schema, whatever the table holds, and its verdict is a warning unless the
 * operator sets it to enforce (ddl_policy.c).
 *
 * An index counts when it is valid, not partial, and its first key columns
 * are the foreign key's: in the catalog, declared by the same statement
 * (PRIMARY KEY or UNIQUE), or created earlier by the script that
 * check_migration() reads (and, there, later: ddl_check.c withdraws the
 * verdict when a later CREATE INDEX of the script provides one, as
 * create_table followed by add_index does).  A table whose indexes cannot
 * be read at once (another session holds or awaits ACCESS EXCLUSIVE on it)
 * gets no verdict: the rule only advises.  A temporary table is not
 * judged.  CREATE TABLE is judged from the statement in check_migration()
 * only (not with LIKE, whose copied indexes are not known before it runs,
 * nor for a partition, which gets its parent's indexes); when it runs,
 * PostgreSQL adds its foreign keys by an ALTER TABLE of its own, after
 * its indexes, and that is judged against the catalog.
 *
 * Locking: none of its own.  A table's index list is read under an ACCESS
 * SHARE lock had at once or not at all (grd_ddl_relation_open_now()).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "miscadmin.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * Whether an index whose key columns are indexcols (String, or NULL for an
 * expression) leads with columns (String), in any order: its first
 * list_length(columns) keys are those columns, each once.
 */
bool
grd_ddl_index_leads_with(List *indexcols, List *columns)
{
	int			n = list_length(columns);
	ListCell   *lc;

	if (n == 0 || list_length(indexcols) < n)
		return false;
	foreach(lc, columns)
	{
		const char *col = strVal(lfirst(lc));
		bool		found = false;

		for (int i = 0; i < n; i++)
		{
			Node	   *key = (Node *) list_nth(indexcols, i);

			if (key != NULL && strcmp(strVal(key), col) == 0)
				found = true;
		}
		if (!found)
			return false;
	}
	/* n keys, each one of the n distinct columns, and every column found */
	for (int i = 0; i < n; i++)
	{
		Node	   *key = (Node *) list_nth(indexcols, i);

		for (int j = 0; j < i; j++)
		{
			Node	   *other = (Node *) list_nth(indexcols, j);

			if (key == NULL || (other != NULL &&
								strcmp(strVal(other), strVal(key)) == 0))
				return false;
		}
	}
	return true;
}

/*
 * Whether an index of relid in the catalog leads with columns; *known is
 * set false when the table's index list cannot be read at once.
 */
static bool
catalog_index_leads(Oid relid, List *columns, bool *known)
{
	Relation	rel = grd_ddl_relation_open_now(relid);
	List	   *indexes;
	ListCell   *lc;
	bool		found = false;

	*known = rel != NULL;
	if (rel == NULL)
		return false;
	indexes = RelationGetIndexList(rel);
	grd_ddl_relation_close_now(rel);
	foreach(lc, indexes)
	{
		Oid			indexid = lfirst_oid(lc);
		HeapTuple	tuple;
		Form_pg_index index;
		List	   *keys = NIL;

		if (grd_ddl_script != NULL &&
			list_member_oid(grd_ddl_script->dropped, indexid))
			continue;
		tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
		if (!HeapTupleIsValid(tuple))
			continue;
		index = (Form_pg_index) GETSTRUCT(tuple);
		if (index->indisvalid &&
			heap_attisnull(tuple, Anum_pg_index_indpred, NULL))
		{
			for (int i = 0; i < index->indnkeyatts; i++)
			{
				AttrNumber	attnum = index->indkey.values[i];
				char	   *name = attnum > 0 ?
					get_attname(relid, attnum, true) : NULL;

				keys = lappend(keys, name ? makeString(name) : NULL);
			}
			found = grd_ddl_index_leads_with(keys, columns);
		}
		ReleaseSysCache(tuple);
		if (found)
			break;
	}
	list_free(indexes);
	return found;
}

/*
 * Whether an index that the script being checked created on relid leads
 * with columns.
 */
static bool
script_index_leads(Oid relid, List *columns)
{
	ListCell   *lc;

	if (grd_ddl_script == NULL)
		return false;
	foreach(lc, grd_ddl_script->indexes)
	{
		GrdScriptIndex *index = (GrdScriptIndex *) lfirst(lc);

		if (index->relid == relid &&
			grd_ddl_index_leads_with(index->colnames, columns))
			return true;
	}
	return false;
}

/* A list of column names (String), quoted, as "(a, b)" spells it. */
static char *
column_list(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(strVal(lfirst(lc))));
	return buf.data;
}

/*
 * The verdict of rule fk_index on a foreign key on columns of table relname
 * (relid, or InvalidOid for a table the statement creates) referencing
 * table pktable.
 */
static void
report_foreign_key(Oid relid, const char *relname, List *columns,
				   RangeVar *pktable)
{
	char	   *cols = column_list(columns);
	BlockNumber pages = 0;
	bool		exempt;

	if (OidIsValid(relid))
		pages = grd_ddl_relation_pages(relid, &exempt);
	grd_ddl_report(GRD_RULE_FK_INDEX, relid, pages,
				   grd_ddl_violates(GRD_RULE_FK_INDEX,
									psprintf("adding foreign key (%s) of table \"%s\" without an index on those columns",
											 cols, relname)),
				   psprintf("Every DELETE in table \"%s\", and every UPDATE of its key, would look for the referencing rows by a scan of all of table \"%s\", since no index of it leads with (%s).",
							pktable->relname,
							OidIsValid(relid) ? grd_ddl_relation_name(relid) : relname,
							cols),
				   psprintf("Create an index on (%s) (with CREATE INDEX CONCURRENTLY on a table in use).",
							cols));
	grd_ddl_note_columns(columns);
}

/* Whether relid is a table whose foreign keys the rule judges. */
static bool
judged_table(Oid relid)
{
	if (!grd_ddl_is_table(relid) || !grd_ddl_may_change(relid, false) ||
		get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		return false;
	return grd_ddl_script == NULL ||
		!list_member_oid(grd_ddl_script->dropped, relid);
}

/*
 * ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY: rule fk_index, against
 * the table's indexes and those the script created.
 */
void
grd_ddl_check_foreign_key(Oid relid, Constraint *con)
{
	bool		known;

	if (con->fk_attrs == NIL || !judged_table(relid))
		return;
	if (script_index_leads(relid, con->fk_attrs) ||
		catalog_index_leads(relid, con->fk_attrs, &known) || !known)
		return;
	report_foreign_key(relid, get_rel_name(relid), con->fk_attrs,
					   con->pktable);
}

/*
 * The foreign key declared inline on a column col, with the indexes that
 * its own inline PRIMARY KEY or UNIQUE constraint builds (indexes: a List
 * of Lists of String); NULL when it has none.
 */
static Constraint *
inline_foreign_key(ColumnDef *col, List **indexes)
{
	Constraint *fk = NULL;
	ListCell   *lc;

	foreach(lc, col->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		if (con->contype == CONSTR_FOREIGN)
			fk = con;
		else if (con->contype == CONSTR_PRIMARY ||
				 con->contype == CONSTR_UNIQUE)
			*indexes = lappend(*indexes,
							   list_make1(makeString(col->colname)));
	}
	return fk;
}

/* Whether one of indexes (Lists of String) leads with columns. */
static bool
declared_index_leads(List *indexes, List *columns)
{
	ListCell   *lc;

	foreach(lc, indexes)
	{
		if (grd_ddl_index_leads_with((List *) lfirst(lc), columns))
			return true;
	}
	return false;
}

/*
 * ALTER TABLE ... ADD COLUMN with an inline REFERENCES: the column is new,
 * so only its own inline PRIMARY KEY or UNIQUE can index it.
 */
void
grd_ddl_check_column_foreign_key(Oid relid, ColumnDef *col)
{
	List	   *indexes = NIL;
	Constraint *fk = inline_foreign_key(col, &indexes);
	List	   *columns;

	if (fk == NULL || !judged_table(relid))
		return;
	columns = list_make1(makeString(col->colname));
	if (!declared_index_leads(indexes, columns))
		report_foreign_key(relid, get_rel_name(relid), columns, fk->pktable);
}

/*
 * CREATE TABLE, in check_migration(): rule fk_index on each foreign key it
 * declares (inline or as a table constraint), against the indexes its
 * PRIMARY KEY and UNIQUE constraints build.  For users who may create a
 * table in the schema.  When the statement runs, PostgreSQL adds its
 * foreign keys by an ALTER TABLE of its own, once the table and those
 * indexes exist, and that ALTER TABLE is judged against the catalog.
 */
void
grd_ddl_check_create_foreign_keys(CreateStmt *stmt)
{
	List	   *indexes = NIL;
	List	   *fks = NIL;		/* pairs: columns, constraint */
	Oid			nspid;
	ListCell   *lc;

	if (!grd_ddl_collecting() ||
		stmt->relation->relpersistence == RELPERSISTENCE_TEMP ||
		stmt->partbound != NULL || OidIsValid(grd_ddl_relid(stmt->relation)))
		return;
	foreach(lc, stmt->tableElts)
	{
		Node	   *elt = (Node *) lfirst(lc);

		if (IsA(elt, TableLikeClause))
			return;				/* its copied indexes are not known */
		if (IsA(elt, ColumnDef))
		{
			ColumnDef  *col = (ColumnDef *) elt;
			Constraint *fk = inline_foreign_key(col, &indexes);

			if (fk != NULL)
				fks = lappend(lappend(fks, list_make1(makeString(col->colname))),
							  fk);
		}
		else if (IsA(elt, Constraint))
		{
			Constraint *con = (Constraint *) elt;

			if (con->contype == CONSTR_FOREIGN && con->fk_attrs != NIL)
				fks = lappend(lappend(fks, con->fk_attrs), con);
			else if ((con->contype == CONSTR_PRIMARY ||
					  con->contype == CONSTR_UNIQUE) && con->keys != NIL)
				indexes = lappend(indexes, con->keys);
		}
	}
	if (fks == NIL)
		return;
	nspid = grd_ddl_creation_namespace(stmt->relation);
	if (!OidIsValid(nspid) || !grd_namespace_may_create(nspid, GetUserId()))
		return;
	for (int i = 0; i < list_length(fks); i += 2)
	{
		List	   *columns = (List *) list_nth(fks, i);
		Constraint *fk = (Constraint *) list_nth(fks, i + 1);

		if (!declared_index_leads(indexes, columns))
			report_foreign_key(InvalidOid, stmt->relation->relname, columns,
							   fk->pktable);
	}
}
