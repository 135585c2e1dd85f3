/*-------------------------------------------------------------------------
 *
 * pg_guardrails.c
 *		Module entry point: settings, the shared-memory request and hook
 *		installation.  Nothing else lives here.
 *
 * pg_guardrails works only from shared_preload_libraries: its state is in
 * shared memory, which can be requested only while the postmaster starts.
 * Loaded any other way (CREATE EXTENSION loads the library to check its
 * functions), it defines nothing and installs nothing, and its SQL
 * functions report that it must be preloaded.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "config.h"
#include "ddl_audit.h"
#include "histogram.h"
#include "hooks.h"
#include "index_visibility.h"
#include "ratelimit.h"
#include "pg_guardrails.h"

GRD_MODULE_MAGIC;

/* latency.c */
int			grd_max_digests = 5000;
int			grd_track = GRD_TRACK_TOP;
bool		grd_track_utility = true;

/* shmem.c */
bool		grd_save = true;

/* index_visibility.c */
char	   *grd_hidden_indexes = NULL;
bool		grd_use_disabled_indexes = false;

/* ddl_lock.c */
int			grd_ddl_lock_timeout = 5000;
int			grd_ddl_lock_wait = GRD_DDL_LOCK_WAIT_RETRY;
int			grd_ddl_lock_retries = 0;

/* ddl_policy.c */
int			grd_ddl_policy = GRD_DDL_POLICY_WARN;
bool		grd_allow_new_tables = true;
int			grd_ddl_policy_min_size = 1024;

/* ddl_audit.c */
int			grd_ddl_log_size = 1000;
int			grd_ddl_log_max_query_len = 4096;
char	   *grd_ddl_log_destination = NULL;
char	   *grd_database = NULL;
int			grd_ddl_history_retention = 90 * 24 * 60;

/* ratelimit.c */
int			grd_max_digest_limits = 2000;
double		grd_connection_rate = 0;
int			grd_connection_burst = 0;
char	   *grd_connection_limits = NULL;
char	   *grd_connection_limit_exempt_roles = NULL;
bool		grd_connection_limit_exempt_superusers = true;

static const struct config_enum_entry track_options[] =
{
	{"none", GRD_TRACK_NONE, false},
	{"top", GRD_TRACK_TOP, false},
	{"all", GRD_TRACK_ALL, false},
	{NULL, 0, false}
};

static const struct config_enum_entry ddl_lock_wait_options[] =
{
	{"queue", GRD_DDL_LOCK_WAIT_QUEUE, false},
	{"retry", GRD_DDL_LOCK_WAIT_RETRY, false},
	{NULL, 0, false}
};

static const struct config_enum_entry ddl_policy_options[] =
{
	{"off", GRD_DDL_POLICY_OFF, false},
	{"warn", GRD_DDL_POLICY_WARN, false},
	{"enforce", GRD_DDL_POLICY_ENFORCE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("guardrails.max_digests",
							"Maximum number of query digests with a latency histogram.",
							"Each digest takes about 9.4 kB of shared memory.",
							&grd_max_digests,
							5000,
							100,
							INT_MAX / 2,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("guardrails.track",
							 "Which statements get a latency histogram.",
							 "top: statements issued by clients; all: also "
							 "statements run inside functions; none: nothing.",
							 &grd_track,
							 GRD_TRACK_TOP,
							 track_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("guardrails.track_utility",
							 "Whether utility statements get a latency histogram.",
							 NULL,
							 &grd_track_utility,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("guardrails.save",
							 "Save latency histograms across server shutdowns.",
							 NULL,
							 &grd_save,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("guardrails.hidden_indexes",
							   "Indexes the planner must not use in this session, besides the disabled ones.",
							   "A comma-separated list of index names, schema-qualified or found through search_path.",
							   &grd_hidden_indexes,
							   "",
							   PGC_USERSET,
							   GUC_LIST_INPUT,
							   grd_check_hidden_indexes, grd_assign_hidden_indexes, NULL);

	DefineCustomBoolVariable("guardrails.use_disabled_indexes",
							 "Let the planner use disabled indexes in this session.",
							 "For comparing plans with and without them; other sessions are not affected.",
							 &grd_use_disabled_indexes,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.ddl_lock_timeout",
							"Longest time a DDL statement may wait for a lock.",
							"DDL runs with the smaller of this and the session's lock_timeout; 0 turns it off.",
							&grd_ddl_lock_timeout,
							5000,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("guardrails.ddl_lock_wait",
							 "How a DDL statement waits for the lock on its table.",
							 "retry: short conditional attempts that never join the lock queue, "
							 "so queries never wait behind it; queue: in the lock queue, as PostgreSQL does.",
							 &grd_ddl_lock_wait,
							 GRD_DDL_LOCK_WAIT_RETRY,
							 ddl_lock_wait_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.ddl_lock_retries",
							"How many times a DDL statement that timed out on its lock is retried.",
							"Only top-level statements outside a transaction block are retried.",
							&grd_ddl_lock_retries,
							0,
							0,
							100,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("guardrails.ddl_policy",
							 "What a schema change that breaks a rule does: off, warn or enforce.",
							 NULL,
							 &grd_ddl_policy,
							 GRD_DDL_POLICY_WARN,
							 ddl_policy_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("guardrails.allow_new_tables",
							 "Whether new tables may be created.",
							 "Temporary tables and new partitions of existing tables are always allowed.",
							 &grd_allow_new_tables,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.ddl_policy_min_size",
							"Tables smaller than this are exempt from the schema-change policy.",
							"Scanning or copying a small table takes milliseconds; 0 applies the rules to every table with data.",
							&grd_ddl_policy_min_size,
							1024,
							0,
							INT_MAX,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

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
							   grd_check_ddl_log_destination,
							   grd_assign_ddl_log_destination,
							   NULL);

	DefineCustomStringVariable("guardrails.database",
							   "Database where the background worker stores guardrails.ddl_history.",
							   "The extension must be created in it.",
							   &grd_database,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.ddl_history_retention",
							"How long guardrails.ddl_history keeps a statement; 0 keeps it forever.",
							NULL,
							&grd_ddl_history_retention,
							90 * 24 * 60,
							0,
							INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.max_digest_limits",
							"Maximum number of digest limits with state in shared memory.",
							"Each takes about 150 bytes; the least recently used idle one is recycled when more are needed.",
							&grd_max_digest_limits,
							2000,
							10,
							INT_MAX / 2,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomRealVariable("guardrails.connection_rate",
							 "New connections per second the server accepts; 0 means no limit.",
							 "Replication connections and guardrails.connection_limit_exempt_roles are never limited.",
							 &grd_connection_rate,
							 0,
							 0,
							 1000000,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.connection_burst",
							"New connections accepted at once above guardrails.connection_rate.",
							"0 means one second's worth of the rate.",
							&grd_connection_burst,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("guardrails.connection_limits",
							   "Limits on new connections per role and per database.",
							   "For example: role:app=100/s burst 200, database:analytics=20/s",
							   &grd_connection_limits,
							   "",
							   PGC_SIGHUP,
							   0,
							   grd_check_connection_limits,
							   grd_assign_connection_limits,
							   NULL);

	DefineCustomStringVariable("guardrails.connection_limit_exempt_roles",
							   "Roles whose connections are never limited.",
							   NULL,
							   &grd_connection_limit_exempt_roles,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   grd_check_exempt_roles,
							   grd_assign_exempt_roles,
							   NULL);

	DefineCustomBoolVariable("guardrails.connection_limit_exempt_superusers",
							 "Whether superusers and roles that may use reserved connections are exempt from connection limits.",
							 "They are by default, so that an operator can always log in to lift a limit.",
							 &grd_connection_limit_exempt_superusers,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("guardrails");

	/* Digests are core's query ids, whatever compute_query_id says. */
	EnableQueryId();

	grd_hist_init();
	grd_config_init();
	grd_hooks_install();
	grd_ddl_audit_register_worker();
}
