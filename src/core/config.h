/*-------------------------------------------------------------------------
 *
 * config.h
 *		The extension's tables and functions in this database, as seen by
 *		one backend, and the one loader of the rules tables.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_CONFIG_H
#define GRD_CONFIG_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/palloc.h"
#include "utils/relcache.h"

/*
 * The tables found by name: first the rules tables, one per feature, then
 * the DDL history (read and written by the worker only).
 */
typedef enum GrdConfigTable
{
	GRD_CONFIG_DISABLED_INDEXES,
	GRD_CONFIG_DIGEST_LIMITS,
	GRD_CONFIG_WORKLOAD_RULES,
	GRD_CONFIG_DDL_HISTORY,
	GRD_NUM_CONFIG_TABLES
} GrdConfigTable;

#define GRD_NUM_RULES_TABLES	GRD_CONFIG_DDL_HISTORY

/*
 * Counters that change when the rules may have changed, when the rules
 * tables may have come or gone (a schema or relation name changed), and
 * when any relation's definition may have changed.  The hot paths compare
 * them inline with the values they loaded at, and reload nothing while
 * they hold.
 */
extern uint64 grd_config_rules_changes;
extern uint64 grd_config_name_changes;
extern uint64 grd_config_relcache_changes;

/* A backend-local copy of a rules table: when and from what it was read. */
typedef struct GrdRulesCache
{
	bool		loaded;
	Oid			relid;			/* the table read; InvalidOid: none */
	uint64		rules_generation;
	uint64		name_generation;
	uint64		relcache_generation;
	bool		watch_relcache; /* set by the owner: the copy depends on
								 * other relations too (partitions) */
} GrdRulesCache;

/* Whether a copy may be out of date; inline, for the hot paths. */
static inline bool
grd_rules_stale(const GrdRulesCache *cache)
{
	return !cache->loaded ||
		cache->rules_generation != grd_config_rules_changes ||
		cache->name_generation != grd_config_name_changes ||
		(cache->watch_relcache &&
		 cache->relcache_generation != grd_config_relcache_changes);
}

/*
 * A backend-local copy of a rules table: an array of fixed-size items (of
 * the owner's type), which grd_rules_load() builds and sorts.  Also what
 * an owner builds other sets of rules in (grd_rules_append()).
 */
typedef struct GrdRulesArray
{
	void	   *items;
	int			n;
	int			size;			/* items allocated */
	MemoryContext cxt;			/* a copy loaded by grd_rules_load(): the
								 * context that holds it, where row()
								 * allocates */
} GrdRulesArray;

/*
 * Called by grd_rules_load() for each row of a rules table: add the row's
 * items, if any, to the copy being built (grd_rules_append()).
 */
typedef void (*GrdRulesRowFn) (HeapTuple tuple, TupleDesc desc,
							   GrdRulesArray *built, void *arg);

extern Oid	grd_config_relid(GrdConfigTable table);
extern bool grd_config_columns_ok(GrdConfigTable table, Relation rel);
extern void *grd_rules_append(GrdRulesArray *array, Size itemsize,
							  MemoryContext cxt);
extern bool grd_rules_load(GrdConfigTable table, GrdRulesCache *cache,
						   GrdRulesArray *copy, Size itemsize,
						   int (*cmp) (const void *, const void *),
						   GrdRulesRowFn row, void *arg);
extern bool grd_config_own_function(Oid fnoid);

#endif							/* GRD_CONFIG_H */
