/*-------------------------------------------------------------------------
 *
 * ddl_rules_locks.c
 *		Schema-change rules about transactions: lock_held, a query on a
 *		table while its transaction holds a lock on it that blocks writes,
 *		taken by an earlier statement; transaction_block, a statement
 *		PostgreSQL refuses inside a transaction block (check_migration()
 *		only: at run time PostgreSQL refuses it itself).
 *
 * ALTER TABLE takes its ACCESS EXCLUSIVE lock for milliseconds, but the
 * lock is held until the transaction ends: an UPDATE of the whole table
 * later in the same transaction keeps every reader and writer of the table
 * waiting for as long as it runs.  SHARE and stronger modes count (they
 * block writes; ACCESS EXCLUSIVE blocks reads too); SHARE UPDATE EXCLUSIVE,
 * though stronger than ROW EXCLUSIVE, blocks neither reads nor writes.
 *
 * At run time the rule is checked at the start of a top-level execution,
 * from this backend's own lock table (no shared memory is read beyond
 * what the lock manager's local lookups read); check_migration() judges a
 * script from the locks its earlier statements take (ddl_check.c).
 *
 * Locking: none of its own.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/* A lock mode as the LOCK TABLE statement spells it, with its article. */
static const char *
lock_mode_name(LOCKMODE mode)
{
	switch (mode)
	{
		case ShareLock:
			return "a SHARE";
		case ShareRowExclusiveLock:
			return "a SHARE ROW EXCLUSIVE";
		case ExclusiveLock:
			return "an EXCLUSIVE";
		case AccessExclusiveLock:
			return "an ACCESS EXCLUSIVE";
		default:
			return "a strong";
	}
}

/*
 * The verdict of rule lock_held: a statement doing something ("reading",
 * "writing") to table relid, of pages, while its transaction holds a lock
 * of mode on it.
 */
void
grd_ddl_report_lock_held(Oid relid, BlockNumber pages, LOCKMODE mode,
						 const char *doing)
{
	grd_ddl_report(GRD_RULE_LOCK_HELD, relid, pages,
				   grd_ddl_violates(GRD_RULE_LOCK_HELD,
									psprintf("%s table \"%s\" while the transaction holds %s lock on it",
											 doing, get_rel_name(relid),
											 lock_mode_name(mode))),
				   psprintf("The lock, taken by an earlier statement of the transaction, blocks %s table \"%s\" (%s) until the transaction ends, so they wait for this whole statement too.",
							mode == AccessExclusiveLock ?
							"every query on" : "every write to",
							grd_ddl_relation_name(relid),
							grd_ddl_pages_pretty(pages)),
				   "Commit the schema change first, then run this statement in a transaction of its own (in batches, for a large update).");
}

/*
 * The verdict of rule transaction_block on a statement (command, its tag)
 * that PostgreSQL refuses inside a transaction block.
 */
void
grd_ddl_report_in_block(const char *command)
{
	grd_ddl_report(GRD_RULE_TRANSACTION_BLOCK, InvalidOid, 0,
				   grd_ddl_violates(GRD_RULE_TRANSACTION_BLOCK,
									psprintf("running %s inside a transaction block",
											 command)),
				   psprintf("PostgreSQL refuses %s inside a transaction block (BEGIN ... COMMIT), whatever the policy's level: the statement, and the rest of the block, would fail.",
							command),
				   "Run it on its own, outside the transaction block.");
}

/*
 * The strongest lock that blocks writes which this transaction holds on
 * relid, or NoLock.
 */
static LOCKMODE
strong_lock_held(Oid relid)
{
	for (LOCKMODE mode = AccessExclusiveLock; mode >= ShareLock; mode--)
	{
		if (CheckRelationOidLockedByMe(relid, mode, false))
			return mode;
	}
	return NoLock;
}

/*
 * Rule lock_held, at the start of an execution: each table the statement
 * reads or writes on which the transaction holds a lock that blocks
 * writes.  The statement's own locks are ROW EXCLUSIVE at most (ROW SHARE
 * for SELECT FOR UPDATE), so a stronger one is an earlier statement's.
 */
void
grd_ddl_check_lock_held(PlannedStmt *pstmt)
{
	List	   *seen = NIL;
	ListCell   *lc;
	const char *doing = pstmt->commandType == CMD_SELECT ?
		"reading" : "writing";

	foreach(lc, pstmt->rtable)
	{
		RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
		LOCKMODE	mode;
		BlockNumber pages;

		if (rte->rtekind != RTE_RELATION ||
			(rte->relkind != RELKIND_RELATION &&
			 rte->relkind != RELKIND_PARTITIONED_TABLE &&
			 rte->relkind != RELKIND_MATVIEW) ||
			list_member_oid(seen, rte->relid))
			continue;
		seen = lappend_oid(seen, rte->relid);
		mode = strong_lock_held(rte->relid);
		if (mode == NoLock)
			continue;
		pages = grd_ddl_table_pages(rte->relid, false);
		if (pages > 0)
			grd_ddl_report_lock_held(rte->relid, pages, mode, doing);
	}
	list_free(seen);
}
