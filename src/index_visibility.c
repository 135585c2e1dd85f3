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
 * loads its copy (config.c says when), and a disabled partitioned index
 * hides the matching index of every partition.
 *
 * Two session settings allow experiments where no table can be written,
 * such as on a standby: guardrails.hidden_indexes hides more indexes for
 * this session, and guardrails.use_disabled_indexes lets it plan with the
 * disabled ones.
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
#include "index_visibility.h"
#include "pg_guardrails.h"

/* Columns of guardrails.disabled_indexes that name the index. */
#define Anum_index_schema	1
#define Anum_index_name		2

/*
 * A set of index OIDs: a sorted array, searched by bisection.  Sets are
 * small (a handful of indexes), and an empty one allocates nothing.
 */
typedef struct OidSet
{
	Oid		   *oids;
	int			n;
	int			size;
} OidSet;

/* This backend's copy of the disabled indexes, and whether it is loaded. */
static OidSet disabled = {NULL, 0, 0};
static bool disabled_loaded = false;
static bool disabled_any_partitioned = false;
static Oid	loaded_relid = InvalidOid;
static uint64 loaded_generation = 0;
static uint64 loaded_name_generation = 0;
static uint64 loaded_relcache_generation = 0;

/*
 * Whether this backend's copy may be out of date (config.c's counters);
 * a partitioned index also depends on partitions attached since.
 */
static inline bool
disabled_stale(void)
{
	return !disabled_loaded ||
		loaded_generation != grd_config_rules_changes ||
		loaded_name_generation != grd_config_name_changes ||
		(disabled_any_partitioned &&
		 loaded_relcache_generation != grd_config_relcache_changes);
}

static bool
oidset_contains(const OidSet *set, Oid oid)
{
	return set->n > 0 &&
		bsearch(&oid, set->oids, set->n, sizeof(Oid), oid_cmp) != NULL;
}

/* Add to a set being built in context cxt; oidset_sort() finishes it. */
static void
oidset_add(OidSet *set, Oid oid, MemoryContext cxt)
{
	if (set->n == set->size)
	{
		set->size = Max(8, set->size * 2);
		set->oids = set->oids == NULL ?
			MemoryContextAlloc(cxt, set->size * sizeof(Oid)) :
			repalloc(set->oids, set->size * sizeof(Oid));
	}
	set->oids[set->n++] = oid;
}

static void
oidset_sort(OidSet *set)
{
	if (set->n > 1)
		qsort(set->oids, set->n, sizeof(Oid), oid_cmp);
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
 * Read guardrails.disabled_indexes into this backend's set, if it may have
 * changed since the last time.  If the table is locked exclusively (say, a
 * TRUNCATE in a long transaction), keep the copy we have rather than make
 * every planning wait behind that lock; the next planning tries again.
 */
static void
load_disabled(void)
{
	Oid			relid;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tuple;
	OidSet		set = {NULL, 0, 0};
	bool		any_partitioned = false;

	relid = grd_config_relid(GRD_CONFIG_DISABLED_INDEXES);
	loaded_name_generation = grd_config_name_changes;
	if (disabled_loaded && relid == loaded_relid &&
		loaded_generation == grd_config_rules_changes &&
		(!disabled_any_partitioned ||
		 loaded_relcache_generation == grd_config_relcache_changes))
		return;				/* only names changed, not our table */

	if (OidIsValid(relid) &&
		!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		if (disabled_loaded)
			return;
		relid = InvalidOid;		/* no copy yet: start empty */
	}

	/* Invalidations that arrive from here on trigger another load. */
	loaded_generation = grd_config_rules_changes;
	loaded_relcache_generation = grd_config_relcache_changes;

	/* dropped since we looked it up (DROP EXTENSION): no rules */
	rel = OidIsValid(relid) ? try_relation_open(relid, NoLock) : NULL;
	if (rel == NULL && OidIsValid(relid))
	{
		UnlockRelationOid(relid, AccessShareLock);
		relid = InvalidOid;
	}
	if (rel != NULL)
	{
		scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			bool		null1,
						null2;
			Datum		schema = heap_getattr(tuple, Anum_index_schema,
											  RelationGetDescr(rel), &null1);
			Datum		name = heap_getattr(tuple, Anum_index_name,
											RelationGetDescr(rel), &null2);
			Oid			indexoid;

			if (null1 || null2)
				continue;
			indexoid = lookup_index(NameStr(*DatumGetName(schema)),
									NameStr(*DatumGetName(name)));
			if (OidIsValid(indexoid))
				any_partitioned |= add_index(&set, indexoid, TopMemoryContext);
		}
		systable_endscan(scan);
		relation_close(rel, AccessShareLock);
	}

	oidset_sort(&set);
	if (disabled.oids != NULL)
		pfree(disabled.oids);
	disabled = set;
	disabled_loaded = true;
	disabled_any_partitioned = any_partitioned;
	loaded_relid = relid;
}

/*
 * Split a comma-separated list of possibly qualified names, honouring
 * double quotes, into its names as written (for stringToQualifiedNameList,
 * which then cannot fail).  Returns false on bad syntax.
 */
static bool
split_names(const char *value, List **names)
{
	const char *p = value;

	*names = NIL;
	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		return true;
	for (;;)
	{
		StringInfoData buf;
		int			parts = 0;

		initStringInfo(&buf);
		while (isspace((unsigned char) *p))
			p++;
		for (;;)
		{
			if (*p == '"')
			{
				appendStringInfoChar(&buf, *p++);
				while (*p != '"' || p[1] == '"')
				{
					if (*p == '\0')
						return false;
					if (*p == '"')
						appendStringInfoChar(&buf, *p++);
					appendStringInfoChar(&buf, *p++);
				}
				appendStringInfoChar(&buf, *p++);
			}
			else if (isalpha((unsigned char) *p) || *p == '_' ||
					 IS_HIGHBIT_SET(*p))
			{
				while (isalnum((unsigned char) *p) || *p == '_' || *p == '$' ||
					   IS_HIGHBIT_SET(*p))
					appendStringInfoChar(&buf, *p++);
			}
			else
				return false;
			if (++parts > 3)
				return false;
			if (*p != '.')
				break;
			appendStringInfoChar(&buf, *p++);
		}
		*names = lappend(*names, buf.data);
		while (isspace((unsigned char) *p))
			p++;
		if (*p == '\0')
			return true;
		if (*p++ != ',')
			return false;
	}
}

static Oid
lookup_name(const char *name)
{
	List	   *qualified = grd_qualified_name_list(name);

	return RangeVarGetRelid(makeRangeVarFromNameList(qualified), NoLock, true);
}

/*
 * The indexes of guardrails.hidden_indexes, resolved now (search_path may
 * have changed since it was set); NULL when the setting is empty.
 */
static void
session_hidden(OidSet *set)
{
	List	   *names;
	ListCell   *lc;

	if (grd_hidden_indexes == NULL || grd_hidden_indexes[0] == '\0')
		return;
	if (!split_names(grd_hidden_indexes, &names))
		return;					/* cannot happen: the check hook parsed it */

	foreach(lc, names)
	{
		Oid			indexoid = lookup_name(lfirst(lc));

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

	if (!grd_use_disabled_indexes && disabled_stale())
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
	if (session.oids != NULL)
		pfree(session.oids);
}

/*
 * Check hook of guardrails.hidden_indexes: a list of possibly qualified
 * index names.  When set interactively, each must name an index now, so
 * that a typo is an error rather than an experiment that silently hides
 * nothing; in configuration files and ALTER ROLE/DATABASE SET, only the
 * syntax is checked (there may be no database to look in).
 */
bool
grd_check_hidden_indexes(char **newval, void **extra, GucSource source)
{
	List	   *names;
	ListCell   *lc;

	if (!split_names(*newval, &names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	if (source < PGC_S_INTERACTIVE || !IsTransactionState() ||
		!OidIsValid(MyDatabaseId))
		return true;

	foreach(lc, names)
	{
		char	   *name = lfirst(lc);
		Oid			relid = lookup_name(name);
		char		kind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

		if (kind != RELKIND_INDEX && kind != RELKIND_PARTITIONED_INDEX)
		{
			GUC_check_errcode(ERRCODE_WRONG_OBJECT_TYPE);
			GUC_check_errmsg("\"%s\" is not an index", name);
			return false;
		}
	}
	return true;
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
