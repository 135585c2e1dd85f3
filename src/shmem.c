/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		The shared-memory segment of pg_guardrails.
 *
 * Everything pg_guardrails shares between backends lives in the server's
 * main shared memory, sized once at postmaster start from PGC_POSTMASTER
 * settings: a small header owned by this file (the LWLocks, the segment
 * size) and one structure per feature module, which each module sizes and
 * initialises itself.  This file adds them up, creates them in the right
 * order under AddinShmemInitLock, and owns the state file that carries them
 * across a clean restart.
 *
 * Locking: the LWLocks of our tranche are listed in GrdLockId; each module
 * documents what its lock protects.  No code path holds two of them.
 *
 * Persistence: at a clean shutdown the postmaster writes the state of every
 * module to pg_stat/pg_guardrails.stat (via a temporary file and a durable
 * rename); at the next start it reads the file back and deletes it, so that
 * a crash restart, which writes nothing, starts from empty rather than from
 * stale data.  This is what pg_stat_statements does.  The file holds the
 * DDL log's ring first (always: it is an audit trail, and entries the
 * background worker has not stored yet must survive), then the latency
 * histograms (when guardrails.save is on).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "ddl_audit.h"
#include "latency.h"
#include "pg_guardrails.h"
#include "ratelimit.h"
#include "shmem.h"

#define GRD_TRANCHE_NAME	"pg_guardrails"
#define GRD_STATE_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_guardrails.stat"
#define GRD_STATE_FILE_TMP	GRD_STATE_FILE ".tmp"
#define GRD_FILE_MAGIC		0x47524431	/* "GRD1" */
#define GRD_FILE_VERSION	2
#define GRD_FILE_LATENCY	0x01	/* the file holds the latency section */

typedef struct GrdShared
{
	LWLock	   *locks[GRD_NUM_LOCKS];	/* our tranche, set once at start */
	Size		size;			/* bytes requested for the whole segment */
} GrdShared;

struct GrdStatus
{
	Tuplestorestate *tupstore;
	TupleDesc	tupdesc;
};

static GrdShared *grd_shared = NULL;

static Size grd_shmem_size(void);
static bool grd_state_load(void);
static void grd_state_save(int code, Datum arg);

static Size
grd_shmem_size(void)
{
	return add_size(add_size(add_size(MAXALIGN(sizeof(GrdShared)),
									  grd_latency_shmem_size()),
							 add_size(grd_ratelimit_shmem_size(),
									  grd_digest_shmem_size())),
					grd_ddl_audit_shmem_size());
}

/*
 * shmem_request_hook: reserve the segment and our LWLocks.
 */
void
grd_shmem_request(void)
{
	RequestAddinShmemSpace(grd_shmem_size());
	RequestNamedLWLockTranche(GRD_TRANCHE_NAME, GRD_NUM_LOCKS);
}

/*
 * shmem_startup_hook: create (or, in an EXEC_BACKEND child, attach to) the
 * segment.  In the postmaster this also loads the saved state and arranges
 * for it to be written again at shutdown.
 */
void
grd_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	grd_shared = ShmemInitStruct("pg_guardrails", sizeof(GrdShared), &found);
	if (!found)
	{
		LWLockPadded *locks = GetNamedLWLockTranche(GRD_TRANCHE_NAME);

		for (int i = 0; i < GRD_NUM_LOCKS; i++)
			grd_shared->locks[i] = &locks[i].lock;
		grd_shared->size = grd_shmem_size();
	}
	grd_latency_shmem_startup(found);
	grd_ratelimit_shmem_startup(found);
	grd_digest_shmem_startup(found);
	grd_ddl_audit_shmem_startup(found);

	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
		on_shmem_exit(grd_state_save, (Datum) 0);

	/* Only the process that created the segment fills it. */
	if (!found)
		grd_ddl_audit_after_load(grd_state_load());
}

/*
 * Every SQL entry point calls this first: without shared_preload_libraries
 * there is no segment, and we say so rather than crash.
 */
void
grd_require_preload(void)
{
	if (grd_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_guardrails must be loaded via \"shared_preload_libraries\""),
				 errhint("Add pg_guardrails to \"shared_preload_libraries\" in postgresql.conf and restart the server.")));
}

/*
 * Whether the library was preloaded, for code that must quietly do nothing
 * when it was not (an event trigger must not break every ALTER TABLE).
 */
bool
grd_preloaded(void)
{
	return grd_shared != NULL;
}

LWLock *
grd_lock(GrdLockId id)
{
	Assert(grd_shared != NULL && id < GRD_NUM_LOCKS);
	return grd_shared->locks[id];
}

bool
grd_file_write(FILE *file, const void *data, size_t len)
{
	return fwrite(data, 1, len, file) == len;
}

bool
grd_file_read(FILE *file, void *data, size_t len)
{
	return fread(data, 1, len, file) == len;
}

/*
 * on_shmem_exit callback of the postmaster: write the state file.  Runs
 * after every backend has exited, so nothing changes under us; does nothing
 * after a crash (code != 0), when memory may be inconsistent.
 */
static void
grd_state_save(int code, Datum arg)
{
	FILE	   *file;
	uint32		header[4] = {GRD_FILE_MAGIC, GRD_FILE_VERSION, 0, 0};

	if (code != 0 || grd_shared == NULL)
		return;

	file = AllocateFile(GRD_STATE_FILE_TMP, PG_BINARY_W);
	if (file == NULL)
		goto error;
	header[2] = (uint32) grd_latency_file_signature();
	header[3] = grd_save ? GRD_FILE_LATENCY : 0;
	if (!grd_file_write(file, header, sizeof(header)) ||
		!grd_ddl_audit_save(file) ||
		(grd_save && !grd_latency_save(file)))
		goto error;
	if (FreeFile(file) != 0)
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(GRD_STATE_FILE_TMP, GRD_STATE_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", GRD_STATE_FILE_TMP)));
	if (file)
		FreeFile(file);
	unlink(GRD_STATE_FILE_TMP);
}

/*
 * Read back what grd_state_save wrote, then remove the file.  A missing
 * file is normal (first start, crash restart); a damaged one is reported
 * and ignored.  Returns whether the DDL ring was loaded.
 */
static bool
grd_state_load(void)
{
	FILE	   *file;
	uint32		header[4];
	bool		ddl_loaded = false;

	file = AllocateFile(GRD_STATE_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", GRD_STATE_FILE)));
		return false;
	}

	if (!grd_file_read(file, header, sizeof(header)) ||
		header[0] != GRD_FILE_MAGIC || header[1] != GRD_FILE_VERSION ||
		!(ddl_loaded = grd_ddl_audit_load(file)) ||
		(grd_save && (header[3] & GRD_FILE_LATENCY) &&
		 (header[2] != (uint32) grd_latency_file_signature() ||
		  !grd_latency_load(file))))
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pg_guardrails state file \"%s\"",
						GRD_STATE_FILE)));
		grd_latency_clear();
		ddl_loaded = false;
	}

	FreeFile(file);
	unlink(GRD_STATE_FILE);
	return ddl_loaded;
}

void
grd_status_put(GrdStatus *status, const char *name, int64 value)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};

	values[0] = CStringGetTextDatum(name);
	values[1] = Int64GetDatum(value);
	tuplestore_putvalues(status->tupstore, status->tupdesc, values, nulls);
}

/*
 * guardrails.status_report(): one row (name, value) per counter of every
 * module; the view guardrails.status shows it.  A list of names rather than
 * a row of columns, so that a module can add a counter without changing
 * the view.
 */
PG_FUNCTION_INFO_V1(grd_status_report);

Datum
grd_status_report(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GrdStatus	status;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	status.tupstore = rsinfo->setResult;
	status.tupdesc = rsinfo->setDesc;

	grd_status_put(&status, "shared_memory_bytes", (int64) grd_shared->size);
	grd_latency_status(&status);
	grd_ratelimit_status(&status);
	grd_ddl_audit_status(&status);

	return (Datum) 0;
}
