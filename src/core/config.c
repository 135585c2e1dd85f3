/*-------------------------------------------------------------------------
 *
 * config.c
 *		Which tables and functions of this database are the extension's,
 *		the one loader of the rules tables, and when a backend must read
 *		them again.
 *
 * Rules (disabled indexes, digest limits, workload classes) are rows of ordinary tables in
 * schema guardrails: transactional, in pg_dump, and replicated to standbys
 * by PostgreSQL itself.  The hot paths never read those tables; each
 * feature keeps a backend-local copy, built by grd_rules_load() below,
 * and reloads it when this file says the rules may have changed.
 *
 * Trust: a table is found by name, but counts only if it is the
 * extension's.  Anyone who may create a schema (the owner of a database
 * where the extension is not created, say) can make a schema "guardrails"
 * with tables named like ours, of any shape and with triggers of their
 * own; decoding such a table's rows as ours would crash the server, and
 * the DDL-history worker, a superuser, would insert into it.  So, when the
 * OIDs are looked up (not per query): the extension must exist, the table
 * must be a plain table in the extension's schema and a member of the
 * extension (pg_depend, deptype 'e'); and when a table is read: its tuple
 * descriptor must start with the expected columns (name and type each;
 * later releases may add columns after them), checked before any tuple is
 * decoded.  A table that fails is ignored, as if the extension were not
 * created, and the server log says why, once per backend and table.
 *
 * The same lookup collects the extension's functions written in SQL or
 * PL/pgSQL, so that hooks.c can tell (by a binary search, without a
 * catalog access) when the extension's own code is running: its
 * statements are never subject to digest rules (see hooks.c).
 *
 * Invalidation: a change of the rules is signalled by a relcache
 * invalidation of the rules table, sent by a trigger on the table
 * (whether the change came through our functions or through plain
 * INSERT/UPDATE/DELETE).  PostgreSQL delivers it to every backend when the
 * transaction commits, to the changing backend itself at its next command,
 * undoes it on rollback, and replays it on hot standbys with the commit
 * record.  The tables themselves come and go with CREATE and DROP
 * EXTENSION, noticed through the syscache callbacks of pg_namespace and
 * pg_class names, after which their OIDs are looked up again.  Callbacks
 * only bump counters, which consumers compare with the value they loaded
 * at (GrdRulesCache).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "compat.h"
#include "config.h"
#include "module.h"

#define GRD_EXTENSION	"pg_guardrails"

/* A column a table must have, at its position. */
typedef struct GrdColumn
{
	const char *name;
	Oid			type;
} GrdColumn;

static const GrdColumn disabled_indexes_columns[] = {
	{"index_schema", NAMEOID},
	{"index_name", NAMEOID},
	{"indexrelid", OIDOID},
	{"disabled_at", TIMESTAMPTZOID},
	{"disabled_by", NAMEOID},
	{"reason", TEXTOID},
	{"scans_at_disable", INT8OID},
};

static const GrdColumn digest_limits_columns[] = {
	{"queryid", INT8OID},
	{"role", REGROLEOID},
	{"per_second", FLOAT8OID},
	{"burst", INT4OID},
	{"max_concurrent", INT4OID},
	{"action", TEXTOID},
	{"note", TEXTOID},
	{"created_by", NAMEOID},
	{"created_at", TIMESTAMPTZOID},
	{"expires_at", TIMESTAMPTZOID},
};

static const GrdColumn workload_rules_columns[] = {
	{"class", TEXTOID},
	{"role", REGROLEOID},
	{"database", NAMEOID},
	{"application_name", TEXTOID},
	{"queryid", INT8OID},
};

static const GrdColumn ddl_history_columns[] = {
	{"system_identifier", INT8OID},
	{"seq", INT8OID},
	{"start_time", TIMESTAMPTZOID},
	{"duration_ms", FLOAT8OID},
	{"database", NAMEOID},
	{"role", NAMEOID},
	{"session_role", NAMEOID},
	{"client_addr", INETOID},
	{"application_name", TEXTOID},
	{"pid", INT4OID},
	{"xid", XID8OID},
	{"statement_xid", XID8OID},
	{"toplevel", BOOLOID},
	{"command_tag", TEXTOID},
	{"object_type", TEXTOID},
	{"object_identity", TEXTOID},
	{"query", TEXTOID},
	{"query_truncated", BOOLOID},
	{"outcome", TEXTOID},
	{"sqlstate", TEXTOID},
	{"message", TEXTOID},
	{"policy_warnings", TEXTARRAYOID},
	{"lock_wait_ms", FLOAT8OID},
	{"rolled_back", BOOLOID},
	{"timeline", INT4OID},
};

typedef struct GrdTableSpec
{
	const char *name;
	const GrdColumn *columns;
	int			ncolumns;
} GrdTableSpec;

static const GrdTableSpec tables[GRD_NUM_CONFIG_TABLES] = {
	{"disabled_indexes", disabled_indexes_columns,
	lengthof(disabled_indexes_columns)},
	{"digest_limits", digest_limits_columns, lengthof(digest_limits_columns)},
	{"workload_rules", workload_rules_columns, lengthof(workload_rules_columns)},
	{"ddl_history", ddl_history_columns, lengthof(ddl_history_columns)},
};

/* OIDs of the tables in this database; current while relids_known. */
static Oid	table_relids[GRD_NUM_CONFIG_TABLES];
static bool relids_known = false;
static bool relids_looking = false; /* a lookup is in progress */

/* The last table of each name said to be ignored, so as to say it once. */
static Oid	said_relids[GRD_NUM_CONFIG_TABLES];

/*
 * The extension's functions in SQL or PL/pgSQL, sorted; as of the last
 * lookup (functions of an extension keep their OIDs, so a copy a little
 * out of date is still right).
 */
static Oid *own_functions = NULL;
static int	n_own_functions = 0;
static bool own_functions_loaded = false;
static Oid	own_functions_extoid = InvalidOid;	/* the extension they are of */

/*
 * Tables found to be members of the extension, and of which one: a later
 * lookup that finds the same OIDs skips pg_depend.  (Membership changes
 * without a new OID only by ALTER EXTENSION ... DROP TABLE.)
 */
static Oid	member_relids[GRD_NUM_CONFIG_TABLES];
static Oid	member_extoid = InvalidOid;

/* Bumped whenever any rules table may have changed. */
uint64		grd_config_rules_changes = 1;

/* Bumped whenever names of schemas or relations may have changed. */
uint64		grd_config_name_changes = 1;

/* Bumped on every relcache invalidation, of any relation. */
uint64		grd_config_relcache_changes = 1;

/*
 * A relation changed: if it is a rules table (or all relations), its rows
 * may have changed, and it may even be gone (DROP EXTENSION).  The DDL
 * history is not a rules table: its changes (autovacuum's statistics, for
 * one) make no backend reload anything.
 */
static void
relcache_callback(Datum arg, Oid relid)
{
	grd_config_relcache_changes++;
	for (int i = 0; i < GRD_NUM_RULES_TABLES; i++)
	{
		/* the last OIDs seen, even if due for a new lookup */
		if (!OidIsValid(relid) || table_relids[i] == relid)
		{
			relids_known = false;
			grd_config_rules_changes++;
			return;
		}
	}
}

/*
 * Schemas or relation names changed: look the tables up again next time.
 * Consumers reload only if an OID differs, so a workload creating
 * temporary tables costs them nothing more.
 */
static void
names_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	relids_known = false;
	grd_config_name_changes++;
}

/* Functions changed: read the extension's functions again next time. */
static void
functions_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	own_functions_extoid = InvalidOid;
	names_callback(arg, cacheid, hashvalue);
}

/*
 * Register the callbacks.  Called from _PG_init in the postmaster, so that
 * every backend inherits them.
 */
static void
config_init(void)
{
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, names_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(RELNAMENSP, names_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(PROCOID, functions_callback, (Datum) 0);
}

/*
 * Say in the server log, once per backend and table, that a table named
 * like ours is ignored, and why.
 */
static void
say_ignored(GrdConfigTable table, Oid relid, const char *why)
{
	char	   *dbname;

	if (said_relids[table] == relid)
		return;
	said_relids[table] = relid;
	dbname = get_database_name(MyDatabaseId);
	ereport(LOG,
			(errcode(ERRCODE_WRONG_OBJECT_TYPE),
			 errmsg("table \"guardrails.%s\" in database \"%s\" is not the one of extension \"%s\": ignored",
					tables[table].name, dbname ? dbname : "?", GRD_EXTENSION),
			 errdetail_internal("%s", why),
			 errhint("This database has no rules of this kind until the extension is created in it.")));
}

/* The OID and schema of our extension, by a scan of pg_extension. */
static Oid
extension_oid(Oid *nspoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			extoid = InvalidOid;

	*nspoid = InvalidOid;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(GRD_EXTENSION));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tuple);

		extoid = ext->oid;
		*nspoid = ext->extnamespace;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return extoid;
}

/*
 * The extension's functions that run SQL (any language but C and
 * internal), from pg_depend, sorted for grd_config_own_function().
 */
static void
load_own_functions(Oid extoid)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid		   *oids = NULL;
	int			n = 0;
	int			size = 0;

	if (OidIsValid(extoid))
	{
		rel = table_open(DependRelationId, AccessShareLock);
		ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(ExtensionRelationId));
		ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
					F_OIDEQ, ObjectIdGetDatum(extoid));
		scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL,
								  2, key);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
		{
			Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);
			HeapTuple	proc;
			Oid			lang;

			if (dep->classid != ProcedureRelationId ||
				dep->deptype != DEPENDENCY_EXTENSION)
				continue;
			proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(dep->objid));
			if (!HeapTupleIsValid(proc))
				continue;
			lang = ((Form_pg_proc) GETSTRUCT(proc))->prolang;
			ReleaseSysCache(proc);
			if (lang == ClanguageId || lang == INTERNALlanguageId)
				continue;
			if (n == size)
			{
				size = Max(16, size * 2);
				oids = oids == NULL ?
					MemoryContextAlloc(TopMemoryContext, size * sizeof(Oid)) :
					repalloc(oids, size * sizeof(Oid));
			}
			oids[n++] = dep->objid;
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
		if (n > 1)
			qsort(oids, n, sizeof(Oid), oid_cmp);
	}
	if (own_functions != NULL)
		pfree(own_functions);
	own_functions = oids;
	n_own_functions = n;
	own_functions_loaded = true;
}

/*
 * Look the tables up: by name in the extension's schema, then kept only
 * if they are plain tables and members of the extension.  Also refreshes
 * the extension's functions when they may have changed.  After a change
 * of names only (a temporary table created, say): an index scan of
 * pg_extension and a few syscache probes when the OIDs found are the ones
 * already checked, a scan of pg_depend per table otherwise.
 */
static void
lookup_tables(void)
{
	Oid			nsp;
	Oid			extoid = extension_oid(&nsp);
	Oid			lookalike_nsp = InvalidOid;

	if (!OidIsValid(extoid))
		lookalike_nsp = get_namespace_oid("guardrails", true);

	for (int i = 0; i < GRD_NUM_CONFIG_TABLES; i++)
	{
		Oid			relid;

		table_relids[i] = InvalidOid;
		if (!OidIsValid(extoid))
		{
			/* only to say that a look-alike is ignored */
			relid = OidIsValid(lookalike_nsp) ?
				get_relname_relid(tables[i].name, lookalike_nsp) : InvalidOid;
			if (OidIsValid(relid))
				say_ignored(i, relid,
							"Extension \"" GRD_EXTENSION "\" is not created in this database.");
			continue;
		}
		relid = get_relname_relid(tables[i].name, nsp);
		if (!OidIsValid(relid))
			continue;
		if (get_rel_relkind(relid) != RELKIND_RELATION)
			say_ignored(i, relid, "It is not a table.");
		else if ((member_extoid != extoid || member_relids[i] != relid) &&
				 getExtensionOfObject(RelationRelationId, relid) != extoid)
			say_ignored(i, relid,
						"It does not belong to extension \"" GRD_EXTENSION "\".");
		else
			table_relids[i] = relid;
	}
	for (int i = 0; i < GRD_NUM_CONFIG_TABLES; i++)
		member_relids[i] = table_relids[i];
	member_extoid = extoid;

	/* the functions, when they or the extension changed */
	if (!own_functions_loaded || own_functions_extoid != extoid ||
		!OidIsValid(extoid))
	{
		load_own_functions(extoid);
		own_functions_extoid = extoid;
	}
}

/*
 * The OID of one of the extension's tables in the current database, or
 * InvalidOid when there is none (the extension is not created here, or
 * the table of that name is not the extension's).  Needs a transaction.
 */
Oid
grd_config_relid(GrdConfigTable table)
{
	if (!relids_known && !relids_looking)
	{
		/* an invalidation arriving during the lookup calls for another */
		relids_known = true;
		relids_looking = true;
		PG_TRY();
		{
			lookup_tables();
		}
		PG_CATCH();
		{
			relids_known = false;
			relids_looking = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		relids_looking = false;
	}
	return table_relids[table];
}

/*
 * Whether a table's descriptor starts with the columns we read, with
 * their types; if not, the server log says why (once).  Checked whenever
 * a table is read, before any of its tuples is decoded: the lookup does
 * not keep the table from being altered in between.
 */
bool
grd_config_columns_ok(GrdConfigTable table, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const GrdTableSpec *spec = &tables[table];
	char		why[512];

	if (desc->natts < spec->ncolumns)
	{
		snprintf(why, sizeof(why), "It has %d columns, expected at least %d.",
				 desc->natts, spec->ncolumns);
		say_ignored(table, RelationGetRelid(rel), why);
		return false;
	}
	for (int i = 0; i < spec->ncolumns; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || att->atttypid != spec->columns[i].type ||
			strcmp(NameStr(att->attname), spec->columns[i].name) != 0)
		{
			snprintf(why, sizeof(why),
					 "Column %d is \"%s\" of type %s, expected \"%s\" of type %s.",
					 i + 1, att->attisdropped ? "(dropped)" : NameStr(att->attname),
					 format_type_be(att->atttypid), spec->columns[i].name,
					 format_type_be(spec->columns[i].type));
			say_ignored(table, RelationGetRelid(rel), why);
			return false;
		}
	}
	return true;
}

/*
 * Room for one more item at the end of an array, allocated in cxt;
 * returns the new item, uninitialised.
 */
void *
grd_rules_append(GrdRulesArray *array, Size itemsize, MemoryContext cxt)
{
	if (array->n == array->size)
	{
		array->size = Max(16, array->size * 2);
		array->items = array->items == NULL ?
			MemoryContextAlloc(cxt, array->size * itemsize) :
			repalloc(array->items, array->size * itemsize);
	}
	return (char *) array->items + itemsize * array->n++;
}

/*
 * The one loader of the rules tables.  If the copy described by cache may
 * be out of date, read the table again into a new array of items of
 * itemsize bytes, in a context of its own (built->cxt, where row()
 * allocates), which is made a child of TopMemoryContext only once the
 * scan is over: a scan that fails (a cancel) leaves nothing behind,
 * since the context is then the transaction's.  Calls row() for each of its
 * tuples (with arg, for what else the caller collects), sort it with cmp,
 * make it the copy (freeing the old one) and return true; the new copy is
 * empty if the table is missing or not the extension's.  Return false to
 * keep the current copy: nothing changed, or the table is locked
 * exclusively (say, by a TRUNCATE in a long transaction), where a backend
 * with a copy keeps planning with it rather than wait behind that lock;
 * the next call tries again.
 */
bool
grd_rules_load(GrdConfigTable table, GrdRulesCache *cache,
			   GrdRulesArray *copy, Size itemsize,
			   int (*cmp) (const void *, const void *),
			   GrdRulesRowFn row, void *arg)
{
	Oid			relid;
	Relation	rel;
	uint64		rules_generation;
	uint64		relcache_generation;
	GrdRulesArray built = {NULL, 0, 0, NULL};

	Assert(table < GRD_NUM_RULES_TABLES);
	relid = grd_config_relid(table);
	cache->name_generation = grd_config_name_changes;
	if (cache->loaded && relid == cache->relid &&
		cache->rules_generation == grd_config_rules_changes &&
		(!cache->watch_relcache ||
		 cache->relcache_generation == grd_config_relcache_changes))
		return false;			/* only names changed, not our table */

	if (OidIsValid(relid) &&
		!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		if (cache->loaded)
			return false;
		relid = InvalidOid;		/* no copy yet: start empty */
	}

	/* Invalidations that arrive from here on trigger another load. */
	rules_generation = grd_config_rules_changes;
	relcache_generation = grd_config_relcache_changes;

	/* dropped since we looked it up (DROP EXTENSION): no rules */
	rel = OidIsValid(relid) ? try_relation_open(relid, NoLock) : NULL;
	if (rel == NULL && OidIsValid(relid))
	{
		UnlockRelationOid(relid, AccessShareLock);
		relid = InvalidOid;
	}
	if (rel != NULL && !grd_config_columns_ok(table, rel))
	{
		relation_close(rel, AccessShareLock);
		rel = NULL;
		relid = InvalidOid;
	}
	built.cxt = AllocSetContextCreate(CurrentMemoryContext,
									  "pg_guardrails rules",
									  ALLOCSET_SMALL_SIZES);
	if (rel != NULL)
	{
		SysScanDesc scan;
		HeapTuple	tuple;

		scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
		while (HeapTupleIsValid(tuple = systable_getnext(scan)))
			row(tuple, RelationGetDescr(rel), &built, arg);
		/* the copy is built, the table locked: an error frees the copy */
		GRD_INJECTION_POINT("pg-guardrails-rules-load");
		systable_endscan(scan);
		relation_close(rel, AccessShareLock);
	}
	/* after the scan: a failed one leaves the copy due for a reload */
	cache->rules_generation = rules_generation;
	cache->relcache_generation = relcache_generation;
	cache->loaded = true;
	cache->relid = relid;

	if (built.n > 1)
		qsort(built.items, built.n, itemsize, cmp);
	MemoryContextSetParent(built.cxt, TopMemoryContext);
	if (copy->cxt != NULL)
		MemoryContextDelete(copy->cxt);
	*copy = built;
	return true;
}

/*
 * Whether a function is one of the extension's functions that run SQL,
 * as of the last lookup.  Called for every function the executor sets up
 * (needs_fmgr_hook): built-in functions are answered at once, others by a
 * binary search.  In a backend that has looked nothing up yet, looks the
 * extension up first, when it can.
 */
bool
grd_config_own_function(Oid fnoid)
{
	if (fnoid < FirstNormalObjectId)
		return false;
	if (!own_functions_loaded && !relids_looking &&
		IsTransactionState() && OidIsValid(MyDatabaseId))
		(void) grd_config_relid(GRD_CONFIG_DISABLED_INDEXES);
	return n_own_functions > 0 &&
		bsearch(&fnoid, own_functions, n_own_functions, sizeof(Oid),
				oid_cmp) != NULL;
}

const GrdModule grd_config_module = {
	.name = "extension objects",
	.init = config_init,
};
