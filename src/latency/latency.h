/*-------------------------------------------------------------------------
 *
 * latency.h
 *		Per-digest latency histograms (latency.c): the timers hooks.c calls,
 *		and the read access the SQL functions (latency_sql.c) have to the
 *		digest table.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_LATENCY_H
#define GRD_LATENCY_H

#include "executor/execdesc.h"
#include "fmgr.h"
#include "nodes/plannodes.h"

#include "histogram.h"
#include "shmem.h"

/*
 * Timing of planned statements (hooks.c).  An execution is timed while it
 * is inside ExecutorRun or ExecutorFinish, as pg_stat_statements does;
 * exec_start opens it, resume/pause bracket each Run and Finish call, and
 * exec_end records it as completed.  One that never reaches ExecutorEnd is
 * recorded as failed when its executor state is freed.
 */
typedef struct GrdExecTimer GrdExecTimer;

extern void grd_latency_exec_start(QueryDesc *queryDesc, int nesting_level);
extern GrdExecTimer *grd_latency_exec_resume(QueryDesc *queryDesc);
extern void grd_latency_exec_pause(GrdExecTimer *timer);
extern void grd_latency_exec_end(QueryDesc *queryDesc);

/*
 * Whether ExecutorFinish has nothing to run for this execution: a SELECT
 * without a data-modifying WITH queues no AFTER trigger and has no
 * auxiliary ModifyTable to finish, so nothing can run, fail or take time
 * in it.  hooks.c then neither times it (two clock reads and a PG_TRY a
 * query, for the nanoseconds of a function call) nor raises the nesting
 * level around it.
 */
static inline bool
grd_latency_finish_is_noop(QueryDesc *queryDesc)
{
	return queryDesc->operation == CMD_SELECT &&
		!queryDesc->plannedstmt->hasModifyingCTE;
}

/* Timing of utility statements (hooks.c), around ProcessUtility. */
typedef struct GrdUtilityTimer
{
	uint64		queryid;
	uint64		start_ns;
} GrdUtilityTimer;

extern bool grd_latency_utility_start(PlannedStmt *pstmt, int nesting_level,
									  GrdUtilityTimer *timer);
extern void grd_latency_utility_end(GrdUtilityTimer *timer);
extern void grd_latency_utility_failed(GrdUtilityTimer *timer);

/* hooks.c, at the end of every (sub)transaction: see latency.c. */
extern void grd_latency_record_pending(void);

/*
 * Reading the digest table (latency_sql.c).  The entries themselves stay
 * private to latency.c; readers get copies of their counters, taken with
 * the table's lock held shared and used after it is released.
 */

/* A digest: what pg_stat_statements keys on, less "toplevel". */
typedef struct GrdLatencyKey
{
	Oid			dbid;
	Oid			userid;
	uint64		queryid;
} GrdLatencyKey;

/*
 * The counters of a digest besides its buckets: what a snapshot reads and
 * what the state file keeps.
 */
typedef struct GrdLatencyTotals
{
	uint64		calls;			/* completed executions */
	uint64		failed;			/* executions ended by an error or cancel */
	uint64		total_ns;		/* time of completed executions */
	uint64		failed_ns;		/* time of failed executions */
	uint64		min_ns;			/* over all executions */
	uint64		max_ns;
} GrdLatencyTotals;

/*
 * A consistent-enough copy of one or more entries, merged.  The counters
 * are read one by one while executions go on, so one execution's bucket
 * may be counted and its calls not yet: nvalues, the number of values a
 * quantile is taken over, is therefore the sum of the bucket counts read,
 * which keeps every quantile consistent with itself.
 */
typedef struct GrdLatencySnapshot
{
	GrdLatencyTotals totals;
	bool		exact;			/* min_ns, max_ns, total_ns and failed_ns
								 * were recorded; false for windows, whose
								 * min_ns and max_ns are the values of their
								 * lowest and highest non-empty buckets */
	uint64		nvalues;		/* sum of the bucket counts below */
	uint64		counts[GRD_HIST_NBUCKETS];
} GrdLatencySnapshot;

/*
 * Called by grd_latency_foreach() for each digest, with no lock held: it
 * may build rows, and fail.
 */
typedef void (*GrdLatencyVisitor) (const GrdLatencyKey *key,
								   const GrdLatencySnapshot *snap,
								   void *arg);

/*
 * Windows: the last 1, 5, 15 and 60 slots of guardrails.latency_window_slot
 * (see latency_windows.c).  Functions taking a window take its index here, or
 * GRD_WINDOW_NONE for the cumulative histogram.
 */
#define GRD_WINDOW_NONE		(-1)
#define GRD_NUM_WINDOWS		4

extern const int grd_window_slots[GRD_NUM_WINDOWS];
extern int	grd_window_slot_seconds(void);

extern void grd_latency_foreach(int window, GrdLatencyVisitor visit,
								void *arg);
extern bool grd_latency_collect(GrdLatencySnapshot *snap, int window,
								uint64 queryid, bool any_db, Oid dbid,
								bool any_user, Oid userid);
extern int64 grd_latency_remove(bool all, uint64 queryid);

/* The completed calls of a digest and their time, for contain.c. */
typedef struct GrdLatencyDigestTotals
{
	GrdLatencyKey key;
	uint64		calls;
	uint64		total_ns;
} GrdLatencyDigestTotals;

extern int	grd_latency_totals(GrdLatencyDigestTotals *out, int max);

/* latency_sql.c, for latency_export.c */
#define GRD_NUM_LE_BOUNDS	20
extern const double grd_le_bounds[GRD_NUM_LE_BOUNDS];
extern int	grd_window_arg(FunctionCallInfo fcinfo, int argno);
extern Datum grd_latency_rows_srf(FunctionCallInfo fcinfo, int window,
								  GrdLatencyVisitor visit);

#endif							/* GRD_LATENCY_H */
