/*-------------------------------------------------------------------------
 *
 * ddl_policy.h
 *		The schema-change policy (ddl_policy.c).
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

extern void grd_ddl_policy_check(Node *parsetree);

#endif							/* GRD_DDL_POLICY_H */
