/*-------------------------------------------------------------------------
 *
 * ddl_object.h
 *		What object a DDL statement names (ddl_object.c).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_OBJECT_H
#define GRD_DDL_OBJECT_H

#include "ddl_audit.h"

extern void grd_ddl_describe_statement(GrdDdlAudit *audit, bool after);

#endif							/* GRD_DDL_OBJECT_H */
