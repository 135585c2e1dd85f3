/*-------------------------------------------------------------------------
 *
 * ddl.h
 *		Schema changes: what the rest of the extension (hooks.c) calls
 *		around a utility statement.  The other headers of this folder are
 *		private to it.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_H
#define GRD_DDL_H

#include "executor/execdesc.h"
#include "nodes/plannodes.h"
#include "portability/instr_time.h"
#include "storage/lockdefs.h"
#include "tcop/utility.h"
#include "utils/timestamp.h"

/* ddl_statement.c */

/*
 * The classification of one utility statement, read from its parse tree
 * alone (no catalog access): hooks.c fills it once, with
 * grd_ddl_classify(), and hands it to everyone else.
 */
typedef struct GrdDdlStatement
{
	/*
	 * The statement that runs: the utility statement itself, or, for
	 * EXPLAIN ANALYZE, the statement it executes (CREATE TABLE AS, SELECT
	 * INTO), as GetCommandLogLevel looks through it.
	 */
	Node	   *stmt;
	bool		is_ddl;			/* DDL as log_statement = ddl says */
	bool		strong_lock;	/* locks an existing relation in a mode
								 * stronger than ROW EXCLUSIVE: TRUNCATE,
								 * LOCK TABLE, REINDEX, VACUUM FULL, CLUSTER */
	bool		audited;		/* the DDL log records it */
	bool		guarded;		/* runs under the DDL lock timeout */
	bool		concurrent;		/* a CONCURRENTLY form */
	bool		creates_table;	/* CREATE TABLE (AS), SELECT INTO */
	bool		own_xacts;		/* commits and starts transactions of its
								 * own (VACUUM) */
} GrdDdlStatement;

/* A relation a statement is about to lock, and the mode. */
typedef struct GrdDdlTarget
{
	Oid			relid;
	LOCKMODE	mode;
} GrdDdlTarget;

extern void grd_ddl_classify(Node *parsetree, GrdDdlStatement *st);

/* ddl_policy.c */

/*
 * Before a utility statement runs (hooks.c); guarded: it may take a lock
 * stronger than ROW EXCLUSIVE (GrdDdlStatement).
 */
extern void grd_ddl_policy_check(Node *parsetree, bool guarded);

/* Before the transaction commits (hooks.c): rule rename's waiting verdicts. */
extern void grd_ddl_policy_pre_commit(void);

/* Before a statement the executor runs (hooks.c): rule lock_held. */
extern void grd_ddl_policy_check_executor(QueryDesc *queryDesc, int eflags,
										  int nesting_level);

/* ddl_lock.c */

/* What grd_ddl_lock_end() needs to undo what _begin() did. */
typedef struct GrdDdlLock
{
	int			guc_nest_level; /* -1: lock_timeout was not changed */
	uint32		lxid;			/* the transaction it was changed in */
	GrdDdlTarget *session_targets;	/* locked for the session, to release */
	int			nsession;
} GrdDdlLock;

extern void grd_ddl_lock_begin(const GrdDdlStatement *st,
							   ProcessUtilityContext context,
							   GrdDdlLock *state);
extern void grd_ddl_lock_end(GrdDdlLock *state);

/* ddl_audit.c; the texts of a statement are as long as in its entry */

#define GRD_DDL_TYPE_LEN		32
#define GRD_DDL_IDENTITY_LEN	256
#define GRD_DDL_WARNINGS_LEN	256

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

#endif							/* GRD_DDL_H */
