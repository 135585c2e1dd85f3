/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		The shared-memory segment of pg_guardrails: sizing, creation, locks,
 *		persistence across clean restarts, and the status report.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_SHMEM_H
#define GRD_SHMEM_H

#include "fmgr.h"
#include "storage/lwlock.h"

/* The LWLocks of our named tranche, one per protected structure. */
typedef enum GrdLockId
{
	GRD_LOCK_LATENCY,			/* membership of the digest hash table */
	GRD_LOCK_RATELIMIT,			/* which slot holds which connection limit */
	GRD_LOCK_DIGEST_LIMITS,		/* membership of the digest-limit table */
	GRD_LOCK_DDL_RING,			/* the slots of the DDL ring, next_seq */
	GRD_LOCK_DDL_SEQ,			/* the DDL sequence reservation file */
	GRD_LOCK_WAL_LAG,			/* the standbys and state of the WAL lag
								 * controller */
	GRD_NUM_LOCKS
} GrdLockId;

extern void grd_shmem_request(void);
extern void grd_shmem_startup(void);
extern void grd_require_preload(void);
extern bool grd_preloaded(void);
extern void grd_warn_not_enforced(const char *what);
extern LWLock *grd_lock(GrdLockId id);

/* A status report under construction: see grd_status(). */
typedef struct GrdStatus GrdStatus;
extern void grd_status_put(GrdStatus *status, const char *name, int64 value);

/* Sections of the state file, written in this order. */
extern bool grd_file_write(FILE *file, const void *data, size_t len);
extern bool grd_file_read(FILE *file, void *data, size_t len);

/* Opening one of our files in pg_stat for reading. */
extern FILE *grd_file_open_read(const char *path);

#endif							/* GRD_SHMEM_H */
