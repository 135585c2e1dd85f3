/*-------------------------------------------------------------------------
 *
 * ddl_redact.c
 *		Secrets in the text of DDL statements, redacted before the DDL
 *		audit log stores the text anywhere.
 *
 * The ring, the server-log line and guardrails.ddl_history are read by
 * other roles (pg_read_all_stats, guardrails_admin), so a statement's text
 * must not carry a password there.  Which statements carry secrets is
 * decided from the parse tree, by statement type (as pgaudit does; see
 * secret_places):
 *
 *	- CREATE/ALTER ROLE (and USER) ... PASSWORD: the password;
 *	- CREATE/ALTER USER MAPPING ... OPTIONS: every option value (user
 *	  mappings exist to hold credentials);
 *	- CREATE/ALTER SERVER, FOREIGN DATA WRAPPER, FOREIGN TABLE and IMPORT
 *	  FOREIGN SCHEMA ... OPTIONS: the values of options named like a secret
 *	  (see secret_name), in any case; a foreign table's options also when
 *	  the statement is spelled ALTER TABLE;
 *	- CREATE/ALTER SUBSCRIPTION ... CONNECTION: the connection string;
 *	- ALTER SYSTEM, ALTER ROLE ... SET and ALTER DATABASE ... SET: the
 *	  value of a setting named like a secret, a connection string
 *	  (primary_conninfo) or a shell command (archive_command and the like,
 *	  which may embed credentials).
 *
 * Where the secrets are in the text is found with PostgreSQL's own
 * scanner, so that any quoting the parser accepted (E'', dollar quotes,
 * doubled quotes, string continuation, multibyte characters) is handled as
 * the parser handled it: every string literal whose value is a secret is
 * replaced by <REDACTED>, and the rest of the statement is kept.  When a
 * secret cannot be found that way (a U&'' literal with escapes, a setting
 * written as a keyword, the scanner disagreeing with the parse because
 * standard_conforming_strings changed in between), the whole text is
 * replaced, as pgaudit does.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/keywords.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"
#include "parser/scanner.h"

#include "compat.h"
#include "ddl_redact.h"

/* One secret found in the parse tree. */
typedef struct Secret
{
	const char *value;
	bool		ident_ok;		/* the grammar also accepts an identifier */
	bool		found;			/* replaced in the text */
} Secret;

typedef struct SecretList
{
	Secret	   *items;
	int			count;
	int			size;
	bool		unfindable;		/* a secret that is no string (a number) */
} SecretList;

static void
add_secret(SecretList *list, const char *value, bool ident_ok)
{
	if (value == NULL)
		return;
	if (list->count == list->size)
	{
		list->size = list->size == 0 ? 4 : list->size * 2;
		list->items = list->items == NULL ?
			palloc(list->size * sizeof(Secret)) :
			repalloc(list->items, list->size * sizeof(Secret));
	}
	list->items[list->count].value = value;
	list->items[list->count].ident_ok = ident_ok;
	list->items[list->count].found = false;
	list->count++;
}

/*
 * Whether name contains one of words (lower case), in any case: option
 * and setting names are compared the way PostgreSQL compares them, and a
 * quoted name ("Primary_Conninfo", "PassWord") keeps the case it was
 * written in.
 */
static bool
name_contains(const char *name, const char *const *words, int nwords)
{
	char	   *lower;
	bool		result = false;

	if (name == NULL)
		return false;
	lower = pstrdup(name);
	for (char *p = lower; *p; p++)
		*p = pg_tolower((unsigned char) *p);
	for (int i = 0; i < nwords && !result; i++)
		result = strstr(lower, words[i]) != NULL;
	pfree(lower);
	return result;
}

/*
 * Whether an option or setting of this name may hold a secret: a password,
 * passphrase, key, token or credential by its name.  Casts a wide net on
 * purpose: redacting a harmless value costs little.
 */
static bool
secret_name(const char *name)
{
	static const char *const words[] = {
		"pass", "secret", "key", "token", "credential"
	};

	return name_contains(name, words, lengthof(words));
}

/*
 * Whether a setting may hold a secret: named like one, a connection
 * string (primary_conninfo), or a shell command (archive_command,
 * restore_command, ssl_passphrase_command...), which may embed
 * credentials.
 */
static bool
secret_setting(const char *name)
{
	static const char *const words[] = {"conninfo", "command"};

	return secret_name(name) || name_contains(name, words, lengthof(words));
}

/* Which values of an OPTIONS (or role option) list are secrets. */
typedef enum SecretOptions
{
	SECRET_EVERY_OPTION,		/* all of them (user mappings) */
	SECRET_NAMED_OPTIONS,		/* those named like a secret */
	SECRET_PASSWORD_OPTION		/* the password (roles) */
} SecretOptions;

/* The secret values of a list of options (DefElem). */
static void
add_options(SecretList *list, List *options, SecretOptions which)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (opt->arg == NULL ||
			(which == SECRET_NAMED_OPTIONS && !secret_name(opt->defname)) ||
			(which == SECRET_PASSWORD_OPTION &&
			 pg_strcasecmp(opt->defname, "password") != 0))
			continue;
		if (IsA(opt->arg, String))
			add_secret(list, strVal(opt->arg), false);
		else
			list->unfindable = true;
	}
}

/* The value of SET name = value, when the setting may hold a secret. */
static void
add_setting(SecretList *list, VariableSetStmt *stmt)
{
	ListCell   *lc;

	if (stmt == NULL || stmt->kind != VAR_SET_VALUE ||
		!secret_setting(stmt->name))
		return;
	foreach(lc, stmt->args)
	{
		Node	   *arg = (Node *) lfirst(lc);

		if (IsA(arg, A_Const) && !((A_Const *) arg)->isnull &&
			IsA(&((A_Const *) arg)->val, String))
			add_secret(list, strVal(&((A_Const *) arg)->val), true);
		else
			list->unfindable = true;
	}
}

/* Options of an ALTER TABLE (ALTER FOREIGN TABLE) command list. */
static void
add_alter_table_options(SecretList *list, List *cmds)
{
	ListCell   *lc;

	foreach(lc, cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

		if (cmd->subtype == AT_GenericOptions ||
			cmd->subtype == AT_AlterColumnGenericOptions)
			add_options(list, (List *) cmd->def, SECRET_NAMED_OPTIONS);
		else if (cmd->subtype == AT_AddColumn && cmd->def != NULL &&
				 IsA(cmd->def, ColumnDef))
			add_options(list, ((ColumnDef *) cmd->def)->fdwoptions,
						SECRET_NAMED_OPTIONS);
	}
}

/*
 * Where a statement type keeps its secrets: a field of its node, at offset,
 * that is a list of options, a string (a connection string), or a SET.
 */
typedef enum SecretField
{
	SECRET_IN_OPTIONS,
	SECRET_IN_STRING,
	SECRET_IN_SETTING
} SecretField;

typedef struct SecretPlace
{
	NodeTag		tag;
	size_t		offset;
	SecretField field;
	SecretOptions which;		/* of SECRET_IN_OPTIONS */
} SecretPlace;

/* Rows of secret_places: a node type, by name, and its field. */
#define IN_OPTIONS(node, which) \
	{T_##node, offsetof(node, options), SECRET_IN_OPTIONS, which}
#define IN_STRING(node, field) \
	{T_##node, offsetof(node, field), SECRET_IN_STRING}
#define IN_SETTING(node) \
	{T_##node, offsetof(node, setstmt), SECRET_IN_SETTING}

static const SecretPlace secret_places[] = {
	IN_OPTIONS(CreateRoleStmt, SECRET_PASSWORD_OPTION),
	IN_OPTIONS(AlterRoleStmt, SECRET_PASSWORD_OPTION),
	IN_OPTIONS(CreateUserMappingStmt, SECRET_EVERY_OPTION),
	IN_OPTIONS(AlterUserMappingStmt, SECRET_EVERY_OPTION),
	IN_OPTIONS(CreateForeignServerStmt, SECRET_NAMED_OPTIONS),
	IN_OPTIONS(AlterForeignServerStmt, SECRET_NAMED_OPTIONS),
	IN_OPTIONS(CreateFdwStmt, SECRET_NAMED_OPTIONS),
	IN_OPTIONS(AlterFdwStmt, SECRET_NAMED_OPTIONS),
	IN_OPTIONS(CreateForeignTableStmt, SECRET_NAMED_OPTIONS),
	IN_OPTIONS(ImportForeignSchemaStmt, SECRET_NAMED_OPTIONS),
	IN_STRING(CreateSubscriptionStmt, conninfo),
	IN_STRING(AlterSubscriptionStmt, conninfo),
	IN_SETTING(AlterSystemStmt),
	IN_SETTING(AlterRoleSetStmt),
	IN_SETTING(AlterDatabaseSetStmt),
};

/*
 * The secrets a statement carries, from its parse tree: the field
 * secret_places names for its type, and the column options of a foreign
 * table.
 */
static void
collect_secrets(Node *tree, SecretList *list)
{
	ListCell   *lc;

	for (int i = 0; i < lengthof(secret_places); i++)
	{
		const SecretPlace *place = &secret_places[i];
		char	   *field = (char *) tree + place->offset;

		if (nodeTag(tree) != place->tag)
			continue;
		if (place->field == SECRET_IN_OPTIONS)
			add_options(list, *(List **) field, place->which);
		else if (place->field == SECRET_IN_STRING)
			add_secret(list, *(char **) field, false);
		else
			add_setting(list, *(VariableSetStmt **) field);
	}

	if (IsA(tree, CreateForeignTableStmt))
	{
		foreach(lc, ((CreateForeignTableStmt *) tree)->base.tableElts)
		{
			Node	   *elt = (Node *) lfirst(lc);

			if (IsA(elt, ColumnDef))
				add_options(list, ((ColumnDef *) elt)->fdwoptions,
							SECRET_NAMED_OPTIONS);
		}
	}
	else if (IsA(tree, AlterTableStmt))
	{
		/*
		 * Not only ALTER FOREIGN TABLE: ALTER TABLE (and the other
		 * spellings) alters a foreign table's options too, so the words of
		 * the statement say nothing about where its options go.
		 */
		add_alter_table_options(list, ((AlterTableStmt *) tree)->cmds);
	}
}

/*
 * What kind of token starts at p, by its first characters (the token
 * codes of the grammar are not installed from 16 on): 's' a string
 * literal, whose scanned value is in yylval.str ('', E'', U&'', $$ $$);
 * 'i' an identifier or keyword, whose name is there too ("", U&"", bare
 * words); 0 anything else.
 */
static char
token_kind(const char *p)
{
	unsigned char c = (unsigned char) p[0];

	if (c == '\'')
		return 's';
	if ((c == 'e' || c == 'E') && p[1] == '\'')
		return 's';
	if ((c == 'u' || c == 'U') && p[1] == '&')
		return p[2] == '\'' ? 's' : 'i';
	if ((c == 'b' || c == 'B' || c == 'x' || c == 'X') && p[1] == '\'')
		return 0;				/* bit string */
	if (c == '$')
		return (p[1] >= '0' && p[1] <= '9') ? 0 : 's';
	if (c == '"' || c == '_' || IS_HIGHBIT_SET(c) ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return 'i';
	return 0;
}

/* A stretch of the text to replace. */
typedef struct Span
{
	int			start;
	int			len;
} Span;

/*
 * Find the secrets among the tokens of text and note where they are.
 * False when the scanner fails.  Runs under PG_TRY: the scanner raises
 * errors (an unterminated literal) if it disagrees with the parse.
 */
static bool
find_spans(char *text, SecretList *list, Span *spans, int *nspans,
		   int maxspans)
{
	core_yy_extra_type yyextra;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	core_yyscan_t scanner;
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	*nspans = 0;
	PG_TRY();
	{
		scanner = scanner_init(text, &yyextra, &ScanKeywords,
							   ScanKeywordTokens);
		grd_scanner_quiet(&yyextra);
		while (core_yylex(&yylval, &yylloc, scanner) != 0)
		{
			char		kind = token_kind(yyextra.scanbuf + yylloc);
			bool		hit = false;

			if (kind == 0)
				continue;
			for (int i = 0; i < list->count; i++)
			{
				Secret	   *s = &list->items[i];

				if ((kind == 's' || s->ident_ok) &&
					strcmp(yylval.str, s->value) == 0)
				{
					s->found = true;
					hit = true;
				}
			}
			if (hit && *nspans < maxspans)
			{
				/* flex put a NUL after the token in its copy of the text */
				spans[*nspans].start = yylloc;
				spans[*nspans].len = strlen(yyextra.scanbuf + yylloc);
				(*nspans)++;
			}
			else if (hit)
				ok = false;
		}
		scanner_finish(scanner);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * The text of a DDL statement (len bytes at query, not NUL-terminated) as
 * the DDL log may keep it.  Returns NULL when the statement carries no
 * secret, and the text is kept as it is; otherwise a palloc'd copy with
 * every secret replaced by <REDACTED>, or "<REDACTED>" alone when a secret
 * could not be located.  Called before the statement runs, never in an
 * error path.
 */
char *
grd_ddl_redact(Node *parsetree, const char *query, int len)
{
	SecretList	list;
	char	   *text;
	Span	   *spans;
	int			nspans;
	int			maxspans;
	StringInfoData buf;
	int			pos = 0;

	memset(&list, 0, sizeof(list));
	collect_secrets(parsetree, &list);
	if (list.count == 0 && !list.unfindable)
		return NULL;
	if (list.unfindable)
		return pstrdup(GRD_DDL_REDACTED);

	text = pnstrdup(query, len);
	maxspans = list.count * 4 + 16;
	spans = palloc(maxspans * sizeof(Span));
	if (!find_spans(text, &list, spans, &nspans, maxspans))
		return pstrdup(GRD_DDL_REDACTED);
	for (int i = 0; i < list.count; i++)
		if (!list.items[i].found)
			return pstrdup(GRD_DDL_REDACTED);

	initStringInfo(&buf);
	for (int i = 0; i < nspans; i++)
	{
		if (spans[i].start < pos || spans[i].start + spans[i].len > len)
			return pstrdup(GRD_DDL_REDACTED);	/* cannot happen */
		appendBinaryStringInfo(&buf, text + pos, spans[i].start - pos);
		appendStringInfoString(&buf, GRD_DDL_REDACTED);
		pos = spans[i].start + spans[i].len;
	}
	appendBinaryStringInfo(&buf, text + pos, len - pos);
	return buf.data;
}
