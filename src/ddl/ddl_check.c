/*-------------------------------------------------------------------------
 *
 * ddl_check.c
 *		guardrails.check_migration(sql text): the verdicts the schema-change
 *		policy would give each statement of a migration script, before it
 *		runs.
 *
 * The script is parsed, never analysed nor run: each statement goes
 * through the same rules as a statement that runs (ddl_policy.c), which
 * collect their verdicts instead of raising them, against the live
 * catalog and the real sizes.  Nothing waits for a lock on a relation
 * (names are looked up without one, as the policy itself does before a
 * statement runs): a table's size and constraints are read under an
 * ACCESS SHARE lock taken only if it is free at once and given back at
 * once, so that a concurrent TRUNCATE, VACUUM FULL or DROP cannot pull its
 * files away meanwhile (grd_ddl_relation_open_now()); the system catalogs
 * are read under ACCESS SHARE.
 *
 * What the policy decides only while a statement runs is predicted here:
 * whether ALTER TABLE rewrites its table (the table_rewrite event) is
 * worked out as PostgreSQL works it out (ATColumnChangeRequiresRewrite in
 * tablecmds.c) where the statement says enough, and reported as uncertain
 * where it does not (a USING expression, a type the script creates, a
 * cast through a function that is not built in, which working it out
 * would run).
 *
 * The script's own effects that the catalog cannot know are followed
 * statement by statement: its transaction blocks (BEGIN ... COMMIT), the
 * constraints it adds NOT VALID in the current one (VALIDATE CONSTRAINT of
 * one is rule validate_separately), the check constraints it adds and
 * validates that prove a column not null (a later SET NOT NULL does not
 * scan), the enum values it adds in the current block (a later use of one
 * in the block is rule new_enum_value, which PostgreSQL refuses), and the
 * indexes it creates (a foreign key whose columns an index of the script
 * leads with, before or after it, has no fk_index verdict).  Outside
 * BEGIN ... COMMIT each statement is taken to be its own transaction, as
 * psql runs a file.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_policy.h"
#include "ddl_statement.h"

PG_FUNCTION_INFO_V1(grd_check_migration);

/* A CHECK constraint the script adds, as far as the script goes. */
typedef struct ScriptCheck
{
	Oid			relid;
	char	   *conname;
	char	   *notnull_col;	/* "col IS NOT NULL": the column, else NULL */
	bool		in_block;		/* added NOT VALID in the open block */
} ScriptCheck;

/* A verdict of the script, as check_migration() returns it. */
typedef struct ScriptRow
{
	int			statement;
	int			line;
	const char *command;
	GrdDdlVerdict *verdict;
	bool		withdrawn;		/* a later statement made it safe */
} ScriptRow;

/*
 * A table the open transaction block renames (or moves), whose rule
 * rename verdicts a view created under its old name in the same block
 * withdraws: the backward-compatible way the rule's hint gives.
 */
typedef struct ScriptRename
{
	char	   *oldname;
	Oid			oldnspid;
	List	   *rows;			/* ScriptRow */
} ScriptRename;

/* A lock that a statement of the open transaction block took. */
typedef struct ScriptLock
{
	Oid			relid;
	LOCKMODE	mode;
} ScriptLock;

/*
 * A foreign key of the script without an index on its columns (rule
 * fk_index), whose verdict a later CREATE INDEX of the script withdraws.
 */
typedef struct ScriptForeignKey
{
	RangeVar   *relation;		/* its table, as the statement names it */
	Oid			relid;			/* that table, or InvalidOid for a new one */
	ScriptRow  *row;			/* the verdict; its columns */
} ScriptForeignKey;

/* An enum value that the open transaction block added. */
typedef struct ScriptEnumValue
{
	Oid			typid;
	char	   *value;
} ScriptEnumValue;

/* What the script did so far that the catalog does not show. */
typedef struct ScriptState
{
	bool		in_block;		/* inside BEGIN ... COMMIT */
	List	   *added;			/* ScriptCheck: added NOT VALID, pending */
	GrdScriptFacts facts;		/* what the rules judge against */
	List	   *held;			/* ScriptLock: strong locks of the block */
	int			block_nest;		/* GUC nest level of the block, or -1 */
	List	   *renames;		/* ScriptRename: of the open block */
	bool		tz_unknown;		/* timezone may have changed unseen */
	List	   *foreign_keys;	/* ScriptForeignKey: without an index yet */
	List	   *enum_values;	/* ScriptEnumValue: added in the open block */
} ScriptState;

/*
 * The settings whose SET, SET LOCAL and RESET in a script are followed:
 * those that change a verdict.  timezone decides whether a change between
 * timestamp and timestamptz rewrites; the policy's own decide the levels,
 * the size exemption and rule new_tables.
 */
static const char *const followed_settings[] = {
	"timezone",
	"guardrails.ddl_policy",
	"guardrails.ddl_policy_rules",
	"guardrails.allow_new_tables",
	"guardrails.ddl_policy_min_size"
};

/* How a column type change would go, as far as can be known. */
typedef enum RewriteNeed
{
	REWRITE_NO,
	REWRITE_YES,
	REWRITE_UNKNOWN				/* depends on a timezone not known */
} RewriteNeed;

/*
 * Whether the transformed expression of a column type change makes
 * PostgreSQL rewrite the table: the same walk as tablecmds.c's
 * ATColumnChangeRequiresRewrite().
 */
static RewriteNeed
change_requires_rewrite(Node *expr, AttrNumber attnum, bool tz_unknown)
{
	for (;;)
	{
		if (IsA(expr, Var) && ((Var *) expr)->varattno == attnum)
			return REWRITE_NO;
		else if (IsA(expr, RelabelType))
			expr = (Node *) ((RelabelType *) expr)->arg;
		else if (IsA(expr, CoerceToDomain))
		{
			CoerceToDomain *d = (CoerceToDomain *) expr;

			if (grd_domain_has_constraints(d->resulttype))
				return REWRITE_YES;
			expr = (Node *) d->arg;
		}
		else if (IsA(expr, FuncExpr))
		{
			FuncExpr   *f = (FuncExpr *) expr;

			if (f->funcid != F_TIMESTAMPTZ_TIMESTAMP &&
				f->funcid != F_TIMESTAMP_TIMESTAMPTZ)
				return REWRITE_YES;
			/* the session's timezone, as the script has set it */
			if (tz_unknown)
				return REWRITE_UNKNOWN;
			if (TimestampTimestampTzRequiresRewrite())
				return REWRITE_YES;
			expr = linitial(f->args);
		}
		else
			return REWRITE_YES;
	}
}

/*
 * Rule table_rewrite for ALTER COLUMN ... TYPE: predicted as PostgreSQL
 * decides it (ATPrepAlterColumnType), from the column's type and the new
 * one; uncertain with a USING expression or a type that does not exist
 * yet.  A change PostgreSQL would refuse gets no verdict.
 */
static void
predict_type_change(Oid relid, AlterTableCmd *cmd, bool tz_unknown,
					List **verdicts)
{
	ColumnDef  *def = (ColumnDef *) cmd->def;
	AttrNumber	attnum = get_attnum(relid, cmd->name);
	Oid			oldtype;
	int32		oldtypmod;
	Oid			oldcoll;
	Oid			newtype;
	int32		newtypmod;
	Type		type;
	Node	   *expr;
	RewriteNeed need;

	if (attnum <= 0)
		return;
	if (def->raw_default != NULL)
	{
		grd_ddl_policy_collect_rewrite(relid, "a column type change with USING",
									   false, verdicts);
		return;
	}
	type = LookupTypeName(NULL, def->typeName, &newtypmod, true);
	if (type == NULL)
	{
		grd_ddl_policy_collect_rewrite(relid, "a column type change to a type that does not exist yet",
									   false, verdicts);
		return;
	}
	newtype = typeTypeId(type);
	ReleaseSysCache(type);
	get_atttypetypmodcoll(relid, attnum, &oldtype, &oldtypmod, &oldcoll);
	expr = (Node *) makeVar(1, attnum, oldtype, oldtypmod, oldcoll, 0);
	expr = coerce_to_target_type(NULL, expr, oldtype, newtype, newtypmod,
								 COERCION_ASSIGNMENT, COERCE_IMPLICIT_CAST,
								 -1);
	if (expr == NULL)
		return;					/* no cast: PostgreSQL refuses it */
	if (grd_expr_calls_user_function(expr))
	{
		/* planning it would run the function: we execute nothing */
		grd_ddl_policy_collect_rewrite(relid, "a column type change through a user-defined cast",
									   false, verdicts);
		return;
	}
	expr = (Node *) expression_planner((Expr *) expr);
	need = change_requires_rewrite(expr, attnum, tz_unknown);
	if (need == REWRITE_YES)
		grd_ddl_policy_collect_rewrite(relid, "a column type change", true,
									   verdicts);
	else if (need == REWRITE_UNKNOWN)
		grd_ddl_policy_collect_rewrite(relid, "a column type change that depends on a timezone the script sets in a way not followed",
									   false, verdicts);
}

/*
 * The rewrites of ALTER TABLE that PostgreSQL decides as it runs, which
 * the table_rewrite event reports to the policy: predicted here.
 */
static void
predict_rewrites(ScriptState *state, AlterTableStmt *stmt, List **verdicts)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	char		relkind;
	ListCell   *lc;

	if (!OidIsValid(relid) || list_member_oid(state->facts.dropped, relid))
		return;
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_MATVIEW &&
		relkind != RELKIND_PARTITIONED_TABLE)
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_AlterColumnType:
				predict_type_change(relid, cmd, state->tz_unknown, verdicts);
				break;
			case AT_SetLogged:
			case AT_SetUnLogged:
				if (relkind != RELKIND_PARTITIONED_TABLE &&
					get_rel_persistence(relid) !=
					(cmd->subtype == AT_SetLogged ? RELPERSISTENCE_PERMANENT :
					 RELPERSISTENCE_UNLOGGED))
					grd_ddl_policy_collect_rewrite(relid, "SET LOGGED or SET UNLOGGED",
												   true, verdicts);
				break;
			case AT_SetAccessMethod:
				if (relkind != RELKIND_PARTITIONED_TABLE)
					grd_ddl_policy_collect_rewrite(relid, "SET ACCESS METHOD",
												   true, verdicts);
				break;
			default:
				break;
		}
	}
}

/* The column of a raw "col IS NOT NULL", or NULL. */
static char *
raw_not_null_column(Node *expr)
{
	NullTest   *test = (NullTest *) expr;
	ColumnRef  *ref;

	if (expr == NULL || !IsA(expr, NullTest) ||
		test->nulltesttype != IS_NOT_NULL || !IsA(test->arg, ColumnRef))
		return NULL;
	ref = (ColumnRef *) test->arg;
	if (list_length(ref->fields) != 1 || !IsA(linitial(ref->fields), String))
		return NULL;
	return strVal(linitial(ref->fields));
}

/* A column of an existing table, for a list of GrdScriptColumn. */
static GrdScriptColumn *
script_column(Oid relid, char *colname)
{
	GrdScriptColumn *col = palloc(sizeof(GrdScriptColumn));

	col->relid = relid;
	col->colname = colname;
	return col;
}

/* columns without column colname of relid. */
static List *
without_column(List *columns, Oid relid, const char *colname)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, columns)
	{
		GrdScriptColumn *col = (GrdScriptColumn *) lfirst(lc);

		if (col->relid != relid || strcmp(col->colname, colname) != 0)
			result = lappend(result, col);
	}
	return result;
}

/* Record a column the script has proven not null. */
static void
add_proven(ScriptState *state, Oid relid, char *colname)
{
	state->facts.proven = lappend(state->facts.proven,
								  script_column(relid, colname));
}

/*
 * Follow what an ALTER TABLE of the script does to check constraints, and
 * report VALIDATE CONSTRAINT of one added NOT VALID in the same block.
 * Called after the statement's own verdicts.
 */
static void
follow_alter_table(ScriptState *state, AlterTableStmt *stmt, List **verdicts)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	GrdScriptFacts *facts = &state->facts;
	ListCell   *lc;

	if (!OidIsValid(relid) || list_member_oid(facts->dropped, relid))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AddColumn)
		{
			ColumnDef  *col = castNode(ColumnDef, cmd->def);
			bool		not_null = col->is_not_null;
			ListCell   *lc2;

			facts->dropped_columns = without_column(facts->dropped_columns,
													relid, col->colname);
			facts->added_columns = lappend(facts->added_columns,
										   script_column(relid, col->colname));
			foreach(lc2, col->constraints)
			{
				ConstrType	contype = lfirst_node(Constraint, lc2)->contype;

				if (contype == CONSTR_NOTNULL || contype == CONSTR_PRIMARY)
					not_null = true;
			}
			if (not_null)
				add_proven(state, relid, col->colname);
		}
		else if (cmd->subtype == AT_DropColumn)
		{
			facts->added_columns = without_column(facts->added_columns,
												  relid, cmd->name);
			facts->proven = without_column(facts->proven, relid, cmd->name);
			facts->dropped_columns = lappend(facts->dropped_columns,
											 script_column(relid, cmd->name));
		}
		else if (cmd->subtype == AT_AddConstraint && IsA(cmd->def, Constraint) &&
				 ((Constraint *) cmd->def)->contype == CONSTR_CHECK)
		{
			Constraint *con = (Constraint *) cmd->def;
			char	   *col = raw_not_null_column(con->raw_expr);

			if (!con->skip_validation)
			{
				if (col != NULL)
					add_proven(state, relid, col);
			}
			else if (con->conname != NULL)
			{
				ScriptCheck *check = palloc(sizeof(ScriptCheck));

				check->relid = relid;
				check->conname = con->conname;
				check->notnull_col = col;
				check->in_block = state->in_block;
				state->added = lappend(state->added, check);
			}
		}
		else if (cmd->subtype == AT_AddConstraint &&
				 IsA(cmd->def, Constraint) &&
				 ((Constraint *) cmd->def)->contype == CONSTR_FOREIGN &&
				 ((Constraint *) cmd->def)->skip_validation &&
				 ((Constraint *) cmd->def)->conname != NULL)
		{
			ScriptCheck *check = palloc(sizeof(ScriptCheck));

			check->relid = relid;
			check->conname = ((Constraint *) cmd->def)->conname;
			check->notnull_col = NULL;
			check->in_block = state->in_block;
			state->added = lappend(state->added, check);
		}
		else if (cmd->subtype == AT_ValidateConstraint)
		{
			ListCell   *lc2;

			foreach(lc2, state->added)
			{
				ScriptCheck *check = (ScriptCheck *) lfirst(lc2);

				if (check->relid != relid ||
					strcmp(check->conname, cmd->name) != 0)
					continue;
				if (check->in_block)
					grd_ddl_policy_collect_validate(relid, cmd->name,
													verdicts);
				if (check->notnull_col != NULL)
					add_proven(state, relid, check->notnull_col);
			}
		}
	}
}

/*
 * A transaction block of the script begins or ends.  The settings the
 * block sets follow PostgreSQL's rules: at its end, SET LOCAL is undone,
 * and so is SET when it rolls back; its locks are released.
 */
static void
follow_transaction(ScriptState *state, TransactionStmt *stmt)
{
	ListCell   *lc;

	switch (stmt->kind)
	{
		case TRANS_STMT_BEGIN:
		case TRANS_STMT_START:
			if (state->in_block)
				break;			/* PostgreSQL warns, and stays in the block */
			state->in_block = true;
			state->block_nest = NewGUCNestLevel();
			break;
		case TRANS_STMT_COMMIT:
		case TRANS_STMT_ROLLBACK:
		case TRANS_STMT_PREPARE:
			if (!state->in_block)
				break;
			state->in_block = false;
			AtEOXact_GUC(stmt->kind != TRANS_STMT_ROLLBACK,
						 state->block_nest);
			state->block_nest = -1;
			state->held = NIL;
			state->renames = NIL;
			state->enum_values = NIL;
			foreach(lc, state->added)
				((ScriptCheck *) lfirst(lc))->in_block = false;
			break;
		default:
			break;
	}
}

/* Whether the script's SET of setting name is followed. */
static bool
is_followed_setting(const char *name)
{
	for (int i = 0; i < lengthof(followed_settings); i++)
	{
		if (pg_strcasecmp(name, followed_settings[i]) == 0)
			return true;
	}
	return false;
}

/*
 * Apply to this session, for the rest of the check, a setting the script
 * sets (value NULL: resets), as PostgreSQL would in the script's session
 * and with the caller's privileges; undone when the check ends.  A value
 * PostgreSQL refuses changes nothing; a refused timezone is unknown from
 * then on.
 */
static void
apply_setting(ScriptState *state, const char *name, const char *value,
			  bool is_local)
{
	int			applied;

	applied = set_config_option(name, value,
								superuser() ? PGC_SUSET : PGC_USERSET,
								PGC_S_SESSION,
								is_local ? GUC_ACTION_LOCAL : GUC_ACTION_SET,
								true, DEBUG1, false);
	if (applied <= 0 && pg_strcasecmp(name, "timezone") == 0)
		state->tz_unknown = true;
	else if (applied > 0 && pg_strcasecmp(name, "timezone") == 0)
		state->tz_unknown = false;
}

/*
 * SET, SET LOCAL, RESET and RESET ALL of the settings that change a
 * verdict (followed_settings).  SET LOCAL outside a transaction block
 * does nothing, as in PostgreSQL.
 */
static void
follow_set(ScriptState *state, VariableSetStmt *stmt)
{
	if (stmt->is_local && !state->in_block)
		return;
	switch (stmt->kind)
	{
		case VAR_SET_VALUE:
			if (is_followed_setting(stmt->name))
				apply_setting(state, stmt->name,
							  ExtractSetVariableArgs(stmt), stmt->is_local);
			break;
		case VAR_SET_DEFAULT:
		case VAR_RESET:
			if (is_followed_setting(stmt->name))
				apply_setting(state, stmt->name, NULL, stmt->is_local);
			break;
		case VAR_RESET_ALL:
			for (int i = 0; i < lengthof(followed_settings); i++)
				apply_setting(state, followed_settings[i], NULL, false);
			break;
		default:
			break;
	}
}

/*
 * Whether PostgreSQL refuses a statement inside a transaction block
 * (PreventInTransactionBlock): the CONCURRENTLY forms that wait for other
 * transactions, and VACUUM.  REFRESH MATERIALIZED VIEW CONCURRENTLY may
 * run in one.
 */
static bool
refused_in_block(Node *stmt)
{
	if (IsA(stmt, VacuumStmt))
		return ((VacuumStmt *) stmt)->is_vacuumcmd;
	if (IsA(stmt, RefreshMatViewStmt))
		return false;
	return grd_ddl_is_concurrent(stmt);
}

/* Walker of changes_settings_unseen(). */
static bool
calls_set_config_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall))
	{
		FuncCall   *call = (FuncCall *) node;

		if (pg_strcasecmp(strVal(llast(call->funcname)), "set_config") == 0)
			return true;
	}
	return raw_expression_tree_walker(node, calls_set_config_walker, context);
}

/*
 * Whether a statement may change a setting in a way a static check does
 * not follow: a DO block, a CALL, or a call of set_config().
 */
static bool
changes_settings_unseen(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_DoStmt:
		case T_CallStmt:
			return true;
		case T_SelectStmt:
		case T_InsertStmt:
		case T_UpdateStmt:
		case T_DeleteStmt:
		case T_MergeStmt:
			return calls_set_config_walker(stmt, NULL);
		default:
			return false;
	}
}

/* Whether RangeVar a names the table that RangeVar b names, by name. */
static bool
same_relation_name(RangeVar *a, RangeVar *b)
{
	return strcmp(a->relname, b->relname) == 0 &&
		(a->schemaname == NULL || b->schemaname == NULL ||
		 strcmp(a->schemaname, b->schemaname) == 0);
}

/*
 * CREATE INDEX of the script on table relid (InvalidOid: one the script
 * creates): it withdraws the verdicts of rule fk_index on the foreign keys
 * of that table whose columns it leads with, unless it is partial.
 */
static void
withdraw_foreign_keys(ScriptState *state, IndexStmt *stmt, Oid relid)
{
	List	   *keys = NIL;
	List	   *pending = NIL;
	ListCell   *lc;

	if (state->foreign_keys == NIL || stmt->whereClause != NULL)
		return;
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		keys = lappend(keys, elem->name ? makeString(elem->name) : NULL);
	}
	foreach(lc, state->foreign_keys)
	{
		ScriptForeignKey *fk = (ScriptForeignKey *) lfirst(lc);
		bool		same = OidIsValid(fk->relid) ?
			fk->relid == relid :
			!OidIsValid(relid) && same_relation_name(fk->relation,
													 stmt->relation);

		if (same && grd_ddl_index_leads_with(keys, fk->row->verdict->columns))
			fk->row->withdrawn = true;
		else
			pending = lappend(pending, fk);
	}
	state->foreign_keys = pending;
}

/*
 * The verdicts of rule fk_index (rows) that a statement creating or
 * altering a table gave: a later CREATE INDEX of the script may withdraw
 * them.
 */
static void
follow_foreign_keys(ScriptState *state, Node *stmt, List *rows)
{
	RangeVar   *relation;
	ListCell   *lc;

	if (IsA(stmt, CreateStmt))
		relation = ((CreateStmt *) stmt)->relation;
	else if (IsA(stmt, AlterTableStmt))
		relation = ((AlterTableStmt *) stmt)->relation;
	else
		return;
	foreach(lc, rows)
	{
		ScriptRow  *row = (ScriptRow *) lfirst(lc);
		ScriptForeignKey *fk;

		if (row->verdict->rule != GRD_RULE_FK_INDEX ||
			row->verdict->columns == NIL)
			continue;
		fk = palloc(sizeof(ScriptForeignKey));
		fk->relation = relation;
		fk->relid = row->verdict->relid;
		fk->row = row;
		state->foreign_keys = lappend(state->foreign_keys, fk);
	}
}

/*
 * ALTER TYPE ... ADD VALUE inside a transaction block, of an enum type that
 * exists and that the user owns, of a value it does not have yet: from
 * then on to the end of the block, PostgreSQL refuses the value (rule
 * new_enum_value).  A type the script creates is not followed: PostgreSQL
 * lets a value added to a type created in the same transaction be used.
 */
static void
follow_enum(ScriptState *state, AlterEnumStmt *stmt)
{
	Oid			typid;
	ScriptEnumValue *added;

	if (!state->in_block || stmt->newVal == NULL || stmt->oldVal != NULL)
		return;
	typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(stmt->typeName),
							  true);
	if (!OidIsValid(typid) || !type_is_enum(typid) ||
		!grd_type_ownercheck(typid, GetUserId()) ||
		SearchSysCacheExists2(ENUMTYPOIDNAME, ObjectIdGetDatum(typid),
							  CStringGetDatum(stmt->newVal)))
		return;
	added = palloc(sizeof(ScriptEnumValue));
	added->typid = typid;
	added->value = stmt->newVal;
	state->enum_values = lappend(state->enum_values, added);
}

/* What enum_use_walker() looks for, and what it found. */
typedef struct EnumUseContext
{
	ScriptEnumValue *added;
	bool		used;			/* a literal of the value cast to its type */
	bool		maybe;			/* a string literal of the value */
} EnumUseContext;

/* Whether node is a string literal of value. */
static bool
is_string_literal(Node *node, const char *value)
{
	A_Const    *con = (A_Const *) node;

	return node != NULL && IsA(node, A_Const) && !con->isnull &&
		IsA(&con->val, String) && strcmp(strVal(&con->val), value) == 0;
}

/*
 * Walker of check_enum_values(): the literals of the value in a raw
 * statement or expression.  A literal cast to the enum type (or a domain
 * over it) is a use; any other string literal of the value may be one,
 * depending on what the analysis of the statement types it as.
 */
static bool
enum_use_walker(Node *node, void *context)
{
	EnumUseContext *cxt = (EnumUseContext *) context;

	if (node == NULL)
		return false;
	if (IsA(node, TypeCast) &&
		is_string_literal(((TypeCast *) node)->arg, cxt->added->value))
	{
		Oid			typid = LookupTypeNameOid(NULL,
											  ((TypeCast *) node)->typeName,
											  true);

		if (OidIsValid(typid) && getBaseType(typid) == cxt->added->typid)
			cxt->used = true;
		return false;
	}
	if (is_string_literal(node, cxt->added->value))
		cxt->maybe = true;
	return raw_expression_tree_walker(node, enum_use_walker, context);
}

/*
 * A raw expression of a column of type coltype (InvalidOid: not known):
 * the value alone, as a column of the enum type's default, is a use.
 */
static void
enum_use_in_expr(EnumUseContext *cxt, Node *expr, Oid coltype)
{
	if (expr == NULL)
		return;
	if (OidIsValid(coltype) && getBaseType(coltype) == cxt->added->typid &&
		is_string_literal(expr, cxt->added->value))
		cxt->used = true;
	else
		(void) enum_use_walker(expr, cxt);
}

/*
 * Rule new_enum_value: the uses, in a statement of the open transaction
 * block, of the enum values an earlier statement of the block added.  A
 * static check sees the literals of a query (SELECT, INSERT, UPDATE,
 * DELETE, MERGE) and the defaults and checks of ALTER TABLE; not what a
 * function, a DO block or a value computed at run time uses.
 */
static void
check_enum_values(ScriptState *state, Node *stmt, List **verdicts)
{
	ListCell   *lc;

	if (!state->in_block)
		return;
	foreach(lc, state->enum_values)
	{
		EnumUseContext cxt = {(ScriptEnumValue *) lfirst(lc), false, false};

		switch (nodeTag(stmt))
		{
			case T_SelectStmt:
			case T_InsertStmt:
			case T_UpdateStmt:
			case T_DeleteStmt:
			case T_MergeStmt:
				(void) enum_use_walker(stmt, &cxt);
				break;
			case T_AlterTableStmt:
				{
					AlterTableStmt *alter = (AlterTableStmt *) stmt;
					Oid			relid = grd_ddl_relid(alter->relation);
					ListCell   *lc2;

					foreach(lc2, alter->cmds)
					{
						AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc2);

						if (cmd->subtype == AT_AddColumn)
						{
							ColumnDef  *col = castNode(ColumnDef, cmd->def);
							Oid			coltype = LookupTypeNameOid(NULL, col->typeName, true);
							ListCell   *lc3;

							foreach(lc3, col->constraints)
								enum_use_in_expr(&cxt, lfirst_node(Constraint, lc3)->raw_expr,
												 lfirst_node(Constraint, lc3)->contype == CONSTR_DEFAULT ?
												 coltype : InvalidOid);
						}
						else if (cmd->subtype == AT_ColumnDefault)
						{
							AttrNumber	attnum = OidIsValid(relid) ?
								get_attnum(relid, cmd->name) : InvalidAttrNumber;

							enum_use_in_expr(&cxt, cmd->def,
											 attnum > 0 ? get_atttype(relid, attnum) : InvalidOid);
						}
						else if (cmd->subtype == AT_AddConstraint &&
								 IsA(cmd->def, Constraint))
							enum_use_in_expr(&cxt, ((Constraint *) cmd->def)->raw_expr,
											 InvalidOid);
					}
					break;
				}
			default:
				break;
		}
		if (cxt.used || cxt.maybe)
			grd_ddl_policy_collect_enum_value(cxt.added->typid,
											  cxt.added->value, cxt.used,
											  verdicts);
	}
}

/*
 * CREATE INDEX of a table that exists (with a name): its key columns, for
 * a later ADD CONSTRAINT ... USING INDEX.
 */
static void
follow_index(ScriptState *state, IndexStmt *stmt)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	GrdScriptIndex *index;
	ListCell   *lc;

	withdraw_foreign_keys(state, stmt, relid);
	if (!OidIsValid(relid) || stmt->idxname == NULL)
		return;
	index = palloc(sizeof(GrdScriptIndex));
	index->relid = relid;
	index->name = stmt->idxname;
	index->colnames = NIL;
	foreach(lc, stmt->indexParams)
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		index->colnames = lappend(index->colnames,
								  elem->name ? makeString(elem->name) : NULL);
	}
	state->facts.indexes = lappend(state->facts.indexes, index);
}

/*
 * DROP of relations: from then on, a relation of the same name is a new
 * one (exempt, as the script creates it), and an index the script created
 * under that name is gone.
 */
static void
follow_drop(ScriptState *state, DropStmt *stmt)
{
	ListCell   *lc;

	switch (stmt->removeType)
	{
		case OBJECT_TABLE:
		case OBJECT_INDEX:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
		case OBJECT_SEQUENCE:
			break;
		default:
			return;
	}
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			relid = grd_ddl_relid(rv);
		List	   *indexes = NIL;
		ListCell   *lc2;

		if (OidIsValid(relid))
			state->facts.dropped = lappend_oid(state->facts.dropped, relid);
		foreach(lc2, state->facts.indexes)
		{
			GrdScriptIndex *index = (GrdScriptIndex *) lfirst(lc2);

			if (strcmp(index->name, rv->relname) != 0)
				indexes = lappend(indexes, index);
		}
		state->facts.indexes = indexes;
	}
}

/*
 * The strong locks (SHARE or stronger: they block writes) that a statement
 * of the open transaction block takes on existing tables; they are held
 * until the block ends (rule lock_held).
 */
static void
follow_locks(ScriptState *state, Node *stmt)
{
	GrdDdlStatement st;
	GrdDdlTarget *targets;
	int			n;

	if (!state->in_block)
		return;
	grd_ddl_classify(stmt, &st);
	if (!st.guarded)
		return;
	n = grd_ddl_targets(&st, &targets);
	for (int i = 0; i < n; i++)
	{
		ScriptLock *lock;

		if (targets[i].mode < ShareLock ||
			list_member_oid(state->facts.dropped, targets[i].relid))
			continue;
		lock = palloc(sizeof(ScriptLock));
		lock->relid = targets[i].relid;
		lock->mode = targets[i].mode;
		state->held = lappend(state->held, lock);
	}
}

/* What lock_held_walker() needs. */
typedef struct LockHeldContext
{
	ScriptState *state;
	RangeVar   *target;			/* the relation the statement writes */
	List	   *seen;			/* OIDs already judged */
	List	  **verdicts;
} LockHeldContext;

/*
 * Walker of check_lock_held(): each relation named, against the locks
 * the block holds.
 */
static bool
lock_held_walker(Node *node, void *context)
{
	LockHeldContext *cxt = (LockHeldContext *) context;

	if (node == NULL)
		return false;
	if (IsA(node, RangeVar))
	{
		RangeVar   *rv = (RangeVar *) node;
		Oid			relid = grd_ddl_relid(rv);
		LOCKMODE	mode = NoLock;
		ListCell   *lc;

		if (!OidIsValid(relid) || list_member_oid(cxt->seen, relid))
			return false;
		cxt->seen = lappend_oid(cxt->seen, relid);
		foreach(lc, cxt->state->held)
		{
			ScriptLock *lock = (ScriptLock *) lfirst(lc);

			if (lock->relid == relid && lock->mode > mode)
				mode = lock->mode;
		}
		if (mode != NoLock)
			grd_ddl_policy_collect_lock_held(relid, mode,
											 rv == cxt->target ?
											 "writing" : "reading",
											 cxt->verdicts);
		return false;
	}
	return raw_expression_tree_walker(node, lock_held_walker, context);
}

/*
 * Rule lock_held on a query of the script (SELECT, INSERT, UPDATE,
 * DELETE, MERGE, COPY): the tables it reads or writes on which an earlier
 * statement of its transaction block holds a strong lock.
 */
static void
check_lock_held(ScriptState *state, Node *stmt, List **verdicts)
{
	LockHeldContext cxt = {state, NULL, NIL, verdicts};

	if (state->held == NIL)
		return;
	switch (nodeTag(stmt))
	{
		case T_SelectStmt:
			break;
		case T_InsertStmt:
			cxt.target = ((InsertStmt *) stmt)->relation;
			break;
		case T_UpdateStmt:
			cxt.target = ((UpdateStmt *) stmt)->relation;
			break;
		case T_DeleteStmt:
			cxt.target = ((DeleteStmt *) stmt)->relation;
			break;
		case T_MergeStmt:
			cxt.target = ((MergeStmt *) stmt)->relation;
			break;
		case T_CopyStmt:
			{
				CopyStmt   *copy = (CopyStmt *) stmt;

				if (copy->relation == NULL)
				{
					stmt = copy->query;
					break;
				}
				if (copy->is_from)
					cxt.target = copy->relation;
				stmt = (Node *) copy->relation;
				break;
			}
		default:
			return;
	}
	(void) lock_held_walker(stmt, &cxt);
}

/*
 * The statement the policy sees for a raw statement: SELECT INTO is
 * CREATE TABLE AS once analysed, and EXPLAIN ANALYZE runs what it
 * explains.  NULL for a statement no rule is about.
 */
static Node *
policy_statement(Node *stmt)
{
	if (IsA(stmt, ExplainStmt))
	{
		ExplainStmt *explain = (ExplainStmt *) stmt;
		ListCell   *lc;
		bool		analyze = false;

		foreach(lc, explain->options)
		{
			DefElem    *opt = (DefElem *) lfirst(lc);

			if (strcmp(opt->defname, "analyze") == 0)
				analyze = (opt->arg == NULL || defGetBoolean(opt));
		}
		if (!analyze)
			return NULL;
		stmt = explain->query;
	}
	if (IsA(stmt, SelectStmt) && ((SelectStmt *) stmt)->intoClause != NULL)
	{
		CreateTableAsStmt *ctas = makeNode(CreateTableAsStmt);

		ctas->into = ((SelectStmt *) stmt)->intoClause;
		ctas->objtype = OBJECT_TABLE;
		ctas->query = stmt;
		return (Node *) ctas;
	}
	return stmt;
}

/*
 * The table a RENAME or SET SCHEMA of a table renames (by its kind, as rule
 * rename decides), or InvalidOid.
 */
static Oid
renamed_table(Node *stmt)
{
	RangeVar   *rv = NULL;

	if (IsA(stmt, RenameStmt))
	{
		RenameStmt *rename = (RenameStmt *) stmt;

		if (rename->renameType != OBJECT_COLUMN &&
			rename->renameType != OBJECT_ATTRIBUTE)
			rv = rename->relation;
	}
	else if (IsA(stmt, AlterObjectSchemaStmt))
		rv = ((AlterObjectSchemaStmt *) stmt)->relation;
	return rv != NULL ? grd_ddl_relid(rv) : InvalidOid;
}

/*
 * Inside a transaction block: remember the rename verdicts (rows) of a
 * table renamed, for follow_view().
 */
static void
follow_rename(ScriptState *state, Node *stmt, List *rows)
{
	Oid			relid;
	ScriptRename *rename;
	ListCell   *lc;

	if (!state->in_block || !OidIsValid(relid = renamed_table(stmt)))
		return;
	rename = palloc0(sizeof(ScriptRename));
	rename->oldname = get_rel_name(relid);
	rename->oldnspid = get_rel_namespace(relid);
	foreach(lc, rows)
	{
		ScriptRow  *row = (ScriptRow *) lfirst(lc);

		if (row->verdict->rule == GRD_RULE_RENAME)
			rename->rows = lappend(rename->rows, row);
	}
	if (rename->oldname != NULL && rename->rows != NIL)
		state->renames = lappend(state->renames, rename);
}

/*
 * CREATE VIEW inside a transaction block: under the old name of a table
 * the block renamed, it withdraws that rename's verdicts.
 */
static void
follow_view(ScriptState *state, ViewStmt *stmt)
{
	Oid			nspid;
	ListCell   *lc;

	if (!state->in_block || state->renames == NIL)
		return;
	if (stmt->view->schemaname != NULL)
		nspid = get_namespace_oid(stmt->view->schemaname, true);
	else
	{
		List	   *path = fetch_search_path(false);

		nspid = path == NIL ? InvalidOid : linitial_oid(path);
	}
	foreach(lc, state->renames)
	{
		ScriptRename *rename = (ScriptRename *) lfirst(lc);
		ListCell   *lc2;

		if (rename->oldnspid != nspid ||
			strcmp(rename->oldname, stmt->view->relname) != 0)
			continue;
		foreach(lc2, rename->rows)
			((ScriptRow *) lfirst(lc2))->withdrawn = true;
	}
}

/* Where line_of() stopped counting: statements come in order. */
typedef struct LineCursor
{
	const char *pos;
	int			line;
} LineCursor;

/*
 * The line of the script where the statement at byte offset location
 * begins: a statement's location is the end of the one before it, so the
 * blanks and comments in between are skipped.  Lines are counted on from
 * where the previous call stopped (*cursor), so that a script of many
 * statements is read once, not once per statement.
 */
static int
line_of(const char *sql, int location, LineCursor *cursor)
{
	const char *p = sql + location;

	for (;;)
	{
		if (isspace((unsigned char) *p))
			p++;
		else if (p[0] == '-' && p[1] == '-')
		{
			while (*p != '\0' && *p != '\n')
				p++;
		}
		else if (p[0] == '/' && p[1] == '*')
		{
			const char *end = strstr(p + 2, "*/");

			p = end ? end + 2 : p + strlen(p);
		}
		else
			break;
	}
	if (cursor->pos == NULL || p < cursor->pos)
	{
		cursor->pos = sql;
		cursor->line = 1;
	}
	for (; cursor->pos < p; cursor->pos++)
	{
		if (*cursor->pos == '\n')
			cursor->line++;
	}
	return cursor->line;
}

/*
 * guardrails.check_migration(sql text): one row per verdict, in the order
 * of the statements (see the file header).
 */
Datum
grd_check_migration(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *raw;
	ScriptState state = {.block_nest = -1};
	LineCursor	cursor = {NULL, 1};
	ListCell   *lc;
	int			n = 0;
	int			guc_nest;
	List	   *rows = NIL;

	InitMaterializedSRF(fcinfo, 0);
	raw = pg_parse_query(sql);

	/*
	 * The settings the script sets are applied to this session while it is
	 * checked, each at the level of the script's transaction blocks, and
	 * undone at the end (or by the abort of an error).
	 */
	guc_nest = NewGUCNestLevel();

	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		Node	   *stmt = policy_statement(rs->stmt);
		List	   *verdicts = NIL;
		List	   *stmt_rows = NIL;
		ListCell   *vc;
		const char *command;
		int			line;

		/* a script may be long: it can be cancelled */
		CHECK_FOR_INTERRUPTS();
		n++;
		if (stmt == NULL)
			continue;
		if (IsA(stmt, TransactionStmt))
		{
			follow_transaction(&state, (TransactionStmt *) stmt);
			continue;
		}
		if (IsA(stmt, VariableSetStmt))
		{
			follow_set(&state, (VariableSetStmt *) stmt);
			continue;
		}
		if (changes_settings_unseen(stmt))
			state.tz_unknown = true;
		if (state.in_block && refused_in_block(stmt))
			grd_ddl_policy_collect_in_block(psprintf("%s%s",
													 GetCommandTagName(CreateCommandTag(stmt)),
													 IsA(stmt, VacuumStmt) ?
													 "" : " CONCURRENTLY"),
											&verdicts);
		check_lock_held(&state, stmt, &verdicts);
		check_enum_values(&state, stmt, &verdicts);
		grd_ddl_policy_collect(stmt, &state.facts, &verdicts);
		if (IsA(stmt, AlterTableStmt))
		{
			predict_rewrites(&state, (AlterTableStmt *) stmt, &verdicts);
			follow_alter_table(&state, (AlterTableStmt *) stmt, &verdicts);
		}
		else if (IsA(stmt, IndexStmt))
			follow_index(&state, (IndexStmt *) stmt);
		else if (IsA(stmt, DropStmt))
			follow_drop(&state, (DropStmt *) stmt);
		else if (IsA(stmt, ViewStmt))
			follow_view(&state, (ViewStmt *) stmt);
		else if (IsA(stmt, AlterEnumStmt))
			follow_enum(&state, (AlterEnumStmt *) stmt);
		follow_locks(&state, stmt);
		if (verdicts == NIL)
			continue;

		command = GetCommandTagName(CreateCommandTag(rs->stmt));
		line = line_of(sql, rs->stmt_location, &cursor);
		foreach(vc, verdicts)
		{
			ScriptRow  *row = palloc0(sizeof(ScriptRow));

			row->statement = n;
			row->line = line;
			row->command = command;
			row->verdict = (GrdDdlVerdict *) lfirst(vc);
			stmt_rows = lappend(stmt_rows, row);
		}
		follow_rename(&state, stmt, stmt_rows);
		follow_foreign_keys(&state, stmt, stmt_rows);
		rows = list_concat(rows, stmt_rows);
	}

	/* the rows, once the whole script has been read */
	foreach(lc, rows)
	{
		ScriptRow  *row = (ScriptRow *) lfirst(lc);
		GrdDdlVerdict *v = row->verdict;
		Datum		values[11];
		bool		nulls[11] = {0};

		if (row->withdrawn)
			continue;
		values[0] = Int32GetDatum(row->statement);
		values[1] = Int32GetDatum(row->line);
		values[2] = CStringGetTextDatum(row->command);
		values[3] = CStringGetTextDatum(grd_ddl_rule_name(v->rule));
		values[4] = CStringGetTextDatum(grd_ddl_level_name(v->level));
		values[5] = BoolGetDatum(!v->uncertain);
		values[6] = CStringGetTextDatum(v->message);
		values[7] = CStringGetTextDatum(v->detail);
		values[8] = CStringGetTextDatum(v->hint);
		if (OidIsValid(v->relid))
		{
			values[9] = CStringGetTextDatum(grd_ddl_relation_name(v->relid));
			values[10] = Int64GetDatum(v->bytes);
		}
		else
			nulls[9] = nulls[10] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
	AtEOXact_GUC(false, guc_nest);
	return (Datum) 0;
}
