/*-------------------------------------------------------------------------
 *
 * ddl_seq_file.h
 *		The DDL log's reservation file of sequence numbers (ddl_seq_file.c).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_SEQ_FILE_H
#define GRD_DDL_SEQ_FILE_H

#include "pgstat.h"

#define GRD_DDL_SEQ_FILE		PGSTAT_STAT_PERMANENT_DIRECTORY "/pg_guardrails_ddl.seq"
#define GRD_DDL_SEQ_FILE_TMP	GRD_DDL_SEQ_FILE ".tmp"

/*
 * Sequence numbers read from a file must be below this bound: far above
 * anything a server can reach, and far enough below 2^63 (ddl_history.seq
 * is a bigint) and 2^64 that adding blocks to them never wraps.
 */
#define GRD_DDL_SEQ_MAX			(UINT64CONST(1) << 62)

extern uint64 grd_ddl_seq_file_read(void);
extern bool grd_ddl_seq_file_write(uint64 reserved);

#endif							/* GRD_DDL_SEQ_FILE_H */
