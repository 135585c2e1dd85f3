/*-------------------------------------------------------------------------
 *
 * identifier.c
 *		The one parser of SQL identifiers written in setting values.
 *
 * Settings that name objects (guardrails.hidden_indexes,
 * guardrails.connection_limits) are parsed once, by their check hooks,
 * into names ready to compare with the catalogs: a plain name is folded
 * to lower case, a double-quoted one is taken as written, with "" for a
 * quote, as in SQL.  The settings differ only in which plain names they
 * accept and in what a name too long does (GrdIdentifierSyntax).
 * Settings that are plain lists of names (GUC_LIST_INPUT) are split the
 * way the server splits its own, by grd_parse_identifier_list().
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "lib/stringinfo.h"
#include "parser/scansup.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "identifier.h"

/* Whether a plain name may start with this byte. */
static bool
identifier_start(char c, GrdIdentifierSyntax syntax)
{
	return isalpha((unsigned char) c) || c == '_' || IS_HIGHBIT_SET(c) ||
		(syntax == GRD_IDENT_ROLE_OR_DATABASE &&
		 (isdigit((unsigned char) c) || c == '$' || c == '-'));
}

/* Whether a plain name may go on with this byte. */
static bool
identifier_char(char c, GrdIdentifierSyntax syntax)
{
	return isalnum((unsigned char) c) || c == '_' || c == '$' ||
		IS_HIGHBIT_SET(c) ||
		(syntax == GRD_IDENT_ROLE_OR_DATABASE && c == '-');
}

/*
 * One identifier at *p, plain (folded to lower case) or double-quoted,
 * into out (NAMEDATALEN bytes), advancing *p past it.  Returns false on
 * bad syntax: an empty name, an unterminated quote, no name at all, or
 * (GRD_IDENT_ROLE_OR_DATABASE) a name too long.
 */
bool
grd_parse_identifier(const char **p, char *out, GrdIdentifierSyntax syntax)
{
	StringInfoData buf;
	bool		quoted = (**p == '"');
	bool		ok = true;

	initStringInfo(&buf);
	if (quoted)
	{
		(*p)++;
		for (;;)
		{
			if (**p == '\0')
			{
				pfree(buf.data);
				return false;
			}
			if (**p == '"')
			{
				if ((*p)[1] != '"')
					break;
				(*p)++;
			}
			appendStringInfoChar(&buf, *(*p)++);
		}
		(*p)++;
	}
	else if (identifier_start(**p, syntax))
	{
		while (identifier_char(**p, syntax))
			appendStringInfoChar(&buf, *(*p)++);
	}

	if (buf.len == 0)
		ok = false;
	else if (syntax == GRD_IDENT_ROLE_OR_DATABASE)
	{
		ok = buf.len < NAMEDATALEN;
		for (int i = 0; ok && !quoted && i < buf.len; i++)
			buf.data[i] = pg_tolower((unsigned char) buf.data[i]);
		if (ok)
			strlcpy(out, buf.data, NAMEDATALEN);
	}
	else if (quoted)
	{
		truncate_identifier(buf.data, buf.len, false);
		strlcpy(out, buf.data, NAMEDATALEN);
	}
	else
		strlcpy(out, downcase_truncate_identifier(buf.data, buf.len, false),
				NAMEDATALEN);
	pfree(buf.data);
	return ok;
}

/*
 * A setting's comma-separated list of names, split as the server splits
 * its own lists (SplitIdentifierString: plain names folded and truncated,
 * quoted ones kept), into a list of names in the current memory context.
 * For check hooks: on bad syntax, sets the hook's detail and returns
 * false.
 */
bool
grd_parse_identifier_list(const char *value, List **names)
{
	char	   *raw = pstrdup(value);

	if (!SplitIdentifierString(raw, ',', names))
	{
		GUC_check_errdetail("List syntax is invalid.");
		return false;
	}
	return true;
}
