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

extern void grd_ddl_policy_check(Node *parsetree);

#endif							/* GRD_DDL_POLICY_H */
