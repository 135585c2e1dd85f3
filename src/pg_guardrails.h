/*-------------------------------------------------------------------------
 *
 * pg_guardrails.h
 *		Settings shared by all modules of pg_guardrails.
 *
 * Every GUC is declared, documented and range-checked in pg_guardrails.c;
 * this header is how the modules read them.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_GUARDRAILS_H
#define PG_GUARDRAILS_H

/* guardrails.track: which statements get a latency histogram */
typedef enum GrdTrackLevel
{
	GRD_TRACK_NONE,				/* none */
	GRD_TRACK_TOP,				/* top-level statements only */
	GRD_TRACK_ALL				/* also statements run by functions */
} GrdTrackLevel;

/* latency.c */
extern int	grd_max_digests;
extern int	grd_track;
extern bool grd_track_utility;

/* shmem.c */
extern bool grd_save;

/* index_visibility.c */
extern char *grd_hidden_indexes;
extern bool grd_use_disabled_indexes;

/* guardrails.ddl_lock_wait: how DDL waits for its lock */
typedef enum GrdDdlLockWait
{
	GRD_DDL_LOCK_WAIT_QUEUE,	/* in the lock queue, as PostgreSQL does */
	GRD_DDL_LOCK_WAIT_RETRY		/* conditional attempts, never queued */
} GrdDdlLockWait;

/* guardrails.ddl_policy: what a schema-change rule violation does */
typedef enum GrdDdlPolicy
{
	GRD_DDL_POLICY_OFF,
	GRD_DDL_POLICY_WARN,
	GRD_DDL_POLICY_ENFORCE
} GrdDdlPolicy;

/* ddl_lock.c */
extern int	grd_ddl_lock_timeout;
extern int	grd_ddl_lock_wait;
extern int	grd_ddl_lock_retries;

/* ddl_policy.c */
extern int	grd_ddl_policy;
extern bool grd_allow_new_tables;
extern int	grd_ddl_policy_min_size;

/* ddl_audit.c */
extern int	grd_ddl_log_size;
extern int	grd_ddl_log_max_query_len;
extern char *grd_ddl_log_destination;
extern char *grd_database;
extern int	grd_ddl_history_retention;

/* ratelimit.c */
extern int	grd_max_digest_limits;
extern double grd_connection_rate;
extern int	grd_connection_burst;
extern char *grd_connection_limits;
extern char *grd_connection_limit_exempt_roles;
extern bool grd_connection_limit_exempt_superusers;

#endif							/* PG_GUARDRAILS_H */
