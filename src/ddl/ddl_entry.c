/*-------------------------------------------------------------------------
 *
 * ddl_entry.c
 *		What every reader of a recorded DDL statement needs: the name of its
 *		outcome, its texts cut to size or converted to the reader's
 *		encoding, and its line in the server log.
 *
 * Each entry keeps the encoding of its database; its texts are converted
 * to the reader's (grd_ddl_convert) by the view and by the worker.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "common/string.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "ddl_entry.h"


/* The outcome as the view, the table and the log line spell it. */
const char *
grd_ddl_outcome_name(char outcome)
{
	switch (outcome)
	{
		case GRD_DDL_OK:
			return "ok";
		case GRD_DDL_REJECTED:
			return "rejected";
		default:
			return "error";
	}
}

/* Copy at most (size - 1) bytes of a string, cut at a character boundary. */
void
grd_ddl_copy_text(char *dst, const char *src, int size)
{
	int			len;

	if (src == NULL)
	{
		dst[0] = '\0';
		return;
	}
	len = pg_mbcliplen(src, strlen(src), size - 1);
	memcpy(dst, src, len);
	dst[len] = '\0';
}

/* A JSON member: "name":"value", or "name":null for an empty string. */
static void
json_member(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, ",\"%s\":", name);
	if (value == NULL || value[0] == '\0')
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

/*
 * The server-log line of an entry: a fixed prefix and one JSON object, so
 * that log shipping keeps a complete, parsable history.  Never sent to the
 * client.  Allocates in the current memory context, which in the error
 * path is the audit's own (ddl_audit.c).
 */
void
grd_ddl_entry_log(GrdDdlEntry *e)
{
	StringInfoData buf;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	const char *tzn;
	char		ts[MAXDATELEN + 1];

	if (timestamp2tm(e->start_time, &tz, &tm, &fsec, &tzn, log_timezone) == 0)
		EncodeDateTime(&tm, fsec, true, tz, tzn, USE_XSD_DATES, ts);
	else
		strlcpy(ts, "", sizeof(ts));

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"seq\":" UINT64_FORMAT, e->seq);
	json_member(&buf, "start_time", ts);
	appendStringInfo(&buf, ",\"duration_ms\":%.3f", e->duration_us / 1000.0);
	json_member(&buf, "database", e->datname);
	json_member(&buf, "role", e->username);
	json_member(&buf, "session_role", e->session_username);
	json_member(&buf, "client_addr", e->client_addr);
	json_member(&buf, "application_name", e->application_name);
	appendStringInfo(&buf, ",\"pid\":%d", e->pid);
	if (e->xid != 0)
		appendStringInfo(&buf, ",\"xid\":" UINT64_FORMAT, e->xid);
	else
		appendStringInfoString(&buf, ",\"xid\":null");
	appendStringInfo(&buf, ",\"toplevel\":%s", e->toplevel ? "true" : "false");
	json_member(&buf, "command_tag", e->command_tag);
	json_member(&buf, "object_type", e->object_type);
	json_member(&buf, "object_identity", e->object_identity);
	json_member(&buf, "query", e->query);
	appendStringInfo(&buf, ",\"query_truncated\":%s",
					 e->query_len < e->query_full_len ? "true" : "false");
	json_member(&buf, "outcome", grd_ddl_outcome_name(e->outcome));
	json_member(&buf, "sqlstate", e->sqlstate);
	json_member(&buf, "message", e->message);
	appendStringInfoString(&buf, ",\"policy_warnings\":[");
	if (e->warnings[0] != '\0')
	{
		char	   *rules = pstrdup(e->warnings);
		char	   *save;
		bool		first = true;

		for (char *rule = strtok_r(rules, ",", &save); rule != NULL;
			 rule = strtok_r(NULL, ",", &save))
		{
			if (!first)
				appendStringInfoChar(&buf, ',');
			escape_json(&buf, rule);
			first = false;
		}
	}
	appendStringInfoChar(&buf, ']');
	if (e->lock_wait_us >= 0)
		appendStringInfo(&buf, ",\"lock_wait_ms\":%.3f", e->lock_wait_us / 1000.0);
	else
		appendStringInfoString(&buf, ",\"lock_wait_ms\":null");
	appendStringInfoChar(&buf, '}');

	ereport(LOG_SERVER_ONLY,
			(errmsg_internal("pg_guardrails ddl: %s", buf.data),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/*
 * A text of an entry, written in encoding (that of the database where the
 * statement ran), as a palloc'd string valid in this database's encoding,
 * as pg_stat_statements converts its texts; a character that cannot be
 * converted (or is not valid) becomes '?', so that nothing invalid is
 * ever shown or stored (pg_dump would copy it, and the restore fail).
 * Runs in a transaction: the conversion is looked up in the catalog.
 */
char *
grd_ddl_convert(const char *s, int encoding)
{
	int			target = GetDatabaseEncoding();
	int			len = strlen(s);
	const char *p = s;
	const char *end = s + len;
	StringInfoData buf;
	Oid			proc = InvalidOid;
	unsigned char *out = NULL;

	/* every server encoding is a superset of ASCII */
	if (pg_is_ascii(s) || target == PG_SQL_ASCII)
		return pstrdup(s);
	if (encoding != target && encoding != PG_SQL_ASCII &&
		PG_VALID_BE_ENCODING(encoding))
	{
		proc = FindDefaultConversionProc(encoding, target);
		out = palloc((Size) len * MAX_CONVERSION_GROWTH + 1);
	}

	initStringInfo(&buf);
	while (p < end)
	{
		int			done;
		int			skip;

		if (encoding == target)
		{
			done = pg_encoding_verifymbstr(target, p, end - p);
			appendBinaryStringInfo(&buf, p, done);
		}
		else if (OidIsValid(proc))
		{
			done = pg_do_encoding_conversion_buf(proc, encoding, target,
												 (unsigned char *) p, end - p,
												 out, (end - p) * MAX_CONVERSION_GROWTH + 1,
												 true);
			appendStringInfoString(&buf, (char *) out);
		}
		else
		{
			/* no conversion (SQL_ASCII): only ASCII is known to be text */
			for (done = 0; p + done < end && !IS_HIGHBIT_SET(p[done]); done++)
				;
			appendBinaryStringInfo(&buf, p, done);
		}
		p += done;
		if (p >= end)
			break;
		/* one character that could not be taken */
		appendStringInfoChar(&buf, '?');
		skip = (encoding == PG_SQL_ASCII || !PG_VALID_BE_ENCODING(encoding)) ?
			1 : pg_encoding_mblen_bounded(encoding, p);
		p += Max(1, Min(skip, end - p));
	}
	if (out != NULL)
		pfree(out);
	return buf.data;
}
