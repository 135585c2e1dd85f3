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

/*
 * The partitions of latency.c's digest table, each a hash table with a
 * lock of its own, so that recording an execution takes a lock that only
 * the backends recording digests of the same partition take.
 */
#define GRD_LATENCY_PARTITIONS	16

/* The LWLocks of our named tranche, one per protected structure. */
typedef enum GrdLockId
{
	GRD_LOCK_LATENCY,			/* the first of GRD_LATENCY_PARTITIONS
								 * locks, each the membership of one
								 * partition of the digest table */
	GRD_LOCK_RATELIMIT = GRD_LOCK_LATENCY + GRD_LATENCY_PARTITIONS,
								/* which slot holds which connection limit */
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
