/*-------------------------------------------------------------------------
 *
 * connection_limits.h
 *		The limits on new connections: what hooks.c calls.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_CONNECTION_LIMITS_H
#define GRD_CONNECTION_LIMITS_H

#include "libpq/libpq-be.h"

/* the ClientAuthentication hook (hooks.c) */
extern void grd_connection_check(Port *port, int status);

#endif							/* GRD_CONNECTION_LIMITS_H */
