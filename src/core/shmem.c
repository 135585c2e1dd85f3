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
 * stale data.  This is what pg_stat_statements does.
 *
 * The file is a header (magic number, format version, PostgreSQL major,
 * number of sections, total length, and a CRC-32C of these) followed by
 * one section per module that has state to keep.  A section is tagged
 * (which module it belongs to), versioned (the format of its body) and
 * checksummed (a CRC-32C of its body), so that each is judged on its own:
 * a section that is damaged, of another format, or of a module this
 * version does not have is reported and skipped, and its module starts
 * empty, while the other modules still get theirs.  Only a file whose
 * header or framing is wrong (cut short, another major, sections that do
 * not tile the file) is ignored as a whole.  The module reads its body
 * through grd_file_read(), which never reads past the section's end, and
 * then checks the values it read.
 *
 * This file names no module: it iterates over grd_modules[] (module.h).
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
#include "module.h"
#include "shmem.h"

#define GRD_TRANCHE_NAME	"pg_guardrails"
#define GRD_STATE_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_guardrails.stat"
#define GRD_STATE_FILE_TMP	GRD_STATE_FILE ".tmp"
#define GRD_FILE_MAGIC		0x47524431	/* "GRD1" */
#define GRD_FILE_VERSION	4

/* The header of the state file. */
typedef struct GrdFileHeader
{
	uint32		magic;
	uint32		version;
	uint32		pg_major;		/* PG_VERSION_NUM / 100 */
	uint32		nsections;
	uint64		length;			/* of the whole file */
	pg_crc32c	crc;			/* of the members above */
	uint32		unused;
} GrdFileHeader;

/* The header of one section; its body follows. */
typedef struct GrdSectionHeader
{
	uint32		tag;			/* GrdModule.section_tag */
	uint32		version;		/* GrdModule.section_version */
	uint64		length;			/* of the body */
	pg_crc32c	crc;			/* of the body */
	uint32		unused;
} GrdSectionHeader;

/*
 * While a section is written: the checksum of its body so far.  While one
 * is read: how many bytes of its body are left.
 */
static pg_crc32c section_crc;
static uint64 section_left;

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
static void grd_state_load(void);
static void grd_state_save(int code, Datum arg);

static Size
grd_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(GrdShared));

	for (int i = 0; i < grd_num_modules; i++)
		if (grd_modules[i]->shmem_size)
			size = add_size(size, grd_modules[i]->shmem_size());
	return size;
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
	for (int i = 0; i < grd_num_modules; i++)
		if (grd_modules[i]->shmem_startup)
			grd_modules[i]->shmem_startup(found);

	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
		on_shmem_exit(grd_state_save, (Datum) 0);

	/* Only the process that created the segment fills it. */
	if (!found)
		grd_state_load();
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
 * Write or read part of a state-file section (the postmaster alone reads
 * and writes these files).  A read never goes past the section's end.
 */
bool
grd_file_write(FILE *file, const void *data, size_t len)
{
	COMP_CRC32C(section_crc, data, len);
	return fwrite(data, 1, len, file) == len;
}

bool
grd_file_read(FILE *file, void *data, size_t len)
{
	if (len > section_left || fread(data, 1, len, file) != len)
		return false;
	section_left -= len;
	return true;
}

/*
 * Open one of the extension's files in pg_stat for reading; NULL when it
 * is not there, which is normal (a first start, a crash restart), or
 * cannot be opened, which is logged.
 */
FILE *
grd_file_open_read(const char *path)
{
	FILE	   *file = AllocateFile(path, PG_BINARY_R);

	if (file == NULL && errno != ENOENT)
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not read file \"%s\": %m", path)));
	return file;
}

static pg_crc32c
header_checksum(const GrdFileHeader *header)
{
	pg_crc32c	crc;

	INIT_CRC32C(crc);
	COMP_CRC32C(crc, header, offsetof(GrdFileHeader, crc));
	FIN_CRC32C(crc);
	return crc;
}

/*
 * Write one module's section: a header to fill in once the body is
 * written, then the body.
 */
static bool
section_save(FILE *file, const GrdModule *module)
{
	GrdSectionHeader header;
	long		start = ftell(file);
	long		end;

	memset(&header, 0, sizeof(header));
	if (start < 0 || fwrite(&header, 1, sizeof(header), file) != sizeof(header))
		return false;
	INIT_CRC32C(section_crc);
	if (!module->save(file))
		return false;
	end = ftell(file);
	if (end < 0)
		return false;
	FIN_CRC32C(section_crc);
	header.tag = module->section_tag;
	header.version = module->section_version;
	header.length = (uint64) (end - start) - sizeof(header);
	header.crc = section_crc;
	return fseek(file, start, SEEK_SET) == 0 &&
		fwrite(&header, 1, sizeof(header), file) == sizeof(header) &&
		fseek(file, end, SEEK_SET) == 0;
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
	if (fwrite(&header, 1, sizeof(header), file) != sizeof(header))
		goto error;
	for (int i = 0; i < grd_num_modules; i++)
	{
		if (grd_modules[i]->save == NULL)
			continue;
		if (!section_save(file, grd_modules[i]))
			goto error;
		header.nsections++;
	}

	/* the header last: a file cut short anywhere is seen as such */
	end = ftell(file);
	if (end < 0)
		goto error;
	header.length = (uint64) end;
	header.crc = header_checksum(&header);
	if (fseek(file, 0, SEEK_SET) != 0 ||
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
 * Check the header and the framing of the state file: the section headers
 * must tile the file exactly.  Returns NULL, with the file positioned at
 * its first section, or what is wrong.
 */
static const char *
state_file_check(FILE *file, GrdFileHeader *header)
{
	struct stat st;
	uint64		offset;

	if (fstat(fileno(file), &st) != 0)
		return psprintf("Could not stat it: %m.");
	if (st.st_size < (off_t) sizeof(GrdFileHeader) ||
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
	if (header->crc != header_checksum(header))
		return "The checksum of its header does not match.";

	offset = sizeof(GrdFileHeader);
	for (uint32 i = 0; i < header->nsections; i++)
	{
		GrdSectionHeader section;

		if (header->length - offset < sizeof(section) ||
			fseek(file, (long) offset, SEEK_SET) != 0 ||
			fread(&section, 1, sizeof(section), file) != sizeof(section))
			return "Its sections do not fit in the file.";
		offset += sizeof(section);
		if (section.length > header->length - offset)
			return "Its sections do not fit in the file.";
		offset += section.length;
	}
	if (offset != header->length)
		return "Its sections do not end where the file ends.";
	if (fseek(file, sizeof(GrdFileHeader), SEEK_SET) != 0)
		return "The file could not be read again.";
	return NULL;
}

/*
 * Judge one section, whose header was just read, and hand its body to its
 * module.  Returns the module it belongs to (NULL for an unknown tag), and
 * in *problem what is wrong with it, or NULL if its module took it.
 */
static const GrdModule *
section_load(FILE *file, const GrdSectionHeader *section, const char **problem)
{
	const GrdModule *module = NULL;
	long		start = ftell(file);
	uint64		left = section->length;
	pg_crc32c	crc;
	char		buf[8192];

	for (int i = 0; i < grd_num_modules; i++)
		if (grd_modules[i]->save != NULL &&
			grd_modules[i]->section_tag == section->tag)
			module = grd_modules[i];
	if (module == NULL)
	{
		*problem = "No module of this version of pg_guardrails reads it.";
		return NULL;
	}
	if (section->version != module->section_version)
	{
		*problem = psprintf("It has format version %u, this server reads version %u.",
							section->version, module->section_version);
		return module;
	}

	INIT_CRC32C(crc);
	while (left > 0)
	{
		size_t		n = Min(left, sizeof(buf));

		if (fread(buf, 1, n, file) != n)
		{
			*problem = "It could not be read to its end.";
			return module;
		}
		COMP_CRC32C(crc, buf, n);
		left -= n;
	}
	FIN_CRC32C(crc);
	if (crc != section->crc)
	{
		*problem = "The checksum does not match its contents.";
		return module;
	}

	*problem = NULL;
	section_left = section->length;
	if (start < 0 || fseek(file, start, SEEK_SET) != 0 ||
		!module->load(file, section->version, section->length))
		*problem = "Its values are invalid.";
	return module;
}

/*
 * Read back what grd_state_save wrote, then remove the file, and tell
 * every module whether its section was read.  A missing file is normal
 * (first start, crash restart); a damaged file or section is reported and
 * skipped.
 */
static void
grd_state_load(void)
{
	FILE	   *file;
	GrdFileHeader header;
	const char *problem;
	bool	   *loaded = palloc0(sizeof(bool) * grd_num_modules);

	file = grd_file_open_read(GRD_STATE_FILE);
	if (file != NULL && (problem = state_file_check(file, &header)) != NULL)
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pg_guardrails state file \"%s\"",
						GRD_STATE_FILE),
				 errdetail_internal("%s", problem)));
	else if (file != NULL)
	{
		for (uint32 s = 0; s < header.nsections; s++)
		{
			GrdSectionHeader section;
			const GrdModule *module;
			long		start;

			if (fread(&section, 1, sizeof(section), file) != sizeof(section) ||
				(start = ftell(file)) < 0)
				break;			/* cannot be: state_file_check read it */
			module = section_load(file, &section, &problem);
			if (problem != NULL)
			{
				char		tag[5];

				for (int k = 0; k < 4; k++)
				{
					char		c = (char) (section.tag >> (24 - 8 * k));

					tag[k] = (c >= 'A' && c <= 'Z') ? c : '?';
				}
				tag[4] = '\0';
				ereport(LOG,
						(errcode(ERRCODE_DATA_CORRUPTED),
						 errmsg("ignoring section \"%s\" of pg_guardrails state file \"%s\"",
								module ? module->name : tag, GRD_STATE_FILE),
						 errdetail_internal("%s", problem)));
			}
			for (int i = 0; i < grd_num_modules; i++)
				if (grd_modules[i] == module)
					loaded[i] = (problem == NULL);
			if (fseek(file, start + (long) section.length, SEEK_SET) != 0)
				break;
		}
	}
	if (file != NULL)
	{
		FreeFile(file);
		unlink(GRD_STATE_FILE);
	}

	for (int i = 0; i < grd_num_modules; i++)
		if (grd_modules[i]->after_load)
			grd_modules[i]->after_load(loaded[i]);
	pfree(loaded);
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
	for (int i = 0; i < grd_num_modules; i++)
		if (grd_modules[i]->status)
			grd_modules[i]->status(&status);

	return (Datum) 0;
}
