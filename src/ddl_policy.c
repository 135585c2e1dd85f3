/*-------------------------------------------------------------------------
 *
 * ddl_policy.c
 *		DDL that cannot freeze a table: every DDL statement runs with a
 *		lock_timeout.
 *
 * A schema change waits for its lock behind any long-running query, and
 * while it waits every new query on the table queues behind it.  So every
 * DDL statement, at any nesting level, runs with lock_timeout set to the
 * smaller of the session's own (when set) and guardrails.ddl_lock_timeout;
 * the session's value is back in force as soon as the statement ends.
 *
 * What is DDL is what PostgreSQL itself calls DDL: the classification
 * behind log_statement = ddl (GetCommandLogLevel).  This file is the one
 * place that decides it, for the lock timeout and for anything else that
 * needs to know.
 *
 * The CONCURRENTLY forms of CREATE INDEX, DROP INDEX, REINDEX and DETACH
 * PARTITION are left alone: the lock they wait for blocks neither reads
 * nor writes, and they then wait for older transactions to end, a wait a
 * lock timeout would turn into a failed build and an invalid index.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/guc.h"

#include "compat.h"
#include "ddl_policy.h"
#include "pg_guardrails.h"

/*
 * Whether a utility statement is DDL, as log_statement = ddl decides.
 */
bool
grd_ddl_is_ddl(Node *parsetree)
{
	return GetCommandLogLevel(parsetree) == LOGSTMT_DDL;
}

/* The CONCURRENTLY forms, which wait without blocking anyone. */
static bool
is_concurrent(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_IndexStmt:
			return ((IndexStmt *) parsetree)->concurrent;
		case T_DropStmt:
			return ((DropStmt *) parsetree)->concurrent;
		case T_ReindexStmt:
			foreach(lc, ((ReindexStmt *) parsetree)->params)
			{
				DefElem    *opt = (DefElem *) lfirst(lc);

				if (strcmp(opt->defname, "concurrently") == 0)
					return defGetBoolean(opt);
			}
			return false;
		case T_AlterTableStmt:
			foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			{
				AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

				if (cmd->subtype == AT_DetachPartition &&
					((PartitionCmd *) cmd->def)->concurrent)
					return true;
			}
			return false;
		default:
			return false;
	}
}

/*
 * Before a utility statement: if it is DDL, set lock_timeout for its
 * duration, in a GUC nesting level of its own, recorded in *saved for
 * grd_ddl_lock_timeout_end().  On an error, the (sub)transaction abort
 * restores the session's value.
 */
void
grd_ddl_lock_timeout_begin(Node *parsetree, GrdDdlTimeout *saved)
{
	char		value[32];

	saved->guc_nest_level = -1;
	if (grd_ddl_lock_timeout <= 0 || !grd_ddl_is_ddl(parsetree) ||
		is_concurrent(parsetree))
		return;
	if (LockTimeout > 0 && LockTimeout <= grd_ddl_lock_timeout)
		return;					/* the session's is already as strict */

	saved->guc_nest_level = NewGUCNestLevel();
	saved->lxid = GRD_MY_LXID;
	snprintf(value, sizeof(value), "%d", grd_ddl_lock_timeout);
	(void) set_config_option("lock_timeout", value, PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * After the statement succeeded: the session's lock_timeout again.  A
 * statement that committed its transaction and started others (CLUSTER of
 * every table, say) has had its settings restored by that commit, which
 * also closed our nesting level: there is nothing left to undo.
 */
void
grd_ddl_lock_timeout_end(GrdDdlTimeout *saved)
{
	if (saved->guc_nest_level >= 0 && GRD_MY_LXID == saved->lxid)
		AtEOXact_GUC(true, saved->guc_nest_level);
}
