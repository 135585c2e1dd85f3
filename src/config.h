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
	GRD_NUM_CONFIG_TABLES
} GrdConfigTable;

extern void grd_config_init(void);
extern Oid	grd_config_relid(GrdConfigTable table);
extern uint64 grd_config_generation(void);
extern uint64 grd_config_relcache_generation(void);

#endif							/* GRD_CONFIG_H */
