/*-------------------------------------------------------------------------
 *
 * ddl_lock.h
 *		The lock timeout DDL runs with, and how it waits for its lock.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_LOCK_H
#define GRD_DDL_LOCK_H

#include "nodes/nodes.h"
#include "tcop/utility.h"

#include "ddl_statement.h"

/* What grd_ddl_lock_end() needs to undo what _begin() did. */
typedef struct GrdDdlLock
{
	int			guc_nest_level; /* -1: lock_timeout was not changed */
	uint32		lxid;			/* the transaction it was changed in */
	GrdDdlTarget *session_targets;	/* locked for the session, to release */
	int			nsession;
} GrdDdlLock;

extern void grd_ddl_lock_begin(const GrdDdlStatement *st,
							   ProcessUtilityContext context,
							   GrdDdlLock *state);
extern void grd_ddl_lock_end(GrdDdlLock *state);

#endif							/* GRD_DDL_LOCK_H */
