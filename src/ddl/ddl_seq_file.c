/*-------------------------------------------------------------------------
 *
 * ddl_seq_file.c
 *		The DDL log's reservation file, pg_stat/pg_guardrails_ddl.seq: the
 *		number up to which sequence numbers may have been handed out,
 *		written before they are, so that after a crash numbering resumes
 *		above it.
 *
 * This file knows the file's format (magic, format version, PostgreSQL
 * major, the number, a CRC-32C) and how it is read and written durably;
 * when it is written, and under which lock, is ddl_ring.c's business.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "port/pg_crc32c.h"
#include "storage/fd.h"

#include "ddl_seq_file.h"
#include "shmem.h"

/*
 * The reservation file: magic, format version, PostgreSQL major, zero,
 * the reserved number (8 bytes), then a CRC-32C of those 24 bytes.
 */
#define GRD_DDL_SEQ_FILE_MAGIC	0x47534551	/* "GSEQ" */
#define GRD_DDL_SEQ_FILE_VERSION 1
#define GRD_DDL_SEQ_FILE_SIZE	28


/*
 * What is wrong with the contents of a reservation file, or NULL; the
 * number it holds in *reserved.
 */
static const char *
seq_file_problem(const char *buf, size_t len, uint64 *reserved)
{
	uint32		word[4];
	pg_crc32c	crc;
	pg_crc32c	stored;

	if (len != GRD_DDL_SEQ_FILE_SIZE)
		return psprintf(len > GRD_DDL_SEQ_FILE_SIZE ?
						"The file has more than %zu bytes, expected %d." :
						"The file has %zu bytes, expected %d.",
						len > GRD_DDL_SEQ_FILE_SIZE ? (size_t) GRD_DDL_SEQ_FILE_SIZE : len,
						GRD_DDL_SEQ_FILE_SIZE);
	memcpy(word, buf, sizeof(word));
	memcpy(reserved, buf + 16, sizeof(uint64));
	memcpy(&stored, buf + 24, sizeof(stored));
	if (word[0] != GRD_DDL_SEQ_FILE_MAGIC)
		return "The file does not start with the magic number of pg_guardrails.";
	if (word[1] != GRD_DDL_SEQ_FILE_VERSION)
		return psprintf("The file has format version %u, this server reads version %d.",
						word[1], GRD_DDL_SEQ_FILE_VERSION);
	if (word[2] != PG_VERSION_NUM / 100)
		return psprintf("The file was written by PostgreSQL %u, this server is %d.",
						word[2] / 100, PG_VERSION_NUM / 10000);
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf, 24);
	FIN_CRC32C(crc);
	if (crc != stored)
		return "The checksum does not match its contents.";
	if (*reserved >= GRD_DDL_SEQ_MAX)
		return psprintf("The sequence number " UINT64_FORMAT " is out of range.",
						*reserved);
	return NULL;
}

/*
 * The highest reserved number, or 0 when there is no file or it is not
 * valid (then numbering starts over, as on a first start).
 */
uint64
grd_ddl_seq_file_read(void)
{
	FILE	   *file;
	char		buf[GRD_DDL_SEQ_FILE_SIZE + 1];
	size_t		len;
	uint64		reserved = 0;
	const char *problem;

	file = grd_file_open_read(GRD_DDL_SEQ_FILE);
	if (file == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf), file);
	problem = ferror(file) ? "The file could not be read." :
		seq_file_problem(buf, len, &reserved);
	if (problem != NULL)
	{
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid pg_guardrails file \"%s\"",
						GRD_DDL_SEQ_FILE),
				 errdetail_internal("%s", problem)));
		reserved = 0;
	}
	FreeFile(file);
	return reserved;
}

/* Write the reservation file durably; false (errno set) on failure. */
bool
grd_ddl_seq_file_write(uint64 reserved)
{
	FILE	   *file;
	bool		ok;
	char		buf[GRD_DDL_SEQ_FILE_SIZE];
	uint32		word[4] = {GRD_DDL_SEQ_FILE_MAGIC, GRD_DDL_SEQ_FILE_VERSION,
	PG_VERSION_NUM / 100, 0};
	pg_crc32c	crc;

	memcpy(buf, word, sizeof(word));
	memcpy(buf + 16, &reserved, sizeof(uint64));
	INIT_CRC32C(crc);
	COMP_CRC32C(crc, buf, 24);
	FIN_CRC32C(crc);
	memcpy(buf + 24, &crc, sizeof(crc));

	file = AllocateFile(GRD_DDL_SEQ_FILE_TMP, PG_BINARY_W);
	ok = file != NULL && fwrite(buf, 1, sizeof(buf), file) == sizeof(buf);
	if (file != NULL && FreeFile(file) != 0)
		ok = false;
	if (ok)
		ok = durable_rename(GRD_DDL_SEQ_FILE_TMP, GRD_DDL_SEQ_FILE, LOG) == 0;
	return ok;
}
