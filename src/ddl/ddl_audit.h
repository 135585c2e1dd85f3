/*-------------------------------------------------------------------------
 *
 * ddl_audit.h
 *		The DDL audit of one statement (ddl_audit.c): what hooks.c,
 *		ddl_policy.c and ddl_lock.c call.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_AUDIT_H
#define GRD_DDL_AUDIT_H

#include "nodes/plannodes.h"
#include "portability/instr_time.h"
#include "utils/timestamp.h"

#include "ddl_entry.h"

/*
 * The one SQLSTATE of every schema-change policy violation (ddl_policy.c
 * raises it); a statement that fails with it is recorded as rejected.
 */
#define GRD_ERRCODE_DDL_POLICY	MAKE_SQLSTATE('4','2','G','0','1')

/*
 * One DDL statement in progress, from grd_ddl_audit_begin() to _end() or
 * _end_error().  It lives on hooks.c's stack; the innermost open one is
 * where ddl_policy.c's notes go.
 */
typedef struct GrdDdlAudit
{
	struct GrdDdlAudit *outer;	/* the enclosing open statement, or NULL */
	Node	   *parsetree;		/* the statement (valid until it ends) */
	const char *query;			/* its text within the query string, or
								 * its redacted copy */
	int			query_len;		/* its length in bytes */
	bool		redacted;		/* it carried a secret (ddl_redact.c) */
	bool		toplevel;		/* issued by the client, not by a function */
	bool		identity_resolved;	/* object_identity is schema-qualified,
									 * or no lookup can improve it */
	bool		succeeded;		/* it succeeded, and only the lookup after
								 * success remains (grd_ddl_audit_end) */
	bool		leaves_behind;	/* if it fails, what it built so far
								 * remains (CREATE INDEX CONCURRENTLY) */
	TimestampTz start_time;
	instr_time	start;
	int64		lock_wait_us;	/* -1: not known */
	Oid			userid;			/* current and session roles at the start */
	Oid			session_userid;
	char		username[NAMEDATALEN];
	char		session_username[NAMEDATALEN];
	char		command_tag[GRD_DDL_TYPE_LEN + 16];
	char		object_type[GRD_DDL_TYPE_LEN];
	char		object_identity[GRD_DDL_IDENTITY_LEN];
	char		warnings[GRD_DDL_WARNINGS_LEN]; /* rule names, comma-separated */
} GrdDdlAudit;

/* Around a utility statement (hooks.c). */
extern bool grd_ddl_audit_begin(PlannedStmt *pstmt, Node *stmt,
								const char *queryString, GrdDdlAudit *audit);
extern void grd_ddl_audit_end(GrdDdlAudit *audit);
extern void grd_ddl_audit_failed(GrdDdlAudit *audit);

/* After abort cleanup (hooks.c): write what failed statements left. */
extern void grd_ddl_audit_write_pending(void);

/* While a statement runs (ddl_policy.c, ddl_lock.c). */
extern void grd_ddl_audit_note_warning(const char *rule);
extern void grd_ddl_audit_note_lock_wait(Node *parsetree, int64 usec);

#endif							/* GRD_DDL_AUDIT_H */
