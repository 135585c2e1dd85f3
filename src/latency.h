/*-------------------------------------------------------------------------
 *
 * latency.h
 *		Per-digest latency histograms: what hooks.c calls.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_LATENCY_H
#define GRD_LATENCY_H

#include "executor/execdesc.h"
#include "nodes/plannodes.h"

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

/* Timing of utility statements (hooks.c), around ProcessUtility. */
typedef struct GrdUtilityTimer
{
	uint64		queryid;
	uint64		start_ns;
} GrdUtilityTimer;

extern bool grd_latency_utility_start(PlannedStmt *pstmt, int nesting_level,
									  GrdUtilityTimer *timer);
extern void grd_latency_utility_end(GrdUtilityTimer *timer, bool failed);

#endif							/* GRD_LATENCY_H */
