/*-------------------------------------------------------------------------
 *
 * index_visibility.c
 *		Disabled indexes: hidden from the planner, still maintained.
 *
 * An index listed in guardrails.disabled_indexes is removed from the list
 * of indexes the planner considers for its table, so no plan scans it.
 * Nothing else changes: the index is still updated by every write, still
 * enforces its constraint (that happens in the executor, from the
 * relcache), and is still found as an ON CONFLICT arbiter (inferred from
 * the relcache too).  Enabling it again makes it usable at once.
 *
 * The table names indexes by schema and name, not by OID, so that pg_dump
 * can restore it before the indexes themselves exist; event triggers in
 * the install script keep the names right across renames and delete rows
 * of dropped indexes.  Each backend resolves the names to OIDs when it
 * loads its copy (config.c's loader says when, and reads the table only
 * if it is the extension's), and a disabled partitioned index hides the
 * matching index of every partition.
 *
 * Two session settings allow experiments where no table can be written,
 * such as on a standby: guardrails.hidden_indexes hides more indexes for
 * this session, and guardrails.use_disabled_indexes lets it plan with the
 * disabled ones.
 *
 * Planning must never fail because of a name: the names of the table and
 * of guardrails.hidden_indexes are resolved with lookups that cannot
 * raise an error (a missing schema or index is skipped), and the setting
 * is parsed once by its check hook, which refuses what could not be
 * resolved that way (bad syntax, a database name), wherever the value
 * comes from.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "compat.h"
#include "config.h"
#include "identifier.h"
#include "index_visibility.h"
#include "module.h"

/* settings */
static char *grd_hidden_indexes = NULL;
static bool grd_use_disabled_indexes = false;

static bool check_hidden_indexes(char **newval, void **extra, GucSource source);
static void assign_hidden_indexes(const char *newval, void *extra);

/* The settings of index visibility. */
static const GrdSetting index_visibility_settings[] = {
	GRD_SETTING_STRING("guardrails.hidden_indexes", &grd_hidden_indexes, "", PGC_USERSET, GUC_LIST_INPUT,
		check_hidden_indexes, assign_hidden_indexes,
		"Indexes the planner must not use in this session, besides the disabled ones.",
		"A comma-separated list of index names, schema-qualified or found through search_path."),
	GRD_SETTING_BOOL("guardrails.use_disabled_indexes", &grd_use_disabled_indexes, false, PGC_USERSET, 0,
		"Let the planner use disabled indexes in this session.",
		"For comparing plans with and without them; other sessions are not affected."),
	GRD_SETTINGS_END
};

/* Columns of guardrails.disabled_indexes that name the index. */
#define Anum_index_schema	1
#define Anum_index_name		2

/*
 * A set of index OIDs: a sorted array of Oid, built like a copy of rules
 * (config.h), searched by bisection.  Sets are small (a handful of
 * indexes), and an empty one allocates nothing.
 */
typedef GrdRulesArray OidSet;

/* This backend's copy of the disabled indexes, and when it was read. */
static OidSet disabled = {NULL, 0, 0};
static GrdRulesCache disabled_cache;

static bool
oidset_contains(const OidSet *set, Oid oid)
{
	return set->n > 0 &&
		bsearch(&oid, set->items, set->n, sizeof(Oid), oid_cmp) != NULL;
}

/* Add to a set being built in context cxt; oidset_sort() finishes it. */
static void
oidset_add(OidSet *set, Oid oid, MemoryContext cxt)
{
	*(Oid *) grd_rules_append(set, sizeof(Oid), cxt) = oid;
}

static void
oidset_sort(OidSet *set)
{
	if (set->n > 1)
		qsort(set->items, set->n, sizeof(Oid), oid_cmp);
}

/*
 * Add an index to a set of OIDs; a partitioned index brings the indexes of
 * all its partitions.  Returns whether it was partitioned.
 */
static bool
add_index(OidSet *set, Oid indexoid, MemoryContext cxt)
{
	char		kind = get_rel_relkind(indexoid);
	List	   *all;
	ListCell   *lc;

	if (kind == RELKIND_INDEX)
	{
		oidset_add(set, indexoid, cxt);
		return false;
	}
	if (kind != RELKIND_PARTITIONED_INDEX)
		return false;

	all = find_all_inheritors(indexoid, NoLock, NULL);
	foreach(lc, all)
		oidset_add(set, lfirst_oid(lc), cxt);
	list_free(all);
	return true;
}

/*
 * The index a row names.  Names that do not resolve are skipped by the
 * callers: the index may not exist yet (a restore in progress) or any more.
 */
static Oid
lookup_index(const char *schema, const char *name)
{
	Oid			nsp = get_namespace_oid(schema, true);

	return OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;
}

/*
 * grd_rules_load() callback: one row of guardrails.disabled_indexes, into
 * the set being built; arg is whether any index was partitioned.
 */
static void
disabled_row(HeapTuple tuple, TupleDesc desc, OidSet *built, void *arg)
{
	bool		null1,
				null2;
	Datum		schema = heap_getattr(tuple, Anum_index_schema, desc, &null1);
	Datum		name = heap_getattr(tuple, Anum_index_name, desc, &null2);
	Oid			indexoid;

	if (null1 || null2)
		return;
	indexoid = lookup_index(NameStr(*DatumGetName(schema)),
							NameStr(*DatumGetName(name)));
	if (OidIsValid(indexoid) &&
		add_index(built, indexoid, built->cxt))
		*(bool *) arg = true;
}

/*
 * Read guardrails.disabled_indexes into this backend's set, if it may have
 * changed since the last time (config.c's loader says when, and checks
 * that the table is the extension's).  A partitioned index also depends
 * on the partitions attached since, so the set is then read again after
 * any relcache invalidation.
 */
static void
load_disabled(void)
{
	bool		any_partitioned = false;

	if (grd_rules_load(GRD_CONFIG_DISABLED_INDEXES, &disabled_cache,
					   &disabled, sizeof(Oid), oid_cmp, disabled_row,
					   &any_partitioned))
		disabled_cache.watch_relcache = any_partitioned;
}

/*
 * guardrails.hidden_indexes, parsed once by its check hook (the GUC
 * "extra"): names already folded or unquoted, each with its schema or
 * none (then found through search_path when a query is planned).
 */
typedef struct HiddenName
{
	char		schema[NAMEDATALEN];	/* "" when unqualified */
	char		name[NAMEDATALEN];
} HiddenName;

typedef struct HiddenNames
{
	int			n;
	HiddenName	names[FLEXIBLE_ARRAY_MEMBER];
} HiddenNames;

static HiddenNames *hidden_names = NULL;

/*
 * Parse guardrails.hidden_indexes: a comma-separated list of index names,
 * each unqualified or qualified by its schema.  Returns the names in a
 * HiddenNames allocated by the GUC allocator (grd_guc_malloc), or NULL
 * with *item (1-based), *start, *len and *why saying which item is wrong
 * and why; NULL with *item 0 when out of memory.
 */
static HiddenNames *
parse_hidden(const char *value, int *item, const char **start, int *len,
			 const char **why)
{
	const char *p = value;
	int			count = 1;
	HiddenNames *result;

	*item = 0;
	for (const char *q = value; *q; q++)
		count += (*q == ',');	/* at least as many items as this */
	result = grd_guc_malloc(offsetof(HiddenNames, names) +
							sizeof(HiddenName) * count);
	if (result == NULL)
		return NULL;
	result->n = 0;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		return result;			/* empty: nothing hidden */
	for (;;)
	{
		HiddenName *hn = &result->names[result->n];
		char		parts[3][NAMEDATALEN];
		int			nparts = 0;

		*why = NULL;
		while (isspace((unsigned char) *p))
			p++;
		*start = p;
		for (;;)
		{
			if (nparts == 3 ||
				!grd_parse_identifier(&p, parts[nparts], GRD_IDENT_SQL))
			{
				*why = "expected an index name, or a schema name, a dot and an index name";
				break;
			}
			nparts++;
			if (*p != '.')
				break;
			p++;
		}
		if (*why == NULL && nparts == 3)
			*why = "a database name is not allowed: an index is named in the database of the session, as schema.index or index";
		while (*why == NULL && isspace((unsigned char) *p))
			p++;
		if (*why == NULL && *p != ',' && *p != '\0')
			*why = "expected a comma after the name";
		if (*why != NULL)
		{
			const char *stop = strchr(*start, ',');

			*item = result->n + 1;
			*len = stop ? (int) (stop - *start) : (int) strlen(*start);
			grd_guc_free(result);
			return NULL;
		}
		if (nparts == 2)
		{
			strlcpy(hn->schema, parts[0], NAMEDATALEN);
			strlcpy(hn->name, parts[1], NAMEDATALEN);
		}
		else
		{
			hn->schema[0] = '\0';
			strlcpy(hn->name, parts[0], NAMEDATALEN);
		}
		result->n++;
		if (*p == '\0')
			return result;
		p++;					/* the comma */
	}
}

/*
 * The relation a parsed name leads to, or InvalidOid; never an error,
 * whatever the name and search_path (it runs while planning any query).
 */
static Oid
lookup_hidden(const HiddenName *hn)
{
	Oid			nsp;

	if (hn->schema[0] == '\0')
		return RelnameGetRelid(hn->name);
	nsp = get_namespace_oid(hn->schema, true);
	return OidIsValid(nsp) ? get_relname_relid(hn->name, nsp) : InvalidOid;
}

/*
 * The indexes of guardrails.hidden_indexes, resolved now (search_path may
 * have changed since it was set).  Names that lead to no index are
 * skipped: the setting may come from a file or another database.
 */
static void
session_hidden(OidSet *set)
{
	if (hidden_names == NULL)
		return;
	for (int i = 0; i < hidden_names->n; i++)
	{
		Oid			indexoid = lookup_hidden(&hidden_names->names[i]);

		if (OidIsValid(indexoid))
			add_index(set, indexoid, CurrentMemoryContext);
	}
	oidset_sort(set);
}

/*
 * The planner hook's work: drop the hidden indexes from a base relation's
 * index list.  Costs one test when the relation has no index, and a
 * couple more when no index is disabled.
 */
void
grd_indexvis_filter(PlannerInfo *root, Oid relid, RelOptInfo *rel)
{
	OidSet		session = {NULL, 0, 0};
	ListCell   *lc;

	if (rel->indexlist == NIL)
		return;

	if (!grd_use_disabled_indexes && grd_rules_stale(&disabled_cache))
		load_disabled();
	session_hidden(&session);
	if (session.n == 0 && (grd_use_disabled_indexes || disabled.n == 0))
		return;

	foreach(lc, rel->indexlist)
	{
		IndexOptInfo *index = (IndexOptInfo *) lfirst(lc);

		if ((!grd_use_disabled_indexes &&
			 oidset_contains(&disabled, index->indexoid)) ||
			oidset_contains(&session, index->indexoid))
			rel->indexlist = foreach_delete_current(rel->indexlist, lc);
	}
	if (session.items != NULL)
		pfree(session.items);
}

/*
 * Check hook of guardrails.hidden_indexes: a list of index names, each
 * unqualified or schema.index, parsed once (the result is the "extra").
 * A bad item is refused wherever the value comes from (configuration
 * file, ALTER SYSTEM, PGOPTIONS, SET), naming it, so that no value can
 * make planning fail later.  When set interactively, each name must also
 * lead to an index now, so that a typo is an error rather than an
 * experiment that silently hides nothing; elsewhere (there may be no
 * database to look in) names that lead nowhere are skipped at planning.
 * PGC_S_TEST is such an elsewhere: ALTER ROLE/DATABASE ... SET and a
 * function's SET clause check a value that is resolved later, in another
 * session, perhaps in another database.  As core's check_default_tablespace
 * does, a name that leads to no index here is then only a NOTICE.
 */
static bool
check_hidden_indexes(char **newval, void **extra, GucSource source)
{
	HiddenNames *names;
	int			item;
	const char *start;
	int			len;
	const char *why;

	names = parse_hidden(*newval, &item, &start, &len, &why);
	if (names == NULL)
	{
		if (item > 0)
		{
			GUC_check_errdetail("Item %d, \"%.*s\": %s.", item, len, start,
								why);
			GUC_check_errhint("Write index names as \"schema.index\" or \"index\", separated by commas.");
		}
		return false;
	}
	*extra = names;
	if (source < PGC_S_INTERACTIVE || !IsTransactionState() ||
		!OidIsValid(MyDatabaseId))
		return true;

	for (int i = 0; i < names->n; i++)
	{
		HiddenName *hn = &names->names[i];
		Oid			relid = lookup_hidden(hn);
		char		kind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

		if (kind == RELKIND_INDEX || kind == RELKIND_PARTITIONED_INDEX)
			continue;
		if (source == PGC_S_TEST)
		{
			if (hn->schema[0] != '\0')
				ereport(NOTICE,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("\"%s.%s\" is not an index in this database",
								hn->schema, hn->name)));
			else
				ereport(NOTICE,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("\"%s\" is not an index in this database",
								hn->name)));
			continue;
		}
		GUC_check_errcode(ERRCODE_WRONG_OBJECT_TYPE);
		if (hn->schema[0] != '\0')
			GUC_check_errmsg("\"%s.%s\" is not an index", hn->schema,
							 hn->name);
		else
			GUC_check_errmsg("\"%s\" is not an index", hn->name);
		return false;
	}
	return true;
}

/* Assign hook of guardrails.hidden_indexes: the parsed names. */
static void
assign_hidden_indexes(const char *newval, void *extra)
{
	hidden_names = (HiddenNames *) extra;
	if (hidden_names != NULL && hidden_names->n == 0)
		hidden_names = NULL;
}

/*
 * Send the invalidations that make a change of index visibility take
 * effect: for the index's table (and, for a partitioned index, every
 * partition's), so that cached plans using it are replanned.
 */
static void
invalidate_index_tables(HeapTuple tuple, TupleDesc desc)
{
	bool		null1,
				null2;
	Datum		schema = heap_getattr(tuple, Anum_index_schema, desc, &null1);
	Datum		name = heap_getattr(tuple, Anum_index_name, desc, &null2);
	Oid			indexoid;
	List	   *all;
	ListCell   *lc;

	if (null1 || null2)
		return;
	indexoid = lookup_index(NameStr(*DatumGetName(schema)),
							NameStr(*DatumGetName(name)));
	if (!OidIsValid(indexoid))
		return;

	all = find_all_inheritors(indexoid, NoLock, NULL);
	foreach(lc, all)
	{
		Oid			heap = IndexGetRelation(lfirst_oid(lc), true);

		if (OidIsValid(heap))
			CacheInvalidateRelcacheByRelid(heap);
	}
}

/*
 * guardrails.disabled_indexes_changed(): AFTER trigger on the table, for
 * each row of INSERT, UPDATE and DELETE and for TRUNCATE.  Every backend
 * (and every standby, on replay) reloads its copy at commit, and plans
 * that used the indexes concerned are replanned.
 */
PG_FUNCTION_INFO_V1(grd_disabled_indexes_changed);

Datum
grd_disabled_indexes_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"disabled_indexes_changed\" must be fired AFTER")));

	grd_warn_not_enforced("the change to guardrails.disabled_indexes");
	CacheInvalidateRelcache(trigdata->tg_relation);
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		/* which indexes were listed is unknown now: replan everything */
		CacheInvalidateRelcacheAll();
		return PointerGetDatum(NULL);
	}

	desc = RelationGetDescr(trigdata->tg_relation);
	if (trigdata->tg_trigtuple)
		invalidate_index_tables(trigdata->tg_trigtuple, desc);
	if (trigdata->tg_newtuple)
		invalidate_index_tables(trigdata->tg_newtuple, desc);
	return PointerGetDatum(NULL);
}

const GrdModule grd_index_visibility_module = {
	.name = "index visibility",
	.settings = index_visibility_settings,
};
