/*-------------------------------------------------------------------------
 *
 * identifier.h
 *		The one parser of SQL identifiers written in setting values.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_IDENTIFIER_H
#define GRD_IDENTIFIER_H

#include "nodes/pg_list.h"

/* Which names a setting accepts unquoted, and what a long one does. */
typedef enum GrdIdentifierSyntax
{
	/*
	 * As the SQL parser: a plain name starts with a letter, "_" or a
	 * non-ASCII byte; a long name is truncated to NAMEDATALEN - 1 bytes.
	 */
	GRD_IDENT_SQL,

	/*
	 * Role and database names, as pg_hba.conf writes them: a plain name
	 * may also start with a digit or "$" and contain "-"; a name longer
	 * than NAMEDATALEN - 1 bytes is refused (it can name nothing).
	 */
	GRD_IDENT_ROLE_OR_DATABASE,
} GrdIdentifierSyntax;

extern bool grd_parse_identifier(const char **p, char *out,
								 GrdIdentifierSyntax syntax);
extern bool grd_parse_identifier_list(const char *value, List **names);

#endif							/* GRD_IDENTIFIER_H */
