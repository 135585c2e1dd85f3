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

#endif							/* GRD_INDEX_VISIBILITY_H */
