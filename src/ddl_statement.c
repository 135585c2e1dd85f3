/*-------------------------------------------------------------------------
 *
 * ddl_statement.c
 *		What a utility statement is: DDL or not, the relation it names, and
 *		whether it runs CONCURRENTLY.
 *
 * The schema-change policy (ddl_policy.c), the lock guard (ddl_lock.c) and
 * the DDL audit (ddl_audit.c) all need to know what kind of statement they
 * are looking at; this file is the one place that answers, so that they
 * never disagree.  What is DDL is what PostgreSQL itself calls DDL: the
 * classification behind log_statement = ddl (GetCommandLogLevel); hooks.c
 * asks once per statement and hands the answer on.
 *
 * It is also where a single classification of every utility statement
 * (which relation it targets, in which lock mode, whether it blocks) is
 * meant to live, rather than a switch over node tags in each of its users.
 *
 * Nothing here takes a lock or changes anything: relations are looked up
 * without a lock, as they are named now.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"

#include "ddl_statement.h"

/*
 * Whether a utility statement is DDL, as log_statement = ddl decides.
 */
bool
grd_ddl_is_ddl(Node *parsetree)
{
	return GetCommandLogLevel(parsetree) == LOGSTMT_DDL;
}

/*
 * The CONCURRENTLY forms of CREATE INDEX, DROP INDEX, REINDEX and DETACH
 * PARTITION, which wait without blocking anyone.
 */
bool
grd_ddl_is_concurrent(Node *parsetree)
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

/* The relation a name designates now, looked up without a lock. */
Oid
grd_ddl_relid(RangeVar *rv)
{
	return rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
}

/* A relation's schema-qualified name, for messages. */
char *
grd_ddl_relation_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp = get_namespace_name(get_rel_namespace(relid));

	if (rel == NULL || nsp == NULL)
		return psprintf("%u", relid);
	return psprintf("%s.%s", nsp, rel);
}
