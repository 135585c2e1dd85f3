/*-------------------------------------------------------------------------
 *
 * ratelimit.h
 *		Token buckets, and the limits on new connections built on them.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_RATELIMIT_H
#define GRD_RATELIMIT_H

#include "executor/execdesc.h"
#include "libpq/libpq-be.h"
#include "storage/s_lock.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "shmem.h"

/*
 * A token bucket in shared memory: up to "burst" tokens, refilled at
 * "rate" per second; taking one admits one event.  The rate and burst are
 * passed by each caller (they come from settings that a reload changes),
 * the bucket keeps only its level.
 */
typedef struct GrdTokenBucket
{
	slock_t		mutex;			/* protects the two fields below */
	double		tokens;
	TimestampTz refilled_at;	/* 0: never used, start full */
} GrdTokenBucket;

extern void grd_bucket_init(GrdTokenBucket *bucket);
extern bool grd_bucket_take(GrdTokenBucket *bucket, double rate, double burst,
							TimestampTz now);
extern void grd_bucket_give_back(GrdTokenBucket *bucket, double burst);

/* the ClientAuthentication hook (hooks.c) */
extern void grd_connection_check(Port *port, int status);

#endif							/* GRD_RATELIMIT_H */

/*
 * Limits and blocks per query digest (guardrails.digest_limits).
 * A rejected execution fails with one of these, and nothing else does.
 */
#define GRD_ERRCODE_DIGEST_LIMITED	MAKE_SQLSTATE('5','3','R','0','1')
#define GRD_ERRCODE_DIGEST_BLOCKED	MAKE_SQLSTATE('5','3','B','0','1')

/* Concurrency slots an admitted execution holds until it ends. */
#define GRD_MAX_HELD	4
typedef struct GrdAdmission
{
	int			nheld;
	struct GrdDigestState *held[GRD_MAX_HELD];
	struct GrdAdmission *outer; /* utility statements: the enclosing one */
} GrdAdmission;

extern void grd_digest_admit(QueryDesc *queryDesc, int eflags,
							 GrdAdmission *admission);
extern void grd_digest_admit_utility(PlannedStmt *pstmt, int nesting_level,
									 GrdAdmission *admission);
extern void grd_digest_release_utility(GrdAdmission *admission);
extern void grd_digest_hold(QueryDesc *queryDesc, GrdAdmission *admission);
extern void grd_digest_release(GrdAdmission *admission);
