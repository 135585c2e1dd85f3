/*-------------------------------------------------------------------------
 *
 * index_visibility.h
 *		Disabled indexes: what hooks.c and pg_guardrails.c call.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_INDEX_VISIBILITY_H
#define GRD_INDEX_VISIBILITY_H

#include "nodes/pathnodes.h"
#include "utils/guc.h"

extern void grd_indexvis_filter(PlannerInfo *root, Oid relid, RelOptInfo *rel);
extern bool grd_check_hidden_indexes(char **newval, void **extra,
									 GucSource source);
extern void grd_assign_hidden_indexes(const char *newval, void *extra);

#endif							/* GRD_INDEX_VISIBILITY_H */
