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

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/relation.h"
#include "catalog/pg_authid.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "libpq/auth.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"
#include "utils/varlena.h"

#include "compat.h"
#include "config.h"
#include "module.h"
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
static int	grd_max_digest_limits = 2000;
static double grd_connection_rate = 0;
static int	grd_connection_burst = 0;
static char *grd_connection_limits = NULL;
static char *grd_connection_limit_exempt_roles = NULL;
static bool grd_connection_limit_exempt_superusers = true;

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

static Size
connection_limits_shmem_size(void)
{
	return MAXALIGN(sizeof(GrdRateShared));
}

static void
connection_limits_shmem_startup(bool found)
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
static void
connection_limits_status(GrdStatus *status)
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
	char	   *raw = pstrdup(*newval);
	List	   *names;
	ListCell   *lc;
	Size		len = 0;
	ExemptRoles *roles;
	char	   *p;

	if (!SplitIdentifierString(raw, ',', &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
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

static void
assign_exempt_roles(const char *newval, void *extra)
{
	exempt_roles = (ExemptRoles *) extra;
}

/* ----------------------------------------------------------------
 *		Limits and blocks per query digest
 *
 * Rules are rows of guardrails.digest_limits, read into a backend-local
 * array sorted by query id when config.c says they changed; with no rule,
 * or none for this digest, an execution costs one binary search.  Each
 * rule's state (token bucket, running executions, counters) is an entry
 * of a shared hash table keyed by (database, role, query id), found and
 * updated with GRD_LOCK_DIGEST_LIMITS held shared; entries are created,
 * and idle ones recycled, with it held exclusive.  An entry is never
 * removed while executions hold one of its concurrency slots, so a slot
 * can be given back without the lock.
 * ----------------------------------------------------------------
 */

/* Columns of guardrails.digest_limits. */
#define Anum_dl_queryid			1
#define Anum_dl_role			2
#define Anum_dl_per_second		3
#define Anum_dl_burst			4
#define Anum_dl_max_concurrent	5
#define Anum_dl_action			6
#define Anum_dl_created_at		9
#define Anum_dl_expires_at		10

typedef struct DigestRule
{
	uint64		queryid;
	Oid			roleid;			/* InvalidOid: every role */
	char		action;			/* 'l' limit, 'b' block, 'd' dry run */
	double		rate;			/* 0: no rate limit */
	double		burst;
	int			max_concurrent; /* 0: no cap */
	TimestampTz expires_at;		/* 0: never */
	TimestampTz created_at;		/* tells a replaced rule from the old one */
} DigestRule;

typedef struct GrdDigestKey
{
	Oid			dbid;
	Oid			roleid;
	uint64		queryid;
} GrdDigestKey;

typedef struct GrdDigestState
{
	GrdDigestKey key;			/* hash key, must be first */
	GrdTokenBucket bucket;		/* its mutex also covers the window */
	int64		window_second;	/* for the observed rate: this second */
	uint32		window_count;	/* attempts in it */
	uint32		prev_count;		/* attempts in the second before */
	pg_atomic_uint32 running;
	pg_atomic_uint64 admitted;
	pg_atomic_uint64 rejected;
	pg_atomic_uint64 last_rejection;	/* TimestampTz */
	pg_atomic_uint64 last_used; /* TimestampTz: when the rule last matched
								 * an execution (or was created); recycles
								 * entries, and is shown as last_matched_at */
	pg_atomic_uint64 rule_created_at;	/* the rule the counters are for */
} GrdDigestState;

static HTAB *digest_hash = NULL;

/*
 * Admissions of the utility statements running in this backend that hold
 * concurrency slots, innermost first (each lives in hooks.c's frame).
 */
static GrdAdmission *utility_held = NULL;
static bool utility_exit_registered = false;

static void digest_admit_queryid(uint64 queryid, GrdAdmission *admission);
static void utility_held_exit(int code, Datum arg);

/* This backend's copy of the rules of its database. */
static DigestRule *rules = NULL;
static int	nrules = 0;
static GrdRulesCache rules_cache;

/* Executions holding slots, released when their executor state goes. */
typedef struct HeldSlots
{
	GrdAdmission admission;
	MemoryContextCallback callback;
} HeldSlots;

static Size
digest_limits_shmem_size(void)
{
	return hash_estimate_size(grd_max_digest_limits, sizeof(GrdDigestState));
}

static void
digest_limits_shmem_startup(bool found)
{
	HASHCTL		info;

	info.keysize = sizeof(GrdDigestKey);
	info.entrysize = sizeof(GrdDigestState);
	digest_hash = grd_ShmemInitHash("pg_guardrails digest limits",
									grd_max_digest_limits, &info,
									HASH_ELEM | HASH_BLOBS);
}

static int
rule_cmp(const void *a, const void *b)
{
	uint64		x = ((const DigestRule *) a)->queryid;
	uint64		y = ((const DigestRule *) b)->queryid;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* The array being built by load_rules(). */
typedef struct RulesLoad
{
	DigestRule *rules;
	int			n;
	int			size;
} RulesLoad;

/* grd_rules_load() callback: one row of guardrails.digest_limits. */
static void
rules_row(HeapTuple tuple, TupleDesc desc, void *arg)
{
	RulesLoad  *load = (RulesLoad *) arg;
	DigestRule *r;
	bool		isnull;
	Datum		d;
	char	   *action;

	if (load->n == load->size)
	{
		load->size = Max(16, load->size * 2);
		load->rules = load->rules == NULL ?
			MemoryContextAlloc(TopMemoryContext,
							   load->size * sizeof(DigestRule)) :
			repalloc(load->rules, load->size * sizeof(DigestRule));
	}
	r = &load->rules[load->n];
	memset(r, 0, sizeof(DigestRule));
	d = heap_getattr(tuple, Anum_dl_queryid, desc, &isnull);
	if (isnull)
		return;
	r->queryid = (uint64) DatumGetInt64(d);
	d = heap_getattr(tuple, Anum_dl_role, desc, &isnull);
	r->roleid = isnull ? InvalidOid : DatumGetObjectId(d);
	d = heap_getattr(tuple, Anum_dl_per_second, desc, &isnull);
	r->rate = isnull ? 0 : DatumGetFloat8(d);
	d = heap_getattr(tuple, Anum_dl_burst, desc, &isnull);
	r->burst = isnull ? Max(1.0, ceil(r->rate)) : DatumGetInt32(d);
	d = heap_getattr(tuple, Anum_dl_max_concurrent, desc, &isnull);
	r->max_concurrent = isnull ? 0 : DatumGetInt32(d);
	d = heap_getattr(tuple, Anum_dl_expires_at, desc, &isnull);
	r->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = heap_getattr(tuple, Anum_dl_created_at, desc, &isnull);
	r->created_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = heap_getattr(tuple, Anum_dl_action, desc, &isnull);
	action = isnull ? "limit" : TextDatumGetCString(d);
	r->action = action[0] == 'b' ? 'b' : (action[0] == 'd' ? 'd' : 'l');
	load->n++;
}

/*
 * Read guardrails.digest_limits if it changed since the last time
 * (config.c's loader says when, and checks that the table is the
 * extension's); keep the copy we have if the table is locked exclusively.
 */
static void
load_rules(void)
{
	RulesLoad	load = {NULL, 0, 0};

	if (!grd_rules_load(GRD_CONFIG_DIGEST_LIMITS, &rules_cache, rules_row,
						&load))
		return;
	if (load.n > 1)
		qsort(load.rules, load.n, sizeof(DigestRule), rule_cmp);
	if (rules != NULL)
		pfree(rules);
	rules = load.rules;
	nrules = load.n;
}

/*
 * The shared state of a rule, created if need be, returned with
 * GRD_LOCK_DIGEST_LIMITS held shared so that it cannot be recycled while
 * the caller updates it; NULL, with the lock not held, if there is no room.
 */
static GrdDigestState *
digest_state(const DigestRule *rule, TimestampTz now)
{
	LWLock	   *lock = grd_lock(GRD_LOCK_DIGEST_LIMITS);
	GrdDigestKey key;
	GrdDigestState *state;
	bool		found;

	key.dbid = MyDatabaseId;
	key.roleid = rule->roleid;
	key.queryid = rule->queryid;

	LWLockAcquire(lock, LW_SHARED);
	state = hash_search(digest_hash, &key, HASH_FIND, NULL);
	if (state != NULL &&
		pg_atomic_read_u64(&state->rule_created_at) == (uint64) rule->created_at)
	{
		pg_atomic_write_u64(&state->last_used, (uint64) now);
		return state;
	}
	LWLockRelease(lock);

	LWLockAcquire(lock, LW_EXCLUSIVE);
	if (hash_get_num_entries(digest_hash) >= grd_max_digest_limits &&
		hash_search(digest_hash, &key, HASH_FIND, NULL) == NULL)
	{
		/* recycle the least recently used idle entry */
		HASH_SEQ_STATUS seq;
		GrdDigestState *s;
		GrdDigestState *victim = NULL;

		hash_seq_init(&seq, digest_hash);
		while ((s = hash_seq_search(&seq)) != NULL)
		{
			if (pg_atomic_read_u32(&s->running) == 0 &&
				(victim == NULL ||
				 pg_atomic_read_u64(&s->last_used) <
				 pg_atomic_read_u64(&victim->last_used)))
				victim = s;
		}
		if (victim != NULL)
			hash_search(digest_hash, &victim->key, HASH_REMOVE, NULL);
	}
	state = hash_search(digest_hash, &key, HASH_ENTER_NULL, &found);
	if (state != NULL && found &&
		pg_atomic_read_u64(&state->rule_created_at) != (uint64) rule->created_at)
	{
		/* the rule was replaced: its counters and bucket start over */
		state->bucket.refilled_at = 0;
		pg_atomic_write_u64(&state->admitted, 0);
		pg_atomic_write_u64(&state->rejected, 0);
		pg_atomic_write_u64(&state->last_rejection, 0);
		pg_atomic_write_u64(&state->rule_created_at, (uint64) rule->created_at);
	}
	if (state != NULL && !found)
	{
		pg_atomic_init_u64(&state->rule_created_at, (uint64) rule->created_at);
		grd_bucket_init(&state->bucket);
		state->window_second = 0;
		state->window_count = 0;
		state->prev_count = 0;
		pg_atomic_init_u32(&state->running, 0);
		pg_atomic_init_u64(&state->admitted, 0);
		pg_atomic_init_u64(&state->rejected, 0);
		pg_atomic_init_u64(&state->last_rejection, 0);
		pg_atomic_init_u64(&state->last_used, (uint64) now);
	}
	LWLockRelease(lock);
	if (state == NULL)
		return NULL;

	/* look it up again with the lock held shared, as on the fast path */
	LWLockAcquire(lock, LW_SHARED);
	state = hash_search(digest_hash, &key, HASH_FIND, NULL);
	if (state == NULL)
		LWLockRelease(lock);
	return state;
}

/*
 * Take a token, counting the attempt in the window the observed rate is
 * computed from.  Returns whether a token was taken, and the attempts per
 * second seen lately.
 */
static bool
take_token(GrdDigestState *state, const DigestRule *rule, TimestampTz now,
		   uint32 *observed)
{
	int64		second = now / USECS_PER_SEC;
	bool		taken;

	taken = grd_bucket_take(&state->bucket, rule->rate, rule->burst, now);

	SpinLockAcquire(&state->bucket.mutex);
	if (second != state->window_second)
	{
		state->prev_count = (second == state->window_second + 1) ?
			state->window_count : 0;
		state->window_second = second;
		state->window_count = 0;
	}
	state->window_count++;
	*observed = Max(state->window_count, state->prev_count);
	SpinLockRelease(&state->bucket.mutex);
	return taken;
}

/*
 * Count a rejection, release the lock digest_state() left held, and fail
 * the execution (or, for a dry run, log what would have failed).
 */
static void
reject(GrdDigestState *state, const DigestRule *rule, TimestampTz now,
	   int sqlerrcode, const char *reason, const char *detail)
{
	TimestampTz previous;

	pg_atomic_fetch_add_u64(&state->rejected, 1);
	previous = (TimestampTz) pg_atomic_exchange_u64(&state->last_rejection,
													(uint64) now);
	LWLockRelease(grd_lock(GRD_LOCK_DIGEST_LIMITS));

	if (rule->action == 'd')
	{
		/* a dry run logs what it would reject, once a second at most */
		if (previous / USECS_PER_SEC != now / USECS_PER_SEC)
			ereport(LOG,
					(errmsg("query digest %lld would be %s (dry run)",
							(long long) rule->queryid, reason),
					 errdetail_internal("%s", detail)));
		return;
	}
	ereport(ERROR,
			(errcode(sqlerrcode),
			 errmsg("query digest %lld is %s", (long long) rule->queryid, reason),
			 errdetail_internal("%s", detail),
			 errhint(sqlerrcode == GRD_ERRCODE_DIGEST_BLOCKED ?
					 "An operator blocked this statement; see guardrails.digest_limit_status." :
					 "Retry after a pause that grows with each attempt; see guardrails.digest_limit_status.")));
}

/*
 * Before ExecutorStart: apply every unexpired rule for this digest and
 * role (and for every role).  Rejects with ERROR, or returns the
 * concurrency slots taken, which the caller must hand to grd_digest_hold
 * or grd_digest_release.  EXPLAIN without ANALYZE executes nothing and is
 * never refused: an operator must be able to look at a blocked statement.
 */
void
grd_digest_admit(QueryDesc *queryDesc, int eflags, GrdAdmission *admission)
{
	admission->nheld = 0;
	if (IsParallelWorker() || (eflags & EXEC_FLAG_EXPLAIN_ONLY))
		return;					/* a worker's leader was admitted */
	digest_admit_queryid(GRD_QUERYID(queryDesc->plannedstmt), admission);
}

/*
 * Before a utility statement: the same rules, for the digests of utility
 * statements (CALL, VACUUM, TRUNCATE, CREATE ...), which guardrails.latency
 * shows and an operator may pick during an incident.  The caller holds the
 * slots taken until the statement ends, then releases them.
 *
 * Never limited: transaction control (a refused COMMIT or ROLLBACK would
 * leave the session unable to end its transaction), EXPLAIN (never
 * refused, so that a blocked statement can be examined; EXPLAIN ANALYZE's
 * execution is admitted by the executor), EXECUTE (its statement is
 * admitted by the executor, under its own digest), PREPARE, DEALLOCATE,
 * and extension scripts.
 *
 * pg_stat_statements, when its hook runs before ours, zeroes the query id
 * of utility statements: for a top-level statement the id survives in the
 * backend's activity entry, where core reported it (as latency.c does).
 */
void
grd_digest_admit_utility(PlannedStmt *pstmt, int nesting_level,
						 GrdAdmission *admission)
{
	Node	   *parsetree = pstmt->utilityStmt;
	uint64		queryid;

	admission->nheld = 0;
	if (IsA(parsetree, TransactionStmt) || IsA(parsetree, ExplainStmt) ||
		IsA(parsetree, ExecuteStmt) || IsA(parsetree, PrepareStmt) ||
		IsA(parsetree, DeallocateStmt) || creating_extension)
		return;
	queryid = GRD_QUERYID(pstmt);
	if (queryid == UINT64CONST(0) && nesting_level == 0)
		queryid = (uint64) pgstat_get_my_query_id();
	digest_admit_queryid(queryid, admission);
	if (admission->nheld == 0)
		return;

	/* remembered until released, in case the backend exits first */
	if (!utility_exit_registered)
	{
		before_shmem_exit(utility_held_exit, (Datum) 0);
		utility_exit_registered = true;
	}
	admission->outer = utility_held;
	utility_held = admission;
}

/*
 * After a utility statement admitted with slots, normally or from an error
 * handler: give them back.  Statements nest, and end innermost first.
 */
void
grd_digest_release_utility(GrdAdmission *admission)
{
	if (admission->nheld == 0)
		return;
	Assert(utility_held == admission);
	utility_held = admission->outer;
	grd_digest_release(admission);
}

/*
 * The backend exits (FATAL, pg_terminate_backend) while utility statements
 * hold slots: their error handlers never run, and their admissions are
 * still on the stack that proc_exit() was called from.
 */
static void
utility_held_exit(int code, Datum arg)
{
	while (utility_held != NULL)
	{
		GrdAdmission *admission = utility_held;

		utility_held = admission->outer;
		grd_digest_release(admission);
	}
}

/*
 * The admission of one execution of a digest, planned or utility: apply
 * every unexpired rule for it and the current role (and for every role).
 * Rejects with ERROR, or returns the concurrency slots taken.
 */
static void
digest_admit_queryid(uint64 queryid, GrdAdmission *admission)
{
	Oid			userid;
	TimestampTz now = 0;
	int			lo,
				hi;

	if (unlikely(grd_rules_stale(&rules_cache)))
		load_rules();
	if (nrules == 0 || queryid == UINT64CONST(0))
		return;

	/* the first rule for this digest, by bisection */
	lo = 0;
	hi = nrules;
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (rules[mid].queryid < queryid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == nrules || rules[lo].queryid != queryid)
		return;

	userid = GetUserId();
	PG_TRY();
	{
		for (int i = lo; i < nrules && rules[i].queryid == queryid; i++)
		{
			DigestRule *rule = &rules[i];
			GrdDigestState *state;
			uint32		observed = 0;
			char		detail[256];

			if (OidIsValid(rule->roleid) && rule->roleid != userid)
				continue;
			if (now == 0)
				now = GetCurrentTimestamp();
			if (rule->expires_at != 0 && rule->expires_at <= now)
				continue;
			state = digest_state(rule, now);
			if (state == NULL)
				continue;		/* no room: not enforced, never fails */

			if (rule->action == 'b' ||
				(rule->action == 'd' && rule->rate == 0 && rule->max_concurrent == 0))
			{
				snprintf(detail, sizeof(detail),
						 "Every execution of query digest %lld%s is refused.",
						 (long long) queryid,
						 OidIsValid(rule->roleid) ? " by this role" : "");
				reject(state, rule, now, GRD_ERRCODE_DIGEST_BLOCKED, "blocked", detail);
				continue;
			}
			if (rule->rate > 0 && !take_token(state, rule, now, &observed))
			{
				snprintf(detail, sizeof(detail),
						 "The limit is %g %s per second with bursts of %g; %u %s attempted in the last second.",
						 rule->rate,
						 rule->rate == 1 ? "execution" : "executions",
						 rule->burst, observed,
						 observed == 1 ? "was" : "were");
				reject(state, rule, now, GRD_ERRCODE_DIGEST_LIMITED, "rate limited", detail);
				continue;
			}
			if (rule->max_concurrent > 0)
			{
				uint32		running = pg_atomic_add_fetch_u32(&state->running, 1);

				if (running > (uint32) rule->max_concurrent)
				{
					pg_atomic_fetch_sub_u32(&state->running, 1);
					snprintf(detail, sizeof(detail),
							 rule->max_concurrent == 1 ?
							 "At most %d execution of it may run at once, and %u %s running." :
							 "At most %d executions of it may run at once, and %u %s running.",
							 rule->max_concurrent, running - 1,
							 running - 1 == 1 ? "is" : "are");
					reject(state, rule, now, GRD_ERRCODE_DIGEST_LIMITED,
						   "at its concurrency limit", detail);
					continue;
				}
				if (admission->nheld < GRD_MAX_HELD)
					admission->held[admission->nheld++] = state;
				else
					pg_atomic_fetch_sub_u32(&state->running, 1);
			}
			pg_atomic_fetch_add_u64(&state->admitted, 1);
			LWLockRelease(grd_lock(GRD_LOCK_DIGEST_LIMITS));
		}
	}
	PG_CATCH();
	{
		grd_digest_release(admission);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

void
grd_digest_release(GrdAdmission *admission)
{
	for (int i = 0; i < admission->nheld; i++)
		pg_atomic_fetch_sub_u32(&admission->held[i]->running, 1);
	admission->nheld = 0;
}

static void
held_slots_release(void *arg)
{
	grd_digest_release(&((HeldSlots *) arg)->admission);
}

/*
 * After ExecutorStart: keep the slots until the execution's executor state
 * goes away, whether it ends, fails or is cancelled.
 */
void
grd_digest_hold(QueryDesc *queryDesc, GrdAdmission *admission)
{
	HeldSlots  *held = MemoryContextAlloc(queryDesc->estate->es_query_cxt,
										  sizeof(HeldSlots));

	held->admission = *admission;
	held->callback.func = held_slots_release;
	held->callback.arg = held;
	MemoryContextRegisterResetCallback(queryDesc->estate->es_query_cxt,
									   &held->callback);
	admission->nheld = 0;
}

/*
 * guardrails.digest_limit_stats(): the shared state of every rule of this
 * database, for the view guardrails.digest_limit_status.
 */
PG_FUNCTION_INFO_V1(grd_digest_limit_stats);

Datum
grd_digest_limit_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LWLock	   *lock;
	HASH_SEQ_STATUS seq;
	GrdDigestState *s;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	lock = grd_lock(GRD_LOCK_DIGEST_LIMITS);

	LWLockAcquire(lock, LW_SHARED);
	hash_seq_init(&seq, digest_hash);
	while ((s = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[10];
		bool		nulls[10] = {0};
		TimestampTz last;

		if (s->key.dbid != MyDatabaseId)
			continue;
		values[0] = Int64GetDatum((int64) s->key.queryid);
		values[1] = ObjectIdGetDatum(s->key.roleid);
		nulls[1] = !OidIsValid(s->key.roleid);
		SpinLockAcquire(&s->bucket.mutex);
		values[2] = Float8GetDatum(s->bucket.tokens);
		values[3] = TimestampTzGetDatum(s->bucket.refilled_at);
		nulls[3] = s->bucket.refilled_at == 0;
		SpinLockRelease(&s->bucket.mutex);
		values[4] = Int32GetDatum((int32) pg_atomic_read_u32(&s->running));
		values[5] = Int64GetDatum((int64) pg_atomic_read_u64(&s->admitted));
		values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&s->rejected));
		last = (TimestampTz) pg_atomic_read_u64(&s->last_rejection);
		values[7] = TimestampTzGetDatum(last);
		nulls[7] = last == 0;
		/* which rule the counters are for: the view hides a replaced one's */
		values[8] = TimestampTzGetDatum((TimestampTz)
										pg_atomic_read_u64(&s->rule_created_at));
		/* set whenever the rule matched an execution, admitted or not */
		values[9] = TimestampTzGetDatum((TimestampTz)
										pg_atomic_read_u64(&s->last_used));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(lock);
	return (Datum) 0;
}

/*
 * guardrails.query_digest(sql text): the query id the server computes for
 * a sample statement, the same as pg_stat_statements.queryid.  Constants
 * may be written as they are or as $1, $2...
 */
PG_FUNCTION_INFO_V1(grd_query_digest);

Datum
grd_query_digest(PG_FUNCTION_ARGS)
{
	char	   *sql;
	List	   *parsetree;
	Oid		   *paramtypes = NULL;
	int			nparams = 0;
	Query	   *query;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("statement must not be null")));
	sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	parsetree = raw_parser(sql, RAW_PARSE_DEFAULT);
	if (list_length(parsetree) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expected one statement, got %d", list_length(parsetree)),
				 errhint("Pass a single statement, as the application sends it.")));
	query = parse_analyze_varparams(linitial_node(RawStmt, parsetree), sql,
									&paramtypes, &nparams, NULL);
	if (query->queryId == UINT64CONST(0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no query id was computed for this statement"),
				 errhint("Load pg_guardrails through \"shared_preload_libraries\", or set \"compute_query_id\" to on.")));
	PG_RETURN_INT64((int64) query->queryId);
}

/*
 * guardrails.digest_limits_changed(): AFTER trigger, for each statement,
 * on guardrails.digest_limits: every backend, and every standby on replay,
 * reloads its copy of the rules when the transaction commits.
 */
PG_FUNCTION_INFO_V1(grd_digest_limits_changed);

Datum
grd_digest_limits_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"digest_limits_changed\" was not called by trigger manager")));
	grd_warn_not_enforced("the change to guardrails.digest_limits");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/*
 * The settings of connection limits; in _PG_init.
 */
static void
connection_limits_init(void)
{
	DefineCustomRealVariable("guardrails.connection_rate",
							 "New connections per second the server accepts; 0 means no limit.",
							 "Replication connections and guardrails.connection_limit_exempt_roles are never limited.",
							 &grd_connection_rate,
							 0,
							 0,
							 1000000,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("guardrails.connection_burst",
							"New connections accepted at once above guardrails.connection_rate.",
							"0 means one second's worth of the rate.",
							&grd_connection_burst,
							0,
							0,
							INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("guardrails.connection_limits",
							   "Limits on new connections per role and per database.",
							   "For example: role:app=100/s burst 200, database:analytics=20/s",
							   &grd_connection_limits,
							   "",
							   PGC_SIGHUP,
							   0,
							   check_connection_limits,
							   assign_connection_limits,
							   NULL);

	DefineCustomStringVariable("guardrails.connection_limit_exempt_roles",
							   "Roles whose connections are never limited.",
							   NULL,
							   &grd_connection_limit_exempt_roles,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_exempt_roles,
							   assign_exempt_roles,
							   NULL);

	DefineCustomBoolVariable("guardrails.connection_limit_exempt_superusers",
							 "Whether superusers and roles that may use reserved connections are exempt from connection limits.",
							 "They are by default, so that an operator can always log in to lift a limit.",
							 &grd_connection_limit_exempt_superusers,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);
}

const GrdModule grd_connection_limits_module = {
	.name = "connection limits",
	.init = connection_limits_init,
	.shmem_size = connection_limits_shmem_size,
	.shmem_startup = connection_limits_shmem_startup,
	.status = connection_limits_status,
};

/*
 * The settings of digest limits; in _PG_init.
 */
static void
digest_limits_init(void)
{
	DefineCustomIntVariable("guardrails.max_digest_limits",
							"Maximum number of digest limits with state in shared memory.",
							"Each takes about 150 bytes; the least recently used idle one is recycled when more are needed.",
							&grd_max_digest_limits,
							2000,
							10,
							INT_MAX / 2,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
}

const GrdModule grd_digest_limits_module = {
	.name = "digest limits",
	.init = digest_limits_init,
	.shmem_size = digest_limits_shmem_size,
	.shmem_startup = digest_limits_shmem_startup,
};
