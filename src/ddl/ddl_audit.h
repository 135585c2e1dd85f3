/*-------------------------------------------------------------------------
 *
 * ddl_audit.h
 *		The DDL audit of one statement (ddl_audit.c): what ddl_policy.c and
 *		ddl_lock.c call.  What hooks.c calls is in ddl.h.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_AUDIT_H
#define GRD_DDL_AUDIT_H

#include "ddl.h"
#include "ddl_entry.h"

/*
 * The one SQLSTATE of every schema-change policy violation (ddl_policy.c
 * raises it); a statement that fails with it is recorded as rejected.
 */
#define GRD_ERRCODE_DDL_POLICY	MAKE_SQLSTATE('4','2','G','0','1')

/* While a statement runs (ddl_policy.c, ddl_lock.c). */
extern void grd_ddl_audit_note_warning(const char *rule);
extern void grd_ddl_audit_note_lock_wait(Node *parsetree, int64 usec);

#endif							/* GRD_DDL_AUDIT_H */
