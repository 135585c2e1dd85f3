/*-------------------------------------------------------------------------
 *
 * ddl_policy.h
 *		Which statements are DDL, and the schema-change policy.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_POLICY_H
#define GRD_DDL_POLICY_H

#include "fmgr.h"
#include "nodes/primnodes.h"

/* The one SQLSTATE of every schema-change policy violation. */
#define GRD_ERRCODE_DDL_POLICY	MAKE_SQLSTATE('4','2','G','0','1')

extern bool grd_ddl_is_ddl(Node *parsetree);
extern bool grd_ddl_is_concurrent(Node *parsetree);
extern void grd_ddl_policy_check(Node *parsetree);
extern Oid	grd_ddl_relid(RangeVar *rv);
extern char *grd_ddl_relation_name(Oid relid);

#endif							/* GRD_DDL_POLICY_H */
