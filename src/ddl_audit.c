/*-------------------------------------------------------------------------
 *
 * ddl_audit.c
 *		The DDL audit log: one entry per DDL statement, whatever its outcome,
 *		in a ring in shared memory, in the server log, and (through the
 *		background worker of ddl_worker.c) in a durable table.
 *
 * hooks.c calls grd_ddl_audit_begin() before every DDL statement (as
 * ddl_policy.c's grd_ddl_is_ddl() decides); it fills a GrdDdlAudit
 * on the caller's stack with what can only be known at the start (time,
 * roles, object named by the statement) and pushes it on a backend-local
 * stack of open statements, so that statements nested in functions get
 * their own entries and ddl_policy.c's notes (warnings, lock waits) go to
 * the innermost one.  When the statement ends, grd_ddl_audit_end() or, in
 * hooks.c's PG_CATCH, grd_ddl_audit_end_error() pops it, builds the entry
 * in a backend-local buffer and writes it:
 *
 *	- to the ring, under GRD_LOCK_DDL_RING held exclusive for a memcpy,
 *	  where it gets its sequence number, and where the background worker
 *	  finds it at its next tick (at most a second later);
 *	- to the server log, one LOG line "pg_guardrails ddl: {json}", written
 *	  by the backend itself, outside any lock.
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
 * The error path does no catalog access, takes no lock but ours, and
 * allocates only in a private memory context; interrupts are held while an
 * entry is written, so that a cancel cannot cut it in half.  A backend that
 * exits with FATAL while DDL is open (pg_terminate_backend) records those
 * statements from a before_shmem_exit callback.
 *
 * Sequence numbers increase across restarts.  A clean shutdown saves the
 * ring and the next number in shmem.c's state file.  To survive a crash,
 * numbers are reserved in blocks in pg_stat/pg_guardrails_ddl.seq, written
 * with a durable rename by the postmaster at start and then by the
 * background worker, which the ring writer wakes when the block runs low;
 * a backend writes it itself (before its statement runs, outside the ring
 * lock) only if the block is used up.  After a crash numbering resumes
 * after the reserved block, leaving a gap; no number is handed out
 * beyond the block (ring_put).  The worker also raises the next number
 * above the highest one of this server's timeline in the table (the
 * sequence file was lost).  Entries are stored as (system identifier,
 * timeline, seq): a promoted standby needs no number of its primary's.
 *
 * Each entry keeps the encoding of its database; its texts are converted
 * to the reader's (grd_ddl_convert) by the view and by the worker.
 *
 * Locking protocol:
 *	- GRD_LOCK_DDL_RING protects the slots.  A writer holds it exclusive
 *	  while it takes a number (next_seq, an atomic advanced only under the
 *	  lock) and copies its entry into the slot; readers (the views, the
 *	  worker) hold it shared while they copy one slot out.
 *	- GRD_LOCK_DDL_SEQ serialises writers of the reservation file;
 *	  reserved_seq is an atomic, written under it.
 *	- stored_seq (the worker's progress), reset_seq and the counters are
 *	  atomics.
 *	- mutex protects worker_latch.
 *	No code path holds both LWLocks.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "common/string.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/ip.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/libpq-be.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parse_type.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/cmdtag.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inet.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"
#include "utils/xid8.h"

#include "compat.h"
#include "ddl_audit.h"
#include "ddl_policy.h"
#include "module.h"

#define GRD_DDL_SEQ_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_guardrails_ddl.seq"
#define GRD_DDL_SEQ_FILE_TMP	GRD_DDL_SEQ_FILE ".tmp"
#define GRD_DDL_SEQ_BLOCK		1024	/* numbers reserved at a time */
#define GRD_DDL_SEQ_MARGIN		512 /* reserve again when fewer are left */

/*
 * Sequence numbers read from a file must be below this bound: far above
 * anything a server can reach, and far enough below 2^63 (ddl_history.seq
 * is a bigint) and 2^64 that adding blocks to them never wraps.
 */
#define GRD_DDL_SEQ_MAX			(UINT64CONST(1) << 62)

/*
 * The reservation file: magic, format version, PostgreSQL major, zero,
 * the reserved number (8 bytes), then a CRC-32C of those 24 bytes.
 */
#define GRD_DDL_SEQ_FILE_MAGIC	0x47534551	/* "GSEQ" */
#define GRD_DDL_SEQ_FILE_VERSION 1
#define GRD_DDL_SEQ_FILE_SIZE	28

#define GRD_DDL_FILE_MAGIC		0x47444C32	/* "GDL2": entries carry their
											 * encoding */

typedef struct GrdDdlShared
{
	pg_atomic_uint64 next_seq;	/* number of the next entry */
	pg_atomic_uint64 reserved_seq;	/* highest number in the reservation
									 * file */
	pg_atomic_uint64 stored_seq;	/* the worker is done with every entry
									 * up to this one */
	pg_atomic_uint32 stored_known;	/* stored_seq is the worker's progress
									 * (not known after a crash until the
									 * worker read the table) */
	pg_atomic_uint64 reset_seq; /* ddl_log shows entries after this one */
	pg_atomic_uint64 overwritten;	/* entries overwritten before the worker
									 * stored them */
	pg_atomic_uint64 counters[GRD_DDL_NCOUNTERS];	/* grd_ddl_count() */
	uint64		crash_seq;		/* numbers below this one and above the
								 * last stored one were lost in a crash;
								 * set by the postmaster at start */
	uint64		skip_from;		/* the last run of numbers given to entries
								 * not for the table (under the ring lock) */
	uint64		skip_to;
	slock_t		mutex;			/* protects worker_latch */
	Latch	   *worker_latch;	/* the worker's, while it runs */
	char		ring[FLEXIBLE_ARRAY_MEMBER];	/* grd_ddl_log_size slots */
} GrdDdlShared;

/* What the state file holds before the entries. */
typedef struct GrdDdlFileHeader
{
	uint32		magic;
	uint32		entry_header_size;	/* offsetof(GrdDdlEntry, query) */
	uint64		next_seq;
	uint64		stored_seq;
	uint64		reset_seq;
	uint64		overwritten;
	uint64		counters[GRD_DDL_NCOUNTERS];
	uint64		crash_seq;
	uint32		stored_known;
	uint32		nentries;
} GrdDdlFileHeader;

int			grd_ddl_destinations = GRD_DDL_DEST_VIEW | GRD_DDL_DEST_LOG |
GRD_DDL_DEST_TABLE;

static GrdDdlShared *ddl_shared = NULL;
static LWLock *ring_lock = NULL;
static Size entry_size = 0;

/* Backend-local state, set up by the first DDL statement. */
static GrdDdlAudit *open_audit = NULL;	/* innermost open statement */
static GrdDdlEntry *scratch = NULL; /* the entry being built */
static MemoryContext audit_cxt = NULL;	/* for the error path's copies */
static char client_addr[64];
static char datname[NAMEDATALEN];
static bool reserve_warned = false;

static void backend_setup(void);
static void audit_at_exit(int code, Datum arg);
static void describe_statement(GrdDdlAudit *audit, bool after);
static void record(GrdDdlAudit *audit, char outcome, ErrorData *edata);
static uint64 ring_put(GrdDdlEntry *entry);
static void wake_worker(void);
static inline bool seq_low(void);
static void log_entry(GrdDdlEntry *entry);
static bool seq_reserve(void);
static uint64 seq_file_read(void);
static bool seq_file_write(uint64 reserved);
static GrdDdlEntry *ring_slot(uint64 seq);

/* settings */
static int	grd_ddl_log_size = 1000;
static int	grd_ddl_log_max_query_len = 4096;
static char *grd_ddl_log_destination = NULL;

/* ----------------------------------------------------------------
 *		Shared memory
 * ----------------------------------------------------------------
 */

/* Bytes of one slot: the fixed part and the longest text kept. */
Size
grd_ddl_entry_size(void)
{
	return MAXALIGN(offsetof(GrdDdlEntry, query) +
					grd_ddl_log_max_query_len + 1);
}

static Size
ddl_log_shmem_size(void)
{
	return add_size(MAXALIGN(offsetof(GrdDdlShared, ring)),
					mul_size(grd_ddl_entry_size(), grd_ddl_log_size));
}

static GrdDdlEntry *
ring_slot(uint64 seq)
{
	return (GrdDdlEntry *) (ddl_shared->ring +
							((seq - 1) % grd_ddl_log_size) * entry_size);
}

/*
 * Create or attach to the ring.  The postmaster then loads the state file
 * (shmem.c) and calls ddl_log_after_load().
 */
static void
ddl_log_shmem_startup(bool found)
{
	bool		found_ring;

	entry_size = grd_ddl_entry_size();
	ddl_shared = ShmemInitStruct("pg_guardrails ddl log",
								 ddl_log_shmem_size(), &found_ring);
	ring_lock = grd_lock(GRD_LOCK_DDL_RING);
	if (found_ring)
		return;

	pg_atomic_init_u64(&ddl_shared->next_seq, 1);
	pg_atomic_init_u64(&ddl_shared->reserved_seq, 0);
	pg_atomic_init_u64(&ddl_shared->stored_seq, 0);
	pg_atomic_init_u32(&ddl_shared->stored_known, 0);
	pg_atomic_init_u64(&ddl_shared->reset_seq, 0);
	pg_atomic_init_u64(&ddl_shared->overwritten, 0);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		pg_atomic_init_u64(&ddl_shared->counters[i], 0);
	ddl_shared->crash_seq = 0;
	ddl_shared->skip_from = 0;
	ddl_shared->skip_to = 0;
	SpinLockInit(&ddl_shared->mutex);
	ddl_shared->worker_latch = NULL;
	memset(ddl_shared->ring, 0, mul_size(entry_size, grd_ddl_log_size));
}

/*
 * In the postmaster, after the state file was read (loaded = the ring came
 * from it) or not (first start, crash restart, damaged file): without a
 * saved ring, start empty, numbering after the last reserved number.
 */
static void
ddl_log_after_load(bool loaded)
{
	uint64		reserved = seq_file_read();
	uint64		next;

	if (!loaded)
	{
		memset(ddl_shared->ring, 0, mul_size(entry_size, grd_ddl_log_size));
		pg_atomic_write_u64(&ddl_shared->next_seq, reserved + 1);
		pg_atomic_write_u64(&ddl_shared->stored_seq, 0);
		pg_atomic_write_u32(&ddl_shared->stored_known, 0);
		pg_atomic_write_u64(&ddl_shared->reset_seq, 0);
		pg_atomic_write_u64(&ddl_shared->overwritten, 0);
		for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
			pg_atomic_write_u64(&ddl_shared->counters[i], 0);
		ddl_shared->crash_seq = reserved + 1;
	}
	next = pg_atomic_read_u64(&ddl_shared->next_seq);
	reserved = Max(reserved, next - 1);

	/* the first block, so that no statement has to write the file */
	if (seq_file_write(next + GRD_DDL_SEQ_BLOCK))
		reserved = next + GRD_DDL_SEQ_BLOCK;
	else
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", GRD_DDL_SEQ_FILE_TMP)));
	pg_atomic_write_u64(&ddl_shared->reserved_seq, reserved);
}

/* ----------------------------------------------------------------
 *		Sequence numbers that survive a crash
 * ----------------------------------------------------------------
 */

/*
 * What is wrong with the contents of a reservation file, or NULL; the
 * number it holds in *reserved.
 */
static const char *
seq_file_check(const char *buf, size_t len, uint64 *reserved)
{
	uint32		word[4];
	pg_crc32c	crc;
	pg_crc32c	stored;

	if (len != GRD_DDL_SEQ_FILE_SIZE)
		return psprintf(len > GRD_DDL_SEQ_FILE_SIZE ?
						"The file has more than %zu bytes, expected %d." :
						"The file has %zu bytes, expected %d.",
						len > GRD_DDL_SEQ_FILE_SIZE ? (size_t) GRD_DDL_SEQ_FILE_SIZE : len,
						GRD_DDL_SEQ_FILE_SIZE);
	memcpy(word, buf, sizeof(word));
	memcpy(reserved, buf + 16, sizeof(uint64));
	memcpy(&stored, buf + 24, sizeof(stored));
	if (word[0] != GRD_DDL_SEQ_FILE_MAGIC)
		return "The file does not start with the magic number of pg_guardrails.";
	if (word[1] != GRD_DDL_SEQ_FILE_VERSION)
		return psprintf("The file has format version %u, this server reads version %d.",
						word[1], GRD_DDL_SEQ_FILE_VERSION);
	if (word[2] != PG_VERSION_NUM / 100)
		return psprintf("The file was written by PostgreSQL %u, this server is %d.",
						word[2] / 100, PG_VERSION_NUM / 10000);
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf, 24);
	FIN_CRC32C(crc);
	if (crc != stored)
		return "The checksum does not match its contents.";
	if (*reserved >= GRD_DDL_SEQ_MAX)
		return psprintf("The sequence number " UINT64_FORMAT " is out of range.",
						*reserved);
	return NULL;
}

/*
 * The highest reserved number, or 0 when there is no file or it is not
 * valid (then numbering starts over, as on a first start).
 */
static uint64
seq_file_read(void)
{
	FILE	   *file;
	char		buf[GRD_DDL_SEQ_FILE_SIZE + 1];
	size_t		len;
	uint64		reserved = 0;
	const char *problem;

	file = AllocateFile(GRD_DDL_SEQ_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", GRD_DDL_SEQ_FILE)));
		return 0;
	}
	len = fread(buf, 1, sizeof(buf), file);
	problem = ferror(file) ? "The file could not be read." :
		seq_file_check(buf, len, &reserved);
	if (problem != NULL)
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pg_guardrails file \"%s\"",
						GRD_DDL_SEQ_FILE),
				 errdetail_internal("%s", problem)));
		reserved = 0;
	}
	FreeFile(file);
	return reserved;
}

/* Write the reservation file durably; false (errno set) on failure. */
static bool
seq_file_write(uint64 reserved)
{
	FILE	   *file;
	bool		ok;
	char		buf[GRD_DDL_SEQ_FILE_SIZE];
	uint32		word[4] = {GRD_DDL_SEQ_FILE_MAGIC, GRD_DDL_SEQ_FILE_VERSION,
	PG_VERSION_NUM / 100, 0};
	pg_crc32c	crc;

	memcpy(buf, word, sizeof(word));
	memcpy(buf + 16, &reserved, sizeof(uint64));
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf, 24);
	FIN_CRC32C(crc);
	memcpy(buf + 24, &crc, sizeof(crc));

	file = AllocateFile(GRD_DDL_SEQ_FILE_TMP, PG_BINARY_W);
	ok = file != NULL && fwrite(buf, 1, sizeof(buf), file) == sizeof(buf);
	if (file != NULL && FreeFile(file) != 0)
		ok = false;
	if (ok)
		ok = durable_rename(GRD_DDL_SEQ_FILE_TMP, GRD_DDL_SEQ_FILE, LOG) == 0;
	return ok;
}

/* Whether the reserved block is running low. */
static inline bool
seq_low(void)
{
	return pg_atomic_read_u64(&ddl_shared->next_seq) + GRD_DDL_SEQ_MARGIN >
		pg_atomic_read_u64(&ddl_shared->reserved_seq);
}

/*
 * Reserve the next block of numbers if the current one runs low.  The
 * worker calls this; a backend only when the block is used up, before its
 * statement runs (never in an error path).  A failure to write the file is
 * logged (once per process) and costs only the guarantee after a crash.
 */
void
grd_ddl_reserve_seq(void)
{
	if (ddl_shared != NULL && seq_low())
		seq_reserve();
}

/* Reserve the next block; false if the file could not be written. */
static bool
seq_reserve(void)
{
	uint64		target;
	bool		ok;

	LWLockAcquire(grd_lock(GRD_LOCK_DDL_SEQ), LW_EXCLUSIVE);
	if (!seq_low())
	{
		LWLockRelease(grd_lock(GRD_LOCK_DDL_SEQ));
		return true;			/* another process did it */
	}
	target = pg_atomic_read_u64(&ddl_shared->next_seq) + GRD_DDL_SEQ_BLOCK;
	ok = seq_file_write(target);
	if (ok)
		pg_atomic_write_u64(&ddl_shared->reserved_seq, target);
	LWLockRelease(grd_lock(GRD_LOCK_DDL_SEQ));

	if (!ok && !reserve_warned)
	{
		reserve_warned = true;
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", GRD_DDL_SEQ_FILE_TMP),
				 errdetail("DDL log sequence numbers may repeat after a crash.")));
	}
	return ok;
}

/* ----------------------------------------------------------------
 *		Recording
 * ----------------------------------------------------------------
 */

/*
 * Once per backend, at its first DDL statement: the buffers the error path
 * will need, and what does not change during a session.
 */
static void
backend_setup(void)
{
	char	   *name;

	if (scratch != NULL)
		return;

	audit_cxt = AllocSetContextCreate(TopMemoryContext,
									  "pg_guardrails ddl audit",
									  ALLOCSET_DEFAULT_SIZES);
	scratch = MemoryContextAllocZero(TopMemoryContext, entry_size);

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
 * in the common case (see describe_statement for why that matters).
 */
static void
role_name(Oid roleid, char *buf)
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
 * Before a DDL statement.  Returns false, and there is nothing to do
 * afterwards, when PostgreSQL runs it as a piece of another statement, or
 * when the log goes nowhere.
 */
bool
grd_ddl_audit_begin(PlannedStmt *pstmt, const char *queryString,
					GrdDdlAudit *audit)
{
	Node	   *parsetree = pstmt->utilityStmt;
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;
	char	   *redacted;

	/*
	 * Statements of extension scripts are the extension's own, fixed by
	 * files a superuser installed: the CREATE or ALTER EXTENSION statement
	 * that ran them is recorded, rather than tens of entries (and log
	 * lines) for each one.
	 */
	if (ddl_shared == NULL || grd_ddl_destinations == 0 ||
		!pstmt->canSetTag || creating_extension)
		return false;

	backend_setup();
	if (pg_atomic_read_u64(&ddl_shared->next_seq) >=
		pg_atomic_read_u64(&ddl_shared->reserved_seq))
		seq_reserve();			/* the worker has not kept up */

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
	role_name(audit->userid, audit->username);
	role_name(audit->session_userid, audit->session_username);
	strlcpy(audit->command_tag, GetCommandTagName(CreateCommandTag(parsetree)),
			sizeof(audit->command_tag));
	/* a failed concurrent build leaves its invalid index behind */
	audit->leaves_behind = IsA(parsetree, IndexStmt) &&
		((IndexStmt *) parsetree)->concurrent;
	describe_statement(audit, false);

	audit->outer = open_audit;
	open_audit = audit;
	return true;
}

/*
 * The statement succeeded.  Objects it created can now be found, so names
 * left unqualified at the start are looked up again.  The lookup runs with
 * interrupts held, so that a cancel cannot land between the statement's
 * success and its entry; if it fails all the same, the entry is written
 * with the names found at the start before the error goes on.
 */
void
grd_ddl_audit_end(GrdDdlAudit *audit)
{
	open_audit = audit->outer;
	HOLD_INTERRUPTS();
	if (!audit->identity_resolved && IsTransactionState())
	{
		PG_TRY();
		{
			describe_statement(audit, true);
		}
		PG_CATCH();
		{
			record(audit, GRD_DDL_OK, NULL);
			MemoryContextReset(audit_cxt);
			PG_RE_THROW();
		}
		PG_END_TRY();
	}

	record(audit, GRD_DDL_OK, NULL);
	MemoryContextReset(audit_cxt);
	RESUME_INTERRUPTS();
}

/*
 * In hooks.c's PG_CATCH: the statement failed with the error being thrown,
 * which is still on the error stack.  No catalog access here; the error is
 * copied into our own context (CopyErrorData must not run in ErrorContext,
 * which is where we are).
 */
void
grd_ddl_audit_end_error(GrdDdlAudit *audit)
{
	MemoryContext oldcxt;
	ErrorData  *edata;

	open_audit = audit->outer;

	HOLD_INTERRUPTS();
	oldcxt = MemoryContextSwitchTo(audit_cxt);
	edata = CopyErrorData();
	record(audit, edata->sqlerrcode == GRD_ERRCODE_DDL_POLICY ?
		   GRD_DDL_REJECTED : GRD_DDL_ERROR, edata);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(audit_cxt);
	RESUME_INTERRUPTS();
}

/*
 * before_shmem_exit: the backend exits (FATAL, such as pg_terminate_backend)
 * with DDL statements still open.  Their GrdDdlAudit are on the stack below
 * us, still intact; record each as failed.  The error itself is gone.
 */
static void
audit_at_exit(int code, Datum arg)
{
	while (open_audit != NULL)
	{
		GrdDdlAudit *audit = open_audit;
		ErrorData	edata;

		open_audit = audit->outer;
		memset(&edata, 0, sizeof(edata));
		edata.sqlerrcode = ERRCODE_ADMIN_SHUTDOWN;
		edata.message = "backend exited while the statement ran";
		audit->redacted = false;	/* our message echoes nothing */
		HOLD_INTERRUPTS();
		record(audit, GRD_DDL_ERROR, &edata);
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

/* Copy at most (size - 1) bytes of a string, cut at a character boundary. */
static void
copy_text(char *dst, const char *src, int size)
{
	int			len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = pg_mbcliplen(src, strlen(src), size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * Build the entry of a statement that ended, and write it wherever
 * guardrails.ddl_log_destination says.  Runs in the error path too: no
 * catalog access, and allocations (the log line) in audit_cxt only.
 */
static void
record(GrdDdlAudit *audit, char outcome, ErrorData *edata)
{
	GrdDdlEntry *e = scratch;
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
	if (edata != NULL)
	{
		strlcpy(e->sqlstate, unpack_sql_state(edata->sqlerrcode),
				sizeof(e->sqlstate));

		/*
		 * The message of a statement that carried a secret may echo part
		 * of it (libpq quotes pieces of a bad connection string).
		 */
		copy_text(e->message, audit->redacted ? GRD_DDL_REDACTED :
				  edata->message, sizeof(e->message));
	}
	strlcpy(e->datname, datname, sizeof(e->datname));
	strlcpy(e->username, audit->username, sizeof(e->username));
	strlcpy(e->session_username, audit->session_username,
			sizeof(e->session_username));
	strlcpy(e->client_addr, client_addr, sizeof(e->client_addr));
	copy_text(e->application_name, application_name,
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
	e->seq = ring_put(e);
	if (destinations & GRD_DDL_DEST_LOG)
		log_entry(e);
	wake_worker();
}

/*
 * Give the entry its number and copy it into its slot.  Returns the
 * number.
 *
 * The slot is written even when the entry goes to neither the view nor the
 * table (entry->destinations says where it goes), so that the worker finds
 * every number and can tell an entry that was not for the table from one
 * that was overwritten; but an entry for the log only does not overwrite
 * one the worker has still to store.  Each entry also carries the last
 * run of numbers given to entries not for the table, so that the worker
 * knows them even once they are overwritten (grd_ddl_ring_never_for_table).
 * An entry not for the table that comes when the
 * worker has stored everything before it is done with at once: the worker
 * may be idle (guardrails.ddl_log_destination without table) for as long
 * as the ring takes to wrap around.  What is overwritten before the worker
 * stored it is counted only if it was for the table.
 */
static uint64
ring_put(GrdDdlEntry *entry)
{
	GrdDdlEntry *slot;
	uint64		seq;
	uint64		stored;
	bool		unstored;

	/*
	 * Never a number beyond the reserved block: concurrent statements that
	 * all passed the check of grd_ddl_audit_begin() could otherwise run
	 * past it, and a crash would hand those numbers out again.  The file
	 * is written outside the ring lock; if it cannot be written, the
	 * number is taken all the same (that was logged).
	 */
	for (;;)
	{
		LWLockAcquire(ring_lock, LW_EXCLUSIVE);
		if (pg_atomic_read_u64(&ddl_shared->next_seq) <=
			pg_atomic_read_u64(&ddl_shared->reserved_seq))
			break;
		LWLockRelease(ring_lock);
		if (!seq_reserve())
		{
			LWLockAcquire(ring_lock, LW_EXCLUSIVE);
			break;
		}
	}
	seq = pg_atomic_fetch_add_u64(&ddl_shared->next_seq, 1);
	stored = pg_atomic_read_u64(&ddl_shared->stored_seq);
	slot = ring_slot(seq);
	unstored = slot->seq != 0 && slot->seq > stored &&
		(slot->destinations & GRD_DDL_DEST_TABLE);
	if (!(entry->destinations & GRD_DDL_DEST_TABLE))
	{
		if (ddl_shared->skip_to == 0 || ddl_shared->skip_to + 1 != seq)
			ddl_shared->skip_from = seq;
		ddl_shared->skip_to = seq;
	}
	entry->seq = seq;
	entry->skip_from = ddl_shared->skip_from;
	entry->skip_to = ddl_shared->skip_to;

	/* an entry for the log only never costs one for the table */
	if ((entry->destinations & (GRD_DDL_DEST_VIEW | GRD_DDL_DEST_TABLE)) ||
		!unstored)
	{
		if (unstored)
			pg_atomic_fetch_add_u64(&ddl_shared->overwritten, 1);
		memcpy(slot, entry, offsetof(GrdDdlEntry, query) + entry->query_len + 1);
	}
	if (!(entry->destinations & GRD_DDL_DEST_TABLE) && stored + 1 == seq)
		grd_ddl_set_stored(seq);
	LWLockRelease(ring_lock);
	return seq;
}

/*
 * Wake the worker if the reserved block of numbers runs low.  It is not
 * woken for new entries: it stores them at its next tick (within a
 * second), so that its transaction does not compete for the CPU with the
 * statement's own end, whose time guardrails.latency and
 * pg_stat_statements measure.
 */
static void
wake_worker(void)
{
	Latch	   *latch;

	if (seq_low())
	{
		SpinLockAcquire(&ddl_shared->mutex);
		latch = ddl_shared->worker_latch;
		SpinLockRelease(&ddl_shared->mutex);
		if (latch != NULL)
			SetLatch(latch);
	}
}

const char *
grd_ddl_outcome_name(char outcome)
{
	switch (outcome)
	{
		case GRD_DDL_OK:
			return "ok";
		case GRD_DDL_REJECTED:
			return "rejected";
		default:
			return "error";
	}
}

/* A JSON member: "name":"value", or "name":null for an empty string. */
static void
json_member(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, ",\"%s\":", name);
	if (value == NULL || value[0] == '\0')
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/*
 * The server-log line of an entry: a fixed prefix and one JSON object, so
 * that log shipping keeps a complete, parsable history.  Never sent to the
 * client.
 */
static void
log_entry(GrdDdlEntry *e)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(audit_cxt);
	StringInfoData buf;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	const char *tzn;
	char		ts[MAXDATELEN + 1];

	if (timestamp2tm(e->start_time, &tz, &tm, &fsec, &tzn, log_timezone) == 0)
		EncodeDateTime(&tm, fsec, true, tz, tzn, USE_XSD_DATES, ts);
	else
		strlcpy(ts, "", sizeof(ts));

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"seq\":" UINT64_FORMAT, e->seq);
	json_member(&buf, "start_time", ts);
	appendStringInfo(&buf, ",\"duration_ms\":%.3f", e->duration_us / 1000.0);
	json_member(&buf, "database", e->datname);
	json_member(&buf, "role", e->username);
	json_member(&buf, "session_role", e->session_username);
	json_member(&buf, "client_addr", e->client_addr);
	json_member(&buf, "application_name", e->application_name);
	appendStringInfo(&buf, ",\"pid\":%d", e->pid);
	if (e->xid != 0)
		appendStringInfo(&buf, ",\"xid\":" UINT64_FORMAT, e->xid);
	else
		appendStringInfoString(&buf, ",\"xid\":null");
	appendStringInfo(&buf, ",\"toplevel\":%s", e->toplevel ? "true" : "false");
	json_member(&buf, "command_tag", e->command_tag);
	json_member(&buf, "object_type", e->object_type);
	json_member(&buf, "object_identity", e->object_identity);
	json_member(&buf, "query", e->query);
	appendStringInfo(&buf, ",\"query_truncated\":%s",
					 e->query_len < e->query_full_len ? "true" : "false");
	json_member(&buf, "outcome", grd_ddl_outcome_name(e->outcome));
	json_member(&buf, "sqlstate", e->sqlstate);
	json_member(&buf, "message", e->message);
	appendStringInfoString(&buf, ",\"policy_warnings\":[");
	if (e->warnings[0] != '\0')
	{
		char	   *rules = pstrdup(e->warnings);
		char	   *save;
		bool		first = true;

		for (char *rule = strtok_r(rules, ",", &save); rule != NULL;
			 rule = strtok_r(NULL, ",", &save))
		{
			if (!first)
				appendStringInfoChar(&buf, ',');
			escape_json(&buf, rule);
			first = false;
		}
	}
	appendStringInfoChar(&buf, ']');
	if (e->lock_wait_us >= 0)
		appendStringInfo(&buf, ",\"lock_wait_ms\":%.3f", e->lock_wait_us / 1000.0);
	else
		appendStringInfoString(&buf, ",\"lock_wait_ms\":null");
	appendStringInfoChar(&buf, '}');

	ereport(LOG_SERVER_ONLY,
			(errmsg_internal("pg_guardrails ddl: %s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
	MemoryContextSwitchTo(oldcxt);
}

/* ----------------------------------------------------------------
 *		What object a statement names
 * ----------------------------------------------------------------
 */

/* The name of an object type, as getObjectTypeDescription() spells it. */
static const char *
objtype_name(ObjectType type)
{
	switch (type)
	{
		case OBJECT_TABLE:
			return "table";
		case OBJECT_INDEX:
			return "index";
		case OBJECT_SEQUENCE:
			return "sequence";
		case OBJECT_VIEW:
			return "view";
		case OBJECT_MATVIEW:
			return "materialized view";
		case OBJECT_FOREIGN_TABLE:
			return "foreign table";
		case OBJECT_COLUMN:
			return "table column";
		case OBJECT_TABCONSTRAINT:
			return "table constraint";
		case OBJECT_DOMCONSTRAINT:
			return "domain constraint";
		case OBJECT_SCHEMA:
			return "schema";
		case OBJECT_FUNCTION:
			return "function";
		case OBJECT_PROCEDURE:
			return "procedure";
		case OBJECT_ROUTINE:
			return "routine";
		case OBJECT_AGGREGATE:
			return "aggregate";
		case OBJECT_TYPE:
			return "type";
		case OBJECT_DOMAIN:
			return "domain";
		case OBJECT_TRIGGER:
			return "trigger";
		case OBJECT_RULE:
			return "rule";
		case OBJECT_POLICY:
			return "policy";
		case OBJECT_EXTENSION:
			return "extension";
		case OBJECT_DATABASE:
			return "database";
		case OBJECT_ROLE:
			return "role";
		case OBJECT_TABLESPACE:
			return "tablespace";
		case OBJECT_COLLATION:
			return "collation";
		case OBJECT_CONVERSION:
			return "conversion";
		case OBJECT_OPERATOR:
			return "operator";
		case OBJECT_EVENT_TRIGGER:
			return "event trigger";
		case OBJECT_FOREIGN_SERVER:
			return "server";
		case OBJECT_FDW:
			return "foreign-data wrapper";
		case OBJECT_PUBLICATION:
			return "publication";
		case OBJECT_SUBSCRIPTION:
			return "subscription";
		case OBJECT_STATISTIC_EXT:
			return "statistics object";
		case OBJECT_LANGUAGE:
			return "language";
		default:
			return "";
	}
}

static bool
is_relation_type(ObjectType type)
{
	return type == OBJECT_TABLE || type == OBJECT_INDEX ||
		type == OBJECT_SEQUENCE || type == OBJECT_VIEW ||
		type == OBJECT_MATVIEW || type == OBJECT_FOREIGN_TABLE;
}

/*
 * The schema-qualified name of a relation named by rv, when it can be
 * found without taking a lock or raising an error: an explicit schema is
 * taken as written, an unqualified name is searched in search_path when
 * lookup is set.  Sets *resolved when the result is qualified.
 */
static char *
relation_identity(const RangeVar *rv, const char *relname, bool lookup,
				  bool *resolved)
{
	Oid			relid;
	char	   *nspname;

	if (relname == NULL)
		relname = rv->relname;
	if (rv->schemaname != NULL)
	{
		*resolved = true;
		return quote_qualified_identifier(rv->schemaname, relname);
	}
	if (lookup && rv->relname != NULL)
	{
		relid = RelnameGetRelid(rv->relname);
		if (OidIsValid(relid) &&
			(nspname = get_namespace_name(get_rel_namespace(relid))) != NULL)
		{
			*resolved = true;
			return quote_qualified_identifier(nspname, relname);
		}
	}
	*resolved = false;
	return (char *) quote_identifier(relname);
}

/* The name of a non-relation object as the statement writes it. */
static char *
object_name(Node *object)
{
	if (object == NULL)
		return "";
	if (IsA(object, List))
		return NameListToQuotedString((List *) object);
	if (IsA(object, String))
		return (char *) quote_identifier(strVal(object));
	if (IsA(object, ObjectWithArgs))
		return NameListToQuotedString(((ObjectWithArgs *) object)->objname);
	if (IsA(object, TypeName))
		return TypeNameToString((TypeName *) object);
	return "";
}

/* A relation named by a dotted name list (DROP TABLE a.b, ...). */
static char *
relation_list_identity(List *names, bool lookup, bool *resolved)
{
	if (list_length(names) < 1 || list_length(names) > 3)
	{
		*resolved = true;
		return NameListToQuotedString(names);
	}
	return relation_identity(makeRangeVarFromNameList(names), NULL, lookup,
							 resolved);
}

/*
 * The identity of what a statement that names either a relation or another
 * object (RENAME, SET SCHEMA, OWNER TO) names.
 */
static char *
relation_or_object(RangeVar *relation, Node *object, bool lookup,
				   bool *resolved)
{
	if (relation != NULL)
		return relation_identity(relation, NULL, lookup, resolved);
	return object_name(object);
}

/*
 * Fill audit->object_type and object_identity from the parse tree.
 *
 * Unqualified relation names are looked up in search_path after the
 * statement succeeded (after = true), when the catalog caches are warm and
 * what it created exists.  At the start (after = false) only statements
 * that make a name disappear (DROP, RENAME, SET SCHEMA) look it up: any
 * other lookup there would only warm caches for the statement, moving its
 * cost out of the time that guardrails.latency and pg_stat_statements
 * measure for it.  CREATE INDEX CONCURRENTLY looks up too: if it fails,
 * its invalid index remains, and the entry must name it (the lookup is
 * nothing next to a concurrent build).  A failed statement therefore
 * names most objects as it wrote them.  Only relation names are qualified; other objects are named
 * as the statement writes them.
 */
static void
describe_statement(GrdDdlAudit *audit, bool after)
{
	Node	   *tree = audit->parsetree;
	const char *type = "";
	char	   *identity = "";
	bool		resolved = true;
	bool		lookup = after || IsA(tree, DropStmt) ||
		IsA(tree, RenameStmt) || IsA(tree, AlterObjectSchemaStmt) ||
		(IsA(tree, IndexStmt) && ((IndexStmt *) tree)->concurrent);

	switch (nodeTag(tree))
	{
		case T_CreateStmt:
			type = "table";
			identity = relation_identity(((CreateStmt *) tree)->relation, NULL,
										 lookup, &resolved);
			break;
		case T_CreateForeignTableStmt:
			type = "foreign table";
			identity = relation_identity(((CreateStmt *) tree)->relation, NULL,
										 lookup, &resolved);
			break;
		case T_IndexStmt:
			{
				IndexStmt  *stmt = (IndexStmt *) tree;

				type = "index";
				/* an index lives in its table's schema */
				if (stmt->idxname != NULL)
					identity = relation_identity(stmt->relation, stmt->idxname,
												 lookup, &resolved);
				break;
			}
		case T_ViewStmt:
			type = "view";
			identity = relation_identity(((ViewStmt *) tree)->view, NULL,
										 lookup, &resolved);
			break;
		case T_CreateTableAsStmt:
			{
				CreateTableAsStmt *stmt = (CreateTableAsStmt *) tree;

				type = objtype_name(stmt->objtype);
				identity = relation_identity(stmt->into->rel, NULL, lookup,
											 &resolved);
				break;
			}
		case T_CreateSeqStmt:
			type = "sequence";
			identity = relation_identity(((CreateSeqStmt *) tree)->sequence,
										 NULL, lookup, &resolved);
			break;
		case T_AlterSeqStmt:
			type = "sequence";
			identity = relation_identity(((AlterSeqStmt *) tree)->sequence,
										 NULL, lookup, &resolved);
			break;
		case T_AlterTableStmt:
			{
				AlterTableStmt *stmt = (AlterTableStmt *) tree;

				type = objtype_name(stmt->objtype);
				identity = relation_identity(stmt->relation, NULL, lookup,
											 &resolved);
				break;
			}
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) tree;

				type = objtype_name(stmt->renameType);
				identity = relation_or_object(stmt->relation, stmt->object,
											  lookup, &resolved);
				break;
			}
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) tree;

				type = objtype_name(stmt->objectType);
				identity = relation_or_object(stmt->relation, stmt->object,
											  lookup, &resolved);
				break;
			}
		case T_AlterOwnerStmt:
			{
				AlterOwnerStmt *stmt = (AlterOwnerStmt *) tree;

				type = objtype_name(stmt->objectType);
				identity = relation_or_object(stmt->relation, stmt->object,
											  lookup, &resolved);
				break;
			}
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) tree;
				StringInfoData buf;
				ListCell   *lc;

				type = objtype_name(stmt->removeType);
				initStringInfo(&buf);
				foreach(lc, stmt->objects)
				{
					Node	   *object = (Node *) lfirst(lc);
					bool		one_resolved = true;

					if (buf.len > 0)
						appendStringInfoString(&buf, ", ");
					if (is_relation_type(stmt->removeType) && IsA(object, List))
						appendStringInfoString(&buf,
											   relation_list_identity((List *) object,
																	  lookup,
																	  &one_resolved));
					else
						appendStringInfoString(&buf, object_name(object));
					resolved = resolved && one_resolved;
				}
				identity = buf.data;
				break;
			}
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) tree;

				type = "trigger";
				identity = psprintf("%s on %s", quote_identifier(stmt->trigname),
									relation_identity(stmt->relation, NULL,
													  lookup, &resolved));
				break;
			}
		case T_CreateSchemaStmt:
			{
				CreateSchemaStmt *stmt = (CreateSchemaStmt *) tree;

				type = "schema";
				if (stmt->schemaname != NULL)
					identity = (char *) quote_identifier(stmt->schemaname);
				break;
			}
		case T_CreateFunctionStmt:
			{
				CreateFunctionStmt *stmt = (CreateFunctionStmt *) tree;

				type = stmt->is_procedure ? "procedure" : "function";
				identity = NameListToQuotedString(stmt->funcname);
				break;
			}
		case T_CreateExtensionStmt:
			type = "extension";
			identity = (char *) quote_identifier(((CreateExtensionStmt *) tree)->extname);
			break;
		case T_CreatedbStmt:
			type = "database";
			identity = (char *) quote_identifier(((CreatedbStmt *) tree)->dbname);
			break;
		case T_DropdbStmt:
			type = "database";
			identity = (char *) quote_identifier(((DropdbStmt *) tree)->dbname);
			break;
		default:
			break;
	}

	/* after success, keep what the start found unless we found better */
	if (after && !resolved)
		return;
	strlcpy(audit->object_type, type, sizeof(audit->object_type));
	copy_text(audit->object_identity, identity, sizeof(audit->object_identity));
	audit->identity_resolved = resolved;
}

/* ----------------------------------------------------------------
 *		The ring as the worker reads it
 * ----------------------------------------------------------------
 */

uint64
grd_ddl_next_seq(void)
{
	return pg_atomic_read_u64(&ddl_shared->next_seq);
}

/* The oldest number that may still be in the ring. */
uint64
grd_ddl_oldest_seq(void)
{
	uint64		next = pg_atomic_read_u64(&ddl_shared->next_seq);

	return next > (uint64) grd_ddl_log_size ? next - grd_ddl_log_size : 1;
}

/*
 * Make the next number at least seq (the worker found higher numbers in
 * the table: this server was promoted, or lost its reservation file).
 */
void
grd_ddl_raise_next_seq(uint64 seq)
{
	LWLockAcquire(ring_lock, LW_EXCLUSIVE);
	if (pg_atomic_read_u64(&ddl_shared->next_seq) < seq)
		pg_atomic_write_u64(&ddl_shared->next_seq, seq);
	LWLockRelease(ring_lock);
}

/* Copy entry number seq out of the ring; false if it is not there. */
bool
grd_ddl_ring_read(uint64 seq, GrdDdlEntry *entry)
{
	GrdDdlEntry *slot;
	bool		found;

	LWLockAcquire(ring_lock, LW_SHARED);
	slot = ring_slot(seq);
	found = slot->seq == seq;
	if (found)
		memcpy(entry, slot, offsetof(GrdDdlEntry, query) + slot->query_len + 1);
	LWLockRelease(ring_lock);
	return found;
}

/*
 * The worker is done with every entry up to seq.  Only ever moves forward:
 * ring_put() advances it too, over entries not meant for the table.
 */
/*
 * Number seq is not in the ring: whether it was given to an entry that
 * was not for the table (the worker passes over it) rather than to one
 * overwritten before the worker stored it (a loss).  Its slot holds an
 * older number when the entry was not written (for the log only), or a
 * newer entry that knows the last run of numbers not for the table; an
 * older run, cut by entries for the table and overwritten since, cannot
 * be told, and counts as a loss.
 */
bool
grd_ddl_ring_never_for_table(uint64 seq)
{
	GrdDdlEntry *slot;
	bool		result;

	LWLockAcquire(ring_lock, LW_SHARED);
	slot = ring_slot(seq);
	result = (slot->seq < seq) ||
		(slot->seq > seq && slot->skip_from <= seq && seq <= slot->skip_to);
	LWLockRelease(ring_lock);
	return result;
}

void
grd_ddl_set_stored(uint64 seq)
{
	uint64		old = pg_atomic_read_u64(&ddl_shared->stored_seq);

	while (old < seq &&
		   !pg_atomic_compare_exchange_u64(&ddl_shared->stored_seq, &old, seq))
		;
	pg_atomic_write_u32(&ddl_shared->stored_known, 1);
}

/*
 * The worker's progress, kept in shared memory across its restarts and in
 * the state file across clean restarts; false when it is not known (after
 * a crash, or before a worker ever ran), and the table must tell.
 */
bool
grd_ddl_stored_known(uint64 *seq)
{
	*seq = pg_atomic_read_u64(&ddl_shared->stored_seq);
	return pg_atomic_read_u32(&ddl_shared->stored_known) != 0;
}

/*
 * A text of an entry, written in encoding (that of the database where the
 * statement ran), as a palloc'd string valid in this database's encoding,
 * as pg_stat_statements converts its texts; a character that cannot be
 * converted (or is not valid) becomes '?', so that nothing invalid is
 * ever shown or stored (pg_dump would copy it, and the restore fail).
 * Runs in a transaction: the conversion is looked up in the catalog.
 */
char *
grd_ddl_convert(const char *s, int encoding)
{
	int			target = GetDatabaseEncoding();
	int			len = strlen(s);
	const char *p = s;
	const char *end = s + len;
	StringInfoData buf;
	Oid			proc = InvalidOid;
	unsigned char *out = NULL;

	/* every server encoding is a superset of ASCII */
	if (pg_is_ascii(s) || target == PG_SQL_ASCII)
		return pstrdup(s);
	if (encoding != target && encoding != PG_SQL_ASCII &&
		PG_VALID_BE_ENCODING(encoding))
	{
		proc = FindDefaultConversionProc(encoding, target);
		out = palloc((Size) len * MAX_CONVERSION_GROWTH + 1);
	}

	initStringInfo(&buf);
	while (p < end)
	{
		int			done;
		int			skip;

		if (encoding == target)
		{
			done = pg_encoding_verifymbstr(target, p, end - p);
			appendBinaryStringInfo(&buf, p, done);
		}
		else if (OidIsValid(proc))
		{
			done = pg_do_encoding_conversion_buf(proc, encoding, target,
												 (unsigned char *) p, end - p,
												 out, (end - p) * MAX_CONVERSION_GROWTH + 1,
												 true);
			appendStringInfoString(&buf, (char *) out);
		}
		else
		{
			/* no conversion (SQL_ASCII): only ASCII is known to be text */
			for (done = 0; p + done < end && !IS_HIGHBIT_SET(p[done]); done++)
				;
			appendBinaryStringInfo(&buf, p, done);
		}
		p += done;
		if (p >= end)
			break;
		/* one character that could not be taken */
		appendStringInfoChar(&buf, '?');
		skip = (encoding == PG_SQL_ASCII || !PG_VALID_BE_ENCODING(encoding)) ?
			1 : pg_encoding_mblen_bounded(encoding, p);
		p += Max(1, Min(skip, end - p));
	}
	if (out != NULL)
		pfree(out);
	return buf.data;
}

/* See crash_seq; 0 when the ring was loaded from a clean shutdown's file. */
uint64
grd_ddl_crash_seq(void)
{
	return ddl_shared->crash_seq;
}

void
grd_ddl_count(int counter, uint64 n)
{
	Assert(counter >= 0 && counter < GRD_DDL_NCOUNTERS);
	pg_atomic_fetch_add_u64(&ddl_shared->counters[counter], n);
}

/* The worker starts (attach) or stops: where to wake it. */
void
grd_ddl_worker_attach(bool attach)
{
	SpinLockAcquire(&ddl_shared->mutex);
	ddl_shared->worker_latch = attach ? MyLatch : NULL;
	SpinLockRelease(&ddl_shared->mutex);
}

/* ----------------------------------------------------------------
 *		State file (shmem.c)
 * ----------------------------------------------------------------
 */

/*
 * Write the ring's entries, oldest first, and the counters.  Called by the
 * postmaster at shutdown, when no backend is left.
 */
static bool
ddl_log_save(FILE *file)
{
	GrdDdlFileHeader header;
	uint64		next = pg_atomic_read_u64(&ddl_shared->next_seq);
	uint64		first = grd_ddl_oldest_seq();

	memset(&header, 0, sizeof(header));
	header.magic = GRD_DDL_FILE_MAGIC;
	header.entry_header_size = offsetof(GrdDdlEntry, query);
	header.next_seq = next;
	header.stored_seq = pg_atomic_read_u64(&ddl_shared->stored_seq);
	header.reset_seq = pg_atomic_read_u64(&ddl_shared->reset_seq);
	header.overwritten = pg_atomic_read_u64(&ddl_shared->overwritten);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		header.counters[i] = pg_atomic_read_u64(&ddl_shared->counters[i]);
	header.crash_seq = ddl_shared->crash_seq;
	header.stored_known = pg_atomic_read_u32(&ddl_shared->stored_known);
	for (uint64 seq = first; seq < next; seq++)
		if (ring_slot(seq)->seq == seq)
			header.nentries++;
	if (!grd_file_write(file, &header, sizeof(header)))
		return false;

	for (uint64 seq = first; seq < next; seq++)
	{
		GrdDdlEntry *slot = ring_slot(seq);

		if (slot->seq == seq &&
			!grd_file_write(file, slot,
							offsetof(GrdDdlEntry, query) + slot->query_len + 1))
			return false;
	}
	return true;
}

/*
 * Read back what ddl_log_save wrote, in the postmaster at start.  A
 * ring made smaller keeps the newest entries; texts longer than the
 * current guardrails.ddl_log_max_query_len are cut.
 */
static bool
ddl_log_load(FILE *file, uint32 version, uint64 length)
{
	GrdDdlFileHeader header;
	GrdDdlEntry *entry;
	bool		ok = true;

	if (!grd_file_read(file, &header, sizeof(header)) ||
		header.magic != GRD_DDL_FILE_MAGIC ||
		header.entry_header_size != offsetof(GrdDdlEntry, query))
		return false;
	/* numbers a running server could have reached, consistent */
	if (header.next_seq == 0 || header.next_seq >= GRD_DDL_SEQ_MAX ||
		header.stored_seq >= header.next_seq ||
		header.reset_seq >= header.next_seq ||
		header.crash_seq > header.next_seq ||
		header.nentries > header.next_seq - 1)
		return false;

	entry = palloc(offsetof(GrdDdlEntry, query) + 1024 * 1024 + 1);
	for (uint32 i = 0; i < header.nentries && ok; i++)
	{
		GrdDdlEntry *slot;
		int			len;

		if (!grd_file_read(file, entry, offsetof(GrdDdlEntry, query)) ||
			entry->query_len < 0 || entry->query_len > 1024 * 1024 ||
			entry->seq == 0 || entry->seq >= header.next_seq ||
			!grd_file_read(file, entry->query, entry->query_len + 1))
		{
			ok = false;
			break;
		}
		len = Min(entry->query_len, grd_ddl_log_max_query_len);
		entry->query[len] = '\0';
		entry->query_len = len;
		slot = ring_slot(entry->seq);
		memcpy(slot, entry, offsetof(GrdDdlEntry, query) + len + 1);
	}
	pfree(entry);
	if (!ok)
		return false;

	pg_atomic_write_u64(&ddl_shared->next_seq, header.next_seq);
	pg_atomic_write_u64(&ddl_shared->stored_seq, header.stored_seq);
	pg_atomic_write_u64(&ddl_shared->reset_seq, header.reset_seq);
	pg_atomic_write_u64(&ddl_shared->overwritten, header.overwritten);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		pg_atomic_write_u64(&ddl_shared->counters[i], header.counters[i]);
	ddl_shared->crash_seq = header.crash_seq;
	pg_atomic_write_u32(&ddl_shared->stored_known, header.stored_known != 0);
	return true;
}

/* ----------------------------------------------------------------
 *		Settings
 * ----------------------------------------------------------------
 */

/*
 * Check hook of guardrails.ddl_log_destination: a list of view, log and
 * table; any other item is named in the error.
 */
static bool
check_ddl_log_destination(char **newval, void **extra, GucSource source)
{
	char	   *rawstring = pstrdup(*newval);
	List	   *items;
	ListCell   *lc;
	int			dest = 0;
	int		   *result;

	if (!SplitIdentifierString(rawstring, ',', &items))
	{
		GUC_check_errdetail("List syntax is invalid.");
		pfree(rawstring);
		list_free(items);
		return false;
	}
	foreach(lc, items)
	{
		char	   *item = (char *) lfirst(lc);

		if (pg_strcasecmp(item, "view") == 0)
			dest |= GRD_DDL_DEST_VIEW;
		else if (pg_strcasecmp(item, "log") == 0)
			dest |= GRD_DDL_DEST_LOG;
		else if (pg_strcasecmp(item, "table") == 0)
			dest |= GRD_DDL_DEST_TABLE;
		else
		{
			GUC_check_errdetail("Unrecognized destination \"%s\": expected view, log or table.",
								item);
			pfree(rawstring);
			list_free(items);
			return false;
		}
	}
	pfree(rawstring);
	list_free(items);

	result = (int *) grd_guc_malloc(sizeof(int));
	if (result == NULL)
		return false;
	*result = dest;
	*extra = result;
	return true;
}

static void
assign_ddl_log_destination(const char *newval, void *extra)
{
	grd_ddl_destinations = *((int *) extra);
}

/* ----------------------------------------------------------------
 *		SQL functions and status
 * ----------------------------------------------------------------
 */

/* An xid8 column: NULL for 0 (no transaction id). */
static Datum
xid8_datum(uint64 value, bool *isnull)
{
	*isnull = (value == 0);
	return FullTransactionIdGetDatum(FullTransactionIdFromU64(value));
}

/* A name column, converted from the encoding of the entry's database. */
static Datum
name_datum(const char *s, int encoding)
{
	return DirectFunctionCall1(namein,
							   CStringGetDatum(grd_ddl_convert(s, encoding)));
}

/* Columns of guardrails.ddl_log_entries(). */
typedef enum DdlLogColumn
{
	COL_SEQ,
	COL_START_TIME,
	COL_DURATION,
	COL_DBID,
	COL_DATABASE,
	COL_USERID,
	COL_ROLE,
	COL_SESSION_ROLE,
	COL_CLIENT_ADDR,
	COL_APPLICATION_NAME,
	COL_PID,
	COL_XID,
	COL_STATEMENT_XID,
	COL_TOPLEVEL,
	COL_COMMAND_TAG,
	COL_OBJECT_TYPE,
	COL_OBJECT_IDENTITY,
	COL_QUERY,
	COL_QUERY_TRUNCATED,
	COL_OUTCOME,
	COL_SQLSTATE,
	COL_MESSAGE,
	COL_POLICY_WARNINGS,
	COL_LOCK_WAIT,
	COL_STORED,
	DDL_LOG_NCOLS
} DdlLogColumn;

/* The columns shown of every entry (see grd_ddl_log_entries). */
static const bool shown_to_all[DDL_LOG_NCOLS] = {
	[COL_SEQ] = true,
	[COL_DBID] = true,
	[COL_DATABASE] = true,
	[COL_USERID] = true,
	[COL_ROLE] = true,
	[COL_SESSION_ROLE] = true,
	[COL_PID] = true,
	[COL_XID] = true,
	[COL_QUERY] = true,			/* as "<insufficient privilege>" */
	[COL_STORED] = true,
};

/*
 * guardrails.ddl_log_entries(): the entries of the ring after the last
 * ddl_log_reset(), oldest first, for the view guardrails.ddl_log.  Texts
 * are converted from the encoding of the database each statement ran in
 * to the reader's (grd_ddl_convert).
 *
 * Another role's entry shows what pg_stat_activity shows of another role's
 * session (pg_stat_get_activity), with the same test: the reader sees
 * everything when it has the privileges of pg_read_all_stats or of the
 * role that ran the statement (superusers have both).  Otherwise only the
 * columns pg_stat_activity shows to everyone remain: the database, the
 * roles, the backend's pid and the transaction id, and ours that say
 * nothing of the statement (seq, stored).  The statement reads
 * "<insufficient privilege>"; its time (as query_start), client address,
 * and what it did (command, object, outcome, error, warnings) are NULL.
 * So is application_name, which pg_stat_activity does show: a session's
 * name is shown there while it lives, but here it would stay, next to
 * what that session changed, for as long as the entry.
 */
PG_FUNCTION_INFO_V1(grd_ddl_log_entries);

Datum
grd_ddl_log_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			userid = GetUserId();
	bool		read_all = has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS);
	GrdDdlEntry *e;
	uint64		first;
	uint64		next;
	uint64		stored;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);

	e = palloc(grd_ddl_entry_size());
	next = pg_atomic_read_u64(&ddl_shared->next_seq);
	first = Max(grd_ddl_oldest_seq(),
				pg_atomic_read_u64(&ddl_shared->reset_seq) + 1);
	stored = pg_atomic_read_u64(&ddl_shared->stored_seq);

	for (uint64 seq = first; seq < next; seq++)
	{
		Datum		values[DDL_LOG_NCOLS];
		bool		nulls[DDL_LOG_NCOLS];
		bool		visible;

		if (!grd_ddl_ring_read(seq, e) ||
			!(e->destinations & (GRD_DDL_DEST_VIEW | GRD_DDL_DEST_TABLE)))
			continue;
		visible = read_all || has_privs_of_role(userid, e->userid);

		memset(nulls, 0, sizeof(nulls));

		/* what pg_stat_activity shows to everyone (shown_to_all) */
		values[COL_SEQ] = Int64GetDatum((int64) e->seq);
		values[COL_DBID] = ObjectIdGetDatum(e->dbid);
		values[COL_DATABASE] = name_datum(e->datname, e->encoding);
		values[COL_USERID] = ObjectIdGetDatum(e->userid);
		values[COL_ROLE] = name_datum(e->username, e->encoding);
		values[COL_SESSION_ROLE] = name_datum(e->session_username,
											  e->encoding);
		values[COL_PID] = Int32GetDatum(e->pid);
		values[COL_XID] = xid8_datum(e->xid, &nulls[COL_XID]);
		values[COL_STORED] = BoolGetDatum(e->seq <= stored);

		if (!visible)
		{
			for (int i = 0; i < DDL_LOG_NCOLS; i++)
				nulls[i] = nulls[i] || !shown_to_all[i];
			values[COL_QUERY] = CStringGetTextDatum("<insufficient privilege>");
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
			continue;
		}

		values[COL_START_TIME] = TimestampTzGetDatum(e->start_time);
		values[COL_DURATION] = Float8GetDatum(e->duration_us / 1000.0);
		if (e->client_addr[0] != '\0')
			values[COL_CLIENT_ADDR] =
				DirectFunctionCall1(inet_in, CStringGetDatum(e->client_addr));
		else
			nulls[COL_CLIENT_ADDR] = true;
		values[COL_APPLICATION_NAME] =
			CStringGetTextDatum(e->application_name);
		values[COL_STATEMENT_XID] = xid8_datum(e->stmt_xid,
											   &nulls[COL_STATEMENT_XID]);
		values[COL_TOPLEVEL] = BoolGetDatum(e->toplevel);
		values[COL_COMMAND_TAG] = CStringGetTextDatum(e->command_tag);
		if (e->object_type[0] != '\0')
			values[COL_OBJECT_TYPE] = CStringGetTextDatum(e->object_type);
		else
			nulls[COL_OBJECT_TYPE] = true;
		if (e->object_identity[0] != '\0')
			values[COL_OBJECT_IDENTITY] =
				CStringGetTextDatum(grd_ddl_convert(e->object_identity,
													 e->encoding));
		else
			nulls[COL_OBJECT_IDENTITY] = true;
		values[COL_QUERY] = CStringGetTextDatum(grd_ddl_convert(e->query,
																  e->encoding));
		values[COL_QUERY_TRUNCATED] =
			BoolGetDatum(e->query_len < e->query_full_len);
		values[COL_OUTCOME] =
			CStringGetTextDatum(grd_ddl_outcome_name(e->outcome));
		if (e->sqlstate[0] != '\0')
			values[COL_SQLSTATE] = CStringGetTextDatum(e->sqlstate);
		else
			nulls[COL_SQLSTATE] = true;
		if (e->outcome != GRD_DDL_OK)
			values[COL_MESSAGE] =
				CStringGetTextDatum(grd_ddl_convert(e->message, e->encoding));
		else
			nulls[COL_MESSAGE] = true;
		values[COL_POLICY_WARNINGS] =
			CStringGetTextDatum(grd_ddl_convert(e->warnings, e->encoding));
		if (e->lock_wait_us >= 0)
			values[COL_LOCK_WAIT] = Float8GetDatum(e->lock_wait_us / 1000.0);
		else
			nulls[COL_LOCK_WAIT] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	pfree(e);
	return (Datum) 0;
}

/*
 * guardrails.ddl_log_reset(): hide the ring's current entries from
 * guardrails.ddl_log and zero the counters.  The background worker still
 * stores them: nothing is lost.  Returns how many entries were hidden.
 */
PG_FUNCTION_INFO_V1(grd_ddl_log_reset);

Datum
grd_ddl_log_reset(PG_FUNCTION_ARGS)
{
	uint64		next;
	uint64		from;

	grd_require_preload();
	LWLockAcquire(ring_lock, LW_EXCLUSIVE);
	next = pg_atomic_read_u64(&ddl_shared->next_seq);
	from = Max(grd_ddl_oldest_seq(),
			   pg_atomic_read_u64(&ddl_shared->reset_seq) + 1);
	pg_atomic_write_u64(&ddl_shared->reset_seq, next - 1);
	pg_atomic_write_u64(&ddl_shared->overwritten, 0);
	for (int i = 0; i < GRD_DDL_NCOUNTERS; i++)
		pg_atomic_write_u64(&ddl_shared->counters[i], 0);
	LWLockRelease(ring_lock);
	PG_RETURN_INT64(next > from ? (int64) (next - from) : 0);
}

/*
 * Rows of guardrails.status owned by this module.
 */
static void
ddl_log_status(GrdStatus *status)
{
	uint64		next = pg_atomic_read_u64(&ddl_shared->next_seq);
	uint64		stored = pg_atomic_read_u64(&ddl_shared->stored_seq);

	grd_status_put(status, "ddl_log_memory_bytes",
				   (int64) ddl_log_shmem_size());
	grd_status_put(status, "ddl_log_size", grd_ddl_log_size);
	grd_status_put(status, "ddl_log_next_seq", (int64) next);
	grd_status_put(status, "ddl_log_overwritten",
				   (int64) pg_atomic_read_u64(&ddl_shared->overwritten));
	grd_status_put(status, "ddl_history_stored_seq", (int64) stored);
	grd_status_put(status, "ddl_history_pending",
				   (grd_ddl_destinations & GRD_DDL_DEST_TABLE) && next - 1 > stored ?
				   (int64) (next - 1 - stored) : 0);
	grd_status_put(status, "ddl_history_stored",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_STORED]));
	grd_status_put(status, "ddl_history_not_stored",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_NOT_STORED]));
	grd_status_put(status, "ddl_history_missed",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_MISSED]));
	grd_status_put(status, "ddl_history_crash_gap",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_CRASH_GAP]));
	grd_status_put(status, "ddl_history_collided",
				   (int64) pg_atomic_read_u64(&ddl_shared->counters[GRD_DDL_COLLIDED]));
}

/*
 * The settings of the DDL log; in _PG_init.
 */
static void
ddl_log_init(void)
{
	DefineCustomIntVariable("guardrails.ddl_log_size",
							"Number of DDL statements the shared ring of the DDL log holds.",
							"guardrails.ddl_log shows them; the oldest is overwritten when it is full.",
							&grd_ddl_log_size,
							1000,
							1,
							1000000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.ddl_log_max_query_len",
							"Longest statement text the DDL log keeps; longer ones are truncated.",
							"Each entry of the ring takes this much shared memory, plus about 1.5 kB.",
							&grd_ddl_log_max_query_len,
							4096,
							64,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("guardrails.ddl_log_destination",
							   "Where DDL statements are recorded: view, log and table.",
							   "view: the ring shown by guardrails.ddl_log; log: one line per statement in the server log; "
							   "table: guardrails.ddl_history, filled from the ring by a background worker. Empty: nowhere.",
							   &grd_ddl_log_destination,
							   "view, log, table",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_ddl_log_destination,
							   assign_ddl_log_destination,
							   NULL);
}

const GrdModule grd_ddl_log_module = {
	.name = "DDL log",
	.init = ddl_log_init,
	.shmem_size = ddl_log_shmem_size,
	.shmem_startup = ddl_log_shmem_startup,
	.section_tag = GRD_SECTION_TAG('D', 'D', 'L', 'R'),
	.section_version = 1,
	.save = ddl_log_save,
	.load = ddl_log_load,
	.after_load = ddl_log_after_load,
	.status = ddl_log_status,
};
