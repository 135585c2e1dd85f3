/*-------------------------------------------------------------------------
 *
 * workload_class.c
 *		Workload classes: which class each top-level statement belongs to,
 *		by the rules of guardrails.workload_rules, and what each class is
 *		doing on this server.
 *
 * There are four classes, from the most important: critical, normal, low
 * and background.  The overload controller (overload.c) sheds from the
 * lowest up; this file only says which class a statement is in.
 *
 * A rule names any of role, database, application_name (a LIKE pattern)
 * and query digest, and a class.  The most specific rule that matches a
 * statement gives its class: one naming the digest beats one that does
 * not, then the role, then the application name, then the database
 * (weights 8, 4, 2 and 1, summed); of two equally specific rules that
 * match (two patterns), the lower class wins.  With no rule,
 * guardrails.default_workload_class (superuser-only) applies.
 *
 * A client cannot raise its own class.  No setting a client may SET picks
 * a class, and application_name, which any client sets, can only lower
 * one: a statement is never put above the class that the best rule
 * naming no application gives it (or the default).  The role is the
 * current user's; becoming another role takes a membership an
 * administrator granted.
 *
 * Rules are rows of a table, so that they replicate to standbys, and are
 * read into a backend-local array, sorted by digest, by config.c's
 * loader when they change (a trigger sends a relcache invalidation), as
 * digest_limits.c does.  The part of the answer that depends only on the
 * session (role, application, database) is kept until the rules, the
 * role or the application name change; a statement then costs a bisection
 * of the digest rules, if there are any.
 *
 * Shared state: one slot per backend (indexed by its PGPROC number), which
 * only its backend writes: the class of its running top-level statement
 * and its counters, cumulative over every backend that used the slot.
 * Readers add the slots up without a lock; a value read while it changes
 * is one statement off, at most.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "compat.h"
#include "config.h"
#include "grd_limits.h"
#include "module.h"
#include "wal_budget.h"
#include "workload.h"

/* The classes, by rank; the names are those of the table's CHECK. */
const char *const grd_class_names[GRD_NUM_CLASSES] = {
	"critical", "normal", "low", "background"
};

static const struct config_enum_entry class_options[] = {
	{"critical", GRD_CLASS_CRITICAL, false},
	{"normal", GRD_CLASS_NORMAL, false},
	{"low", GRD_CLASS_LOW, false},
	{"background", GRD_CLASS_BACKGROUND, false},
	{NULL, 0, false}
};

/* settings */
static int	grd_default_workload_class = GRD_CLASS_NORMAL;

static const GrdSetting workload_settings[] = {
	GRD_SETTING_ENUM("guardrails.default_workload_class",
		&grd_default_workload_class, GRD_CLASS_NORMAL, class_options,
		PGC_SUSET, 0,
		"Workload class of statements that no rule of guardrails.workload_rules matches.",
		"Superuser-only, so that a client cannot pick its own class; settable per role and per database."),
	GRD_SETTINGS_END
};

/* Columns of guardrails.workload_rules. */
#define Anum_wr_class			1
#define Anum_wr_role			2
#define Anum_wr_database		3
#define Anum_wr_application		4
#define Anum_wr_queryid			5

/* How much each thing a rule names makes it more specific. */
#define SPEC_QUERYID		8
#define SPEC_ROLE			4
#define SPEC_APPLICATION	2
#define SPEC_DATABASE		1

typedef struct WorkloadRule
{
	uint64		queryid;		/* 0: every statement */
	Oid			roleid;			/* InvalidOid: every role */
	char	   *database;		/* NULL: every database */
	char	   *application;	/* NULL: every application; a LIKE pattern */
	int			cls;			/* GrdWorkloadClass */
	int			specificity;
} WorkloadRule;

/* This backend's copy of the rules of its database. */
static GrdRulesArray workload_rules = {NULL, 0, 0, NULL};	/* of WorkloadRule */
static GrdRulesCache workload_rules_cache;
static int	first_digest_rule = 0;	/* index of the first with a queryid */
static uint64 rules_version = 0;	/* bumped at each load */

/*
 * The answer for this session without digest rules, and what it was
 * computed from.
 */
typedef struct SessionClass
{
	bool		valid;
	uint64		rules_version;
	Oid			userid;
	int			default_class;
	char	   *application;	/* in TopMemoryContext */
	int			cls;			/* the best rule's class, or the default */
	int			specificity;	/* the best rule's, 0 for the default */
	bool		by_application; /* the best rule names an application */
	int			noapp_cls;		/* the best rule naming no application */
	int			noapp_specificity;
} SessionClass;

static SessionClass session_class = {false, 0, InvalidOid, 0, NULL};
static char *my_database_name = NULL;

/* The shared slots, one per backend. */
typedef struct GrdWorkloadSlot
{
	pg_atomic_uint32 running;	/* class + 1 of its running top-level
								 * statement, 0 if none */
	pg_atomic_uint64 statements[GRD_NUM_CLASSES];	/* classified */
	pg_atomic_uint64 exempt[GRD_NUM_CLASSES];	/* of those, never shed */
} GrdWorkloadSlot;

static GrdWorkloadSlot *workload_slots = NULL;
static GrdWorkloadSlot *my_slot = NULL;

/* The statement being run at top level, and what it was found to be. */
static const void *current_stmt = NULL;
static LocalTransactionId last_lxid = InvalidLocalTransactionId;
GrdWorkloadDecision grd_workload_current = {GRD_CLASS_NORMAL, false};

/* Bytes of the slots: one per regular backend. */
static Size
workload_shmem_size(void)
{
	return mul_size(MaxBackends, sizeof(GrdWorkloadSlot));
}

static void
workload_shmem_startup(bool found)
{
	workload_slots = ShmemInitStruct("pg_guardrails workload classes",
									 workload_shmem_size(), &found);
	if (!found)
	{
		for (int i = 0; i < MaxBackends; i++)
		{
			GrdWorkloadSlot *slot = &workload_slots[i];

			pg_atomic_init_u32(&slot->running, 0);
			for (int c = 0; c < GRD_NUM_CLASSES; c++)
			{
				pg_atomic_init_u64(&slot->statements[c], 0);
				pg_atomic_init_u64(&slot->exempt[c], 0);
			}
		}
	}
}

/* Add one to a counter only this backend writes: no locked instruction. */
static inline void
slot_count(pg_atomic_uint64 *counter)
{
	pg_atomic_write_u64(counter, pg_atomic_read_u64(counter) + 1);
}

/* Order of the rules in a backend's copy: by query id, 0 first. */
static int
workload_rule_cmp(const void *a, const void *b)
{
	uint64		x = ((const WorkloadRule *) a)->queryid;
	uint64		y = ((const WorkloadRule *) b)->queryid;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* The rank of a class name, or -1. */
static int
class_rank(const char *name)
{
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
		if (strcmp(name, grd_class_names[c]) == 0)
			return c;
	return -1;
}

/* grd_rules_load() callback: one row of guardrails.workload_rules. */
static void
workload_rules_row(HeapTuple tuple, TupleDesc desc, GrdRulesArray *built,
				   void *arg)
{
	WorkloadRule rule = {0};
	bool		isnull;
	Datum		d;
	char	   *s;

	d = heap_getattr(tuple, Anum_wr_class, desc, &isnull);
	if (isnull)
		return;
	s = TextDatumGetCString(d);
	rule.cls = class_rank(s);
	pfree(s);
	if (rule.cls < 0)
		return;					/* the CHECK keeps these out */

	d = heap_getattr(tuple, Anum_wr_queryid, desc, &isnull);
	if (!isnull && DatumGetInt64(d) != 0)
	{
		rule.queryid = (uint64) DatumGetInt64(d);
		rule.specificity += SPEC_QUERYID;
	}
	d = heap_getattr(tuple, Anum_wr_role, desc, &isnull);
	if (!isnull)
	{
		rule.roleid = DatumGetObjectId(d);
		rule.specificity += SPEC_ROLE;
	}
	d = heap_getattr(tuple, Anum_wr_application, desc, &isnull);
	if (!isnull)
	{
		rule.application = MemoryContextStrdup(built->cxt,
											   TextDatumGetCString(d));
		rule.specificity += SPEC_APPLICATION;
	}
	d = heap_getattr(tuple, Anum_wr_database, desc, &isnull);
	if (!isnull)
	{
		rule.database = MemoryContextStrdup(built->cxt,
											NameStr(*DatumGetName(d)));
		rule.specificity += SPEC_DATABASE;
	}
	*(WorkloadRule *) grd_rules_append(built, sizeof(WorkloadRule),
									   built->cxt) = rule;
}

/* Read the rules again if they changed. */
static void
load_workload_rules(void)
{
	if (!grd_rules_load(GRD_CONFIG_WORKLOAD_RULES, &workload_rules_cache,
						&workload_rules, sizeof(WorkloadRule),
						workload_rule_cmp, workload_rules_row, NULL))
		return;
	rules_version++;
	first_digest_rule = 0;
	while (first_digest_rule < workload_rules.n &&
		   ((WorkloadRule *) workload_rules.items)[first_digest_rule].queryid == 0)
		first_digest_rule++;
}

/*
 * Whether text matches a LIKE pattern: % any run of bytes, _ one byte,
 * backslash quotes the next byte.  Byte-wise: application names are
 * ASCII (the server replaces anything else with '?').  Iterative, with
 * the usual single backtrack point, so a hostile pattern costs at most
 * the product of the lengths.
 */
bool
grd_like_match(const char *text, const char *pattern)
{
	const char *t = text;
	const char *p = pattern;
	const char *star_p = NULL;
	const char *star_t = NULL;

	while (*t)
	{
		if (*p == '%')
		{
			while (*p == '%')
				p++;
			if (*p == '\0')
				return true;
			star_p = p;
			star_t = t;
			continue;
		}
		if (*p != '\0' &&
			(*p == '_' ||
			 (*p == '\\' && p[1] != '\0' && p[1] == *t) ||
			 (*p != '\\' && *p == *t)))
		{
			p += (*p == '\\') ? 2 : 1;
			t++;
			continue;
		}
		if (star_p == NULL)
			return false;
		p = star_p;
		t = ++star_t;
	}
	while (*p == '%')
		p++;
	return *p == '\0';
}

/* Whether a rule matches this session (its digest is checked apart). */
static inline bool
rule_matches_session(const WorkloadRule *rule, Oid userid,
					 const char *application)
{
	if (OidIsValid(rule->roleid) && rule->roleid != userid)
		return false;
	if (rule->database != NULL &&
		(my_database_name == NULL || strcmp(rule->database, my_database_name) != 0))
		return false;
	if (rule->application != NULL &&
		!grd_like_match(application, rule->application))
		return false;
	return true;
}

/*
 * Keep the better of a candidate and the best so far: more specific, or,
 * as specific, the lower class.
 */
static inline void
consider(const WorkloadRule *rule, int *best_spec, int *best_cls,
		 bool *best_app)
{
	if (rule->specificity > *best_spec ||
		(rule->specificity == *best_spec && rule->cls > *best_cls))
	{
		*best_spec = rule->specificity;
		*best_cls = rule->cls;
		if (best_app)
			*best_app = rule->application != NULL;
	}
}

/* Work out this session's class without digest rules. */
static void
compute_session_class(Oid userid, const char *application)
{
	SessionClass *sc = &session_class;
	WorkloadRule *rules = (WorkloadRule *) workload_rules.items;

	sc->valid = false;			/* until it is all computed */
	if (my_database_name == NULL && OidIsValid(MyDatabaseId))
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (name != NULL)
			my_database_name = MemoryContextStrdup(TopMemoryContext, name);
	}
	sc->rules_version = rules_version;
	sc->userid = userid;
	sc->default_class = grd_default_workload_class;
	if (sc->application == NULL || strcmp(sc->application, application) != 0)
	{
		char	   *copy = MemoryContextStrdup(TopMemoryContext, application);

		if (sc->application != NULL)
			pfree(sc->application);
		sc->application = copy;
	}
	sc->cls = sc->noapp_cls = grd_default_workload_class;
	sc->specificity = sc->noapp_specificity = 0;
	sc->by_application = false;
	for (int i = 0; i < first_digest_rule; i++)
	{
		if (!rule_matches_session(&rules[i], userid, application))
			continue;
		consider(&rules[i], &sc->specificity, &sc->cls, &sc->by_application);
		if (rules[i].application == NULL)
			consider(&rules[i], &sc->noapp_specificity, &sc->noapp_cls, NULL);
	}
	sc->valid = true;
}

/*
 * Read what classify() needs from the catalogs, when it is not read yet or
 * has changed: the rules, and the session's class.  Called after parse
 * analysis (hooks.c), in a transaction that is not aborted, so that a
 * session's first statement does not read them while it is timed.
 */
void
grd_workload_prepare(void)
{
	const char *application = application_name ? application_name : "";
	SessionClass *sc = &session_class;

	if (!IsTransactionState() || IsAbortedTransactionBlockState() ||
		!OidIsValid(MyDatabaseId))
		return;
	if (unlikely(grd_rules_stale(&workload_rules_cache)))
		load_workload_rules();
	if (unlikely(!sc->valid || sc->rules_version != rules_version ||
				 sc->userid != GetUserId() ||
				 sc->default_class != grd_default_workload_class ||
				 strcmp(sc->application, application) != 0))
		compute_session_class(GetUserId(), application);
}

/*
 * The class of a statement of this digest, run by the current user in
 * this session: the most specific rule's, never above what the rules
 * that name no application say.
 */
static int
classify(uint64 queryid)
{
	SessionClass *sc = &session_class;
	const char *application = application_name ? application_name : "";
	Oid			userid = GetUserId();
	WorkloadRule *rules;
	int			lo,
				hi;
	int			spec,
				cls,
				noapp_spec,
				noapp_cls;
	bool		by_app;

	if (unlikely(grd_rules_stale(&workload_rules_cache)))
		load_workload_rules();
	if (unlikely(!sc->valid || sc->rules_version != rules_version ||
				 sc->userid != userid ||
				 sc->default_class != grd_default_workload_class ||
				 strcmp(sc->application, application) != 0))
		compute_session_class(userid, application);

	spec = sc->specificity;
	cls = sc->cls;
	by_app = sc->by_application;
	noapp_spec = sc->noapp_specificity;
	noapp_cls = sc->noapp_cls;

	/* the rules for this digest, by bisection */
	rules = (WorkloadRule *) workload_rules.items;
	if (queryid != 0 && first_digest_rule < workload_rules.n)
	{
		lo = first_digest_rule;
		hi = workload_rules.n;
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (rules[mid].queryid < queryid)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (int i = lo; i < workload_rules.n && rules[i].queryid == queryid; i++)
		{
			if (!rule_matches_session(&rules[i], userid, application))
				continue;
			consider(&rules[i], &spec, &cls, &by_app);
			if (rules[i].application == NULL)
				consider(&rules[i], &noapp_spec, &noapp_cls, NULL);
		}
	}

	/* an application name only ever lowers the class */
	if (by_app && cls < noapp_cls)
		cls = noapp_cls;
	return cls;
}

/*
 * A top-level statement starts (stmt: its QueryDesc or PlannedStmt, which
 * grd_workload_end() is given back; queryDesc: the QueryDesc of a planned
 * statement, NULL for a utility statement): classify it, let the overload
 * controller admit it (it may wait, or be refused with an ERROR), then
 * mark it running in this backend's slot and count it.  own: the
 * extension's own work.  Superusers, WAL senders and the extension's own
 * statements are classified but exempt from shedding.
 */
void
grd_workload_start(uint64 queryid, bool own, const void *stmt,
				   QueryDesc *queryDesc)
{
	GrdWorkloadDecision *d = &grd_workload_current;
	bool		first = GRD_MY_LXID != last_lxid;

	last_lxid = GRD_MY_LXID;
	d->cls = classify(queryid);
	d->exempt = own || am_walsender || superuser();
	current_stmt = NULL;

	/* the controller's part, only while it sheds something */
	if (unlikely(grd_overload_shedding()) && !d->exempt &&
		d->cls != GRD_CLASS_CRITICAL)
		grd_overload_statement(d->cls, first, queryDesc);
	grd_wal_budget_start(d->cls, d->exempt);
	current_stmt = stmt;

	if (unlikely(my_slot == NULL))
	{
		int			i = GRD_MY_PROC_INDEX;

		if (workload_slots == NULL || i < 0 || i >= MaxBackends)
			return;
		my_slot = &workload_slots[i];
	}
	pg_atomic_write_u32(&my_slot->running, (uint32) d->cls + 1);
	slot_count(&my_slot->statements[d->cls]);
	if (d->exempt)
		slot_count(&my_slot->exempt[d->cls]);
}

/* The top-level statement stmt ended. */
void
grd_workload_end(const void *stmt)
{
	if (stmt != current_stmt)
		return;
	current_stmt = NULL;
	grd_wal_budget_end();
	if (my_slot != NULL)
		pg_atomic_write_u32(&my_slot->running, 0);
}

/* The transaction (or the subtransaction) of the statement aborted. */
void
grd_workload_abort(void)
{
	current_stmt = NULL;
	grd_wal_budget_end();
	if (my_slot != NULL)
		pg_atomic_write_u32(&my_slot->running, 0);
}

/*
 * Top-level statements of each class running on this server now, and
 * the counters of every slot, added up.
 */
void
grd_workload_totals(int *active, uint64 *statements, uint64 *exempt)
{
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		if (active)
			active[c] = 0;
		if (statements)
			statements[c] = 0;
		if (exempt)
			exempt[c] = 0;
	}
	if (workload_slots == NULL)
		return;
	for (int i = 0; i < MaxBackends; i++)
	{
		GrdWorkloadSlot *slot = &workload_slots[i];
		uint32		running = pg_atomic_read_u32(&slot->running);

		if (active && running > 0 && running <= GRD_NUM_CLASSES)
			active[running - 1]++;
		for (int c = 0; c < GRD_NUM_CLASSES; c++)
		{
			if (statements)
				statements[c] += pg_atomic_read_u64(&slot->statements[c]);
			if (exempt)
				exempt[c] += pg_atomic_read_u64(&slot->exempt[c]);
		}
	}
}

/*
 * guardrails.current_workload_class(): the class of the statement that
 * calls it, and whether it is exempt from shedding.
 */
PG_FUNCTION_INFO_V1(grd_current_workload_class);

Datum
grd_current_workload_class(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	grd_require_preload();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = CStringGetTextDatum(grd_class_names[grd_workload_current.cls]);
	values[1] = BoolGetDatum(grd_workload_current.exempt);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * guardrails.workload_rules_changed(): AFTER trigger, for each statement,
 * on guardrails.workload_rules: every backend, and every standby on
 * replay, reloads its copy of the rules when the transaction commits.
 */
PG_FUNCTION_INFO_V1(grd_workload_rules_changed);

Datum
grd_workload_rules_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"workload_rules_changed\" was not called by trigger manager")));
	grd_warn_not_enforced("the change to guardrails.workload_rules");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

const GrdModule grd_workload_module = {
	.name = "workload classes",
	.settings = workload_settings,
	.shmem_size = workload_shmem_size,
	.shmem_startup = workload_shmem_startup,
};
