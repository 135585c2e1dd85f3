/*-------------------------------------------------------------------------
 *
 * ddl_redact.h
 *		Secrets in statement texts (ddl_redact.c).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_REDACT_H
#define GRD_DDL_REDACT_H

#include "nodes/nodes.h"

#define GRD_DDL_REDACTED		"<REDACTED>"
extern char *grd_ddl_redact(Node *parsetree, const char *query, int len);

#endif							/* GRD_DDL_REDACT_H */
