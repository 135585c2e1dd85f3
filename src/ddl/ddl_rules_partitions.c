/*-------------------------------------------------------------------------
 *
 * ddl_rules_partitions.c
 *		Schema-change rules about partitions: attach_partition (a scan for
 *		rows outside the bound, unless valid constraints prove it) and
 *		detach_concurrently.
 *
 * Locking: none of its own.  Both tables of an ATTACH are read under ACCESS
 * SHARE locks had at once or not at all (grd_ddl_relation_open_now()).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_node.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * DETACH PARTITION without CONCURRENTLY (rule detach_concurrently): an
 * ACCESS EXCLUSIVE lock on the partitioned table, which stops every query
 * on it and on all its partitions.  A table with a default partition
 * cannot detach concurrently: nothing safer exists, and nothing is said.
 */
void
grd_ddl_check_detach(Oid relid, BlockNumber pages, PartitionCmd *cmd)
{
	if (cmd->concurrent || OidIsValid(get_default_partition_oid(relid)))
		return;
	grd_ddl_report(GRD_RULE_DETACH_CONCURRENTLY, relid, pages,
				   grd_ddl_violates(GRD_RULE_DETACH_CONCURRENTLY,
									psprintf("detaching partition \"%s\" from table \"%s\" without CONCURRENTLY",
											 cmd->name->relname, get_rel_name(relid))),
				   psprintf("It takes an ACCESS EXCLUSIVE lock on table \"%s\" (%s with its partitions), which blocks every query on it until the transaction ends.",
							grd_ddl_relation_name(relid), grd_ddl_pages_pretty(pages)),
				   "Detach it with ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, outside a transaction block.");
}

/*
 * Whether a partition bound, as written, names only constants
 * (MINVALUE and MAXVALUE are column references): transforming anything
 * else would evaluate it, and with it someone's function, before the
 * statement runs, or in check_migration(), which executes nothing.
 */
static bool
bound_is_constant(PartitionBoundSpec *bound)
{
	List	   *datums = list_concat(list_concat(list_copy(bound->listdatums),
												 bound->lowerdatums),
									 bound->upperdatums);
	ListCell   *lc;

	foreach(lc, datums)
	{
		Node	   *datum = lfirst(lc);

		if (!IsA(datum, A_Const) && !IsA(datum, ColumnRef))
			return false;
	}
	return true;
}

/*
 * Whether the valid check constraints and NOT NULL columns of table
 * childid prove that its rows lie within the bound it is attached with to
 * partitioned table parentid, so that PostgreSQL skips the scan
 * (QueuePartitionConstraintValidation in tablecmds.c builds the same
 * constraint and asks the same question).  False when it cannot be known
 * without running anyone's code: a bound that is not a constant, a
 * partition key of a domain type (whose checks would run on the bound).
 */
static bool
attach_bound_proven(Oid parentid, Oid childid, PartitionBoundSpec *bound)
{
	Relation	parent;
	Relation	child;
	PartitionKey key;
	ParseState *pstate;
	List	   *constraint;
	List	   *proofs;
	bool		proven = false;

	if (!bound_is_constant(bound))
		return false;

	/*
	 * Read both under ACCESS SHARE had at once, as every relation the policy
	 * reads (see relation_pages): a relation another session holds is taken
	 * as unproven.
	 */
	parent = grd_ddl_relation_open_now(parentid);
	if (parent == NULL)
		return false;
	child = grd_ddl_relation_open_now(childid);
	if (child == NULL)
	{
		grd_ddl_relation_close_now(parent);
		return false;
	}
	key = RelationGetPartitionKey(parent);
	for (int i = 0; key != NULL && i < key->partnatts; i++)
	{
		if (get_typtype(key->parttypid[i]) == TYPTYPE_DOMAIN)
			key = NULL;
	}
	if (key != NULL)
	{
		pstate = make_parsestate(NULL);
		bound = transformPartitionBound(pstate, parent, copyObject(bound));
		free_parsestate(pstate);
		constraint = list_concat(get_qual_from_partbound(parent, bound),
								 RelationGetPartitionQual(parent));
		if (constraint == NIL)
			proven = true;
		else
		{
			if (!grd_expr_calls_user_function((Node *) constraint))
				constraint = (List *) eval_const_expressions(NULL,
															 (Node *) constraint);
			constraint = list_make1(make_ands_explicit(constraint));
			constraint = map_partition_varattnos(constraint, 1, child, parent);

			proofs = grd_ddl_valid_checks(child);
			for (int i = 1; i <= RelationGetDescr(child)->natts; i++)
			{
				Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(child),
													   i - 1);
				NullTest   *test;

				if (!attr->attnotnull || attr->attisdropped)
					continue;
				test = makeNode(NullTest);
				test->arg = (Expr *) makeVar(1, i, attr->atttypid,
											 attr->atttypmod,
											 attr->attcollation, 0);
				test->nulltesttype = IS_NOT_NULL;
				test->argisrow = false;
				test->location = -1;
				proofs = lappend(proofs, test);
			}
			proven = proofs != NIL &&
				predicate_implied_by(constraint, proofs, true);
		}
	}
	grd_ddl_relation_close_now(child);
	grd_ddl_relation_close_now(parent);
	return proven;
}

/*
 * ATTACH PARTITION (rule attach_partition): PostgreSQL scans the table
 * being attached (each of its partitions, for a partitioned one) for rows
 * outside the bound, under ACCESS EXCLUSIVE, unless its valid check
 * constraints already prove the bound.  Called whatever the size of the
 * partitioned table, which may have no data yet.
 */
void
grd_ddl_check_attach(Oid parentid, PartitionCmd *cmd)
{
	Oid			childid = grd_ddl_relid(cmd->name);
	BlockNumber pages;

	if (cmd->bound == NULL ||
		get_rel_relkind(parentid) != RELKIND_PARTITIONED_TABLE ||
		!grd_ddl_may_change(parentid, false))
		return;
	pages = grd_ddl_table_pages(childid, false);
	if (pages == 0 || attach_bound_proven(parentid, childid, cmd->bound))
		return;
	grd_ddl_report(GRD_RULE_ATTACH_PARTITION, childid, pages,
				   grd_ddl_violates(GRD_RULE_ATTACH_PARTITION,
									psprintf("attaching table \"%s\" as a partition of table \"%s\"",
											 get_rel_name(childid), get_rel_name(parentid))),
				   psprintf("PostgreSQL would scan all %s of table \"%s\" for rows outside the partition bound under an ACCESS EXCLUSIVE lock, since no valid check constraint proves the bound.",
							grd_ddl_pages_pretty(pages), grd_ddl_relation_name(childid)),
				   "Add a CHECK constraint that matches the partition bound with NOT VALID, validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes, then attach the table, which no longer scans it; drop the constraint afterwards.");
}
