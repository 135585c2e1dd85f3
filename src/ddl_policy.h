/*-------------------------------------------------------------------------
 *
 * ddl_policy.h
 *		Which statements are DDL, and the lock_timeout they run with.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_POLICY_H
#define GRD_DDL_POLICY_H

#include "nodes/nodes.h"

/* What grd_ddl_lock_timeout_end() needs to undo what _begin() did. */
typedef struct GrdDdlTimeout
{
	int			guc_nest_level; /* -1: nothing was changed */
	uint32		lxid;			/* the transaction it was changed in */
} GrdDdlTimeout;

extern bool grd_ddl_is_ddl(Node *parsetree);
extern void grd_ddl_lock_timeout_begin(Node *parsetree, GrdDdlTimeout *saved);
extern void grd_ddl_lock_timeout_end(GrdDdlTimeout *saved);

#endif							/* GRD_DDL_POLICY_H */
