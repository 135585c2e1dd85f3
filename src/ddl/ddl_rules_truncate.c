/*-------------------------------------------------------------------------
 *
 * ddl_rules_truncate.c
 *		Schema-change rule truncate: TRUNCATE of a table with data, and
 *		TRUNCATE ... CASCADE of any table.
 *
 * TRUNCATE is quick, but it empties the whole table at once under an
 * ACCESS EXCLUSIVE lock (which standbys replay, cancelling or waiting for
 * their queries on it), with no way back once committed, and it is not
 * MVCC-safe: a transaction whose snapshot predates it sees the table
 * empty.  A table that holds less than guardrails.ddl_policy_min_size, a
 * temporary one and one created in the transaction are exempt, as for the
 * other rules.  CASCADE also empties every table that references the ones
 * named by a foreign key, and the tables that reference those, which the
 * statement does not name: that is reported whatever the size of the table
 * named (squawk's ban-truncate-cascade).
 *
 * The policy applies to the tables the user may truncate (the TRUNCATE
 * privilege, not ownership): for any other, PostgreSQL raises its own
 * permission error.
 *
 * Locking: none of its own; sizes are read as grd_ddl_relation_pages()
 * reads them, never waiting for a lock.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_inherits.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * Whether the current user may truncate relid; false for a relation
 * dropped since its name was looked up (without a lock).
 */
static bool
may_truncate(Oid relid)
{
	bool		is_missing = false;

	return pg_class_aclcheck_ext(relid, GetUserId(), ACL_TRUNCATE,
								 &is_missing) == ACLCHECK_OK && !is_missing;
}

/*
 * The data pages TRUNCATE would empty in relid, with its partitions, or
 * with its inheritance children when the statement does not say ONLY (inh):
 * those of the children the user may truncate, and none that is exempt
 * (temporary, or created in this transaction; see grd_ddl_relation_pages).
 */
static BlockNumber
truncated_pages(Oid relid, bool inh)
{
	bool		exempt;
	BlockNumber pages = grd_ddl_relation_pages(relid, &exempt);
	List	   *rels;
	ListCell   *lc;

	if (exempt)
		return 0;
	if (!inh || !has_subclass(relid))
		return pages;
	rels = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, rels)
	{
		Oid			child = lfirst_oid(lc);
		BlockNumber childpages;

		if (child == relid || !may_truncate(child))
			continue;
		childpages = grd_ddl_relation_pages(child, &exempt);
		if (!exempt)
			pages += childpages;
	}
	return pages;
}

/*
 * TRUNCATE: rule truncate, for each table named that holds data, and for
 * CASCADE once, naming the first table the user may truncate.
 */
void
grd_ddl_check_truncate(TruncateStmt *stmt)
{
	Oid			cascaded = InvalidOid;
	BlockNumber cascaded_pages = 0;
	ListCell   *lc;

	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid = grd_ddl_relid(rv);
		BlockNumber pages;

		if (!OidIsValid(relid) || !grd_ddl_is_table(relid) ||
			!may_truncate(relid))
			continue;
		/* a relation the script dropped: what bears its name now is new */
		if (grd_ddl_script != NULL &&
			list_member_oid(grd_ddl_script->dropped, relid))
			continue;
		pages = truncated_pages(relid, rv->inh);
		if (!OidIsValid(cascaded))
		{
			cascaded = relid;
			cascaded_pages = pages;
		}
		if (pages == 0 || grd_ddl_is_small(pages))
			continue;
		grd_ddl_report(GRD_RULE_TRUNCATE, relid, pages,
					   grd_ddl_violates(GRD_RULE_TRUNCATE,
										psprintf("truncating table \"%s\"",
												 get_rel_name(relid))),
					   psprintf("TRUNCATE would remove all %s of table \"%s\" at once under an ACCESS EXCLUSIVE lock, which standbys replay too; it cannot be undone once committed, and transactions whose snapshots predate it would see the table empty.",
								grd_ddl_pages_pretty(pages),
								grd_ddl_relation_name(relid)),
					   "Delete the rows in batches; if the whole table must go at once, make sure no client uses it, then truncate it with the rule set to off.");
	}

	if (stmt->behavior != DROP_CASCADE || !OidIsValid(cascaded))
		return;
	grd_ddl_report(GRD_RULE_TRUNCATE, cascaded, cascaded_pages,
				   grd_ddl_violates(GRD_RULE_TRUNCATE,
									psprintf("truncating table \"%s\" with CASCADE",
											 get_rel_name(cascaded))),
				   psprintf("TRUNCATE ... CASCADE also empties every table that references table \"%s\" by a foreign key, and every table that references those, whatever they hold and although the statement does not name them.",
							grd_ddl_relation_name(cascaded)),
				   "Name every table to empty, without CASCADE: a foreign key from a table not named then makes the statement fail instead of emptying that table.");
}
