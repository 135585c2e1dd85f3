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
 * The file is trusted only after it is checked whole: a header (magic
 * number, format version, PostgreSQL major, the latency layout, its total
 * length), the sections, and a CRC-32C of the sections followed by the
 * header.  The header's length is written last, so a file cut short at
 * any point fails; the checksum catches changed bytes; then each module
 * checks the values of its section (sequence numbers below their bound,
 * sizes within the settings), and the sections must end exactly where
 * the checksum begins.  A file that fails any check is reported with the
 * reason and ignored as a whole, and the server starts without it, as
 * after a crash.  The modules read and write through grd_file_read() and
 * grd_file_write(), which keep the running checksum.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>
#include <unistd.h>

#include "commands/extension.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "ddl_audit.h"
#include "latency.h"
#include "pg_guardrails.h"
#include "ratelimit.h"
#include "shmem.h"

#define GRD_TRANCHE_NAME	"pg_guardrails"
#define GRD_STATE_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_guardrails.stat"
#define GRD_STATE_FILE_TMP	GRD_STATE_FILE ".tmp"
#define GRD_FILE_MAGIC		0x47524431	/* "GRD1" */
#define GRD_FILE_VERSION	3
#define GRD_FILE_LATENCY	0x01	/* the file holds the latency section */

/* The header of the state file; the CRC-32C follows the sections. */
typedef struct GrdFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		pg_major;		/* PG_VERSION_NUM / 100 */
	uint32		latency_signature;
	uint32		flags;
	uint32		unused;
	uint64		length;			/* of the whole file, checksum included */
} GrdFileHeader;

/* The checksum of what grd_file_read/grd_file_write passed so far. */
static pg_crc32c file_crc;

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

/*
 * guardrails.preloaded(): whether this server loaded the library through
 * shared_preload_libraries, so that an operator (or a monitoring check) can
 * tell whether the rules of this database are enforced here.
 */
PG_FUNCTION_INFO_V1(grd_preloaded_sql);

Datum
grd_preloaded_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(grd_preloaded());
}

/*
 * Said by the triggers of the rules tables when a rule is written on a
 * server that did not preload the library: the row is stored (it applies on
 * any server that preloads it, a standby replaying it included, and from
 * the next start of this one once it is preloaded), but nothing enforces
 * it here now.  A WARNING, not an error: rules are data, restored by
 * pg_restore and written on a primary whose standbys do the enforcing.
 * Once per transaction, however many rows change.  Extension scripts say
 * nothing.
 */
void
grd_warn_not_enforced(const char *what)
{
	static LocalTransactionId warned = InvalidLocalTransactionId;

	if (grd_preloaded() || creating_extension || warned == GRD_MY_LXID)
		return;
	warned = GRD_MY_LXID;
	ereport(WARNING,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("%s is stored, but not enforced on this server", what),
			 errdetail("pg_guardrails is not loaded via \"shared_preload_libraries\" on this server."),
			 errhint("Add pg_guardrails to \"shared_preload_libraries\" in postgresql.conf and restart the server; servers that preload it (a standby replaying this change included) apply it.")));
}

LWLock *
grd_lock(GrdLockId id)
{
	Assert(grd_shared != NULL && id < GRD_NUM_LOCKS);
	return grd_shared->locks[id];
}

/*
 * Write or read part of a state-file section, adding it to the running
 * checksum (the postmaster alone reads and writes these files).
 */
bool
grd_file_write(FILE *file, const void *data, size_t len)
{
	COMP_CRC32C(file_crc, data, len);
	return fwrite(data, 1, len, file) == len;
}

bool
grd_file_read(FILE *file, void *data, size_t len)
{
	if (fread(data, 1, len, file) != len)
		return false;
	COMP_CRC32C(file_crc, data, len);
	return true;
}

/* The checksum of the sections followed by the header. */
static pg_crc32c
file_checksum(pg_crc32c sections, const GrdFileHeader *header)
{
	pg_crc32c	crc = sections;

	COMP_CRC32C(crc, header, sizeof(GrdFileHeader));
	FIN_CRC32C(crc);
	return crc;
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
	GrdFileHeader header;
	pg_crc32c	crc;
	long		end;

	if (code != 0 || grd_shared == NULL)
		return;

	file = AllocateFile(GRD_STATE_FILE_TMP, PG_BINARY_W);
	if (file == NULL)
		goto error;
	memset(&header, 0, sizeof(header));
	header.magic = GRD_FILE_MAGIC;
	header.version = GRD_FILE_VERSION;
	header.pg_major = PG_VERSION_NUM / 100;
	header.latency_signature = grd_latency_file_signature();
	header.flags = grd_save ? GRD_FILE_LATENCY : 0;
	if (fwrite(&header, 1, sizeof(header), file) != sizeof(header))
		goto error;
	INIT_CRC32C(file_crc);
	if (!grd_ddl_audit_save(file) ||
		(grd_save && !grd_latency_save(file)))
		goto error;

	/* the length last: a file cut short anywhere is seen as such */
	end = ftell(file);
	if (end < 0)
		goto error;
	header.length = (uint64) end + sizeof(pg_crc32c);
	crc = file_checksum(file_crc, &header);
	if (fwrite(&crc, 1, sizeof(crc), file) != sizeof(crc) ||
		fseek(file, 0, SEEK_SET) != 0 ||
		fwrite(&header, 1, sizeof(header), file) != sizeof(header))
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
 * Check the state file whole before anything is taken from it: header,
 * length and checksum.  Returns NULL, with the file positioned at its
 * first section, or what is wrong.
 */
static const char *
state_file_check(FILE *file, GrdFileHeader *header)
{
	struct stat st;
	uint64		body;
	pg_crc32c	crc;
	pg_crc32c	stored;
	char		buf[8192];

	if (fstat(fileno(file), &st) != 0)
		return psprintf("Could not stat it: %m.");
	if (st.st_size < (off_t) (sizeof(GrdFileHeader) + sizeof(pg_crc32c)) ||
		fread(header, 1, sizeof(GrdFileHeader), file) != sizeof(GrdFileHeader))
		return psprintf("The file is truncated: it has %lld bytes.",
						(long long) st.st_size);
	if (header->magic != GRD_FILE_MAGIC)
		return "The file does not start with the magic number of pg_guardrails.";
	if (header->version != GRD_FILE_VERSION)
		return psprintf("The file has format version %u, this server reads version %u.",
						header->version, GRD_FILE_VERSION);
	if (header->pg_major != PG_VERSION_NUM / 100)
		return psprintf("The file was written by PostgreSQL %u, this server is %u.",
						header->pg_major / 100, PG_VERSION_NUM / 10000);
	if (header->length > (uint64) st.st_size)
		return psprintf("The file is truncated: it has %lld bytes, its header says " UINT64_FORMAT ".",
						(long long) st.st_size, header->length);
	if (header->length != (uint64) st.st_size)
		return psprintf("The file has %lld bytes, its header says " UINT64_FORMAT ".",
						(long long) st.st_size, header->length);

	/* the checksum of the sections, then of the header */
	body = header->length - sizeof(GrdFileHeader) - sizeof(pg_crc32c);
	INIT_CRC32C(crc);
	while (body > 0)
	{
		size_t		n = Min(body, sizeof(buf));

		if (fread(buf, 1, n, file) != n)
			return "The file could not be read to its end.";
		COMP_CRC32C(crc, buf, n);
		body -= n;
	}
	if (fread(&stored, 1, sizeof(stored), file) != sizeof(stored))
		return "The file could not be read to its end.";
	if (file_checksum(crc, header) != stored)
		return "The checksum does not match its contents.";
	if (fseek(file, sizeof(GrdFileHeader), SEEK_SET) != 0)
		return "The file could not be read again.";
	return NULL;
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
	GrdFileHeader header;
	const char *problem;
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

	problem = state_file_check(file, &header);
	if (problem == NULL)
	{
		bool		has_latency = (header.flags & GRD_FILE_LATENCY) != 0;

		INIT_CRC32C(file_crc);
		if (!(ddl_loaded = grd_ddl_audit_load(file)))
			problem = "Its DDL log section is invalid.";
		else if (grd_save && has_latency &&
				 header.latency_signature != grd_latency_file_signature())
			problem = "Its latency section has the layout of another version of pg_guardrails.";
		else if (grd_save && has_latency && !grd_latency_load(file))
			problem = "Its latency section is invalid.";
		else if ((grd_save || !has_latency) &&
				 ftell(file) != (long) (header.length - sizeof(pg_crc32c)))
			problem = "Its sections do not end where its checksum begins.";
	}
	if (problem != NULL)
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pg_guardrails state file \"%s\"",
						GRD_STATE_FILE),
				 errdetail_internal("%s", problem)));
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
