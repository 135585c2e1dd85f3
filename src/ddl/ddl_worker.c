/*-------------------------------------------------------------------------
 *
 * ddl_worker.c
 *		The background worker that copies the DDL ring into the durable
 *		table guardrails.ddl_history.
 *
 * One worker per server, started once recovery has finished (a standby
 * runs no DDL and cannot write), connected to the database named by
 * guardrails.database.  It wakes once a second (and when a backend finds
 * the reserved sequence numbers running low), and:
 *
 *	- waits, saying so once in the server log, while the extension is not
 *	  created in its database;
 *	- at its start, resumes where the worker before it left off (shared
 *	  memory), or after a crash after the highest sequence number of this
 *	  server (system identifier) and timeline in the table (see
 *	  resume_numbering()), and makes sure new entries are numbered above it;
 *	- stores the entries after that one, in order, a batch per transaction
 *	  (with synchronous_commit off: an entry lost with the last commits
 *	  before a crash is in the server log, and the next start counts it),
 *	  each as (system identifier, timeline, seq): a promoted standby stores
 *	  on a timeline of its own, and never collides with its old primary;
 *	- reports numbers it wanted but that were no longer in the ring
 *	  (overwritten, or lost in a crash) as a range in the server log and in
 *	  guardrails.status, each range once; an entry it failed three times
 *	  to store is given up alone (the entries around it are stored) and
 *	  for good; an entry whose number a row already has is counted as a
 *	  collision, not as stored;
 *	- settles rolled_back for entries whose transaction was still open when
 *	  they were stored, from the commit log (pg_xact_status);
 *	- deletes entries older than guardrails.ddl_history_retention.
 *
 * It connects as the bootstrap superuser to a database whose owner may be
 * anybody, so it trusts nothing there by name: search_path is pinned to
 * pg_catalog, pg_temp for the whole process (above any ALTER DATABASE or
 * ALTER ROLE setting), and so are the settings that would make it run as
 * another role, read-only or under a timeout (pin_settings()), every
 * function and operator in its SQL is qualified with pg_catalog, and guardrails.ddl_history is used only if
 * config.c finds it to be the extension's table with the expected
 * columns: each transaction locks it by OID, then checks that the name
 * still leads to it, before running any statement on it.  Digest rules
 * never apply to its statements (hooks.c).
 *
 * It also reserves blocks of sequence numbers (see ddl_ring.c).  It runs
 * with guardrails.track = none, and pg_stat_statements.track = none when
 * that is loaded: its statements are housekeeping, not the server's
 * workload, and both extensions agree on what they count.  Backends never
 * wait for it: they only set its latch.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "compat.h"
#include "config.h"
#include "ddl_entry.h"
#include "ddl_ring.h"
#include "ddl_worker.h"
#include "hooks.h"
#include "module.h"

#define WORKER_NAME			"pg_guardrails ddl history"
#define BATCH_SIZE			200 /* entries per transaction */
#define MAX_ATTEMPTS		3	/* tries before an entry is given up */
#define NAPTIME_MS			1000
#define RETENTION_EVERY_MS	60000

#define INSERT_SQL \
	"INSERT INTO guardrails.ddl_history (system_identifier, seq, start_time, " \
	"duration_ms, database, role, session_role, client_addr, " \
	"application_name, pid, xid, statement_xid, toplevel, command_tag, " \
	"object_type, object_identity, query, query_truncated, outcome, " \
	"sqlstate, message, policy_warnings, lock_wait_ms, rolled_back, timeline) " \
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8::pg_catalog.inet, $9, $10, $11, " \
	"$12, $13, $14, $15, $16, $17, $18, $19, $20, $21, " \
	"pg_catalog.string_to_array($22, ','), $23, $24, $25) " \
	"ON CONFLICT DO NOTHING"
#define INSERT_NARGS		25

static uint64 system_id;
static TimeLineID timeline;		/* this server's, as a primary */
static GrdDdlEntry *entry;
static SPIPlanPtr insert_plan = NULL;
static bool table_ready = false;	/* the extension was found */
static bool said_missing = false;	/* "not created" was logged */
static bool unsettled = true;	/* rows may wait for rolled_back */
static bool resumed = false;	/* stored_seq was set at the start */
static uint64 table_max = 0;	/* highest number of this server and
								 * timeline in the table, when last read */
static uint64 stored_seq = 0;	/* the last entry dealt with */
static uint64 failing_seq = 0;	/* the entry that last failed to insert */
static int	attempts = 0;
static uint64 missed_first = 0; /* a range of missed numbers not yet */
static uint64 missed_last = 0;	/* reported, while it may still grow */
static TimestampTz last_retention = 0;

static void pin_settings(void);
static void worker_detach(int code, Datum arg);
static void worker_cycle(void);
static bool find_table(void);
static void resume_numbering(void);

/* One batch: what store_batch_tx() is asked to do, and what it did. */
typedef struct BatchArgs
{
	uint64		from;			/* first number to store */
	uint64		next;			/* stop before this one */
	uint64		last;			/* out: the last number dealt with */
	uint64		inserting;		/* out: the entry being inserted when the
								 * transaction failed, or 0 */
	int			stored;			/* out: rows inserted */
	int			ncollided;		/* out: entries whose number a row had */
	uint64		collided[BATCH_SIZE];
	uint64		missed_first;	/* out: a range no longer in the ring */
	uint64		missed_last;
} BatchArgs;

static int	store_batch(uint64 from, uint64 next, BatchArgs *b);
static void note_missed(uint64 first, uint64 last);
static void report_missed(void);
static void settle_rolled_back(void *arg);
static void apply_retention(void *arg);

/* settings */
static char *grd_database = NULL;
static int	grd_ddl_history_retention = 90 * 24 * 60;

/* The settings of the DDL history worker. */
static const GrdSetting ddl_history_settings[] = {
	GRD_SETTING_STRING("guardrails.database", &grd_database, "postgres", PGC_POSTMASTER, 0, NULL, NULL,
		"Database where the background worker stores guardrails.ddl_history.",
		"The extension must be created in it."),
	GRD_SETTING_INT("guardrails.ddl_history_retention", &grd_ddl_history_retention, 90 * 24 * 60, 0, INT_MAX,
		PGC_SIGHUP, GUC_UNIT_MIN,
		"How long guardrails.ddl_history keeps a statement; 0 keeps it forever.",
		NULL),
	GRD_SETTINGS_END
};

/*
 * Register the worker; in _PG_init, while shared_preload_libraries are
 * loaded.
 */
static void
ddl_history_init(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "pg_guardrails",
			sizeof(worker.bgw_library_name));
	strlcpy(worker.bgw_function_name, "grd_ddl_worker_main",
			sizeof(worker.bgw_function_name));
	strlcpy(worker.bgw_name, WORKER_NAME, sizeof(worker.bgw_name));
	strlcpy(worker.bgw_type, WORKER_NAME, sizeof(worker.bgw_type));
	RegisterBackgroundWorker(&worker);
}

/*
 * The settings the worker runs with, above any other source.  Connecting,
 * it takes the settings of its database (ALTER DATABASE ... SET), and the
 * owner of that database, who may be anybody, can set every setting of
 * context user there: a session user or role of their own (the worker
 * would then run with their rights and fail to write the history), a
 * read-only default, lock
 * and transaction timeouts that kill the worker's transactions, a
 * search_path where their functions and operators are found.  Settings
 * this server does not have (transaction_timeout before PostgreSQL 17) are
 * skipped.
 */
static void
pin_settings(void)
{
	static const char *const pinned[][2] = {
		/* the user it connected as, not a role set for the database */
		{"role", "none"},
		/* nothing the database's owner put on the search path runs here */
		{"search_path", "pg_catalog, pg_temp"},
		{"default_transaction_read_only", "off"},
		{"default_transaction_isolation", "read committed"},
		/* nor is it timed out by the server's or the database's defaults */
		{"statement_timeout", "0"},
		{"lock_timeout", "0"},
		{"idle_in_transaction_session_timeout", "0"},
		{"transaction_timeout", "0"},
		{"synchronous_commit", "off"},
		/* housekeeping, not the server's workload */
		{"guardrails.track", "none"},
		{"pg_stat_statements.track", "none"},
	};

	/*
	 * The session's user first, which role = none returns to: it may have
	 * been made the owner's (session_authorization), and naming the user
	 * the worker connected as takes a catalog lookup.
	 */
	StartTransactionCommand();
	SetConfigOption("session_authorization",
					GetUserNameFromId(GetAuthenticatedUserId(), false),
					PGC_SUSET, PGC_S_OVERRIDE);
	CommitTransactionCommand();

	for (int i = 0; i < lengthof(pinned); i++)
	{
		if (GetConfigOption(pinned[i][0], true, false) != NULL)
			SetConfigOption(pinned[i][0], pinned[i][1], PGC_SUSET,
							PGC_S_OVERRIDE);
	}
}

/*
 * The worker's main loop.
 */
void
grd_ddl_worker_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(grd_database, NULL, 0);
	pgstat_report_appname(WORKER_NAME);
	pin_settings();
	/* housekeeping: never refused by a digest rule */
	grd_hooks_own_process();

	system_id = GetSystemIdentifier();
	timeline = GetWALInsertionTimeLine();
	entry = MemoryContextAlloc(TopMemoryContext, grd_ddl_entry_size());
	grd_ddl_worker_attach(true);
	on_shmem_exit(worker_detach, (Datum) 0);

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		grd_ddl_reserve_seq();
		if (grd_ddl_destinations & GRD_DDL_DEST_TABLE)
			worker_cycle();

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NAPTIME_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

static void
worker_detach(int code, Datum arg)
{
	report_missed();
	grd_ddl_worker_attach(false);
}

/*
 * Run fn in a transaction of its own with a snapshot and SPI; on an error,
 * log it, roll back and return false.
 */
static bool
run_in_transaction(void (*fn) (void *), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		fn(arg);
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(oldcxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/*
 * Lock guardrails.ddl_history for writing and make sure it is the
 * extension's, before a statement of this transaction names it: found by
 * OID, locked, then looked up again (a table renamed or dropped meanwhile
 * is not ours any more), and its columns checked.  Returns false when the
 * database has no such table of the extension.
 */
static bool
lock_history(void)
{
	Oid			relid = grd_config_relid(GRD_CONFIG_DDL_HISTORY);
	Relation	rel;
	bool		ok;

	if (!OidIsValid(relid))
		return false;
	LockRelationOid(relid, RowExclusiveLock);
	if (grd_config_relid(GRD_CONFIG_DDL_HISTORY) != relid)
		return false;
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		return false;
	ok = grd_config_columns_ok(GRD_CONFIG_DDL_HISTORY, rel);
	relation_close(rel, NoLock);
	return ok;
}

/* The table can only be used as the extension's. */
static void
require_history(void)
{
	if (!lock_history())
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table \"guardrails.ddl_history\" of extension \"pg_guardrails\" is not available")));
}

/*
 * The one value a query of the table returns (one row, one column, never
 * NULL), valid until the transaction's SPI ends.
 */
static Datum
history_read_value(const char *sql, int nargs, Oid *types, Datum *values)
{
	bool		isnull;

	if (SPI_execute_with_args(sql, nargs, types, values, NULL, true, 1)
		!= SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read guardrails.ddl_history");
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						 &isnull);
}

/* Find the table, and where to resume. */
static void
find_table_tx(void *arg)
{
	bool	   *found = (bool *) arg;
	Datum		values[2];
	Oid			types[2] = {INT8OID, INT4OID};

	pgstat_report_activity(STATE_RUNNING, "looking for guardrails.ddl_history");
	*found = lock_history();
	if (!*found)
		return;

	values[0] = Int64GetDatum((int64) system_id);
	values[1] = Int32GetDatum((int32) timeline);
	table_max = (uint64) DatumGetInt64(
		history_read_value("SELECT coalesce(pg_catalog.max(seq), 0) "
						   "FROM guardrails.ddl_history "
						   "WHERE system_identifier OPERATOR(pg_catalog.=) $1 "
						   "AND timeline OPERATOR(pg_catalog.=) $2",
						   2, types, values));
}

/*
 * Whether the table exists in our database; the first time it does, where
 * to resume.  Its absence is logged once, not at every cycle.
 */
static bool
find_table(void)
{
	bool		found = false;

	if (table_ready)
		return true;
	if (!run_in_transaction(find_table_tx, &found))
		return false;
	if (!found)
	{
		if (!said_missing)
			ereport(LOG,
					(errmsg("pg_guardrails: extension \"pg_guardrails\" is not created in database \"%s\"",
							grd_database),
					 errdetail("DDL log entries stay in the ring and the server log until guardrails.ddl_history exists."),
					 errhint("Run CREATE EXTENSION pg_guardrails in database \"%s\", or set guardrails.database.",
							 grd_database)));
		said_missing = true;
		return false;
	}
	if (said_missing)
		ereport(LOG,
				(errmsg("pg_guardrails: storing the DDL log in database \"%s\"",
						grd_database)));
	said_missing = false;
	table_ready = true;

	/* number new entries above anything the table holds */
	grd_ddl_raise_next_seq(table_max + 1);
	if (!resumed)
	{
		resume_numbering();
		resumed = true;
	}
	return true;
}

/*
 * Where to resume, once per worker process.  The worker's progress, kept
 * in shared memory (and across a clean restart in the state file), is
 * where it left off: a worker restart neither goes back (after rows were
 * deleted) nor skips.  It is not known after a crash, nor before a worker
 * ever ran on this server (a standby); then the table tells, for this
 * server and timeline:
 *
 *	- rows below the first number given since the server started: it
 *	  crashed, and the numbers after the last stored row up to that first
 *	  one are a crash gap, which the cycle reports;
 *	- no row (a timeline that began with this server's promotion, or a
 *	  table emptied), or rows at or above that first number (the sequence
 *	  file was lost): every entry the ring holds since the start is stored,
 *	  and one whose number a row already has is counted as a collision;
 *	  nothing before the start can be told apart, so no gap is reported.
 */
static void
resume_numbering(void)
{
	uint64		first = Max(grd_ddl_crash_seq(), 1);

	if (grd_ddl_stored_known(&stored_seq))
		return;
	if (table_max > 0 && table_max < first)
		stored_seq = table_max;
	else
		stored_seq = first - 1;
	grd_ddl_set_stored(stored_seq);
}

/*
 * One wake-up: store what is new, then the housekeeping.
 */
static void
worker_cycle(void)
{
	uint64		next;
	uint64		crash_seq;

	if (!find_table())
		return;

	/* entries not for the table may have been passed over meanwhile */
	if (grd_ddl_stored_known(&next) && next > stored_seq)
		stored_seq = next;

	next = grd_ddl_next_seq();
	while (stored_seq + 1 < next)
	{
		BatchArgs	b;
		uint64		until = next;
		int			stored;

		/*
		 * Numbers lost with the ring in a crash.  (Those gone since, by an
		 * overflow, are found one by one: some may have been given to
		 * entries not for the table.)
		 */
		crash_seq = grd_ddl_crash_seq();
		if (stored_seq + 1 < crash_seq)
		{
			note_missed(stored_seq + 1, crash_seq - 1);
			stored_seq = crash_seq - 1;
			grd_ddl_set_stored(stored_seq);
			continue;
		}

		/* the entries before one that failed go in without it */
		if (failing_seq > stored_seq + 1 && failing_seq < next)
			until = failing_seq;
		stored = store_batch(stored_seq + 1, until, &b);
		if (stored < 0)
		{
			/* look for the table again: it may have been dropped */
			table_ready = false;

			/*
			 * Not an entry's fault (the table is missing or locked): try
			 * again at the next tick, for as long as it takes.
			 */
			if (b.inserting == 0)
				return;

			/*
			 * That entry failed: it is tried MAX_ATTEMPTS times, one tick
			 * apart, then given up; and given up it stays, as the worker's
			 * progress never goes back.
			 */
			if (failing_seq != b.inserting)
			{
				failing_seq = b.inserting;
				attempts = 0;
			}
			if (++attempts < MAX_ATTEMPTS || failing_seq != stored_seq + 1)
				return;
			report_missed();
			ereport(LOG,
					(errmsg("pg_guardrails: could not store DDL log entry " UINT64_FORMAT " in guardrails.ddl_history",
							failing_seq),
					 errdetail("The entry is in the server log, if guardrails.ddl_log_destination includes log.")));
			grd_ddl_count(GRD_DDL_NOT_STORED, 1);
			stored_seq = failing_seq;
			grd_ddl_set_stored(stored_seq);
			failing_seq = 0;
			attempts = 0;
			continue;
		}
		stored_seq = b.last;
		grd_ddl_set_stored(stored_seq);
		CHECK_FOR_INTERRUPTS();
	}
	/* caught up: what was missed is all there will be of that range */
	if (stored_seq + 1 >= grd_ddl_next_seq())
		report_missed();

	if (unsettled)
		(void) run_in_transaction(settle_rolled_back, NULL);
	if (grd_ddl_history_retention > 0 &&
		TimestampDifferenceExceeds(last_retention, GetCurrentTimestamp(),
								   RETENTION_EVERY_MS))
	{
		last_retention = GetCurrentTimestamp();
		(void) run_in_transaction(apply_retention, NULL);
	}
}

/*
 * A text parameter of the current entry, NULL when empty, converted from
 * the encoding of the database it ran in to this one's.
 */
static void
text_arg(Datum *values, char *nulls, int i, const char *s)
{
	if (s[0] == '\0')
		nulls[i] = 'n';
	else
		values[i] = CStringGetTextDatum(grd_ddl_convert(s, entry->encoding));
}

/* A name parameter of the current entry, converted likewise. */
static Datum
name_arg(const char *s)
{
	return DirectFunctionCall1(namein,
							   CStringGetDatum(grd_ddl_convert(s, entry->encoding)));
}

static void
store_batch_tx(void *arg)
{
	BatchArgs  *b = (BatchArgs *) arg;
	Datum		values[INSERT_NARGS];
	char		nulls[INSERT_NARGS];

	pgstat_report_activity(STATE_RUNNING, "storing the DDL log");
	require_history();
	if (insert_plan == NULL)
	{
		Oid			types[INSERT_NARGS] = {INT8OID, INT8OID, TIMESTAMPTZOID,
			FLOAT8OID, NAMEOID, NAMEOID, NAMEOID, TEXTOID, TEXTOID, INT4OID,
			XID8OID, XID8OID, BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
			BOOLOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, FLOAT8OID, BOOLOID,
		INT4OID};
		SPIPlanPtr	plan = SPI_prepare(INSERT_SQL, INSERT_NARGS, types);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		insert_plan = plan;
	}

	for (uint64 seq = b->from;
		 seq < b->next && b->stored + b->ncollided < BATCH_SIZE; seq++)
	{
		int			i = 0;

		b->last = seq;
		if (!grd_ddl_ring_read(seq, entry))
		{
			if (grd_ddl_ring_never_for_table(seq))
				continue;
			if (b->missed_first != 0 && b->missed_last + 1 != seq)
			{
				b->last = seq - 1;
				break;			/* one range per batch */
			}
			if (b->missed_first == 0)
				b->missed_first = seq;
			b->missed_last = seq;
			continue;
		}
		/* recorded while guardrails.ddl_log_destination left out table */
		if (!(entry->destinations & GRD_DDL_DEST_TABLE))
			continue;

		b->inserting = seq;
		memset(nulls, ' ', sizeof(nulls));
		values[i++] = Int64GetDatum((int64) system_id);
		values[i++] = Int64GetDatum((int64) entry->seq);
		values[i++] = TimestampTzGetDatum(entry->start_time);
		values[i++] = Float8GetDatum(entry->duration_us / 1000.0);
		values[i++] = name_arg(entry->datname);
		values[i++] = name_arg(entry->username);
		values[i++] = name_arg(entry->session_username);
		text_arg(values, nulls, i++, entry->client_addr);
		values[i++] = CStringGetTextDatum(entry->application_name);
		values[i++] = Int32GetDatum(entry->pid);
		values[i] = FullTransactionIdGetDatum(FullTransactionIdFromU64(entry->xid));
		if (entry->xid == 0)
			nulls[i] = 'n';
		i++;
		values[i] = FullTransactionIdGetDatum(FullTransactionIdFromU64(entry->stmt_xid));
		if (entry->stmt_xid == 0)
			nulls[i] = 'n';
		i++;
		values[i++] = BoolGetDatum(entry->toplevel);
		values[i++] = CStringGetTextDatum(entry->command_tag);
		text_arg(values, nulls, i++, entry->object_type);
		text_arg(values, nulls, i++, entry->object_identity);
		values[i++] = CStringGetTextDatum(grd_ddl_convert(entry->query,
														  entry->encoding));
		values[i++] = BoolGetDatum(entry->query_len < entry->query_full_len);
		values[i++] = CStringGetTextDatum(grd_ddl_outcome_name(entry->outcome));
		text_arg(values, nulls, i++, entry->sqlstate);
		if (entry->outcome != GRD_DDL_OK)
			text_arg(values, nulls, i, entry->message);
		else
			nulls[i] = 'n';
		i++;
		values[i++] = CStringGetTextDatum(grd_ddl_convert(entry->warnings,
														  entry->encoding));
		values[i] = Float8GetDatum(entry->lock_wait_us / 1000.0);
		if (entry->lock_wait_us < 0)
			nulls[i] = 'n';
		i++;

		/*
		 * Whether it was rolled back: a failed statement was, unless what
		 * it built remains (the invalid index of a failed CREATE INDEX
		 * CONCURRENTLY, which runs in no transaction block); one that ran
		 * in no transaction id wrote nothing that could be; otherwise it
		 * is settled from the commit log once its transaction has ended.
		 */
		if (entry->outcome != GRD_DDL_OK)
			values[i] = BoolGetDatum(!entry->leaves_behind);
		else if (entry->stmt_xid == 0)
			values[i] = BoolGetDatum(false);
		else
		{
			nulls[i] = 'n';
			unsettled = true;
		}
		i++;
		values[i++] = Int32GetDatum((int32) timeline);
		Assert(i == INSERT_NARGS);

		if (SPI_execute_plan(insert_plan, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not insert into guardrails.ddl_history");
		/* ON CONFLICT DO NOTHING: a row had this number already */
		if (SPI_processed == 0)
			b->collided[b->ncollided++] = seq;
		else
			b->stored++;
		b->inserting = 0;
	}
}

/*
 * Store entries from, up to next (excluded), at most BATCH_SIZE, in one
 * transaction.  Returns how many were inserted (b->last is the last number
 * dealt with), or -1 if the transaction failed (b->inserting is the entry
 * whose insert failed, 0 if the failure was not an entry's).  What is
 * reported and counted is so only once the transaction committed: a batch
 * that fails is tried again.
 */
static int
store_batch(uint64 from, uint64 next, BatchArgs *b)
{
	memset(b, 0, sizeof(BatchArgs));
	b->from = from;
	b->next = next;
	if (!run_in_transaction(store_batch_tx, b))
		return -1;
	/* a batch's missing numbers come before the entries it found */
	if (b->missed_first != 0)
		note_missed(b->missed_first, b->missed_last);
	if (b->stored + b->ncollided > 0)
		report_missed();
	grd_ddl_count(GRD_DDL_STORED, b->stored);
	for (int i = 0; i < b->ncollided; i++)
		ereport(LOG,
				(errmsg("pg_guardrails: DDL log entry " UINT64_FORMAT " collides with a row of guardrails.ddl_history",
						b->collided[i]),
				 errdetail("A row with the same system identifier, timeline and number was stored before; the entry is in the server log only, if guardrails.ddl_log_destination includes log.")));
	grd_ddl_count(GRD_DDL_COLLIDED, b->ncollided);
	return b->stored;
}

/*
 * Numbers first to last were wanted but were no longer in the ring.  They
 * are reported when the range can grow no more (an entry after it was
 * found, or the worker caught up), so that one overflow is one line, and
 * counted then, once.
 */
static void
note_missed(uint64 first, uint64 last)
{
	if (missed_first != 0 && first != missed_last + 1)
		report_missed();
	if (missed_first == 0)
		missed_first = first;
	missed_last = last;
}

/*
 * Report the range of missed numbers noted.  Those below the first number
 * given since a crash were lost with the server's memory (the range
 * includes numbers reserved but never used); the others were overwritten
 * when the ring overflowed.  Their entries are in the server log only.
 */
static void
report_missed(void)
{
	uint64		crash_seq = grd_ddl_crash_seq();
	uint64		first = missed_first;
	uint64		last = missed_last;

	if (first == 0)
		return;
	missed_first = missed_last = 0;

	if (first < crash_seq)
	{
		uint64		crash_last = Min(last, crash_seq - 1);

		grd_ddl_count(GRD_DDL_CRASH_GAP, crash_last - first + 1);
		ereport(LOG,
				(errmsg("pg_guardrails: DDL log entries " UINT64_FORMAT " to " UINT64_FORMAT " were not stored in guardrails.ddl_history: the server started without the ring saved at its last shutdown",
						first, crash_last),
				 errdetail("The server crashed, or its state file was missing or could not be used (the server log says so at startup). Numbers in this range were either never used (they are reserved in blocks, to survive a crash) or given to statements that are only in the server log (\"pg_guardrails ddl:\" lines).")));
		first = crash_last + 1;
	}
	if (first > last)
		return;
	grd_ddl_count(GRD_DDL_MISSED, last - first + 1);
	ereport(LOG,
			(errmsg("pg_guardrails: DDL log entries " UINT64_FORMAT " to " UINT64_FORMAT " were not stored in guardrails.ddl_history: the ring overflowed",
					first, last),
			 errdetail("They were overwritten before the worker could store them; they are in the server log (\"pg_guardrails ddl:\" lines), if guardrails.ddl_log_destination includes log."),
			 errhint("Raise guardrails.ddl_log_size.")));
}

/*
 * Entries stored while their transaction was open: rolled back or not,
 * now that it has ended.
 */
static void
settle_rolled_back(void *arg)
{
	Datum		values[1];
	Oid			types[1] = {INT8OID};

	pgstat_report_activity(STATE_RUNNING, "settling rolled_back in the DDL log");
	require_history();
	values[0] = Int64GetDatum((int64) system_id);
	if (SPI_execute_with_args("UPDATE guardrails.ddl_history "
							  "SET rolled_back = pg_catalog.pg_xact_status(statement_xid) OPERATOR(pg_catalog.=) 'aborted' "
							  "WHERE rolled_back IS NULL "
							  "AND system_identifier OPERATOR(pg_catalog.=) $1 "
							  "AND statement_xid IS NOT NULL "
							  "AND pg_catalog.pg_xact_status(statement_xid) OPERATOR(pg_catalog.=) "
							  "ANY ('{committed,aborted}'::pg_catalog.text[])",
							  1, types, values, NULL, false, 0)
		!= SPI_OK_UPDATE)
		elog(ERROR, "could not update guardrails.ddl_history");

	/* come back only while some transaction is still open */
	unsettled = DatumGetBool(
		history_read_value("SELECT EXISTS (SELECT FROM guardrails.ddl_history "
						   "WHERE rolled_back IS NULL "
						   "AND system_identifier OPERATOR(pg_catalog.=) $1 "
						   "AND statement_xid IS NOT NULL "
						   "AND pg_catalog.pg_xact_status(statement_xid) OPERATOR(pg_catalog.=) 'in progress')",
						   1, types, values));
}

/* Delete what is older than guardrails.ddl_history_retention. */
static void
apply_retention(void *arg)
{
	Datum		values[1];
	Oid			types[1] = {INT4OID};

	pgstat_report_activity(STATE_RUNNING, "applying the DDL history retention");
	require_history();
	values[0] = Int32GetDatum(grd_ddl_history_retention);
	if (SPI_execute_with_args("DELETE FROM guardrails.ddl_history "
							  "WHERE start_time OPERATOR(pg_catalog.<) "
							  "(pg_catalog.now() OPERATOR(pg_catalog.-) "
							  "pg_catalog.make_interval(mins => $1))",
							  1, types, values, NULL, false, 0)
		!= SPI_OK_DELETE)
		elog(ERROR, "could not delete from guardrails.ddl_history");
}

const GrdModule grd_ddl_history_module = {
	.name = "DDL history",
	.settings = ddl_history_settings,
	.init = ddl_history_init,
};
