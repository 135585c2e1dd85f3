/*-------------------------------------------------------------------------
 *
 * hooks.h
 *		Installation of every hook pg_guardrails uses.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_HOOKS_H
#define GRD_HOOKS_H

extern void grd_hooks_install(void);
extern void grd_hooks_own_process(void);

#endif							/* GRD_HOOKS_H */
