/*-------------------------------------------------------------------------
 *
 * wal_budget.h
 *		WAL budgets per workload class (wal_budget.c) and the replica-lag
 *		controller that cuts them (wal_lag.c); private to this folder.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_WAL_BUDGET_H
#define GRD_WAL_BUDGET_H

/* A statement refused because its class's WAL budget was spent. */
#define GRD_ERRCODE_WAL_BUDGET	MAKE_SQLSTATE('5','3','W','0','1')

/* wal_budget.c: called by workload_class.c for each top-level statement */
extern void grd_wal_budget_start(int cls, bool exempt);
extern void grd_wal_budget_end(void);

/* wal_budget.c: for the controller */
extern uint64 grd_wal_budget_configured(int cls);
extern void grd_wal_budget_publish(void);
extern uint64 grd_wal_class_rate(int cls);
extern void grd_wal_class_set_cap(int cls, uint64 cap);
extern uint64 grd_wal_class_bytes(int cls);

/* wal_lag.c */
extern void grd_wal_tick(void);
extern uint64 grd_wal_class_recent_rate(int cls);

#endif							/* GRD_WAL_BUDGET_H */
