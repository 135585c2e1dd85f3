/*-------------------------------------------------------------------------
 *
 * ratelimit.c
 *		Token buckets in shared memory, and the limits on how fast new
 *		connections may be created.
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
 * database is attached.  Each limit gets a token bucket in shared memory,
 * found by (kind, name) in a small fixed array.
 *
 * Locking: a bucket's level is protected by its own spinlock, held for a
 * few arithmetic operations.  GRD_LOCK_RATELIMIT protects which slot holds
 * which limit: taken shared to find a slot, exclusive to claim one.
 * Counters are atomics.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "libpq/auth.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "pg_guardrails.h"
#include "ratelimit.h"

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

/* A limit's bucket and counter; kind '\0' marks a free slot. */
typedef struct ConnLimitSlot
{
	char		kind;			/* GRD_LOCK_RATELIMIT */
	char		name[NAMEDATALEN];	/* GRD_LOCK_RATELIMIT */
	GrdTokenBucket bucket;
	pg_atomic_uint64 refused;
} ConnLimitSlot;

typedef struct GrdRateShared
{
	GrdTokenBucket global;		/* guardrails.connection_rate */
	pg_atomic_uint64 accepted;	/* passed every limit */
	pg_atomic_uint64 exempt;	/* replication or an exempt role */
	pg_atomic_uint64 refused;	/* by any limit */
	pg_atomic_uint64 refused_global;
	ConnLimitSlot slots[MAX_CONNECTION_LIMITS];
} GrdRateShared;

static GrdRateShared *rate_shared = NULL;

/* The parsed guardrails.connection_limits (GUC "extra"; NULL when empty). */
static ConnLimitList *conn_limits = NULL;

/* ----------------------------------------------------------------
 *		Token buckets
 * ----------------------------------------------------------------
 */

void
grd_bucket_init(GrdTokenBucket *bucket)
{
	SpinLockInit(&bucket->mutex);
	bucket->tokens = 0;
	bucket->refilled_at = 0;
}

/*
 * Refill the bucket for the time elapsed, then take a token if there is
 * one.  A new bucket starts full.
 */
bool
grd_bucket_take(GrdTokenBucket *bucket, double rate, double burst,
				TimestampTz now)
{
	bool		taken;

	SpinLockAcquire(&bucket->mutex);
	if (bucket->refilled_at == 0)
		bucket->tokens = burst;
	else if (now > bucket->refilled_at)
		bucket->tokens += (now - bucket->refilled_at) / 1e6 * rate;
	if (bucket->tokens > burst)
		bucket->tokens = burst;
	if (now > bucket->refilled_at)
		bucket->refilled_at = now;
	taken = bucket->tokens >= 1.0;
	if (taken)
		bucket->tokens -= 1.0;
	SpinLockRelease(&bucket->mutex);
	return taken;
}

/* Return a token taken for an event that another limit then refused. */
void
grd_bucket_give_back(GrdTokenBucket *bucket, double burst)
{
	SpinLockAcquire(&bucket->mutex);
	bucket->tokens = Min(bucket->tokens + 1.0, burst);
	SpinLockRelease(&bucket->mutex);
}

/* ----------------------------------------------------------------
 *		Shared memory
 * ----------------------------------------------------------------
 */

Size
grd_ratelimit_shmem_size(void)
{
	return MAXALIGN(sizeof(GrdRateShared));
}

void
grd_ratelimit_shmem_startup(bool found)
{
	bool		found_shared;

	rate_shared = ShmemInitStruct("pg_guardrails rate limits",
								  sizeof(GrdRateShared), &found_shared);
	if (found_shared)
		return;

	grd_bucket_init(&rate_shared->global);
	pg_atomic_init_u64(&rate_shared->accepted, 0);
	pg_atomic_init_u64(&rate_shared->exempt, 0);
	pg_atomic_init_u64(&rate_shared->refused, 0);
	pg_atomic_init_u64(&rate_shared->refused_global, 0);
	for (int i = 0; i < MAX_CONNECTION_LIMITS; i++)
	{
		rate_shared->slots[i].kind = '\0';
		grd_bucket_init(&rate_shared->slots[i].bucket);
		pg_atomic_init_u64(&rate_shared->slots[i].refused, 0);
	}
}

static const char *
kind_name(char kind)
{
	return kind == 'r' ? "role" : "database";
}

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
 * The slot of a limit, claiming one if it has none: a free slot, or else
 * one whose limit is no longer configured.  NULL if all 64 are in use by
 * configured limits, which the settings do not allow.
 */
static ConnLimitSlot *
find_slot(const ConnLimit *limit)
{
	LWLock	   *lock = grd_lock(GRD_LOCK_RATELIMIT);
	ConnLimitSlot *slot = NULL;

	LWLockAcquire(lock, LW_SHARED);
	for (int i = 0; i < MAX_CONNECTION_LIMITS && slot == NULL; i++)
	{
		ConnLimitSlot *s = &rate_shared->slots[i];

		if (s->kind == limit->kind && strcmp(s->name, limit->name) == 0)
			slot = s;
	}
	LWLockRelease(lock);
	if (slot != NULL)
		return slot;

	LWLockAcquire(lock, LW_EXCLUSIVE);
	for (int pass = 0; pass < 3 && slot == NULL; pass++)
	{
		for (int i = 0; i < MAX_CONNECTION_LIMITS && slot == NULL; i++)
		{
			ConnLimitSlot *s = &rate_shared->slots[i];

			if ((pass == 0 && s->kind == limit->kind &&
				 strcmp(s->name, limit->name) == 0) ||
				(pass == 1 && s->kind == '\0') ||
				(pass == 2 && !limit_configured(s->kind, s->name)))
				slot = s;
		}
	}
	if (slot != NULL && (slot->kind != limit->kind ||
						 strcmp(slot->name, limit->name) != 0))
	{
		slot->kind = limit->kind;
		strlcpy(slot->name, limit->name, NAMEDATALEN);
		slot->bucket.refilled_at = 0;	/* starts full */
		pg_atomic_write_u64(&slot->refused, 0);
	}
	LWLockRelease(lock);
	return slot;
}

/* ----------------------------------------------------------------
 *		The connection check
 * ----------------------------------------------------------------
 */

static bool
role_exempt(const char *role)
{
	char	   *raw;
	List	   *names;
	ListCell   *lc;

	if (grd_connection_limit_exempt_roles == NULL ||
		grd_connection_limit_exempt_roles[0] == '\0')
		return false;
	raw = pstrdup(grd_connection_limit_exempt_roles);
	if (!SplitIdentifierString(raw, ',', &names))
		return false;			/* cannot happen: the check hook parsed it */
	foreach(lc, names)
	{
		if (strcmp(lfirst(lc), role) == 0)
			return true;
	}
	return false;
}

static double
global_burst(void)
{
	if (grd_connection_burst > 0)
		return grd_connection_burst;
	return Max(1.0, ceil(grd_connection_rate));
}

static void
refuse(const char *what, double rate, double burst)
{
	pg_atomic_fetch_add_u64(&rate_shared->refused, 1);
	ereport(FATAL,
			(errcode(ERRCODE_TOO_MANY_CONNECTIONS),
			 errmsg("connection rate limit exceeded for %s", what),
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
	if (am_walsender || role_exempt(port->user_name))
	{
		pg_atomic_fetch_add_u64(&rate_shared->exempt, 1);
		return;
	}
	if (grd_connection_rate <= 0 && conn_limits == NULL)
	{
		pg_atomic_fetch_add_u64(&rate_shared->accepted, 1);
		return;
	}

	now = GetCurrentTimestamp();
	if (grd_connection_rate > 0)
	{
		if (!grd_bucket_take(&rate_shared->global, grd_connection_rate,
							 global_burst(), now))
		{
			pg_atomic_fetch_add_u64(&rate_shared->refused_global, 1);
			refuse("the server (guardrails.connection_rate)",
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
		slot = find_slot(limit);
		if (slot == NULL)
			continue;
		if (!grd_bucket_take(&slot->bucket, limit->rate, limit->burst, now))
		{
			char		what[NAMEDATALEN + 32];

			if (global_taken)
				grd_bucket_give_back(&rate_shared->global, global_burst());
			for (int k = 0; k < ntaken; k++)
				grd_bucket_give_back(&taken[k]->bucket, taken_burst[k]);
			pg_atomic_fetch_add_u64(&slot->refused, 1);
			snprintf(what, sizeof(what), "%s \"%s\"",
					 kind_name(limit->kind), limit->name);
			refuse(what, limit->rate, limit->burst);
		}
		taken[ntaken] = slot;
		taken_burst[ntaken] = limit->burst;
		ntaken++;
	}
	pg_atomic_fetch_add_u64(&rate_shared->accepted, 1);
}

/*
 * Rows of guardrails.status owned by this module.
 */
void
grd_ratelimit_status(GrdStatus *status)
{
	LWLock	   *lock = grd_lock(GRD_LOCK_RATELIMIT);

	grd_status_put(status, "connections_accepted",
				   (int64) pg_atomic_read_u64(&rate_shared->accepted));
	grd_status_put(status, "connections_exempt",
				   (int64) pg_atomic_read_u64(&rate_shared->exempt));
	grd_status_put(status, "connections_refused",
				   (int64) pg_atomic_read_u64(&rate_shared->refused));
	grd_status_put(status, "connections_refused_by_connection_rate",
				   (int64) pg_atomic_read_u64(&rate_shared->refused_global));

	LWLockAcquire(lock, LW_SHARED);
	for (int i = 0; i < MAX_CONNECTION_LIMITS; i++)
	{
		ConnLimitSlot *s = &rate_shared->slots[i];
		char		name[NAMEDATALEN + 64];

		if (s->kind == '\0')
			continue;
		snprintf(name, sizeof(name), "connections_refused_by %s:%s",
				 kind_name(s->kind), s->name);
		grd_status_put(status, name, (int64) pg_atomic_read_u64(&s->refused));
	}
	LWLockRelease(lock);
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

/* An identifier, plain (folded to lower case) or double-quoted. */
static bool
parse_name(const char **p, char *name)
{
	int			len = 0;

	if (**p == '"')
	{
		(*p)++;
		for (;;)
		{
			if (**p == '\0')
				return false;
			if (**p == '"')
			{
				if ((*p)[1] != '"')
					break;
				(*p)++;
			}
			if (len >= NAMEDATALEN - 1)
				return false;
			name[len++] = *(*p)++;
		}
		(*p)++;
	}
	else
	{
		while (isalnum((unsigned char) **p) || **p == '_' || **p == '$' ||
			   **p == '-' || IS_HIGHBIT_SET(**p))
		{
			if (len >= NAMEDATALEN - 1)
				return false;
			name[len++] = pg_tolower((unsigned char) *(*p)++);
		}
	}
	name[len] = '\0';
	return len > 0;
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
	if (!parse_name(p, limit->name))
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
bool
grd_check_connection_limits(char **newval, void **extra, GucSource source)
{
	const char *p = *newval;
	ConnLimitList *list;
	int			item = 0;

	list = malloc(offsetof(ConnLimitList, items) +
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
			free(list);
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
			free(list);
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

void
grd_assign_connection_limits(const char *newval, void *extra)
{
	ConnLimitList *list = (ConnLimitList *) extra;

	conn_limits = (list != NULL && list->n > 0) ? list : NULL;
}

/* Check hook of guardrails.connection_limit_exempt_roles. */
bool
grd_check_exempt_roles(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names;

	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	return true;
}
