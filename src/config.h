/*-------------------------------------------------------------------------
 *
 * config.h
 *		Rules tables in schema guardrails, as seen by one backend.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_CONFIG_H
#define GRD_CONFIG_H

/* The tables that hold rules, one per feature. */
typedef enum GrdConfigTable
{
	GRD_CONFIG_DISABLED_INDEXES,
	GRD_CONFIG_DIGEST_LIMITS,
	GRD_NUM_CONFIG_TABLES
} GrdConfigTable;

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

extern void grd_config_init(void);
extern Oid	grd_config_relid(GrdConfigTable table);

#endif							/* GRD_CONFIG_H */
