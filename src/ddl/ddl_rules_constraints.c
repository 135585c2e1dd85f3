/*-------------------------------------------------------------------------
 *
 * ddl_rules_constraints.c
 *		Schema-change rules about constraints: constraint_not_valid (a
 *		check or foreign key validated under a lock that blocks writes, on
 *		a table or on a domain), validate_separately, the columns a
 *		primary key over an existing index makes NOT NULL; and the proofs
 *		the catalog offers (valid check constraints), computed without
 *		running anyone's code.
 *
 * Locking: none of its own; the catalog is read through the syscache.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/* check_functions_in_node() callback: a function that is not built in. */
static bool
is_user_function(Oid funcid, void *context)
{
	return funcid >= FirstNormalObjectId;
}

/* Walker of grd_expr_calls_user_function(). */
static bool
user_function_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, is_user_function, context))
		return true;
	return expression_tree_walker(node, user_function_walker, context);
}

/*
 * Whether an analysed expression calls a function (or an operator's, a
 * cast's or a type's I/O function) that is not built in.  Constant folding
 * (eval_const_expressions, expression_planner) runs the immutable
 * functions whose arguments are constants, and inlines SQL functions into
 * such calls: on an expression that calls anyone's own function, it would
 * run that role's code as the current user, in check_migration() (which
 * promises to execute nothing, and which a superuser may call on a script
 * naming any role's objects) and before the statement itself runs.  Such
 * an expression is not folded.
 */
bool
grd_expr_calls_user_function(Node *expr)
{
	return user_function_walker(expr, NULL);
}

/*
 * The valid check constraints of rel, as one implicit-AND list of quals,
 * simplified and canonicalized as PostgreSQL does before it uses them as
 * proofs (ConstraintImpliedByRelConstraint in tablecmds.c), except that no
 * one's code runs (see grd_expr_calls_user_function).
 */
List *
grd_ddl_valid_checks(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	List	   *checks = NIL;

	if (constr == NULL)
		return NIL;
	for (int i = 0; i < constr->num_check; i++)
	{
		Node	   *expr;

		if (!constr->check[i].ccvalid || constr->check[i].ccbin == NULL)
			continue;
		expr = stringToNode(constr->check[i].ccbin);
		if (!grd_expr_calls_user_function(expr))
			expr = eval_const_expressions(NULL, expr);
		expr = (Node *) canonicalize_qual((Expr *) expr, true);
		checks = list_concat(checks, make_ands_implicit((Expr *) expr));
	}
	return checks;
}

/*
 * ADD CONSTRAINT ... PRIMARY KEY USING INDEX: the index is built already,
 * but its columns become NOT NULL (rule set_not_null).
 */
static void
check_primary_key_columns(Oid relid, BlockNumber pages, Constraint *con)
{
	Oid			indexid;
	HeapTuple	tuple;
	Form_pg_index index;
	ListCell   *lc;

	/* an index that the script being checked created is not in the catalog */
	if (grd_ddl_script != NULL)
	{
		foreach(lc, grd_ddl_script->indexes)
		{
			GrdScriptIndex *scripted = (GrdScriptIndex *) lfirst(lc);
			ListCell   *lc2;

			if (scripted->relid != relid ||
				strcmp(scripted->name, con->indexname) != 0)
				continue;
			foreach(lc2, scripted->colnames)
			{
				if (lfirst(lc2) != NULL)
					grd_ddl_check_set_not_null(relid, pages,
											   strVal(lfirst(lc2)),
											   " for a primary key");
			}
			return;
		}
	}

	indexid = get_relname_relid(con->indexname, get_rel_namespace(relid));
	if (!OidIsValid(indexid) ||
		(grd_ddl_script != NULL &&
		 list_member_oid(grd_ddl_script->dropped, indexid)))
		return;
	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tuple))
		return;
	index = (Form_pg_index) GETSTRUCT(tuple);
	for (int i = 0; i < index->indnkeyatts; i++)
	{
		char	   *colname;

		if (index->indkey.values[i] <= 0)
			continue;
		colname = get_attname(relid, index->indkey.values[i], true);
		if (colname != NULL)
			grd_ddl_check_set_not_null(relid, pages, colname, " for a primary key");
	}
	ReleaseSysCache(tuple);
}

/*
 * Rule validate_separately: VALIDATE CONSTRAINT of a constraint this
 * transaction added.  Its ADD took a lock that blocks writes (ACCESS
 * EXCLUSIVE for a check, SHARE ROW EXCLUSIVE for a foreign key) and holds
 * it until the commit, so the validating scan, meant to run while writes
 * go on, runs with them blocked.
 */
void
grd_ddl_check_validate(Oid relid, BlockNumber pages, const char *conname)
{
	Oid			conid = get_relation_constraint_oid(relid, conname, true);
	HeapTuple	tuple;
	bool		added_now;

	if (!OidIsValid(conid))
		return;
	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conid));
	if (!HeapTupleIsValid(tuple))
		return;
	added_now = !((Form_pg_constraint) GETSTRUCT(tuple))->convalidated &&
		TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data));
	ReleaseSysCache(tuple);
	if (added_now)
		grd_ddl_report_validate(relid, pages, conname);
}

/*
 * The verdict of rule validate_separately on constraint conname of table
 * relid.
 */
void
grd_ddl_report_validate(Oid relid, BlockNumber pages, const char *conname)
{
	grd_ddl_report(GRD_RULE_VALIDATE_SEPARATELY, relid, pages,
				   grd_ddl_violates(GRD_RULE_VALIDATE_SEPARATELY,
									psprintf("validating constraint \"%s\" in the transaction that added it",
											 conname)),
				   psprintf("The transaction still holds the lock its ADD CONSTRAINT took on table \"%s\", so the scan of all %s blocks writes to it.",
							grd_ddl_relation_name(relid), grd_ddl_pages_pretty(pages)),
				   "Commit after ADD CONSTRAINT ... NOT VALID, then run VALIDATE CONSTRAINT in a transaction of its own.");
}

/*
 * ALTER DOMAIN ... ADD CONSTRAINT ... CHECK without NOT VALID (rule
 * constraint_not_valid): PostgreSQL checks every stored value of the
 * domain, in every table with a column of it (or of a domain over it),
 * each under a lock that blocks writes, as ALTER TABLE's CHECK does.  For
 * the owner of the domain, who may run it.
 */
void
grd_ddl_check_alter_domain(AlterDomainStmt *stmt)
{
	Constraint *con = (Constraint *) stmt->def;
	Oid			typid;
	BlockNumber pages = 0;
	List	   *relids = NIL;
	ListCell   *lc;

	if (stmt->subtype != 'C' || con == NULL || !IsA(con, Constraint) ||
		con->contype != CONSTR_CHECK)
		return;
	typid = grd_ddl_checked_domain(stmt);
	if (!OidIsValid(typid))
		return;
	grd_ddl_domain_tables(typid, &relids);
	foreach(lc, relids)
	{
		bool		exempt;
		BlockNumber relpages = grd_ddl_relation_pages(lfirst_oid(lc), &exempt);

		if (!exempt)
			pages += relpages;
	}
	if (pages == 0 ||
		grd_ddl_is_small(pages))
		return;
	grd_ddl_report(GRD_RULE_CONSTRAINT_NOT_VALID, InvalidOid, pages,
				   grd_ddl_violates(GRD_RULE_CONSTRAINT_NOT_VALID,
									psprintf("adding a CHECK constraint to domain \"%s\" without NOT VALID",
											 format_type_be(typid))),
				   psprintf("Validating it would scan the tables that store values of domain \"%s\" (%s in all) while writes to them are blocked.",
							format_type_be(typid), grd_ddl_pages_pretty(pages)),
				   "Add the constraint with NOT VALID, then validate it with ALTER DOMAIN ... VALIDATE CONSTRAINT in another transaction.");
}


/*
 * ALTER TABLE ... ADD CONSTRAINT: rules constraint_not_valid (a foreign key
 * or check validated under the ALTER's lock), set_not_null (NOT NULL, and
 * the columns of a primary key over an existing index) and
 * index_concurrently (a primary key, unique or exclusion constraint that
 * builds its index).  relid holds pages, which is not 0.
 */
void
grd_ddl_check_add_constraint(Oid relid, BlockNumber pages, Constraint *con)
{
	switch (con->contype)
	{
		case CONSTR_FOREIGN:
		case CONSTR_CHECK:
			if (con->skip_validation)
				break;
			grd_ddl_report(GRD_RULE_CONSTRAINT_NOT_VALID, relid, pages,
						   grd_ddl_violates(GRD_RULE_CONSTRAINT_NOT_VALID,
											psprintf("adding a %s constraint to table \"%s\" without NOT VALID",
													 con->contype == CONSTR_FOREIGN ? "FOREIGN KEY" : "CHECK",
													 get_rel_name(relid))),
						   psprintf("Validating it would scan all %s of table \"%s\" while writes to it are blocked.",
									grd_ddl_pages_pretty(pages), grd_ddl_relation_name(relid)),
						   "Add the constraint with NOT VALID, then validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes.");
			break;
		case CONSTR_NOTNULL:
			/* ADD CONSTRAINT ... NOT NULL col (18+) */
			if (!con->skip_validation && con->keys != NIL)
				grd_ddl_check_set_not_null(relid, pages,
										   strVal(linitial(con->keys)), "");
			break;
		case CONSTR_PRIMARY:
		case CONSTR_UNIQUE:
		case CONSTR_EXCLUSION:
			if (con->indexname == NULL)
				grd_ddl_report_index_build(relid, pages,
										   "Build a unique index with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ADD CONSTRAINT ... USING INDEX.");
			else if (con->contype == CONSTR_PRIMARY)
				check_primary_key_columns(relid, pages, con);
			break;
		default:
			break;
	}
}
