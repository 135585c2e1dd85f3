/*-------------------------------------------------------------------------
 *
 * ddl_log_sql.c
 *		The SQL functions that read the DDL log's ring:
 *		guardrails.ddl_log_entries(), behind the view guardrails.ddl_log,
 *		and guardrails.ddl_log_reset().
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inet.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/xid8.h"

#include "ddl_entry.h"
#include "ddl_ring.h"
#include "shmem.h"

/* An xid8 column: NULL for 0 (no transaction id). */
static Datum
xid8_datum(uint64 value, bool *isnull)
{
	*isnull = (value == 0);
	return FullTransactionIdGetDatum(FullTransactionIdFromU64(value));
}

/* A name column, converted from the encoding of the entry's database. */
static Datum
name_datum(const char *s, int encoding)
{
	return DirectFunctionCall1(namein,
							   CStringGetDatum(grd_ddl_convert(s, encoding)));
}

/* Columns of guardrails.ddl_log_entries(). */
typedef enum DdlLogColumn
{
	COL_SEQ,
	COL_START_TIME,
	COL_DURATION,
	COL_DBID,
	COL_DATABASE,
	COL_USERID,
	COL_ROLE,
	COL_SESSION_ROLE,
	COL_CLIENT_ADDR,
	COL_APPLICATION_NAME,
	COL_PID,
	COL_XID,
	COL_STATEMENT_XID,
	COL_TOPLEVEL,
	COL_COMMAND_TAG,
	COL_OBJECT_TYPE,
	COL_OBJECT_IDENTITY,
	COL_QUERY,
	COL_QUERY_TRUNCATED,
	COL_OUTCOME,
	COL_SQLSTATE,
	COL_MESSAGE,
	COL_POLICY_WARNINGS,
	COL_LOCK_WAIT,
	COL_STORED,
	DDL_LOG_NCOLS
} DdlLogColumn;

/* The columns shown of every entry (see grd_ddl_log_entries). */
static const bool shown_to_all[DDL_LOG_NCOLS] = {
	[COL_SEQ] = true,
	[COL_DBID] = true,
	[COL_DATABASE] = true,
	[COL_USERID] = true,
	[COL_ROLE] = true,
	[COL_SESSION_ROLE] = true,
	[COL_PID] = true,
	[COL_XID] = true,
	[COL_QUERY] = true,			/* as "<insufficient privilege>" */
	[COL_STORED] = true,
};

/*
 * guardrails.ddl_log_entries(): the entries of the ring after the last
 * ddl_log_reset(), oldest first, for the view guardrails.ddl_log.  Texts
 * are converted from the encoding of the database each statement ran in
 * to the reader's (grd_ddl_convert).
 *
 * Another role's entry shows what pg_stat_activity shows of another role's
 * session (pg_stat_get_activity), with the same test: the reader sees
 * everything when it has the privileges of pg_read_all_stats or of the
 * role that ran the statement (superusers have both).  Otherwise only the
 * columns pg_stat_activity shows to everyone remain: the database, the
 * roles, the backend's pid and the transaction id, and ours that say
 * nothing of the statement (seq, stored).  The statement reads
 * "<insufficient privilege>"; its time (as query_start), client address,
 * and what it did (command, object, outcome, error, warnings) are NULL.
 * So is application_name, which pg_stat_activity does show: a session's
 * name is shown there while it lives, but here it would stay, next to
 * what that session changed, for as long as the entry.
 */
PG_FUNCTION_INFO_V1(grd_ddl_log_entries);

Datum
grd_ddl_log_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			userid = GetUserId();
	bool		read_all = has_privs_of_role(userid, ROLE_PG_READ_ALL_STATS);
	GrdDdlEntry *e;
	uint64		first;
	uint64		next;
	uint64		stored;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);

	e = palloc(grd_ddl_entry_size());
	next = grd_ddl_next_seq();
	first = Max(grd_ddl_oldest_seq(), grd_ddl_reset_seq() + 1);
	(void) grd_ddl_stored_known(&stored);

	for (uint64 seq = first; seq < next; seq++)
	{
		Datum		values[DDL_LOG_NCOLS];
		bool		nulls[DDL_LOG_NCOLS];
		bool		visible;

		if (!grd_ddl_ring_read(seq, e) ||
			!(e->destinations & (GRD_DDL_DEST_VIEW | GRD_DDL_DEST_TABLE)))
			continue;
		visible = read_all || has_privs_of_role(userid, e->userid);

		memset(nulls, 0, sizeof(nulls));

		/* what pg_stat_activity shows to everyone (shown_to_all) */
		values[COL_SEQ] = Int64GetDatum((int64) e->seq);
		values[COL_DBID] = ObjectIdGetDatum(e->dbid);
		values[COL_DATABASE] = name_datum(e->datname, e->encoding);
		values[COL_USERID] = ObjectIdGetDatum(e->userid);
		values[COL_ROLE] = name_datum(e->username, e->encoding);
		values[COL_SESSION_ROLE] = name_datum(e->session_username,
											  e->encoding);
		values[COL_PID] = Int32GetDatum(e->pid);
		values[COL_XID] = xid8_datum(e->xid, &nulls[COL_XID]);
		values[COL_STORED] = BoolGetDatum(e->seq <= stored);

		if (!visible)
		{
			for (int i = 0; i < DDL_LOG_NCOLS; i++)
				nulls[i] = nulls[i] || !shown_to_all[i];
			values[COL_QUERY] = CStringGetTextDatum("<insufficient privilege>");
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 values, nulls);
			continue;
		}

		values[COL_START_TIME] = TimestampTzGetDatum(e->start_time);
		values[COL_DURATION] = Float8GetDatum(e->duration_us / 1000.0);
		if (e->client_addr[0] != '\0')
			values[COL_CLIENT_ADDR] =
				DirectFunctionCall1(inet_in, CStringGetDatum(e->client_addr));
		else
			nulls[COL_CLIENT_ADDR] = true;
		values[COL_APPLICATION_NAME] =
			CStringGetTextDatum(e->application_name);
		values[COL_STATEMENT_XID] = xid8_datum(e->stmt_xid,
											   &nulls[COL_STATEMENT_XID]);
		values[COL_TOPLEVEL] = BoolGetDatum(e->toplevel);
		values[COL_COMMAND_TAG] = CStringGetTextDatum(e->command_tag);
		if (e->object_type[0] != '\0')
			values[COL_OBJECT_TYPE] = CStringGetTextDatum(e->object_type);
		else
			nulls[COL_OBJECT_TYPE] = true;
		if (e->object_identity[0] != '\0')
			values[COL_OBJECT_IDENTITY] =
				CStringGetTextDatum(grd_ddl_convert(e->object_identity,
													 e->encoding));
		else
			nulls[COL_OBJECT_IDENTITY] = true;
		values[COL_QUERY] = CStringGetTextDatum(grd_ddl_convert(e->query,
																  e->encoding));
		values[COL_QUERY_TRUNCATED] =
			BoolGetDatum(e->query_len < e->query_full_len);
		values[COL_OUTCOME] =
			CStringGetTextDatum(grd_ddl_outcome_name(e->outcome));
		if (e->sqlstate[0] != '\0')
			values[COL_SQLSTATE] = CStringGetTextDatum(e->sqlstate);
		else
			nulls[COL_SQLSTATE] = true;
		if (e->outcome != GRD_DDL_OK)
			values[COL_MESSAGE] =
				CStringGetTextDatum(grd_ddl_convert(e->message, e->encoding));
		else
			nulls[COL_MESSAGE] = true;
		values[COL_POLICY_WARNINGS] =
			CStringGetTextDatum(grd_ddl_convert(e->warnings, e->encoding));
		if (e->lock_wait_us >= 0)
			values[COL_LOCK_WAIT] = Float8GetDatum(e->lock_wait_us / 1000.0);
		else
			nulls[COL_LOCK_WAIT] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	pfree(e);
	return (Datum) 0;
}

/*
 * guardrails.ddl_log_reset(): hide the ring's current entries from
 * guardrails.ddl_log and zero the counters.  The background worker still
 * stores them: nothing is lost.  Returns how many entries were hidden.
 */
PG_FUNCTION_INFO_V1(grd_ddl_log_reset);

Datum
grd_ddl_log_reset(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	PG_RETURN_INT64((int64) grd_ddl_ring_reset());
}
