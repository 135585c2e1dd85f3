/*-------------------------------------------------------------------------
 *
 * ddl_statement.h
 *		What a utility statement is: DDL or not, its relation, CONCURRENTLY
 *		(ddl_statement.c).  Used by hooks.c, the policy, the lock guard and
 *		the audit.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_STATEMENT_H
#define GRD_DDL_STATEMENT_H

#include "nodes/primnodes.h"

extern bool grd_ddl_is_ddl(Node *parsetree);
extern bool grd_ddl_is_concurrent(Node *parsetree);
extern Oid	grd_ddl_relid(RangeVar *rv);
extern char *grd_ddl_relation_name(Oid relid);

#endif							/* GRD_DDL_STATEMENT_H */
