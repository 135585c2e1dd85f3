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

/* ddl_policy.c */
int			grd_ddl_lock_timeout = 5000;

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

static const struct config_enum_entry track_options[] =
{
	{"none", GRD_TRACK_NONE, false},
	{"top", GRD_TRACK_TOP, false},
	{"all", GRD_TRACK_ALL, false},
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
							   grd_check_hidden_indexes, NULL, NULL);

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
							"Each entry of the ring takes this much shared memory, plus about 1.6 kB.",
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

	MarkGUCPrefixReserved("guardrails");

	/* Digests are core's query ids, whatever compute_query_id says. */
	EnableQueryId();

	grd_hist_init();
	grd_config_init();
	grd_hooks_install();
	grd_ddl_audit_register_worker();
}
