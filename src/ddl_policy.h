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
#include "nodes/nodes.h"

/* The one SQLSTATE of every schema-change policy violation. */
#define GRD_ERRCODE_DDL_POLICY	MAKE_SQLSTATE('4','2','G','0','1')

extern bool grd_ddl_is_ddl(Node *parsetree);
extern bool grd_ddl_is_concurrent(Node *parsetree);
extern void grd_ddl_policy_check(Node *parsetree);

#endif							/* GRD_DDL_POLICY_H */
