/*-------------------------------------------------------------------------
 *
 * connection_limits.c
 *		The limits on how fast new connections may be created: their
 *		settings, and the check after authentication that enforces them.
 *
 * A retry storm opens connections faster than the server can serve them,
 * each fork and authentication taking CPU from the queries that would end
 * the storm.  guardrails.connection_rate caps new connections per second
 * for the whole server, and guardrails.connection_limits per role and per
 * database; a connection over its limit ends right after authentication
 * with FATAL and SQLSTATE 53300, before it runs anything.  Replication
 * connections and the roles of guardrails.connection_limit_exempt_roles
 * are never limited, so that a standby and the operator can always get in.
 *
 * The limits are settings, not table rows: authentication runs before a
 * database is attached.  The server-wide limit has a token bucket of its
 * own; each per-role and per-database limit has one in a keyed table of
 * buckets (token_bucket.c), found by (kind, name), whose entries of limits
 * no longer configured are recycled when it is full.
 *
 * Locking: a bucket's level is protected by its own spinlock, held for a
 * few arithmetic operations.  GRD_LOCK_RATELIMIT is the lock of the table
 * of per-limit buckets: it protects which entry holds which limit, taken
 * shared to find an entry, exclusive to claim one.  Counters are atomics.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/syscache.h"

#include "compat.h"
#include "grd_limits.h"
#include "identifier.h"
#include "module.h"
#include "token_bucket.h"

/* At most this many per-role and per-database limits. */
#define MAX_CONNECTION_LIMITS	64

/* One entry of guardrails.connection_limits. */
typedef struct ConnLimit
{
	char		kind;			/* 'r' role, 'd' database */
	char		name[NAMEDATALEN];
	double		rate;			/* new connections per second */
	double		burst;
} ConnLimit;

typedef struct ConnLimitList
{
	int			n;
	ConnLimit	items[FLEXIBLE_ARRAY_MEMBER];
} ConnLimitList;

/* Which limit an entry of the table of buckets is for: its key. */
typedef struct ConnLimitKey
{
	char		kind;			/* 'r' role, 'd' database */
	char		name[NAMEDATALEN];
} ConnLimitKey;

/* A per-role or per-database limit's bucket and counter. */
typedef struct ConnLimitSlot
{
	ConnLimitKey key;			/* must be first */
	GrdBucketEntry common;		/* the bucket */
	pg_atomic_uint64 refused;
} ConnLimitSlot;

typedef struct GrdRateShared
{
	GrdTokenBucket global;		/* guardrails.connection_rate */
	pg_atomic_uint64 accepted;	/* passed every limit */
	pg_atomic_uint64 exempt;	/* replication or an exempt role */
	pg_atomic_uint64 refused;	/* by any limit */
	pg_atomic_uint64 refused_global;
} GrdRateShared;

static bool conn_slot_recyclable(void *entry);
static void conn_slot_reset(void *entry, bool created);

/* The buckets of the per-role and per-database limits. */
static GrdBucketTable conn_slots =
	GRD_BUCKET_TABLE("pg_guardrails connection limits", GRD_LOCK_RATELIMIT,
					 ConnLimitSlot, conn_slot_recyclable, conn_slot_reset);

static GrdRateShared *rate_shared = NULL;

/* The parsed guardrails.connection_limits (GUC "extra"; NULL when empty). */
static ConnLimitList *conn_limits = NULL;

/*
 * The parsed guardrails.connection_limit_exempt_roles (GUC "extra"): the
 * role names one after another, each ending with its NUL.
 */
typedef struct ExemptRoles
{
	int			n;
	char		names[FLEXIBLE_ARRAY_MEMBER];
} ExemptRoles;

static ExemptRoles *exempt_roles = NULL;

/* settings */
static double grd_connection_rate = 0;
static int	grd_connection_burst = 0;
static char *grd_connection_limits = NULL;
static char *grd_connection_limit_exempt_roles = NULL;
static bool grd_connection_limit_exempt_superusers = true;

static bool check_connection_limits(char **newval, void **extra, GucSource source);
static void assign_connection_limits(const char *newval, void *extra);
static bool check_exempt_roles(char **newval, void **extra, GucSource source);
static void assign_exempt_roles(const char *newval, void *extra);

/* The settings of connection limits. */
static const GrdSetting connection_limits_settings[] = {
	GRD_SETTING_REAL("guardrails.connection_rate", &grd_connection_rate, 0, 0, 1000000,
		PGC_SIGHUP, 0,
		"New connections per second the server accepts; 0 means no limit.",
		"Replication connections and guardrails.connection_limit_exempt_roles are never limited."),
	GRD_SETTING_INT("guardrails.connection_burst", &grd_connection_burst, 0, 0, INT_MAX,
		PGC_SIGHUP, 0,
		"New connections accepted at once above guardrails.connection_rate.",
		"0 means one second's worth of the rate."),
	GRD_SETTING_STRING("guardrails.connection_limits", &grd_connection_limits, "", PGC_SIGHUP, 0,
		check_connection_limits, assign_connection_limits,
		"Limits on new connections per role and per database.",
		"For example: role:app=100/s burst 200, database:analytics=20/s"),
	GRD_SETTING_STRING("guardrails.connection_limit_exempt_roles", &grd_connection_limit_exempt_roles, "", PGC_SIGHUP, GUC_LIST_INPUT,
		check_exempt_roles, assign_exempt_roles,
		"Roles whose connections are never limited.",
		NULL),
	GRD_SETTING_BOOL("guardrails.connection_limit_exempt_superusers", &grd_connection_limit_exempt_superusers, true, PGC_SIGHUP, 0,
		"Whether superusers and roles that may use reserved connections are exempt from connection limits.",
		"They are by default, so that an operator can always log in to lift a limit."),
	GRD_SETTINGS_END
};

/* ----------------------------------------------------------------
 *		Shared memory
 * ----------------------------------------------------------------
 */

static Size
connection_limits_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(GrdRateShared)),
					grd_bucket_table_shmem_size(&conn_slots,
												MAX_CONNECTION_LIMITS));
}

/* Create (or attach to) the counters and buckets; they start empty. */
static void
connection_limits_shmem_startup(bool found)
{
	bool		found_shared;

	rate_shared = ShmemInitStruct("pg_guardrails rate limits",
								  sizeof(GrdRateShared), &found_shared);
	grd_bucket_table_attach(&conn_slots, MAX_CONNECTION_LIMITS);
	if (found_shared)
		return;

	grd_bucket_init(&rate_shared->global);
	pg_atomic_init_u64(&rate_shared->accepted, 0);
	pg_atomic_init_u64(&rate_shared->exempt, 0);
	pg_atomic_init_u64(&rate_shared->refused, 0);
	pg_atomic_init_u64(&rate_shared->refused_global, 0);
}

/* What a limit's kind is called in messages and status rows. */
static const char *
kind_name(char kind)
{
	return kind == 'r' ? "role" : "database";
}

/* Whether guardrails.connection_limits limits this role or database. */
static bool
limit_configured(char kind, const char *name)
{
	for (int i = 0; conn_limits != NULL && i < conn_limits->n; i++)
	{
		if (conn_limits->items[i].kind == kind &&
			strcmp(conn_limits->items[i].name, name) == 0)
			return true;
	}
	return false;
}

/*
 * The table of buckets may recycle the entry of a limit that is no longer
 * configured.
 */
static bool
conn_slot_recyclable(void *entry)
{
	ConnLimitSlot *slot = (ConnLimitSlot *) entry;

	return !limit_configured(slot->key.kind, slot->key.name);
}

/* A limit claimed an entry: its counter starts over (its bucket full). */
static void
conn_slot_reset(void *entry, bool created)
{
	ConnLimitSlot *slot = (ConnLimitSlot *) entry;

	if (created)
		pg_atomic_init_u64(&slot->refused, 0);
	else
		pg_atomic_write_u64(&slot->refused, 0);
}

/*
 * The entry of a limit, claiming one if it has none: a free one, or else
 * the least recently used one whose limit is no longer configured.  NULL
 * if all 64 are in use by configured limits, which the settings do not
 * allow.  The entry is used without the lock: only a limit no longer
 * configured loses its entry.
 */
static ConnLimitSlot *
conn_limit_slot(const ConnLimit *limit, TimestampTz now)
{
	ConnLimitKey key;
	ConnLimitSlot *slot;

	memset(&key, 0, sizeof(key));
	key.kind = limit->kind;
	strlcpy(key.name, limit->name, NAMEDATALEN);
	slot = grd_bucket_table_acquire(&conn_slots, &key, 0, now);
	if (slot != NULL)
		grd_bucket_table_release(&conn_slots);
	return slot;
}

/* ----------------------------------------------------------------
 *		The connection check
 * ----------------------------------------------------------------
 */

static bool
role_exempt(const char *role)
{
	const char *name = exempt_roles ? exempt_roles->names : NULL;

	for (int i = 0; exempt_roles != NULL && i < exempt_roles->n; i++)
	{
		if (strcmp(name, role) == 0)
			return true;
		name += strlen(name) + 1;
	}
	return false;
}

/*
 * Whether a role is one that core keeps connection slots for: a superuser
 * or (16+) a member of pg_use_reserved_connections.  During a connection
 * storm the operator who must lift the limit has to be able to log in, so
 * these roles are not limited unless
 * guardrails.connection_limit_exempt_superusers is off.  Authentication
 * runs inside a transaction, where the shared catalogs can be read.
 */
static bool
role_reserved(const char *role)
{
	HeapTuple	tuple;
	Form_pg_authid form;
	bool		reserved;
	Oid			roleid;

	if (!grd_connection_limit_exempt_superusers || role == NULL ||
		!IsTransactionState())
		return false;
	tuple = SearchSysCache1(AUTHNAME, PointerGetDatum(role));
	if (!HeapTupleIsValid(tuple))
		return false;			/* login fails later anyway */
	form = (Form_pg_authid) GETSTRUCT(tuple);
	reserved = form->rolsuper;
	roleid = form->oid;
	ReleaseSysCache(tuple);
	return reserved || grd_uses_reserved_connections(roleid);
}

/* The burst of guardrails.connection_rate: its setting, or a second's worth. */
static double
global_burst(void)
{
	if (grd_connection_burst > 0)
		return grd_connection_burst;
	return Max(1.0, ceil(grd_connection_rate));
}

/* Count a refused connection and end it, saying which limit it broke. */
static void
connection_refuse(const char *what, double rate, double burst)
{
	pg_atomic_fetch_add_u64(&rate_shared->refused, 1);
	ereport(FATAL,
			(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
			 errmsg("connection rate limit exceeded for %s", what),
			 rate == 1 ?
			 errdetail("At most 1 new connection per second is allowed, with bursts of %g.",
					   burst) :
			 errdetail("At most %g new connections per second are allowed, with bursts of %g.",
					   rate, burst),
			 errhint("Retry after a pause that grows with each attempt, reuse connections through a pool, or raise the limit.")));
}

/*
 * ClientAuthentication hook: after a successful authentication, take a
 * token from every limit that applies to this connection, or end it.
 * Tokens already taken are given back when a later limit refuses, so a
 * refused connection counts against no limit.
 */
void
grd_connection_check(Port *port, int status)
{
	TimestampTz now;
	ConnLimitSlot *taken[MAX_CONNECTION_LIMITS];
	double		taken_burst[MAX_CONNECTION_LIMITS];
	int			ntaken = 0;
	bool		global_taken = false;

	if (status != STATUS_OK || rate_shared == NULL)
		return;
	if (grd_connection_rate <= 0 && conn_limits == NULL)
	{
		pg_atomic_fetch_add_u64(&rate_shared->accepted, 1);
		return;
	}
	if (am_walsender || role_exempt(port->user_name) ||
		role_reserved(port->user_name))
	{
		pg_atomic_fetch_add_u64(&rate_shared->exempt, 1);
		return;
	}

	now = GetCurrentTimestamp();
	if (grd_connection_rate > 0)
	{
		if (!grd_bucket_take(&rate_shared->global, grd_connection_rate,
							 global_burst(), now))
		{
			pg_atomic_fetch_add_u64(&rate_shared->refused_global, 1);
			connection_refuse("the server (guardrails.connection_rate)",
				   grd_connection_rate, global_burst());
		}
		global_taken = true;
	}

	for (int i = 0; conn_limits != NULL && i < conn_limits->n; i++)
	{
		ConnLimit  *limit = &conn_limits->items[i];
		const char *subject = limit->kind == 'r' ? port->user_name :
			port->database_name;
		ConnLimitSlot *slot;

		if (subject == NULL || strcmp(limit->name, subject) != 0)
			continue;
		slot = conn_limit_slot(limit, now);
		if (slot == NULL)
			continue;
		if (!grd_bucket_take(&slot->common.bucket, limit->rate, limit->burst, now))
		{
			char		what[NAMEDATALEN + 32];

			if (global_taken)
				grd_bucket_give_back(&rate_shared->global, global_burst());
			for (int k = 0; k < ntaken; k++)
				grd_bucket_give_back(&taken[k]->common.bucket, taken_burst[k]);
			pg_atomic_fetch_add_u64(&slot->refused, 1);
			snprintf(what, sizeof(what), "%s \"%s\"",
					 kind_name(limit->kind), limit->name);
			connection_refuse(what, limit->rate, limit->burst);
		}
		taken[ntaken] = slot;
		taken_burst[ntaken] = limit->burst;
		ntaken++;
	}
	pg_atomic_fetch_add_u64(&rate_shared->accepted, 1);
}

/* A limit's refusals, as grd_bucket_table_copy() copies them. */
typedef struct ConnSlotRow
{
	ConnLimitKey key;
	int64		refused;
} ConnSlotRow;

/*
 * grd_bucket_table_copy() callback: an entry's key and counter, copied
 * under the table's lock (nothing here can fail).
 */
static bool
conn_slot_copy(void *entry, void *dst)
{
	ConnLimitSlot *s = (ConnLimitSlot *) entry;
	ConnSlotRow *r = (ConnSlotRow *) dst;

	r->key = s->key;
	r->refused = (int64) pg_atomic_read_u64(&s->refused);
	return true;
}

/*
 * Rows of guardrails.status owned by this module.  Every configured limit
 * has its row, named connections_refused_by_<kind>:<name>, from the start:
 * its entry in the table of buckets is claimed only by its first
 * connection, and a counter that appears only then cannot be watched for
 * a rate.  The counters are copied under the lock, the rows built after.
 */
static void
connection_limits_status(GrdStatus *status)
{
	ConnSlotRow *rows;
	int			n;

	grd_status_put(status, "connections_accepted",
				   (int64) pg_atomic_read_u64(&rate_shared->accepted));
	grd_status_put(status, "connections_exempt",
				   (int64) pg_atomic_read_u64(&rate_shared->exempt));
	grd_status_put(status, "connections_refused",
				   (int64) pg_atomic_read_u64(&rate_shared->refused));
	grd_status_put(status, "connections_refused_by_connection_rate",
				   (int64) pg_atomic_read_u64(&rate_shared->refused_global));

	/*
	 * A row for every configured limit, from the start, at 0 until the
	 * limit has an entry in the table (at its first connection).
	 */
	if (conn_limits == NULL)
		return;
	rows = grd_bucket_table_copy(&conn_slots, conn_slot_copy,
								 sizeof(ConnSlotRow), &n);
	for (int i = 0; i < conn_limits->n; i++)
	{
		const ConnLimit *limit = &conn_limits->items[i];
		char		name[NAMEDATALEN + 64];
		int64		refused = 0;

		for (int j = 0; j < n; j++)
		{
			if (rows[j].key.kind == limit->kind &&
				strcmp(rows[j].key.name, limit->name) == 0)
				refused = rows[j].refused;
		}
		snprintf(name, sizeof(name), "connections_refused_by_%s:%s",
				 kind_name(limit->kind), limit->name);
		grd_status_put(status, name, refused);
	}
	pfree(rows);
}

/* ----------------------------------------------------------------
 *		Settings
 * ----------------------------------------------------------------
 */

static void
skip_spaces(const char **p)
{
	while (isspace((unsigned char) **p))
		(*p)++;
}

/*
 * Parse one item, "role:NAME=RATE/s [burst N]" or "database:NAME=...".
 * Returns NULL or a description of what is wrong.
 */
static const char *
parse_limit(const char **p, ConnLimit *limit)
{
	char	   *end;

	skip_spaces(p);
	if (pg_strncasecmp(*p, "role", 4) == 0)
	{
		limit->kind = 'r';
		*p += 4;
	}
	else if (pg_strncasecmp(*p, "database", 8) == 0)
	{
		limit->kind = 'd';
		*p += 8;
	}
	else
		return "expected \"role:\" or \"database:\"";
	skip_spaces(p);
	if (*(*p)++ != ':')
		return "expected \":\" after the kind of limit";
	skip_spaces(p);
	if (!grd_parse_identifier(p, limit->name, GRD_IDENT_ROLE_OR_DATABASE))
		return "expected a role or database name";
	skip_spaces(p);
	if (*(*p)++ != '=')
		return "expected \"=\" after the name";
	skip_spaces(p);
	limit->rate = strtod(*p, &end);
	if (end == *p || isnan(limit->rate) || isinf(limit->rate) ||
		limit->rate <= 0)
		return "expected a positive number of connections per second";
	*p = end;
	skip_spaces(p);
	if (pg_strncasecmp(*p, "/s", 2) != 0)
		return "expected \"/s\" after the rate";
	*p += 2;
	skip_spaces(p);
	limit->burst = Max(1.0, ceil(limit->rate));
	if (pg_strncasecmp(*p, "burst", 5) == 0)
	{
		long		burst;

		*p += 5;
		skip_spaces(p);
		errno = 0;
		burst = strtol(*p, &end, 10);
		if (end == *p || errno != 0 || burst < 1 || burst > INT_MAX)
			return "expected a positive whole number after \"burst\"";
		limit->burst = burst;
		*p = end;
		skip_spaces(p);
	}
	if (**p != ',' && **p != '\0')
		return "unexpected text after the limit";
	return NULL;
}

/*
 * Check hook of guardrails.connection_limits: parse the list once, naming
 * the item that is wrong; the server keeps the old value when a reload
 * brings a bad one.
 */
static bool
check_connection_limits(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;
	ConnLimitList *list;
	int			item = 0;

	list = grd_guc_malloc(offsetof(ConnLimitList, items) +
						  sizeof(ConnLimit) * MAX_CONNECTION_LIMITS);
	if (list == NULL)
		return false;
	list->n = 0;

	skip_spaces(&p);
	while (*p != '\0')
	{
		const char *start = p;
		const char *problem;
		ConnLimit  *limit;

		item++;
		if (list->n == MAX_CONNECTION_LIMITS)
		{
			GUC_check_errdetail("At most %d limits can be set.", MAX_CONNECTION_LIMITS);
			grd_guc_free(list);
			return false;
		}
		limit = &list->items[list->n];
		problem = parse_limit(&p, limit);
		for (int i = 0; problem == NULL && i < list->n; i++)
		{
			if (list->items[i].kind == limit->kind &&
				strcmp(list->items[i].name, limit->name) == 0)
				problem = "this role or database already has a limit";
		}
		if (problem != NULL)
		{
			const char *stop = strchr(start, ',');
			int			len = stop ? (int) (stop - start) : (int) strlen(start);

			GUC_check_errdetail("Item %d, \"%.*s\": %s.", item, len, start, problem);
			GUC_check_errhint("Write limits as \"role:app=100/s burst 200, database:analytics=20/s\".");
			grd_guc_free(list);
			return false;
		}
		list->n++;
		if (*p == ',')
			p++;
		skip_spaces(&p);
	}
	*extra = list;
	return true;
}

/* Assign hook of guardrails.connection_limits: the parsed list, or NULL. */
static void
assign_connection_limits(const char *newval, void *extra)
{
	ConnLimitList *list = (ConnLimitList *) extra;

	conn_limits = (list != NULL && list->n > 0) ? list : NULL;
}

/*
 * Check hook of guardrails.connection_limit_exempt_roles: parse the list
 * once, so that authentication only compares names.
 */
static bool
check_exempt_roles(char **newval, void **extra, GucSource source)
{
	List	   *names;
	ListCell   *lc;
	Size		len = 0;
	ExemptRoles *roles;
	char	   *p;

	if (!grd_parse_identifier_list(*newval, &names))
		return false;
	foreach(lc, names)
		len += strlen(lfirst(lc)) + 1;
	roles = grd_guc_malloc(offsetof(ExemptRoles, names) + len);
	if (roles == NULL)
		return false;
	roles->n = list_length(names);
	p = roles->names;
	foreach(lc, names)
	{
		strcpy(p, lfirst(lc));
		p += strlen(p) + 1;
	}
	*extra = roles;
	return true;
}

/* Assign hook of guardrails.connection_limit_exempt_roles: the parsed names. */
static void
assign_exempt_roles(const char *newval, void *extra)
{
	exempt_roles = (ExemptRoles *) extra;
}

const GrdModule grd_connection_limits_module = {
	.name = "connection limits",
	.settings = connection_limits_settings,
	.shmem_size = connection_limits_shmem_size,
	.shmem_startup = connection_limits_shmem_startup,
	.status = connection_limits_status,
};

