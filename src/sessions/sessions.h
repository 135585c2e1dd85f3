/*-------------------------------------------------------------------------
 *
 * sessions.h
 *		Guardrails on sessions: the stall guard (stall_guard.c), which ends
 *		sessions stalled on their client inside a transaction.
 *
 * The SQL side of this folder (guardrails.lock_blockers) is plain SQL, in
 * schema/60_sessions.sql.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_SESSIONS_H
#define GRD_SESSIONS_H

#include "fmgr.h"

/* The stall guard's background worker (registered by its module). */
extern PGDLLEXPORT void grd_stall_worker_main(Datum main_arg);

#endif							/* GRD_SESSIONS_H */
