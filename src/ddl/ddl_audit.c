/*-------------------------------------------------------------------------
 *
 * ddl_audit.c
 *		The DDL audit of one statement: the stack of open statements, from
 *		the start of each to its end, whatever its outcome, then its entry,
 *		written to the DDL log's ring (ddl_ring.c) and to the server log.
 *
 * hooks.c calls grd_ddl_audit_begin() before every audited statement (as
 * ddl_statement.c's grd_ddl_classify() decides); it fills a GrdDdlAudit
 * on the caller's stack with what can only be known at the start (time,
 * roles, object named by the statement: ddl_object.c) and pushes it on a
 * backend-local stack of open statements, so that statements nested in
 * functions get their own entries and the notes of ddl_policy.c and
 * ddl_lock.c (warnings, lock waits) go to the innermost one.  When the
 * statement ends, grd_ddl_audit_end() pops it, builds the entry in a
 * backend-local buffer and writes it:
 *
 *	- to the ring (grd_ddl_ring_put), where it gets its sequence number,
 *	  and where the background worker finds it at its next tick;
 *	- to the server log, one LOG line "pg_guardrails ddl: {json}"
 *	  (grd_ddl_entry_log), written by the backend itself, outside any lock.
 *
 * A statement that fails is recorded in two steps, because the catch
 * block that sees the error may run while this backend still holds a lock
 * that only abort cleanup releases (the ring's own, if the error came
 * from reading the ring).  In hooks.c's catch block,
 * grd_ddl_audit_failed() pops the statement and builds its entry into a
 * pending buffer: no lock, no I/O, no allocation but the copy of the
 * error, from a block reserved for it.  The pending buffers are allocated
 * before each statement starts, one for every statement that could fail
 * before they are written.  grd_ddl_audit_write_pending() writes them
 * after abort cleanup (hooks.c's transaction callbacks), or before the
 * next statement's entry, and never reserves sequence numbers (file I/O).
 *
 * A statement that carries a secret (a password, a connection string) has
 * it replaced in its text by grd_ddl_redact() (ddl_redact.c) at the start,
 * before the text is copied anywhere; its error message, if it fails, is
 * not kept.
 *
 * Statements PostgreSQL runs on its own behalf as pieces of another
 * (CREATE TABLE's implicit indexes and sequences, CREATE SCHEMA's
 * elements) arrive with canSetTag = false, in PROCESS_UTILITY_SUBCOMMAND
 * context: they are part of the statement that caused them, not entries
 * of their own.
 *
 * Interrupts are held while an entry is written, so that a cancel cannot
 * cut it in half, and only then: the lookup after success, which may wait
 * for a lock, can be cancelled (its entry is then pending, as ok).
 * A backend that exits with FATAL while DDL is open (pg_terminate_backend)
 * records those statements from a before_shmem_exit callback, as ok if
 * one had succeeded and was still in that lookup.
 *
 * Locking: the stack and the buffers are backend-local; ddl_ring.c takes
 * the ring's locks.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/ip.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "tcop/cmdtag.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "compat.h"
#include "ddl_audit.h"
#include "ddl_entry.h"
#include "ddl_object.h"
#include "ddl_redact.h"
#include "ddl_ring.h"

/* Backend-local state, set up by the first DDL statement. */
static GrdDdlAudit *open_audit = NULL;	/* innermost open statement */
static int	open_depth = 0;		/* statements on that stack */
static GrdDdlEntry *entry_being_built = NULL;
static MemoryContext audit_cxt = NULL;	/* for the log line */
static MemoryContext error_cxt = NULL;	/* for the copy of an error */
static char client_addr[64];
static char datname[NAMEDATALEN];

/*
 * Entries built in an error path, not yet written: pending[0 .. npending),
 * of which the first pending_written are done.  pending_capacity >=
 * npending + open_depth whenever a statement is open.
 */
static GrdDdlEntry **pending = NULL;
static int	npending = 0;
static int	pending_written = 0;
static int	pending_capacity = 0;

/* The copy of an error in a catch block comes from this reserved block. */
#define ERROR_COPY_RESERVE	(16 * 1024)

static void audit_at_exit(int code, Datum arg);
static void audit_reserve_pending(void);
static void audit_end_success(GrdDdlAudit *audit);
static void audit_pend(GrdDdlAudit *audit, char outcome);
static void ddl_build_entry(GrdDdlAudit *audit, GrdDdlEntry *e, char outcome,
							int sqlerrcode, const char *message);
static void ddl_write_entry(GrdDdlEntry *e, bool may_reserve);

/*
 * Once per backend, at its first DDL statement: the buffers the error path
 * will need, and what does not change during a session.
 */
static void
audit_backend_setup(void)
{
	char	   *name;

	if (entry_being_built != NULL)
		return;

	audit_cxt = AllocSetContextCreate(TopMemoryContext,
									  "pg_guardrails ddl audit",
									  ALLOCSET_DEFAULT_SIZES);
	/* its first block is allocated now and kept across resets */
	error_cxt = AllocSetContextCreate(TopMemoryContext,
									  "pg_guardrails ddl audit errors",
									  ERROR_COPY_RESERVE, ERROR_COPY_RESERVE,
									  ALLOCSET_DEFAULT_MAXSIZE);
	entry_being_built = MemoryContextAllocZero(TopMemoryContext,
											   grd_ddl_entry_size());

	client_addr[0] = '\0';
	if (MyProcPort != NULL &&
		(MyProcPort->raddr.addr.ss_family == AF_INET ||
		 MyProcPort->raddr.addr.ss_family == AF_INET6))
	{
		if (pg_getnameinfo_all(&MyProcPort->raddr.addr, MyProcPort->raddr.salen,
							   client_addr, sizeof(client_addr), NULL, 0,
							   NI_NUMERICHOST) != 0)
			client_addr[0] = '\0';
		else
			clean_ipv6_addr(MyProcPort->raddr.addr.ss_family, client_addr);
	}

	/* the name the client connected with needs no catalog lookup */
	if (MyProcPort != NULL && MyProcPort->database_name != NULL)
		name = MyProcPort->database_name;
	else
		name = get_database_name(MyDatabaseId);
	strlcpy(datname, name ? name : "", sizeof(datname));

	before_shmem_exit(audit_at_exit, (Datum) 0);
}

/*
 * A role's name, or "" when it has none.  The role the client logged in as
 * is named by the connection itself, so that begin does no catalog access
 * in the common case (see grd_ddl_describe_statement for why that matters).
 */
static void
audit_role_name(Oid roleid, char *buf)
{
	char	   *name;

	if (MyProcPort != NULL && MyProcPort->user_name != NULL &&
		roleid == GetAuthenticatedUserId())
		name = MyProcPort->user_name;
	else
		name = GetUserNameFromId(roleid, true);
	strlcpy(buf, name ? name : "", NAMEDATALEN);
}

/*
 * Before an audited statement: stmt is what it executes (for EXPLAIN
 * ANALYZE, the statement explained), from which its command tag and
 * object are read.  Returns false, and there is nothing to do afterwards,
 * when PostgreSQL runs it as a piece of another statement, or when the log
 * goes nowhere.
 */
bool
grd_ddl_audit_begin(PlannedStmt *pstmt, Node *stmt, const char *queryString,
					GrdDdlAudit *audit)
{
	Node	   *parsetree = stmt;
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	char	   *redacted;

	/*
	 * Statements of extension scripts are the extension's own, fixed by
	 * files a superuser installed: the CREATE or ALTER EXTENSION statement
	 * that ran them is recorded, rather than tens of entries (and log
	 * lines) for each one.
	 */
	if (!grd_ddl_ring_attached() || grd_ddl_destinations == 0 ||
		!pstmt->canSetTag || creating_extension)
		return false;

	audit_backend_setup();
	grd_ddl_audit_write_pending();
	audit_reserve_pending();
	grd_ddl_reserve_seq_if_used_up();

	memset(audit, 0, sizeof(GrdDdlAudit));
	audit->parsetree = parsetree;
	audit->query = CleanQuerytext(queryString, &location, &len);
	audit->query_len = len;

	/*
	 * Secrets go nowhere: the redacted copy lives in the caller's context,
	 * like the parse tree, until the statement ends.
	 */
	redacted = grd_ddl_redact(parsetree, audit->query, len);
	if (redacted != NULL)
	{
		audit->query = redacted;
		audit->query_len = strlen(redacted);
		audit->redacted = true;
	}
	audit->toplevel = (queryString == debug_query_string);
	audit->start_time = GetCurrentTimestamp();
	INSTR_TIME_SET_CURRENT(audit->start);
	audit->lock_wait_us = -1;
	audit->userid = GetUserId();
	audit->session_userid = GetSessionUserId();
	audit_role_name(audit->userid, audit->username);
	audit_role_name(audit->session_userid, audit->session_username);
	strlcpy(audit->command_tag, GetCommandTagName(CreateCommandTag(parsetree)),
			sizeof(audit->command_tag));
	/* a failed concurrent build leaves its invalid index behind */
	audit->leaves_behind = IsA(parsetree, IndexStmt) &&
		((IndexStmt *) parsetree)->concurrent;
	grd_ddl_describe_statement(audit, false);

	audit->outer = open_audit;
	open_audit = audit;
	open_depth++;
	return true;
}

/*
 * Before a statement is pushed: a pending buffer for it and for every
 * statement already open, so that each can fail without an allocation.
 */
static void
audit_reserve_pending(void)
{
	int			need = npending + open_depth + 1;

	if (pending_capacity >= need)
		return;
	if (pending == NULL)
		pending = MemoryContextAlloc(TopMemoryContext,
									 need * sizeof(GrdDdlEntry *));
	else
		pending = repalloc(pending, need * sizeof(GrdDdlEntry *));
	while (pending_capacity < need)
	{
		pending[pending_capacity] =
			MemoryContextAllocZero(TopMemoryContext, grd_ddl_entry_size());
		pending_capacity++;
	}
}

/*
 * The statement succeeded.  Objects it created can now be found, so names
 * left unqualified at the start are looked up again.
 *
 * The lookup may read the catalog, and so wait for a lock: it runs with
 * interrupts allowed, so that the backend can be cancelled or terminated
 * there as anywhere else (a guardrail must never be what keeps it from
 * ending).  The entry is recorded once whatever ends the lookup: after it,
 * with interrupts held (a cancel that arrives once the lookup returned is
 * only noted, as nothing checks for interrupts before HOLD_INTERRUPTS, and
 * takes effect after the entry); if the lookup throws an error (a cancel,
 * a timeout, a deadlock), by our catch block, which leaves it pending,
 * with the names found at the start, before the error goes on; if the
 * backend exits with FATAL (pg_terminate_backend), by audit_at_exit(),
 * which finds the statement still open and marked as succeeded.
 */
void
grd_ddl_audit_end(GrdDdlAudit *audit)
{
	audit->succeeded = true;
	if (!audit->identity_resolved && IsTransactionState())
	{
		PG_TRY();
		{
			GRD_INJECTION_POINT("pg-guardrails-ddl-audit-lookup");
			grd_ddl_describe_statement(audit, true);
		}
		PG_CATCH();
		{
			audit_pend(audit, GRD_DDL_OK);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	audit_end_success(audit);
}

/*
 * Pop a statement that succeeded and write its entry, interrupts held so
 * that a cancel cannot cut the entry in half.  The statement leaves the
 * stack before the entry is written, so that audit_at_exit() cannot write
 * it a second time.  Entries still pending from earlier failures are
 * written first, in order.
 */
static void
audit_end_success(GrdDdlAudit *audit)
{
	HOLD_INTERRUPTS();
	open_audit = audit->outer;
	open_depth--;
	grd_ddl_audit_write_pending();
	ddl_build_entry(audit, entry_being_built, GRD_DDL_OK, 0, NULL);
	ddl_write_entry(entry_being_built, true);
	MemoryContextReset(audit_cxt);
	RESUME_INTERRUPTS();
}

/*
 * In hooks.c's catch block: the statement failed with the error being
 * thrown, which is still on the error stack.  Its entry is built and left
 * pending (see the file header).
 */
void
grd_ddl_audit_failed(GrdDdlAudit *audit)
{
	audit_pend(audit, GRD_DDL_ERROR);
}

/*
 * In a catch block: pop the statement and build its entry, with the error
 * being thrown, into a pending buffer reserved for it.  Nothing here takes
 * a lock or does I/O, and the only allocation, the copy of the error (in
 * its own context, not ErrorContext, as CopyErrorData requires), is served
 * from error_cxt's reserved block unless the error's texts pass 16 kB.
 * outcome is GRD_DDL_OK for a statement that succeeded and failed in the
 * lookup after success: the error is then not the statement's.
 */
static void
audit_pend(GrdDdlAudit *audit, char outcome)
{
	MemoryContext oldcxt;
	ErrorData  *edata = NULL;

	open_audit = audit->outer;
	open_depth--;
	if (npending >= pending_capacity)
		return;					/* cannot happen: see audit_reserve_pending */
	if (outcome != GRD_DDL_OK)
	{
		oldcxt = MemoryContextSwitchTo(error_cxt);
		edata = CopyErrorData();
		MemoryContextSwitchTo(oldcxt);
		if (edata->sqlerrcode == GRD_ERRCODE_DDL_POLICY)
			outcome = GRD_DDL_REJECTED;
	}
	ddl_build_entry(audit, pending[npending], outcome,
					edata ? edata->sqlerrcode : 0,
					edata ? edata->message : NULL);
	npending++;
	MemoryContextReset(error_cxt);
}

/*
 * Write the pending entries, in order, unless this backend holds one of
 * the DDL log's locks (then they wait for the next call).  Called by
 * hooks.c's callbacks at the abort of a transaction or subtransaction,
 * after abort cleanup released every LWLock, and before every entry
 * written on the normal path.  Never reserves sequence numbers, which
 * writes a file.  An entry counts as written before its log line is,
 * so that nothing is written twice.
 */
void
grd_ddl_audit_write_pending(void)
{
	if (likely(npending == 0) || grd_ddl_ring_locked_by_me())
		return;
	HOLD_INTERRUPTS();
	while (pending_written < npending)
		ddl_write_entry(pending[pending_written++], false);
	npending = 0;
	pending_written = 0;
	MemoryContextReset(audit_cxt);
	RESUME_INTERRUPTS();
}

/*
 * before_shmem_exit: the backend exits (FATAL, such as pg_terminate_backend)
 * with DDL statements still open.  Their GrdDdlAudit are on the stack below
 * us, still intact; record each as failed, or as ok if it had succeeded
 * and was interrupted in the lookup after success (its transaction then
 * aborts, which the entry's rolled_back says).  The error itself is gone.
 */
static void
audit_at_exit(int code, Datum arg)
{
	grd_ddl_audit_write_pending();
	while (open_audit != NULL)
	{
		GrdDdlAudit *audit = open_audit;

		HOLD_INTERRUPTS();
		open_audit = audit->outer;
		open_depth--;
		if (audit->succeeded)
			ddl_build_entry(audit, entry_being_built, GRD_DDL_OK, 0, NULL);
		else
		{
			audit->redacted = false;	/* our message echoes nothing */
			ddl_build_entry(audit, entry_being_built, GRD_DDL_ERROR,
							ERRCODE_ADMIN_SHUTDOWN,
							"backend exited while the statement ran");
		}
		ddl_write_entry(entry_being_built, true);
		MemoryContextReset(audit_cxt);
		RESUME_INTERRUPTS();
	}
}

/*
 * ddl_policy.c: a rule of the schema-change policy warned about the
 * innermost open statement.
 */
void
grd_ddl_audit_note_warning(const char *rule)
{
	GrdDdlAudit *audit = open_audit;
	size_t		used;

	if (audit == NULL || rule == NULL)
		return;
	used = strlen(audit->warnings);
	if (used > 0 && used + 1 < sizeof(audit->warnings))
		audit->warnings[used++] = ',';
	strlcpy(audit->warnings + used, rule, sizeof(audit->warnings) - used);
}

/*
 * ddl_lock.c: statement parsetree waited this long for its lock.  Only the
 * innermost open statement's own wait is its: a piece PostgreSQL runs on
 * its behalf (the index of a PRIMARY KEY) has no entry, and its lock is
 * not the one the statement waited for.
 */
void
grd_ddl_audit_note_lock_wait(Node *parsetree, int64 usec)
{
	if (open_audit != NULL && open_audit->parsetree == parsetree)
		open_audit->lock_wait_us = usec;
}

/*
 * Build the entry of a statement that ended into e: sqlerrcode and message
 * are its error's, if it failed.  Runs in catch blocks: it only copies into
 * e, and can neither fail nor allocate.
 */
static void
ddl_build_entry(GrdDdlAudit *audit, GrdDdlEntry *e, char outcome,
				int sqlerrcode, const char *message)
{
	instr_time	now;
	int			len;
	int			destinations = grd_ddl_destinations;

	memset(e, 0, offsetof(GrdDdlEntry, query));
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, audit->start);
	e->start_time = audit->start_time;
	e->duration_us = (int64) INSTR_TIME_GET_MICROSEC(now);
	e->lock_wait_us = audit->lock_wait_us;
	e->xid = U64FromFullTransactionId(GetTopFullTransactionIdIfAny());
	e->stmt_xid = U64FromFullTransactionId(GetCurrentFullTransactionIdIfAny());
	e->dbid = MyDatabaseId;
	e->userid = audit->userid;
	e->session_userid = audit->session_userid;
	e->pid = MyProcPid;
	e->encoding = GetDatabaseEncoding();
	e->toplevel = audit->toplevel;
	e->outcome = outcome;
	e->leaves_behind = outcome != GRD_DDL_OK && audit->leaves_behind;
	if (sqlerrcode != 0)
	{
		strlcpy(e->sqlstate, unpack_sql_state(sqlerrcode),
				sizeof(e->sqlstate));

		/*
		 * The message of a statement that carried a secret may echo part
		 * of it (libpq quotes pieces of a bad connection string).
		 */
		grd_ddl_copy_text(e->message, audit->redacted ? GRD_DDL_REDACTED :
						  message ? message : "", sizeof(e->message));
	}
	strlcpy(e->datname, datname, sizeof(e->datname));
	strlcpy(e->username, audit->username, sizeof(e->username));
	strlcpy(e->session_username, audit->session_username,
			sizeof(e->session_username));
	strlcpy(e->client_addr, client_addr, sizeof(e->client_addr));
	grd_ddl_copy_text(e->application_name, application_name,
			  sizeof(e->application_name));
	strlcpy(e->command_tag, audit->command_tag, sizeof(e->command_tag));
	strlcpy(e->object_type, audit->object_type, sizeof(e->object_type));
	strlcpy(e->object_identity, audit->object_identity,
			sizeof(e->object_identity));
	strlcpy(e->warnings, audit->warnings, sizeof(e->warnings));

	len = audit->query_len;
	if (len > grd_ddl_log_max_query_len)
		len = pg_mbcliplen(audit->query, len, grd_ddl_log_max_query_len);
	memcpy(e->query, audit->query, len);
	e->query[len] = '\0';
	e->query_len = len;
	e->query_full_len = audit->query_len;

	e->destinations = (uint8) destinations;
}

/*
 * Write a built entry wherever guardrails.ddl_log_destination said when it
 * was built: the ring, which gives it its number (and may reserve more
 * numbers, which writes a file, only if may_reserve), and the server log
 * (its line allocated in audit_cxt).
 */
static void
ddl_write_entry(GrdDdlEntry *e, bool may_reserve)
{
	e->seq = grd_ddl_ring_put(e, may_reserve);
	if (e->destinations & GRD_DDL_DEST_LOG)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(audit_cxt);

		grd_ddl_entry_log(e);
		MemoryContextSwitchTo(oldcxt);
	}
	grd_ddl_wake_worker_if_low();
}
