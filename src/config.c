/*-------------------------------------------------------------------------
 *
 * config.c
 *		Where the rules tables are, and when a backend must read them again.
 *
 * Rules (disabled indexes, and later digest limits) are rows of ordinary
 * tables in schema guardrails: transactional, in pg_dump, and replicated
 * to standbys by PostgreSQL itself.  The hot paths never read those tables;
 * each feature keeps a backend-local copy and reloads it when this file
 * says the rules may have changed.
 *
 * A change is signalled by a relcache invalidation of the rules table,
 * sent by a trigger on the table (whether the change came through our
 * functions or through plain INSERT/UPDATE/DELETE).  PostgreSQL delivers
 * it to every backend when the transaction commits, to the changing
 * backend itself at its next command, undoes it on rollback, and replays
 * it on hot standbys with the commit record.  The tables themselves come
 * and go with CREATE and DROP EXTENSION, noticed through the syscache
 * callbacks of pg_namespace and pg_class names, after which their OIDs
 * are looked up again.
 *
 * Nothing here reads a table or allocates: callbacks only bump counters,
 * which consumers compare with the value they loaded at.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "config.h"

#define GRD_SCHEMA	"guardrails"

static const char *const table_names[GRD_NUM_CONFIG_TABLES] = {
	"disabled_indexes",
	"digest_limits",
};

/* OIDs of the rules tables in this database; current while relids_known. */
static Oid	table_relids[GRD_NUM_CONFIG_TABLES];
static bool relids_known = false;

/* Bumped whenever any rules table may have changed. */
uint64		grd_config_rules_changes = 1;

/* Bumped whenever names of schemas or relations may have changed. */
uint64		grd_config_name_changes = 1;

/* Bumped on every relcache invalidation, of any relation. */
uint64		grd_config_relcache_changes = 1;

/*
 * A relation changed: if it is a rules table (or all relations), its rows
 * may have changed, and it may even be gone (DROP EXTENSION).
 */
static void
relcache_callback(Datum arg, Oid relid)
{
	grd_config_relcache_changes++;
	for (int i = 0; i < GRD_NUM_CONFIG_TABLES; i++)
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
 * Schemas or relation names changed: look the tables up again next time
 * (two syscache probes).  Consumers reload only if an OID differs, so a
 * workload creating temporary tables costs them nothing more.
 */
static void
names_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	relids_known = false;
	grd_config_name_changes++;
}

/*
 * Register the callbacks.  Called from _PG_init in the postmaster, so that
 * every backend inherits them.
 */
void
grd_config_init(void)
{
	CacheRegisterRelcacheCallback(relcache_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, names_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(RELNAMENSP, names_callback, (Datum) 0);
}

/*
 * The OID of a rules table in the current database, or InvalidOid when the
 * extension is not installed here.  Needs a transaction.
 */
Oid
grd_config_relid(GrdConfigTable table)
{
	if (!relids_known)
	{
		Oid			nsp = get_namespace_oid(GRD_SCHEMA, true);

		for (int i = 0; i < GRD_NUM_CONFIG_TABLES; i++)
			table_relids[i] = OidIsValid(nsp) ?
				get_relname_relid(table_names[i], nsp) : InvalidOid;
		relids_known = true;
	}
	return table_relids[table];
}
