/*-------------------------------------------------------------------------
 *
 * ddl_worker.h
 *		The DDL-history background worker (ddl_worker.c).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_WORKER_H
#define GRD_DDL_WORKER_H

#include "fmgr.h"

/* The background worker's entry point. */
extern PGDLLEXPORT void grd_ddl_worker_main(Datum main_arg);

#endif							/* GRD_DDL_WORKER_H */
