/*-------------------------------------------------------------------------
 *
 * ddl_rules_columns.c
 *		Schema-change rules about columns: new_column (ADD COLUMN that
 *		rewrites the table or leaves its rows without a value) and
 *		set_not_null (NOT NULL that PostgreSQL must prove by a scan).
 *
 * Locking: none of its own.  The constraints that prove a column not null
 * are read under an ACCESS SHARE lock had at once or not at all
 * (grd_ddl_relation_open_now()); a table another session holds proves
 * nothing.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_attribute.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/* A column default that must be computed for every existing row. */
static bool
default_is_volatile(Node *raw_default)
{
	ParseState *pstate = make_parsestate(NULL);
	Node	   *expr;

	expr = transformExpr(pstate, copyObject(raw_default),
						 EXPR_KIND_COLUMN_DEFAULT);
	free_parsestate(pstate);
	return contain_volatile_functions(expr);
}

/* serial, bigserial and the like: a default of nextval(). */
static bool
is_serial(TypeName *typeName)
{
	char	   *name;

	if (typeName == NULL || list_length(typeName->names) != 1 ||
		typeName->pct_type)
		return false;
	name = strVal(linitial(typeName->names));
	return strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0 ||
		strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0 ||
		strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0;
}

/*
 * A constraint declared inline in ADD COLUMN (CHECK, REFERENCES, UNIQUE,
 * PRIMARY KEY): PostgreSQL validates it, or builds its index, under the
 * ACCESS EXCLUSIVE lock of the ALTER TABLE; inline, it cannot be NOT VALID.
 */
static void
check_inline_constraint(Oid relid, BlockNumber pages, ColumnDef *col,
						Constraint *con)
{
	const char *kind;

	switch (con->contype)
	{
		case CONSTR_CHECK:
			kind = "CHECK";
			break;
		case CONSTR_FOREIGN:
			kind = "REFERENCES";
			break;
		case CONSTR_UNIQUE:
		case CONSTR_PRIMARY:
			grd_ddl_report_index_build(relid, pages,
									   "Add the column without the constraint, build a unique index with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ADD CONSTRAINT ... USING INDEX.");
			return;
		default:
			return;
	}
	grd_ddl_report(GRD_RULE_CONSTRAINT_NOT_VALID, relid, pages,
				   grd_ddl_violates(GRD_RULE_CONSTRAINT_NOT_VALID,
									psprintf("adding column \"%s\" with an inline %s constraint",
											 col->colname, kind)),
				   psprintf("Validating it would scan all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
							grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid)),
				   "Add the column without the constraint, then add the constraint with NOT VALID and validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes.");
}

/* Rule new_column, for ALTER TABLE ... ADD COLUMN. */
void
grd_ddl_check_new_column(Oid relid, BlockNumber pages, ColumnDef *col)
{
	bool		not_null = col->is_not_null;
	bool		has_default = false;
	const char *per_row = NULL; /* why its value is computed per row */
	ListCell   *lc;

	if (is_serial(col->typeName))
		per_row = psprintf("of type %s",
						   strVal(linitial(col->typeName->names)));

	foreach(lc, col->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		switch (con->contype)
		{
			case CONSTR_NOTNULL:
			case CONSTR_PRIMARY:
				not_null = true;
				break;
			case CONSTR_DEFAULT:
				has_default = true;
				if (con->raw_expr && default_is_volatile(con->raw_expr))
					per_row = "with a volatile default";
				break;
			case CONSTR_IDENTITY:
				per_row = "as an identity column";
				break;
			case CONSTR_GENERATED:
				per_row = "as a stored generated column";
				break;
			default:
				break;
		}
	}

	if (per_row != NULL)
	{
		grd_ddl_rewrite_reported = relid;
		grd_ddl_report(GRD_RULE_NEW_COLUMN, relid, pages,
					   grd_ddl_violates(GRD_RULE_NEW_COLUMN,
										psprintf("adding column \"%s\" %s",
												 col->colname, per_row)),
					   psprintf("Its value would be computed for every row, rewriting all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
								grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid)),
					   "Add the column without a default or with a constant one, then fill it in batches.");
	}
	else if (not_null && !has_default)
		grd_ddl_report(GRD_RULE_NEW_COLUMN, relid, pages,
					   grd_ddl_violates(GRD_RULE_NEW_COLUMN,
										psprintf("adding column \"%s\" as NOT NULL without a default",
												 col->colname)),
					   psprintf("Table \"%s\" holds %s of existing rows, which would have no value for it.",
								grd_ddl_relation_name(relid), grd_ddl_pages_pretty(pages)),
					   "Add the column as nullable, backfill it in batches, then add a NOT VALID check constraint and validate it.");

	foreach(lc, col->constraints)
		check_inline_constraint(relid, pages, col,
								lfirst_node(Constraint, lc));
}

/*
 * Whether column attnum of rel is known to hold no NULL without a scan:
 * it is NOT NULL already (SET NOT NULL does nothing), or a valid check
 * constraint implies "col IS NOT NULL", the proof PostgreSQL itself looks
 * for before it scans (NotNullImpliedByRelConstraints in tablecmds.c).
 */
static bool
not_null_proven(Relation rel, AttrNumber attnum)
{
	Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	NullTest   *test;
	List	   *checks;

	if (attr->attnotnull)
		return true;
	checks = grd_ddl_valid_checks(rel);
	if (checks == NIL)
		return false;
	test = makeNode(NullTest);
	test->arg = (Expr *) makeVar(1, attnum, attr->atttypid, attr->atttypmod,
								 attr->attcollation, 0);
	test->nulltesttype = IS_NOT_NULL;
	test->argisrow = false;
	test->location = -1;
	return predicate_implied_by(list_make1(test), checks, false);
}

/*
 * Rule set_not_null: column colname of table relid is about to become NOT
 * NULL (SET NOT NULL, ADD CONSTRAINT ... NOT NULL, or a primary key over
 * it).  PostgreSQL then scans the whole table under ACCESS EXCLUSIVE,
 * unless the column is proven not null already.
 */
void
grd_ddl_check_set_not_null(Oid relid, BlockNumber pages, const char *colname,
						   const char *how)
{
	Relation	rel;
	AttrNumber	attnum;
	bool		proven = false;

	/*
	 * A column that the script being checked added is not in the catalog, or
	 * stands for one the script dropped: it holds NULLs unless the script
	 * proves otherwise.  A column the script dropped is PostgreSQL's error.
	 */
	if (grd_ddl_script != NULL &&
		grd_ddl_script_has_column(grd_ddl_script->added_columns, relid,
								  colname))
		goto script_proof;
	if (grd_ddl_script != NULL &&
		grd_ddl_script_has_column(grd_ddl_script->dropped_columns, relid,
								  colname))
		return;
	attnum = get_attnum(relid, colname);
	if (attnum <= 0)
		return;					/* PostgreSQL's error, or a system column */

	/*
	 * The constraints are read from the relcache entry, under a lock had at
	 * once (grd_ddl_relation_open_now()).  When another session holds or
	 * awaits ACCESS EXCLUSIVE on the table, nothing proves the column: a lock
	 * anyone may queue must not open a way around the rule.
	 */
	rel = grd_ddl_relation_open_now(relid);
	if (rel != NULL)
	{
		proven = not_null_proven(rel, attnum);
		grd_ddl_relation_close_now(rel);
	}

script_proof:
	if (grd_ddl_script != NULL &&
		grd_ddl_script_has_column(grd_ddl_script->proven, relid, colname))
		proven = true;
	if (proven)
		return;
	grd_ddl_report(GRD_RULE_SET_NOT_NULL, relid, pages,
				   grd_ddl_violates(GRD_RULE_SET_NOT_NULL,
									psprintf("making column \"%s\" of table \"%s\" NOT NULL%s",
											 colname, get_rel_name(relid), how)),
				   psprintf("PostgreSQL would scan all %s of table \"%s\" for NULLs under an ACCESS EXCLUSIVE lock, since no valid check constraint proves the column not null.",
							grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid)),
				   psprintf("Add CHECK (%s IS NOT NULL) NOT VALID, validate it with ALTER TABLE ... VALIDATE CONSTRAINT in another transaction, then set NOT NULL, which no longer scans (from PostgreSQL 18, ADD CONSTRAINT ... NOT NULL %s NOT VALID does the same).",
							quote_identifier(colname), quote_identifier(colname)));
}
