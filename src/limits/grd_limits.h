/*-------------------------------------------------------------------------
 *
 * grd_limits.h
 *		The limits on new connections and per query digest, and workload
 *		classes: what the rest of the extension (hooks.c) calls.
 *		token_bucket.h and workload.h are private to this folder.  (Not "limits.h": the folder is on the include path,
 *		where that name would stand for the C library's <limits.h>.)
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_LIMITS_H
#define GRD_LIMITS_H

#include "executor/execdesc.h"
#include "libpq/libpq-be.h"
#include "nodes/plannodes.h"
#include "port/atomics.h"

/* connection_limits.c */

/* the ClientAuthentication hook (hooks.c) */
extern void grd_connection_check(Port *port, int status);

/* digest_limits.c */

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
	pg_atomic_uint32 *held[GRD_MAX_HELD];	/* running counters: a digest
											 * limit's or a contained
											 * digest's (contain.c) */
	struct GrdAdmission *outer; /* utility statements: the enclosing one */
} GrdAdmission;

extern void grd_digest_admit(QueryDesc *queryDesc, int eflags,
							 int nesting_level, GrdAdmission *admission);
extern PlannedStmt *grd_digest_identify_inner(PlannedStmt *pstmt,
											  bool *readOnlyTree);
extern void grd_digest_identify_planned(Query *parse);
extern void grd_digest_admit_utility(PlannedStmt *pstmt, int nesting_level,
									 GrdAdmission *admission);
extern void grd_digest_release_utility(GrdAdmission *admission);
extern void grd_digest_hold(QueryDesc *queryDesc, GrdAdmission *admission);
extern void grd_digest_release(GrdAdmission *admission);

/* workload_class.c */

/*
 * A top-level statement starts (stmt: its QueryDesc or PlannedStmt;
 * queryDesc: NULL for a utility statement; may wait, or be refused by the
 * overload controller) or ends, or its (sub)transaction aborted.  own:
 * the extension's own work.
 */
extern void grd_workload_prepare(void);
extern void grd_workload_start(uint64 queryid, bool own, const void *stmt,
							   QueryDesc *queryDesc);
extern void grd_workload_end(const void *stmt);
extern void grd_workload_abort(void);

#endif							/* GRD_LIMITS_H */
