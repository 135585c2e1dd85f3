/*-------------------------------------------------------------------------
 *
 * ddl_audit.h
 *		The DDL audit log: what hooks.c, ddl_policy.c, shmem.c and
 *		pg_guardrails.c call.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_AUDIT_H
#define GRD_DDL_AUDIT_H

#include "nodes/plannodes.h"
#include "portability/instr_time.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "shmem.h"

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
extern bool grd_ddl_audit_begin(PlannedStmt *pstmt, const char *queryString,
								GrdDdlAudit *audit);
extern void grd_ddl_audit_end(GrdDdlAudit *audit);
extern void grd_ddl_audit_end_error(GrdDdlAudit *audit);

/* While a statement runs (ddl_policy.c). */
extern void grd_ddl_audit_note_warning(const char *rule);
extern void grd_ddl_audit_note_lock_wait(Node *parsetree, int64 usec);

/* Secrets in statement texts (ddl_redact.c). */
#define GRD_DDL_REDACTED		"<REDACTED>"
extern char *grd_ddl_redact(Node *parsetree, const char *query, int len);

/* guardrails.ddl_log_destination, parsed: a set of these bits. */
#define GRD_DDL_DEST_VIEW		0x01
#define GRD_DDL_DEST_LOG		0x02
#define GRD_DDL_DEST_TABLE		0x04
extern int	grd_ddl_destinations;

/*
 * One recorded statement, as it sits in a slot of the shared ring and as
 * the worker and the SQL functions read it back.  Strings are
 * NUL-terminated; an empty one means "none".  The statement text follows
 * the fixed part, up to guardrails.ddl_log_max_query_len bytes.
 */
typedef struct GrdDdlEntry
{
	uint64		seq;			/* 0: empty slot */
	TimestampTz start_time;
	int64		duration_us;
	int64		lock_wait_us;	/* -1: not known */
	uint64		xid;			/* top-level FullTransactionId, 0: none */
	uint64		stmt_xid;		/* the (sub)transaction it ran in, 0: none */
	Oid			dbid;
	Oid			userid;
	Oid			session_userid;
	int32		pid;
	int32		encoding;		/* of the database it ran in: its texts */
	bool		toplevel;
	int32		query_len;		/* bytes of query[] kept */
	int32		query_full_len; /* bytes of the statement's text */
	char		outcome;		/* GRD_DDL_OK, _ERROR or _REJECTED */
	bool		leaves_behind;	/* failed, but not rolled back: what it
								 * built remains (an invalid index) */
	uint8		destinations;	/* guardrails.ddl_log_destination when it
								 * was recorded (GRD_DDL_DEST_*) */
	uint64		skip_from;		/* the last run of numbers given to entries
								 * not for the table, as of this one */
	uint64		skip_to;
	char		sqlstate[6];
	char		datname[NAMEDATALEN];
	char		username[NAMEDATALEN];
	char		session_username[NAMEDATALEN];
	char		client_addr[64];
	char		application_name[NAMEDATALEN];
	char		command_tag[GRD_DDL_TYPE_LEN + 16];
	char		object_type[GRD_DDL_TYPE_LEN];
	char		object_identity[GRD_DDL_IDENTITY_LEN];
	char		warnings[GRD_DDL_WARNINGS_LEN];
	char		message[512];
	char		query[FLEXIBLE_ARRAY_MEMBER];
} GrdDdlEntry;

#define GRD_DDL_OK			'o'
#define GRD_DDL_ERROR		'e'
#define GRD_DDL_REJECTED	'r'

extern const char *grd_ddl_outcome_name(char outcome);

/* The ring as the background worker sees it (ddl_worker.c). */
extern Size grd_ddl_entry_size(void);
extern uint64 grd_ddl_next_seq(void);
extern void grd_ddl_raise_next_seq(uint64 seq);
extern bool grd_ddl_ring_read(uint64 seq, GrdDdlEntry *entry);
extern bool grd_ddl_ring_never_for_table(uint64 seq);
extern uint64 grd_ddl_oldest_seq(void);
extern void grd_ddl_set_stored(uint64 seq);
extern bool grd_ddl_stored_known(uint64 *seq);
extern char *grd_ddl_convert(const char *s, int encoding);
extern void grd_ddl_count(int counter, uint64 n);
extern uint64 grd_ddl_crash_seq(void);
extern void grd_ddl_reserve_seq(void);
extern void grd_ddl_worker_attach(bool attach);

/* Counters the worker adds to (grd_ddl_count). */
#define GRD_DDL_STORED		0	/* entries stored in ddl_history */
#define GRD_DDL_NOT_STORED	1	/* entries the worker failed to store */
#define GRD_DDL_MISSED		2	/* entries overwritten in the ring before
								 * the worker could store them */
#define GRD_DDL_CRASH_GAP	3	/* numbers lost in a crash (or reserved
								 * and never used) */
#define GRD_DDL_COLLIDED	4	/* entries whose number a row of the table
								 * already had (not stored) */
#define GRD_DDL_NCOUNTERS	5

/* The background worker's entry point (ddl_worker.c). */
extern PGDLLEXPORT void grd_ddl_worker_main(Datum main_arg);

#endif							/* GRD_DDL_AUDIT_H */
