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
 * Counters that change when the rules may have changed, and when the
 * rules tables may have come or gone (a schema or relation name changed);
 * read inline by the hot paths, which reload nothing while both hold.
 */
extern uint64 grd_config_rules_changes;
extern uint64 grd_config_name_changes;

extern void grd_config_init(void);
extern Oid	grd_config_relid(GrdConfigTable table);
extern uint64 grd_config_generation(void);
extern uint64 grd_config_relcache_generation(void);

#endif							/* GRD_CONFIG_H */
