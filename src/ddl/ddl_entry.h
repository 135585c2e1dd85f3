/*-------------------------------------------------------------------------
 *
 * ddl_entry.h
 *		One recorded DDL statement (GrdDdlEntry), as the ring holds it and
 *		as its readers see it; what ddl_entry.c does with one.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_ENTRY_H
#define GRD_DDL_ENTRY_H

#include "datatype/timestamp.h"

#include "ddl.h"				/* GRD_DDL_*_LEN */

/* guardrails.ddl_log_destination, parsed: a set of these bits. */
#define GRD_DDL_DEST_VIEW		0x01
#define GRD_DDL_DEST_LOG		0x02
#define GRD_DDL_DEST_TABLE		0x04

/*
 * One recorded statement, as it sits in a slot of the shared ring and as
 * the worker and the SQL functions read it back.  Strings are
 * NUL-terminated; an empty one means "none".  The statement text follows
 * the fixed part, up to guardrails.ddl_log_max_query_len bytes.
 */
typedef struct GrdDdlEntry
{
	uint64		seq;			/* 0: empty slot */
	TimestampTz start_time;
	int64		duration_us;
	int64		lock_wait_us;	/* -1: not known */
	uint64		xid;			/* top-level FullTransactionId, 0: none */
	uint64		stmt_xid;		/* the (sub)transaction it ran in, 0: none */
	Oid			dbid;
	Oid			userid;
	Oid			session_userid;
	int32		pid;
	int32		encoding;		/* of the database it ran in: its texts */
	bool		toplevel;
	int32		query_len;		/* bytes of query[] kept */
	int32		query_full_len; /* bytes of the statement's text */
	char		outcome;		/* GRD_DDL_OK, _ERROR or _REJECTED */
	bool		leaves_behind;	/* failed, but not rolled back: what it
								 * built remains (an invalid index) */
	uint8		destinations;	/* guardrails.ddl_log_destination when it
								 * was recorded (GRD_DDL_DEST_*) */
	uint64		skip_from;		/* the last run of numbers given to entries
								 * not for the table, as of this one */
	uint64		skip_to;
	char		sqlstate[6];
	char		datname[NAMEDATALEN];
	char		username[NAMEDATALEN];
	char		session_username[NAMEDATALEN];
	char		client_addr[64];
	char		application_name[NAMEDATALEN];
	char		command_tag[GRD_DDL_TYPE_LEN + 16];
	char		object_type[GRD_DDL_TYPE_LEN];
	char		object_identity[GRD_DDL_IDENTITY_LEN];
	char		warnings[GRD_DDL_WARNINGS_LEN];
	char		message[512];
	char		query[FLEXIBLE_ARRAY_MEMBER];
} GrdDdlEntry;

#define GRD_DDL_OK			'o'
#define GRD_DDL_ERROR		'e'
#define GRD_DDL_REJECTED	'r'

extern const char *grd_ddl_outcome_name(char outcome);
extern void grd_ddl_copy_text(char *dst, const char *src, int size);
extern char *grd_ddl_convert(const char *s, int encoding);
extern void grd_ddl_entry_log(GrdDdlEntry *entry);

#endif							/* GRD_DDL_ENTRY_H */
