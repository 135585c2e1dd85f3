/*-------------------------------------------------------------------------
 *
 * ddl_ring.h
 *		The DDL log's shared ring and its sequence numbers (ddl_ring.c):
 *		what the audit writes through, and what the background worker and
 *		the SQL functions read through.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_RING_H
#define GRD_DDL_RING_H

#include "ddl_entry.h"

/* guardrails.ddl_log_destination, parsed (GRD_DDL_DEST_* bits) */
extern int	grd_ddl_destinations;

/* guardrails.ddl_log_max_query_len */
extern int	grd_ddl_log_max_query_len;

/* Writing an entry (ddl_audit.c). */
extern bool grd_ddl_ring_attached(void);
extern Size grd_ddl_entry_size(void);
extern void grd_ddl_reserve_seq_if_used_up(void);
extern uint64 grd_ddl_ring_put(GrdDdlEntry *entry, bool may_reserve);
extern bool grd_ddl_ring_locked_by_me(void);
extern void grd_ddl_wake_worker_if_low(void);

/* Reading the ring (ddl_worker.c, ddl_log_sql.c). */
extern uint64 grd_ddl_next_seq(void);
extern uint64 grd_ddl_oldest_seq(void);
extern bool grd_ddl_ring_read(uint64 seq, GrdDdlEntry *entry);
extern uint64 grd_ddl_reset_seq(void);
extern uint64 grd_ddl_ring_reset(void);

/* The background worker's side (ddl_worker.c). */
extern void grd_ddl_raise_next_seq(uint64 seq);
extern bool grd_ddl_ring_never_for_table(uint64 seq);
extern void grd_ddl_set_stored(uint64 seq);
extern bool grd_ddl_stored_known(uint64 *seq);
extern void grd_ddl_count(int counter, uint64 n);
extern uint64 grd_ddl_crash_seq(void);
extern void grd_ddl_reserve_seq(void);
extern void grd_ddl_worker_attach(bool attach);

/* Counters the worker adds to (grd_ddl_count). */
#define GRD_DDL_STORED		0	/* entries stored in ddl_history */
#define GRD_DDL_NOT_STORED	1	/* entries the worker failed to store */
#define GRD_DDL_MISSED		2	/* entries overwritten in the ring before
								 * the worker could store them */
#define GRD_DDL_CRASH_GAP	3	/* numbers lost in a crash (or reserved
								 * and never used) */
#define GRD_DDL_COLLIDED	4	/* entries whose number a row of the table
								 * already had (not stored) */
#define GRD_DDL_NCOUNTERS	5

#endif							/* GRD_DDL_RING_H */
