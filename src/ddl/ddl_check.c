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
 * one is rule validate_separately), and the check constraints it adds and
 * validates that prove a column not null (a later SET NOT NULL does not
 * scan).  Outside BEGIN ... COMMIT each statement is taken to be its own
 * transaction, as psql runs a file.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

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
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
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

/* What the script did so far that the catalog does not show. */
typedef struct ScriptState
{
	bool		in_block;		/* inside BEGIN ... COMMIT */
	List	   *added;			/* ScriptCheck: added NOT VALID, pending */
	List	   *proven;			/* GrdProvenColumn */
} ScriptState;

/*
 * Whether the transformed expression of a column type change makes
 * PostgreSQL rewrite the table: the same walk as tablecmds.c's
 * ATColumnChangeRequiresRewrite().
 */
static bool
change_requires_rewrite(Node *expr, AttrNumber attnum)
{
	for (;;)
	{
		if (IsA(expr, Var) && ((Var *) expr)->varattno == attnum)
			return false;
		else if (IsA(expr, RelabelType))
			expr = (Node *) ((RelabelType *) expr)->arg;
		else if (IsA(expr, CoerceToDomain))
		{
			CoerceToDomain *d = (CoerceToDomain *) expr;

			if (grd_domain_has_constraints(d->resulttype))
				return true;
			expr = (Node *) d->arg;
		}
		else if (IsA(expr, FuncExpr))
		{
			FuncExpr   *f = (FuncExpr *) expr;

			if ((f->funcid == F_TIMESTAMPTZ_TIMESTAMP ||
				 f->funcid == F_TIMESTAMP_TIMESTAMPTZ) &&
				!TimestampTimestampTzRequiresRewrite())
				expr = linitial(f->args);
			else
				return true;
		}
		else
			return true;
	}
}

/*
 * Rule table_rewrite for ALTER COLUMN ... TYPE: predicted as PostgreSQL
 * decides it (ATPrepAlterColumnType), from the column's type and the new
 * one; uncertain with a USING expression or a type that does not exist
 * yet.  A change PostgreSQL would refuse gets no verdict.
 */
static void
predict_type_change(Oid relid, AlterTableCmd *cmd, List **verdicts)
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
	if (change_requires_rewrite(expr, attnum))
		grd_ddl_policy_collect_rewrite(relid, "a column type change", true,
									   verdicts);
}

/*
 * The rewrites of ALTER TABLE that PostgreSQL decides as it runs, which
 * the table_rewrite event reports to the policy: predicted here.
 */
static void
predict_rewrites(AlterTableStmt *stmt, List **verdicts)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	char		relkind;
	ListCell   *lc;

	if (!OidIsValid(relid))
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
				predict_type_change(relid, cmd, verdicts);
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

/* Record a column the script has proven not null. */
static void
add_proven(ScriptState *state, Oid relid, char *colname)
{
	GrdProvenColumn *col = palloc(sizeof(GrdProvenColumn));

	col->relid = relid;
	col->colname = colname;
	state->proven = lappend(state->proven, col);
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
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AddConstraint && IsA(cmd->def, Constraint) &&
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

/* A transaction block of the script begins or ends. */
static void
follow_transaction(ScriptState *state, TransactionStmt *stmt)
{
	ListCell   *lc;

	switch (stmt->kind)
	{
		case TRANS_STMT_BEGIN:
		case TRANS_STMT_START:
			state->in_block = true;
			break;
		case TRANS_STMT_COMMIT:
		case TRANS_STMT_ROLLBACK:
		case TRANS_STMT_PREPARE:
			state->in_block = false;
			foreach(lc, state->added)
				((ScriptCheck *) lfirst(lc))->in_block = false;
			break;
		default:
			break;
	}
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
	ScriptState state = {0};
	LineCursor	cursor = {NULL, 1};
	ListCell   *lc;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	raw = pg_parse_query(sql);

	foreach(lc, raw)
	{
		RawStmt    *rs = lfirst_node(RawStmt, lc);
		Node	   *stmt = policy_statement(rs->stmt);
		List	   *verdicts = NIL;
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
		grd_ddl_policy_collect(stmt, state.proven, &verdicts);
		if (IsA(stmt, AlterTableStmt))
		{
			predict_rewrites((AlterTableStmt *) stmt, &verdicts);
			follow_alter_table(&state, (AlterTableStmt *) stmt, &verdicts);
		}
		if (verdicts == NIL)
			continue;

		command = GetCommandTagName(CreateCommandTag(rs->stmt));
		line = line_of(sql, rs->stmt_location, &cursor);
		foreach(vc, verdicts)
		{
			GrdDdlVerdict *v = (GrdDdlVerdict *) lfirst(vc);
			Datum		values[11];
			bool		nulls[11] = {0};

			values[0] = Int32GetDatum(n);
			values[1] = Int32GetDatum(line);
			values[2] = CStringGetTextDatum(command);
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
	}
	return (Datum) 0;
}
