/*-------------------------------------------------------------------------
 *
 * ddl_policy.c
 *		The schema-change policy: the rules a careful operator applies to
 *		every migration, enforced.
 *
 * Which statements are DDL, and which relation a statement names, is
 * decided by ddl_statement.c.
 *
 * The policy (guardrails.ddl_policy = off | warn | enforce) has ten rules,
 * each about a statement that would hold a lock that blocks writes (or
 * reads) for as long as it scans or copies a whole table, or that would
 * break the clients that run while it commits:
 *
 *	new_column			ADD COLUMN that is NOT NULL without a default, or
 *						whose default must be computed for every row
 *	table_rewrite		anything that rewrites or copies a whole table:
 *						ALTER TABLE when PostgreSQL decides to rewrite
 *						(table_rewrite event), SET TABLESPACE (which that
 *						event does not report), VACUUM FULL, CLUSTER,
 *						REFRESH MATERIALIZED VIEW without CONCURRENTLY
 *	index_concurrently	CREATE INDEX, REINDEX or DROP INDEX without
 *						CONCURRENTLY, and ADD PRIMARY KEY / UNIQUE (in
 *						ADD CONSTRAINT or inline in ADD COLUMN), which
 *						build an index the same way
 *	constraint_not_valid ADD FOREIGN KEY or CHECK without NOT VALID, and
 *						the same constraints declared inline in ADD COLUMN
 *						(which cannot be NOT VALID); ALTER DOMAIN ... ADD
 *						CHECK without NOT VALID, which checks every stored
 *						value of the domain
 *	new_tables			CREATE TABLE (AS), SELECT INTO, when
 *						guardrails.allow_new_tables is off
 *	set_not_null		SET NOT NULL (and a primary key's implied one)
 *						that no valid check constraint proves: a full scan
 *						under ACCESS EXCLUSIVE
 *	validate_separately	VALIDATE CONSTRAINT in the transaction that added
 *						the constraint NOT VALID, whose lock it still holds
 *	detach_concurrently	DETACH PARTITION without CONCURRENTLY
 *	rename				RENAME of a table or a column, SET SCHEMA of a
 *						table: every client that runs breaks
 *	attach_partition	ATTACH PARTITION of a table with data that no valid
 *						check constraint proves within the bound: a full
 *						scan under ACCESS EXCLUSIVE
 *
 * Each rule follows guardrails.ddl_policy unless guardrails.ddl_policy_rules
 * gives it its own level ('rename: warn, new_tables: enforce').
 *
 * All but new_tables apply to existing tables with data: a temporary table, a
 * table created in the current transaction and a table smaller than
 * guardrails.ddl_policy_min_size (by default 1 MB, which is scanned or
 * copied in milliseconds) are exempt, since nobody else can see them or
 * there is next to nothing to scan.
 *
 * The policy applies only to statements the user may run: on a relation
 * the user does not own (nor, from 17, may maintain, for the statements
 * that privilege allows), nothing is reported, and PostgreSQL raises its
 * own permission error.  Reporting first would show the table's size to a
 * role that may not touch it, and, under enforce, replace the permission
 * error's SQLSTATE by ours.
 *
 * All but table_rewrite are decided from the statement before it runs, so
 * before it takes any lock; ALTER TABLE's rewrites are decided by
 * PostgreSQL only once it has analysed the commands, so we are told by an
 * event trigger, before a single row is copied.  Emptiness is read from
 * the size of the table's main fork, under an ACCESS SHARE lock taken only
 * if it is free at once and given back at once (see relation_pages()); we
 * never wait for a lock here.
 *
 * In enforce a violation is an ERROR, in warn a WARNING with the same text;
 * both carry SQLSTATE 42G01.  guardrails.check_migration() runs the same
 * checks on a script without running it, and collects the verdicts
 * (grd_ddl_policy_collect()) instead of raising them.  Extension scripts and binary upgrades are
 * exempt: they create what they must.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "commands/tablespace.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_utilcmd.h"
#include "partitioning/partbounds.h"
#include "storage/smgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_audit.h"
#include "ddl_policy.h"
#include "ddl_statement.h"
#include "module.h"

/* guardrails.ddl_policy: what a schema-change rule violation does */
static const struct config_enum_entry ddl_policy_options[] =
{
	{"off", GRD_DDL_POLICY_OFF, false},
	{"warn", GRD_DDL_POLICY_WARN, false},
	{"enforce", GRD_DDL_POLICY_ENFORCE, false},
	{NULL, 0, false}
};

/* The rules' names, in the order of GrdDdlRule (ddl_policy.h). */
static const char *const rule_names[GRD_NUM_RULES] = {
	"new_column",
	"table_rewrite",
	"index_concurrently",
	"constraint_not_valid",
	"new_tables",
	"set_not_null",
	"validate_separately",
	"detach_concurrently",
	"rename",
	"attach_partition"
};

/*
 * The parsed guardrails.ddl_policy_rules (GUC "extra"): each rule's own
 * level, or -1 when it follows guardrails.ddl_policy.
 */
typedef struct RuleLevels
{
	int8		level[GRD_NUM_RULES];
} RuleLevels;

/* settings */
static int	grd_ddl_policy = GRD_DDL_POLICY_WARN;
static char *grd_ddl_policy_rules = NULL;
static bool grd_allow_new_tables = true;
static int	grd_ddl_policy_min_size = 1024;
static const RuleLevels *rule_levels = NULL;

static bool check_policy_rules(char **newval, void **extra, GucSource source);
static void assign_policy_rules(const char *newval, void *extra);

/* The settings of the schema-change policy. */
static const GrdSetting ddl_policy_settings[] = {
	GRD_SETTING_ENUM("guardrails.ddl_policy", &grd_ddl_policy, GRD_DDL_POLICY_WARN, ddl_policy_options,
		PGC_SUSET, 0,
		"What a schema change that breaks a rule does: off, warn or enforce.",
		NULL),
	GRD_SETTING_STRING("guardrails.ddl_policy_rules", &grd_ddl_policy_rules, "", PGC_SUSET, 0,
		check_policy_rules, assign_policy_rules,
		"Levels of single schema-change rules, overriding guardrails.ddl_policy.",
		"For example: rename: warn, new_tables: enforce"),
	GRD_SETTING_BOOL("guardrails.allow_new_tables", &grd_allow_new_tables, true, PGC_SUSET, 0,
		"Whether new tables may be created.",
		"Temporary tables and new partitions of existing tables are always allowed."),
	GRD_SETTING_INT("guardrails.ddl_policy_min_size", &grd_ddl_policy_min_size, 1024, 0, INT_MAX,
		PGC_SUSET, GUC_UNIT_KB,
		"Tables smaller than this are exempt from the schema-change policy.",
		"Scanning or copying a small table takes milliseconds; 0 applies the rules to every table with data."),
	GRD_SETTINGS_END
};

PG_FUNCTION_INFO_V1(grd_ddl_policy_table_rewrite);

/*
 * The relation whose rewrite rule new_column has already reported for the
 * statement in progress, so that the table_rewrite event does not report
 * it a second time.
 */
static Oid	rewrite_reported = InvalidOid;

/*
 * While grd_ddl_policy_collect() runs: where the verdicts go, instead of
 * being raised.
 */
static List **collected = NULL;

/*
 * While grd_ddl_policy_collect() runs: the columns that the script being
 * checked proves not null before the statement (GrdProvenColumn).
 */
static List *script_proven = NIL;

/* The level of one rule: its own, or guardrails.ddl_policy's. */
static int
rule_level(GrdDdlRule rule)
{
	if (rule_levels != NULL && rule_levels->level[rule] >= 0)
		return rule_levels->level[rule];
	return grd_ddl_policy;
}

/* The name of a rule (for check_migration() and the messages). */
const char *
grd_ddl_rule_name(GrdDdlRule rule)
{
	return rule_names[rule];
}

/* The name of a level, as guardrails.ddl_policy spells it. */
const char *
grd_ddl_level_name(int level)
{
	return ddl_policy_options[level].name;
}

/*
 * The data pages of one relation, or 0 when it is exempt from the rules:
 * temporary, created in this transaction, or not there (*exempt is then
 * set).  Read from the size of its main fork, under an ACCESS SHARE lock
 * had at once and given back (grd_ddl_relation_open_now(): a concurrent
 * TRUNCATE, VACUUM FULL or DROP would otherwise leave us reading files
 * that are gone).  When another session holds or awaits ACCESS EXCLUSIVE
 * on it, from pg_class.relpages instead, the size as of its last VACUUM or
 * ANALYZE: the statement would wait behind that session anyway.  That
 * figure may be far below the truth (never vacuumed, or truncated and
 * refilled by the session holding the lock), and anyone who may queue a
 * lock on the table could otherwise make a filled table pass as small:
 * it counts as at least guardrails.ddl_policy_min_size, so that the rules
 * apply.
 */
static BlockNumber
relation_pages(Oid relid, bool *exempt)
{
	Relation	rel = grd_ddl_relation_open_now(relid);
	BlockNumber pages = 0;
	HeapTuple	tuple;
	Form_pg_class form;

	*exempt = true;
	if (rel != NULL)
	{
		if (rel->rd_rel->relpersistence != RELPERSISTENCE_TEMP &&
			rel->rd_createSubid == InvalidSubTransactionId)
		{
			*exempt = false;
			/* an unlogged table has no main fork on a standby */
			if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind) &&
				smgrexists(RelationGetSmgr(rel), MAIN_FORKNUM))
				pages = smgrnblocks(RelationGetSmgr(rel), MAIN_FORKNUM);
		}
		grd_ddl_relation_close_now(rel);
		return pages;
	}

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		return 0;
	form = (Form_pg_class) GETSTRUCT(tuple);
	if (form->relpersistence != RELPERSISTENCE_TEMP)
	{
		*exempt = false;
		if (RELKIND_HAS_STORAGE(form->relkind))
		{
			double		min_pages = ceil((double) grd_ddl_policy_min_size *
										 1024.0 / BLCKSZ);

			pages = (BlockNumber) Max((double) form->relpages,
									  Max(min_pages, 1.0));
		}
	}
	ReleaseSysCache(tuple);
	return pages;
}

/*
 * Whether the current user may run a statement on a relation: owns it (a
 * superuser owns everything), or, for the statements that PostgreSQL 17's
 * MAINTAIN privilege allows (maintain true), holds that privilege.
 */
static bool
may_change(Oid relid, bool maintain)
{
	Oid			userid = GetUserId();

	return grd_relation_ownercheck(relid, userid) ||
		(maintain && grd_relation_may_maintain(relid, userid));
}

/*
 * The data pages a table holds, counting every partition of a partitioned
 * table; 0 for a table the rules exempt (see the file header: the user may
 * not run the statement on it, or it is temporary, new or smaller than
 * guardrails.ddl_policy_min_size), or one that does not exist.
 */
static BlockNumber
table_pages(Oid relid, bool maintain)
{
	BlockNumber pages;
	bool		exempt;
	List	   *rels;
	ListCell   *lc;

	if (!OidIsValid(relid) || !may_change(relid, maintain))
		return 0;
	pages = relation_pages(relid, &exempt);
	if (!exempt && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
	{
		rels = find_all_inheritors(relid, NoLock, NULL);
		foreach(lc, rels)
		{
			BlockNumber partpages = relation_pages(lfirst_oid(lc), &exempt);

			if (!exempt)
				pages += partpages;
		}
	}
	if ((double) pages * BLCKSZ < (double) grd_ddl_policy_min_size * 1024.0)
		return 0;
	return pages;
}

/* A size in the units pg_size_pretty() would use. */
static char *
pages_pretty(BlockNumber pages)
{
	Datum		bytes = Int64GetDatum((int64) pages * BLCKSZ);

	return text_to_cstring(DatumGetTextPP(DirectFunctionCall1(pg_size_pretty,
															  bytes)));
}

/*
 * Report a violation of a rule about table relid (InvalidOid: none), which
 * holds pages pages: an ERROR in enforce, a WARNING (noted in the DDL log's
 * entry) in warn, nothing when the rule is off.  Under
 * grd_ddl_policy_collect() the verdict is collected instead, whatever its
 * level.  The texts are formatted by the caller, so that both ways carry
 * the same ones.
 */
static void
report(GrdDdlRule rule, Oid relid, BlockNumber pages,
	   const char *message, const char *detail, const char *hint)
{
	int			level = rule_level(rule);

	if (collected != NULL)
	{
		GrdDdlVerdict *verdict = palloc0(sizeof(GrdDdlVerdict));

		verdict->rule = rule;
		verdict->level = level;
		verdict->message = pstrdup(message);
		verdict->detail = pstrdup(detail);
		verdict->hint = pstrdup(hint);
		verdict->relid = relid;
		verdict->bytes = OidIsValid(relid) ? (int64) pages * BLCKSZ : -1;
		*collected = lappend(*collected, verdict);
		return;
	}
	if (level == GRD_DDL_POLICY_OFF)
		return;
	if (level == GRD_DDL_POLICY_WARN)
		grd_ddl_audit_note_warning(rule_names[rule]);
	ereport(level == GRD_DDL_POLICY_ENFORCE ? ERROR : WARNING,
			(errcode(GRD_ERRCODE_DDL_POLICY),
			 errmsg("%s", message),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

/*
 * The message of a violation: what the statement does, then the rule it
 * violates, named.
 */
static char *
violates(GrdDdlRule rule, const char *what)
{
	return psprintf("%s violates schema-change rule \"%s\"", what,
					rule_names[rule]);
}

/* A column default that must be computed for every existing row. */
static bool
default_is_volatile(Node *raw_default)
{
	ParseState *pstate = make_parsestate(NULL);
	Node	   *expr;

	expr = transformExpr(pstate, copyObject(raw_default),
						 EXPR_KIND_COLUMN_DEFAULT);
	free_parsestate(pstate);
	return contain_volatile_functions(expr);
}

/* serial, bigserial and the like: a default of nextval(). */
static bool
is_serial(TypeName *typeName)
{
	char	   *name;

	if (typeName == NULL || list_length(typeName->names) != 1 ||
		typeName->pct_type)
		return false;
	name = strVal(linitial(typeName->names));
	return strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0 ||
		strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0 ||
		strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0;
}

/*
 * Rule index_concurrently, for a statement that builds indexes; hint NULL
 * for CREATE INDEX.
 */
static void
report_index_build(Oid relid, BlockNumber pages, const char *hint)
{
	if (hint == NULL && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		hint = "Create the index on each partition with CREATE INDEX CONCURRENTLY, then on the parent with CREATE INDEX ON ONLY, and attach each partition's index with ALTER INDEX ... ATTACH PARTITION.";
	else if (hint == NULL)
		hint = "Build it with CREATE INDEX CONCURRENTLY.";

	report(GRD_RULE_INDEX_CONCURRENTLY, relid, pages,
		   violates(GRD_RULE_INDEX_CONCURRENTLY,
					psprintf("building an index on table \"%s\" without CONCURRENTLY",
							 get_rel_name(relid))),
		   psprintf("Table \"%s\" holds %s, and writes to it would be blocked until the build ends.",
					grd_ddl_relation_name(relid), pages_pretty(pages)),
		   hint);
}

/*
 * A constraint declared inline in ADD COLUMN (CHECK, REFERENCES, UNIQUE,
 * PRIMARY KEY): PostgreSQL validates it, or builds its index, under the
 * ACCESS EXCLUSIVE lock of the ALTER TABLE; inline, it cannot be NOT VALID.
 */
static void
check_inline_constraint(Oid relid, BlockNumber pages, ColumnDef *col,
						Constraint *con)
{
	const char *kind;

	switch (con->contype)
	{
		case CONSTR_CHECK:
			kind = "CHECK";
			break;
		case CONSTR_FOREIGN:
			kind = "REFERENCES";
			break;
		case CONSTR_UNIQUE:
		case CONSTR_PRIMARY:
			report_index_build(relid, pages,
							   "Add the column without the constraint, build a unique index with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ADD CONSTRAINT ... USING INDEX.");
			return;
		default:
			return;
	}
	report(GRD_RULE_CONSTRAINT_NOT_VALID, relid, pages,
		   violates(GRD_RULE_CONSTRAINT_NOT_VALID,
					psprintf("adding column \"%s\" with an inline %s constraint",
							 col->colname, kind)),
		   psprintf("Validating it would scan all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
					pages_pretty(pages), grd_ddl_relation_name(relid)),
		   "Add the column without the constraint, then add the constraint with NOT VALID and validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes.");
}

/* Rule new_column, for ALTER TABLE ... ADD COLUMN. */
static void
check_new_column(Oid relid, BlockNumber pages, ColumnDef *col)
{
	bool		not_null = col->is_not_null;
	bool		has_default = false;
	const char *per_row = NULL; /* why its value is computed per row */
	ListCell   *lc;

	if (is_serial(col->typeName))
		per_row = psprintf("of type %s",
						   strVal(linitial(col->typeName->names)));

	foreach(lc, col->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		switch (con->contype)
		{
			case CONSTR_NOTNULL:
			case CONSTR_PRIMARY:
				not_null = true;
				break;
			case CONSTR_DEFAULT:
				has_default = true;
				if (con->raw_expr && default_is_volatile(con->raw_expr))
					per_row = "with a volatile default";
				break;
			case CONSTR_IDENTITY:
				per_row = "as an identity column";
				break;
			case CONSTR_GENERATED:
				per_row = "as a stored generated column";
				break;
			default:
				break;
		}
	}

	if (per_row != NULL)
	{
		rewrite_reported = relid;
		report(GRD_RULE_NEW_COLUMN, relid, pages,
			   violates(GRD_RULE_NEW_COLUMN,
						psprintf("adding column \"%s\" %s",
								 col->colname, per_row)),
			   psprintf("Its value would be computed for every row, rewriting all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
						pages_pretty(pages), grd_ddl_relation_name(relid)),
			   "Add the column without a default or with a constant one, then fill it in batches.");
	}
	else if (not_null && !has_default)
		report(GRD_RULE_NEW_COLUMN, relid, pages,
			   violates(GRD_RULE_NEW_COLUMN,
						psprintf("adding column \"%s\" as NOT NULL without a default",
								 col->colname)),
			   psprintf("Table \"%s\" holds %s of existing rows, which would have no value for it.",
						grd_ddl_relation_name(relid), pages_pretty(pages)),
			   "Add the column as nullable, backfill it in batches, then add a NOT VALID check constraint and validate it.");

	foreach(lc, col->constraints)
		check_inline_constraint(relid, pages, col,
								lfirst_node(Constraint, lc));
}

/* check_functions_in_node() callback: a function that is not built in. */
static bool
is_user_function(Oid funcid, void *context)
{
	return funcid >= FirstNormalObjectId;
}

/* Walker of grd_expr_calls_user_function(). */
static bool
user_function_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, is_user_function, context))
		return true;
	return expression_tree_walker(node, user_function_walker, context);
}

/*
 * Whether an analysed expression calls a function (or an operator's, a
 * cast's or a type's I/O function) that is not built in.  Constant folding
 * (eval_const_expressions, expression_planner) runs the immutable
 * functions whose arguments are constants, and inlines SQL functions into
 * such calls: on an expression that calls anyone's own function, it would
 * run that role's code as the current user, in check_migration() (which
 * promises to execute nothing, and which a superuser may call on a script
 * naming any role's objects) and before the statement itself runs.  Such
 * an expression is not folded.
 */
bool
grd_expr_calls_user_function(Node *expr)
{
	return user_function_walker(expr, NULL);
}

/*
 * The valid check constraints of rel, as one implicit-AND list of quals,
 * simplified and canonicalized as PostgreSQL does before it uses them as
 * proofs (ConstraintImpliedByRelConstraint in tablecmds.c), except that no
 * one's code runs (see grd_expr_calls_user_function).
 */
static List *
valid_checks(Relation rel)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	List	   *checks = NIL;

	if (constr == NULL)
		return NIL;
	for (int i = 0; i < constr->num_check; i++)
	{
		Node	   *expr;

		if (!constr->check[i].ccvalid || constr->check[i].ccbin == NULL)
			continue;
		expr = stringToNode(constr->check[i].ccbin);
		if (!grd_expr_calls_user_function(expr))
			expr = eval_const_expressions(NULL, expr);
		expr = (Node *) canonicalize_qual((Expr *) expr, true);
		checks = list_concat(checks, make_ands_implicit((Expr *) expr));
	}
	return checks;
}

/*
 * Whether column attnum of rel is known to hold no NULL without a scan:
 * it is NOT NULL already (SET NOT NULL does nothing), or a valid check
 * constraint implies "col IS NOT NULL", the proof PostgreSQL itself looks
 * for before it scans (NotNullImpliedByRelConstraints in tablecmds.c).
 */
static bool
not_null_proven(Relation rel, AttrNumber attnum)
{
	Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(rel), attnum - 1);
	NullTest   *test;
	List	   *checks;

	if (attr->attnotnull)
		return true;
	checks = valid_checks(rel);
	if (checks == NIL)
		return false;
	test = makeNode(NullTest);
	test->arg = (Expr *) makeVar(1, attnum, attr->atttypid, attr->atttypmod,
								 attr->attcollation, 0);
	test->nulltesttype = IS_NOT_NULL;
	test->argisrow = false;
	test->location = -1;
	return predicate_implied_by(list_make1(test), checks, false);
}

/*
 * Rule set_not_null: column colname of table relid is about to become NOT
 * NULL (SET NOT NULL, ADD CONSTRAINT ... NOT NULL, or a primary key over
 * it).  PostgreSQL then scans the whole table under ACCESS EXCLUSIVE,
 * unless the column is proven not null already.
 */
static void
check_set_not_null(Oid relid, BlockNumber pages, const char *colname,
				   const char *how)
{
	Relation	rel;
	AttrNumber	attnum;
	bool		proven;
	ListCell   *lc;

	attnum = get_attnum(relid, colname);
	if (attnum <= 0)
		return;					/* PostgreSQL's error, or a system column */
	/*
	 * The constraints are read from the relcache entry, under a lock had at
	 * once (grd_ddl_relation_open_now()).  When another session holds or
	 * awaits ACCESS EXCLUSIVE on the table, nothing proves the column: a
	 * lock anyone may queue must not open a way around the rule.
	 */
	rel = grd_ddl_relation_open_now(relid);
	if (rel != NULL)
	{
		proven = not_null_proven(rel, attnum);
		grd_ddl_relation_close_now(rel);
	}
	else
		proven = false;
	foreach(lc, script_proven)
	{
		GrdProvenColumn *col = (GrdProvenColumn *) lfirst(lc);

		if (col->relid == relid && strcmp(col->colname, colname) == 0)
			proven = true;
	}
	if (proven)
		return;
	report(GRD_RULE_SET_NOT_NULL, relid, pages,
		   violates(GRD_RULE_SET_NOT_NULL,
					psprintf("making column \"%s\" of table \"%s\" NOT NULL%s",
							 colname, get_rel_name(relid), how)),
		   psprintf("PostgreSQL would scan all %s of table \"%s\" for NULLs under an ACCESS EXCLUSIVE lock, since no valid check constraint proves the column not null.",
					pages_pretty(pages), grd_ddl_relation_name(relid)),
		   psprintf("Add CHECK (%s IS NOT NULL) NOT VALID, validate it with ALTER TABLE ... VALIDATE CONSTRAINT in another transaction, then set NOT NULL, which no longer scans (from PostgreSQL 18, ADD CONSTRAINT ... NOT NULL %s NOT VALID does the same).",
					quote_identifier(colname), quote_identifier(colname)));
}

/*
 * ADD CONSTRAINT ... PRIMARY KEY USING INDEX: the index is built already,
 * but its columns become NOT NULL (rule set_not_null).
 */
static void
check_primary_key_columns(Oid relid, BlockNumber pages, Constraint *con)
{
	Oid			indexid;
	HeapTuple	tuple;
	Form_pg_index index;

	indexid = get_relname_relid(con->indexname, get_rel_namespace(relid));
	if (!OidIsValid(indexid))
		return;
	tuple = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexid));
	if (!HeapTupleIsValid(tuple))
		return;
	index = (Form_pg_index) GETSTRUCT(tuple);
	for (int i = 0; i < index->indnkeyatts; i++)
	{
		char	   *colname;

		if (index->indkey.values[i] <= 0)
			continue;
		colname = get_attname(relid, index->indkey.values[i], true);
		if (colname != NULL)
			check_set_not_null(relid, pages, colname, " for a primary key");
	}
	ReleaseSysCache(tuple);
}

static void report_validate(Oid relid, BlockNumber pages,
							const char *conname);

/*
 * Rule validate_separately: VALIDATE CONSTRAINT of a constraint this
 * transaction added.  Its ADD took a lock that blocks writes (ACCESS
 * EXCLUSIVE for a check, SHARE ROW EXCLUSIVE for a foreign key) and holds
 * it until the commit, so the validating scan, meant to run while writes
 * go on, runs with them blocked.
 */
static void
check_validate(Oid relid, BlockNumber pages, const char *conname)
{
	Oid			conid = get_relation_constraint_oid(relid, conname, true);
	HeapTuple	tuple;
	bool		added_now;

	if (!OidIsValid(conid))
		return;
	tuple = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conid));
	if (!HeapTupleIsValid(tuple))
		return;
	added_now = !((Form_pg_constraint) GETSTRUCT(tuple))->convalidated &&
		TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tuple->t_data));
	ReleaseSysCache(tuple);
	if (added_now)
		report_validate(relid, pages, conname);
}

/*
 * The verdict of rule validate_separately on constraint conname of table
 * relid.
 */
static void
report_validate(Oid relid, BlockNumber pages, const char *conname)
{
	report(GRD_RULE_VALIDATE_SEPARATELY, relid, pages,
		   violates(GRD_RULE_VALIDATE_SEPARATELY,
					psprintf("validating constraint \"%s\" in the transaction that added it",
							 conname)),
		   psprintf("The transaction still holds the lock its ADD CONSTRAINT took on table \"%s\", so the scan of all %s blocks writes to it.",
					grd_ddl_relation_name(relid), pages_pretty(pages)),
		   "Commit after ADD CONSTRAINT ... NOT VALID, then run VALIDATE CONSTRAINT in a transaction of its own.");
}

/*
 * SET TABLESPACE of a relation that has storage: a copy of all of it
 * (rule table_rewrite), which PostgreSQL's table_rewrite event does not
 * report.  Nothing is copied when the tablespace does not change.
 */
static void
check_set_tablespace(Oid relid, const char *tablespace)
{
	Oid			newts = get_tablespace_oid(tablespace, true);
	Oid			oldts = get_rel_tablespace(relid);
	char		relkind = get_rel_relkind(relid);
	BlockNumber pages;

	if (!OidIsValid(newts) || newts == oldts ||
		(newts == MyDatabaseTableSpace && oldts == InvalidOid) ||
		!RELKIND_HAS_STORAGE(relkind))
		return;
	pages = table_pages(relid, false);
	if (pages == 0)
		return;
	report(GRD_RULE_TABLE_REWRITE, relid, pages,
		   violates(GRD_RULE_TABLE_REWRITE,
					psprintf("moving %s \"%s\" to tablespace \"%s\"",
							 relkind == RELKIND_INDEX ? "index" :
							 relkind == RELKIND_MATVIEW ? "materialized view" : "table",
							 get_rel_name(relid), tablespace)),
		   psprintf("SET TABLESPACE copies all %s of \"%s\" under an ACCESS EXCLUSIVE lock, which blocks every query on %s.",
					pages_pretty(pages), grd_ddl_relation_name(relid),
					relkind == RELKIND_INDEX ? "its table" : "it"),
		   relkind == RELKIND_INDEX ?
		   "Build a new index with CREATE INDEX CONCURRENTLY ... TABLESPACE, then drop the old one with DROP INDEX CONCURRENTLY." :
		   "Move it with a tool that rebuilds tables online, or in a maintenance window with the rule set to off.");
}

/*
 * DETACH PARTITION without CONCURRENTLY (rule detach_concurrently): an
 * ACCESS EXCLUSIVE lock on the partitioned table, which stops every query
 * on it and on all its partitions.  A table with a default partition
 * cannot detach concurrently: nothing safer exists, and nothing is said.
 */
static void
check_detach(Oid relid, BlockNumber pages, PartitionCmd *cmd)
{
	if (cmd->concurrent || OidIsValid(get_default_partition_oid(relid)))
		return;
	report(GRD_RULE_DETACH_CONCURRENTLY, relid, pages,
		   violates(GRD_RULE_DETACH_CONCURRENTLY,
					psprintf("detaching partition \"%s\" from table \"%s\" without CONCURRENTLY",
							 cmd->name->relname, get_rel_name(relid))),
		   psprintf("It takes an ACCESS EXCLUSIVE lock on table \"%s\" (%s with its partitions), which blocks every query on it until the transaction ends.",
					grd_ddl_relation_name(relid), pages_pretty(pages)),
		   "Detach it with ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, outside a transaction block.");
}

/*
 * Whether a partition bound, as written, names only constants
 * (MINVALUE and MAXVALUE are column references): transforming anything
 * else would evaluate it, and with it someone's function, before the
 * statement runs, or in check_migration(), which executes nothing.
 */
static bool
bound_is_constant(PartitionBoundSpec *bound)
{
	List	   *datums = list_concat(list_concat(list_copy(bound->listdatums),
												 bound->lowerdatums),
									 bound->upperdatums);
	ListCell   *lc;

	foreach(lc, datums)
	{
		Node	   *datum = lfirst(lc);

		if (!IsA(datum, A_Const) && !IsA(datum, ColumnRef))
			return false;
	}
	return true;
}

/*
 * Whether the valid check constraints and NOT NULL columns of table
 * childid prove that its rows lie within the bound it is attached with to
 * partitioned table parentid, so that PostgreSQL skips the scan
 * (QueuePartitionConstraintValidation in tablecmds.c builds the same
 * constraint and asks the same question).  False when it cannot be known
 * without running anyone's code: a bound that is not a constant, a
 * partition key of a domain type (whose checks would run on the bound).
 */
static bool
attach_bound_proven(Oid parentid, Oid childid, PartitionBoundSpec *bound)
{
	Relation	parent;
	Relation	child;
	PartitionKey key;
	ParseState *pstate;
	List	   *constraint;
	List	   *proofs;
	bool		proven = false;

	if (!bound_is_constant(bound))
		return false;

	/*
	 * Read both under ACCESS SHARE had at once, as every relation the
	 * policy reads (see relation_pages): a relation another session holds
	 * is taken as unproven.
	 */
	parent = grd_ddl_relation_open_now(parentid);
	if (parent == NULL)
		return false;
	child = grd_ddl_relation_open_now(childid);
	if (child == NULL)
	{
		grd_ddl_relation_close_now(parent);
		return false;
	}
	key = RelationGetPartitionKey(parent);
	for (int i = 0; key != NULL && i < key->partnatts; i++)
	{
		if (get_typtype(key->parttypid[i]) == TYPTYPE_DOMAIN)
			key = NULL;
	}
	if (key != NULL)
	{
		pstate = make_parsestate(NULL);
		bound = transformPartitionBound(pstate, parent, copyObject(bound));
		free_parsestate(pstate);
		constraint = list_concat(get_qual_from_partbound(parent, bound),
								 RelationGetPartitionQual(parent));
		if (constraint == NIL)
			proven = true;
		else
		{
			if (!grd_expr_calls_user_function((Node *) constraint))
				constraint = (List *) eval_const_expressions(NULL,
															 (Node *) constraint);
			constraint = list_make1(make_ands_explicit(constraint));
			constraint = map_partition_varattnos(constraint, 1, child, parent);

			proofs = valid_checks(child);
			for (int i = 1; i <= RelationGetDescr(child)->natts; i++)
			{
				Form_pg_attribute attr = TupleDescAttr(RelationGetDescr(child),
													   i - 1);
				NullTest   *test;

				if (!attr->attnotnull || attr->attisdropped)
					continue;
				test = makeNode(NullTest);
				test->arg = (Expr *) makeVar(1, i, attr->atttypid,
											 attr->atttypmod,
											 attr->attcollation, 0);
				test->nulltesttype = IS_NOT_NULL;
				test->argisrow = false;
				test->location = -1;
				proofs = lappend(proofs, test);
			}
			proven = proofs != NIL &&
				predicate_implied_by(constraint, proofs, true);
		}
	}
	grd_ddl_relation_close_now(child);
	grd_ddl_relation_close_now(parent);
	return proven;
}

/*
 * ATTACH PARTITION (rule attach_partition): PostgreSQL scans the table
 * being attached (each of its partitions, for a partitioned one) for rows
 * outside the bound, under ACCESS EXCLUSIVE, unless its valid check
 * constraints already prove the bound.  Called whatever the size of the
 * partitioned table, which may have no data yet.
 */
static void
check_attach(Oid parentid, PartitionCmd *cmd)
{
	Oid			childid = grd_ddl_relid(cmd->name);
	BlockNumber pages;

	if (cmd->bound == NULL ||
		get_rel_relkind(parentid) != RELKIND_PARTITIONED_TABLE ||
		!may_change(parentid, false))
		return;
	pages = table_pages(childid, false);
	if (pages == 0 || attach_bound_proven(parentid, childid, cmd->bound))
		return;
	report(GRD_RULE_ATTACH_PARTITION, childid, pages,
		   violates(GRD_RULE_ATTACH_PARTITION,
					psprintf("attaching table \"%s\" as a partition of table \"%s\"",
							 get_rel_name(childid), get_rel_name(parentid))),
		   psprintf("PostgreSQL would scan all %s of table \"%s\" for rows outside the partition bound under an ACCESS EXCLUSIVE lock, since no valid check constraint proves the bound.",
					pages_pretty(pages), grd_ddl_relation_name(childid)),
		   "Add a CHECK constraint that matches the partition bound with NOT VALID, validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes, then attach the table, which no longer scans it; drop the constraint afterwards.");
}

/*
 * ALTER DOMAIN ... ADD CONSTRAINT ... CHECK without NOT VALID (rule
 * constraint_not_valid): PostgreSQL checks every stored value of the
 * domain, in every table with a column of it (or of a domain over it),
 * each under a lock that blocks writes, as ALTER TABLE's CHECK does.  For
 * the owner of the domain, who may run it.
 */
static void
check_alter_domain(AlterDomainStmt *stmt)
{
	Constraint *con = (Constraint *) stmt->def;
	Oid			typid;
	BlockNumber pages = 0;
	List	   *relids = NIL;
	ListCell   *lc;

	if (stmt->subtype != 'C' || con == NULL || !IsA(con, Constraint) ||
		con->contype != CONSTR_CHECK)
		return;
	typid = grd_ddl_checked_domain(stmt);
	if (!OidIsValid(typid))
		return;
	grd_ddl_domain_tables(typid, &relids);
	foreach(lc, relids)
	{
		bool		exempt;
		BlockNumber relpages = relation_pages(lfirst_oid(lc), &exempt);

		if (!exempt)
			pages += relpages;
	}
	if (pages == 0 ||
		(double) pages * BLCKSZ < (double) grd_ddl_policy_min_size * 1024.0)
		return;
	report(GRD_RULE_CONSTRAINT_NOT_VALID, InvalidOid, pages,
		   violates(GRD_RULE_CONSTRAINT_NOT_VALID,
					psprintf("adding a CHECK constraint to domain \"%s\" without NOT VALID",
							 format_type_be(typid))),
		   psprintf("Validating it would scan the tables that store values of domain \"%s\" (%s in all) while writes to them are blocked.",
					format_type_be(typid), pages_pretty(pages)),
		   "Add the constraint with NOT VALID, then validate it with ALTER DOMAIN ... VALIDATE CONSTRAINT in another transaction.");
}

/*
 * Rule rename: a table or one of its columns gets a new name (or schema).
 * Every client that runs names the old one, and fails from the commit on:
 * the change is not backward compatible.
 */
static void
report_rename(Oid relid, BlockNumber pages, const char *what,
			  const char *hint)
{
	report(GRD_RULE_RENAME, relid, pages,
		   violates(GRD_RULE_RENAME, what),
		   psprintf("Every running client that uses the old name fails once the statement commits; table \"%s\" holds %s.",
					grd_ddl_relation_name(relid), pages_pretty(pages)),
		   hint);
}

static const char *rename_column_hint =
"Make the change in backward-compatible steps: add the new column, write both, move the readers to it, then drop the old one.";
static const char *rename_table_hint =
"Make the change in backward-compatible steps: for example, rename the table and create a view with the old name in one transaction, and drop the view once no client uses it.";

/*
 * RENAME of a table or a column, SET SCHEMA of a table: rule rename.
 * Which relation is renamed is decided by its kind, not by the statement's
 * words, which PostgreSQL lets differ: ALTER INDEX renames a table, ALTER
 * VIEW, ALTER FOREIGN TABLE and ALTER TYPE ... RENAME ATTRIBUTE rename a
 * table's column, ALTER TABLE renames an index.
 */
static void
check_rename(Node *parsetree)
{
	Oid			relid;
	BlockNumber pages;

	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;
		bool		column;

		switch (stmt->renameType)
		{
			case OBJECT_COLUMN:
			case OBJECT_ATTRIBUTE:
				column = true;
				break;
			case OBJECT_TABLE:
			case OBJECT_INDEX:
			case OBJECT_VIEW:
			case OBJECT_MATVIEW:
			case OBJECT_SEQUENCE:
			case OBJECT_FOREIGN_TABLE:
				column = false;
				break;
			default:
				return;			/* a constraint, trigger, rule, policy... */
		}
		relid = grd_ddl_relid(stmt->relation);
		if (!grd_ddl_is_table(relid))
			return;
		pages = table_pages(relid, false);
		if (pages == 0)
			return;
		if (column)
			report_rename(relid, pages,
						  psprintf("renaming column \"%s\" of table \"%s\" to \"%s\"",
								   stmt->subname, get_rel_name(relid),
								   stmt->newname),
						  rename_column_hint);
		else
			report_rename(relid, pages,
						  psprintf("renaming table \"%s\" to \"%s\"",
								   get_rel_name(relid), stmt->newname),
						  rename_table_hint);
	}
	else
	{
		AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

		/* every SET SCHEMA that names a relation, whatever its words */
		if (stmt->relation == NULL)
			return;
		relid = grd_ddl_relid(stmt->relation);
		if (!grd_ddl_is_table(relid))
			return;
		pages = table_pages(relid, false);
		if (pages == 0)
			return;
		report_rename(relid, pages,
					  psprintf("moving table \"%s\" to schema \"%s\"",
							   get_rel_name(relid), stmt->newschema),
					  rename_table_hint);
	}
}

/*
 * DROP INDEX without CONCURRENTLY (rule index_concurrently): an ACCESS
 * EXCLUSIVE lock on the index's table.  An index of a partitioned table
 * cannot be dropped concurrently: nothing safer exists, nothing is said.
 */
static void
check_drop_index(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_INDEX || stmt->concurrent)
		return;
	foreach(lc, stmt->objects)
	{
		RangeVar   *rv = makeRangeVarFromNameList((List *) lfirst(lc));
		Oid			indexid = grd_ddl_relid(rv);
		Oid			relid;
		BlockNumber pages;

		if (!OidIsValid(indexid) || get_rel_relkind(indexid) != RELKIND_INDEX)
			continue;
		relid = IndexGetRelation(indexid, true);
		pages = table_pages(relid, false);
		if (pages == 0)
			continue;
		report(GRD_RULE_INDEX_CONCURRENTLY, relid, pages,
			   violates(GRD_RULE_INDEX_CONCURRENTLY,
						psprintf("dropping index \"%s\" without CONCURRENTLY",
								 rv->relname)),
			   psprintf("It takes an ACCESS EXCLUSIVE lock on table \"%s\" (%s), which blocks every query on it until the transaction ends.",
						grd_ddl_relation_name(relid), pages_pretty(pages)),
			   "Drop it with DROP INDEX CONCURRENTLY.");
	}
}

/*
 * Rule table_rewrite, for a statement that always rewrites the table rv
 * names (command says which statement).
 */
static void
check_rewrite(RangeVar *rv, const char *command, const char *hint)
{
	Oid			relid = grd_ddl_relid(rv);
	BlockNumber pages = table_pages(relid, true);

	if (pages == 0)
		return;
	report(GRD_RULE_TABLE_REWRITE, relid, pages,
		   violates(GRD_RULE_TABLE_REWRITE,
					psprintf("rewriting table \"%s\"", get_rel_name(relid))),
		   psprintf("%s rewrites all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
					command, pages_pretty(pages),
					grd_ddl_relation_name(relid)),
		   hint);
}

static const char *vacuum_full_hint =
"Use plain VACUUM, or a tool that rebuilds tables online.";

/*
 * ALTER TABLE: rules new_column, index_concurrently, constraint_not_valid,
 * set_not_null, validate_separately, detach_concurrently, table_rewrite
 * (SET TABLESPACE).  The rewrites that PostgreSQL decides are reported by
 * the table_rewrite event, or predicted by check_migration().
 */
static void
check_alter_table(AlterTableStmt *stmt)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	BlockNumber pages = table_pages(relid, false);
	ListCell   *lc;

	/* what ATTACH scans is the table attached, whatever the parent holds */
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AttachPartition && OidIsValid(relid))
			check_attach(relid, (PartitionCmd *) cmd->def);
	}
	if (pages == 0)
		return;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *con;

		switch (cmd->subtype)
		{
			case AT_AddColumn:
				check_new_column(relid, pages, castNode(ColumnDef, cmd->def));
				continue;
			case AT_SetNotNull:
				check_set_not_null(relid, pages, cmd->name, "");
				continue;
			case AT_ValidateConstraint:
				check_validate(relid, pages, cmd->name);
				continue;
			case AT_SetTableSpace:
				check_set_tablespace(relid, cmd->name);
				continue;
			case AT_DetachPartition:
				check_detach(relid, pages, (PartitionCmd *) cmd->def);
				continue;
			case AT_AddConstraint:
				if (IsA(cmd->def, Constraint))
					break;
				continue;
			default:
				continue;
		}

		con = (Constraint *) cmd->def;
		switch (con->contype)
		{
			case CONSTR_FOREIGN:
			case CONSTR_CHECK:
				if (con->skip_validation)
					break;
				report(GRD_RULE_CONSTRAINT_NOT_VALID, relid, pages,
					   violates(GRD_RULE_CONSTRAINT_NOT_VALID,
								psprintf("adding a %s constraint to table \"%s\" without NOT VALID",
										 con->contype == CONSTR_FOREIGN ? "FOREIGN KEY" : "CHECK",
										 get_rel_name(relid))),
					   psprintf("Validating it would scan all %s of table \"%s\" while writes to it are blocked.",
								pages_pretty(pages), grd_ddl_relation_name(relid)),
					   "Add the constraint with NOT VALID, then validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes.");
				break;
			case CONSTR_NOTNULL:
				/* ADD CONSTRAINT ... NOT NULL col (18+) */
				if (!con->skip_validation && con->keys != NIL)
					check_set_not_null(relid, pages,
									   strVal(linitial(con->keys)), "");
				break;
			case CONSTR_PRIMARY:
			case CONSTR_UNIQUE:
			case CONSTR_EXCLUSION:
				if (con->indexname == NULL)
					report_index_build(relid, pages,
									   "Build a unique index with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ADD CONSTRAINT ... USING INDEX.");
				else if (con->contype == CONSTR_PRIMARY)
					check_primary_key_columns(relid, pages, con);
				break;
			default:
				break;
		}
	}
}

/*
 * ALTER TABLE ALL IN TABLESPACE ... SET TABLESPACE: a copy of every table
 * (or index, or materialized view) it moves, rule table_rewrite.  Which
 * ones it moves (the user's own, or those OWNED BY) is known only as it
 * runs, so no size is given.
 */
static void
check_move_all(AlterTableMoveAllStmt *stmt)
{
	Oid			oldts = get_tablespace_oid(stmt->orig_tablespacename, true);
	Oid			newts = get_tablespace_oid(stmt->new_tablespacename, true);

	if (!OidIsValid(oldts) || !OidIsValid(newts) || oldts == newts)
		return;
	report(GRD_RULE_TABLE_REWRITE, InvalidOid, 0,
		   violates(GRD_RULE_TABLE_REWRITE,
					psprintf("moving every relation of tablespace \"%s\" to tablespace \"%s\"",
							 stmt->orig_tablespacename,
							 stmt->new_tablespacename)),
		   "ALTER ... ALL IN TABLESPACE copies each relation it moves under an ACCESS EXCLUSIVE lock.",
		   "Move the relations one by one with a tool that rebuilds them online, or in a maintenance window with the rule set to off.");
}

/* REINDEX without CONCURRENTLY: rule index_concurrently. */
static void
check_reindex(ReindexStmt *stmt)
{
	Oid			relid;
	BlockNumber pages;

	if (grd_ddl_is_concurrent((Node *) stmt))
		return;
	switch (stmt->kind)
	{
		case REINDEX_OBJECT_INDEX:
			relid = grd_ddl_relid(stmt->relation);
			if (OidIsValid(relid))
				relid = IndexGetRelation(relid, true);
			break;
		case REINDEX_OBJECT_TABLE:
			relid = grd_ddl_relid(stmt->relation);
			break;
		case REINDEX_OBJECT_SCHEMA:
		case REINDEX_OBJECT_DATABASE:
			/*
			 * Whoever may not run it (or names no schema that exists) gets
			 * PostgreSQL's error, not ours.
			 */
			if (stmt->kind == REINDEX_OBJECT_SCHEMA)
			{
				Oid			nspid = get_namespace_oid(stmt->name, true);

				if (!OidIsValid(nspid) ||
					!(grd_namespace_ownercheck(nspid, GetUserId()) ||
					  grd_role_maintains_all(GetUserId())))
					return;
			}
			else if (!(grd_database_ownercheck(MyDatabaseId, GetUserId()) ||
					   grd_role_maintains_all(GetUserId())))
				return;
			report(GRD_RULE_INDEX_CONCURRENTLY, InvalidOid, 0,
				   violates(GRD_RULE_INDEX_CONCURRENTLY,
							"rebuilding indexes without CONCURRENTLY"),
				   psprintf("REINDEX %s \"%s\" rebuilds every index in it, blocking writes to each table in turn.",
							stmt->kind == REINDEX_OBJECT_SCHEMA ? "SCHEMA" : "DATABASE",
							stmt->name ? stmt->name : get_database_name(MyDatabaseId)),
				   "Rebuild them with REINDEX CONCURRENTLY.");
			return;
		default:
			return;				/* SYSTEM has no concurrent form */
	}
	pages = table_pages(relid, true);
	if (pages > 0)
		report_index_build(relid, pages,
						   "Rebuild it with REINDEX CONCURRENTLY.");
}

/* VACUUM FULL: rule table_rewrite. */
static void
check_vacuum(VacuumStmt *stmt)
{
	bool		full = false;
	ListCell   *lc;

	if (!stmt->is_vacuumcmd)
		return;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "full") == 0)
			full = defGetBoolean(opt);
	}
	if (!full)
		return;

	if (stmt->rels == NIL)
		report(GRD_RULE_TABLE_REWRITE, InvalidOid, 0,
			   violates(GRD_RULE_TABLE_REWRITE, "rewriting every table"),
			   psprintf("VACUUM FULL without a table rewrites every table of database \"%s\", each under an ACCESS EXCLUSIVE lock.",
						get_database_name(MyDatabaseId)),
			   vacuum_full_hint);
	foreach(lc, stmt->rels)
		check_rewrite(lfirst_node(VacuumRelation, lc)->relation, "VACUUM FULL",
					  vacuum_full_hint);
}

/*
 * The schema a new relation would be created in, without an error: the one
 * named, or the first of search_path; InvalidOid if there is none.
 */
static Oid
creation_namespace(RangeVar *rv)
{
	List	   *path;

	if (rv->schemaname != NULL)
		return get_namespace_oid(rv->schemaname, true);
	path = fetch_search_path(false);
	return path == NIL ? InvalidOid : linitial_oid(path);
}

/*
 * CREATE TABLE, CREATE TABLE AS, SELECT INTO: rule new_tables, for users
 * who may create a table in the schema (others get PostgreSQL's error).
 */
static void
check_new_table(RangeVar *rv, bool is_partition)
{
	Oid			nspid;

	if (grd_allow_new_tables || rv->relpersistence == RELPERSISTENCE_TEMP ||
		is_partition || OidIsValid(grd_ddl_relid(rv)))
		return;
	nspid = creation_namespace(rv);
	if (!OidIsValid(nspid) || !grd_namespace_may_create(nspid, GetUserId()))
		return;
	report(GRD_RULE_NEW_TABLES, InvalidOid, 0,
		   violates(GRD_RULE_NEW_TABLES,
					psprintf("creating table \"%s\"", rv->relname)),
		   "guardrails.allow_new_tables is off: this instance takes no new tables.",
		   "Create the table on an instance that is open to new workloads.");
}

/*
 * The rules, on one utility statement: each violation is reported (see
 * report()).
 */
static void
check_statement(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) parsetree);
			break;
		case T_AlterTableMoveAllStmt:
			check_move_all((AlterTableMoveAllStmt *) parsetree);
			break;
		case T_AlterDomainStmt:
			check_alter_domain((AlterDomainStmt *) parsetree);
			break;
		case T_IndexStmt:
			{
				IndexStmt  *stmt = (IndexStmt *) parsetree;
				Oid			relid = grd_ddl_relid(stmt->relation);
				BlockNumber pages;

				if (stmt->concurrent)
					break;
				pages = table_pages(relid, false);
				if (pages > 0)
					report_index_build(relid, pages, NULL);
				break;
			}
		case T_DropStmt:
			check_drop_index((DropStmt *) parsetree);
			break;
		case T_RenameStmt:
		case T_AlterObjectSchemaStmt:
			check_rename(parsetree);
			break;
		case T_ReindexStmt:
			check_reindex((ReindexStmt *) parsetree);
			break;
		case T_VacuumStmt:
			check_vacuum((VacuumStmt *) parsetree);
			break;
		case T_GrdClusterStmt:
			/* REPACK CONCURRENTLY (19+) lets writes go on: no rule */
			if (grd_cluster_concurrent(parsetree))
				break;
			if (grd_cluster_relation(parsetree) == NULL)
				report(GRD_RULE_TABLE_REWRITE, InvalidOid, 0,
					   violates(GRD_RULE_TABLE_REWRITE,
								"rewriting every clustered table"),
					   psprintf("%s without a table rewrites every table clustered before, each under an ACCESS EXCLUSIVE lock.",
								grd_cluster_command(parsetree)),
					   vacuum_full_hint);
			else
				check_rewrite(grd_cluster_relation(parsetree),
							  grd_cluster_command(parsetree), vacuum_full_hint);
			break;
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;

				if (!stmt->concurrent && !stmt->skipData)
					check_rewrite(stmt->relation, "REFRESH MATERIALIZED VIEW",
								  "Use REFRESH MATERIALIZED VIEW CONCURRENTLY, which needs a unique index on the materialized view.");
				break;
			}
		case T_CreateStmt:
			check_new_table(((CreateStmt *) parsetree)->relation,
							((CreateStmt *) parsetree)->partbound != NULL);
			break;
		case T_CreateTableAsStmt:
			if (((CreateTableAsStmt *) parsetree)->objtype == OBJECT_TABLE)
				check_new_table(((CreateTableAsStmt *) parsetree)->into->rel,
								false);
			break;
		default:
			break;
	}
}

/* Whether every rule is off, so that no statement needs looking at. */
static bool
all_rules_off(void)
{
	for (int i = 0; i < GRD_NUM_RULES; i++)
	{
		if (rule_level((GrdDdlRule) i) != GRD_DDL_POLICY_OFF)
			return false;
	}
	return true;
}

/*
 * Before a utility statement runs, and before it takes any lock: report
 * (warn) or reject (enforce) what the rules decide from the statement.
 */
void
grd_ddl_policy_check(Node *parsetree)
{
	rewrite_reported = InvalidOid;
	if (creating_extension || IsBinaryUpgrade || RecoveryInProgress() ||
		all_rules_off())
		return;
	check_statement(parsetree);
}

/*
 * Rule table_rewrite on relid, of pages, which ALTER TABLE rewrites (or,
 * when certain is false, may rewrite) for reason: from the table_rewrite
 * event, when PostgreSQL has decided, or from check_migration(), when it
 * predicts.
 */
static void
report_rewrite(Oid relid, BlockNumber pages, const char *reason, bool certain)
{
	report(GRD_RULE_TABLE_REWRITE, relid, pages,
		   violates(GRD_RULE_TABLE_REWRITE,
					psprintf("%s table \"%s\"",
							 certain ? "rewriting" : "possibly rewriting",
							 get_rel_name(relid))),
		   certain ?
		   psprintf("ALTER TABLE would rewrite all %s of table \"%s\" under an ACCESS EXCLUSIVE lock, for %s.",
					pages_pretty(pages), grd_ddl_relation_name(relid), reason) :
		   psprintf("Whether ALTER TABLE rewrites all %s of table \"%s\" for %s is decided only when it runs; the policy then applies the rule.",
					pages_pretty(pages), grd_ddl_relation_name(relid), reason),
		   "Make the change without a rewrite (for example, a new column backfilled in batches), or make it in a maintenance window with the rule set to off.");
}

/* What collect_verdicts() checks. */
typedef enum CollectKind
{
	COLLECT_STATEMENT,			/* a utility statement */
	COLLECT_REWRITE,			/* a predicted rewrite */
	COLLECT_VALIDATE			/* a VALIDATE after ADD ... NOT VALID */
} CollectKind;

/*
 * Apply the rules for check_migration(), appending the verdicts they give,
 * whatever their level (off included), to *verdicts as GrdDdlVerdict;
 * nothing is raised.
 */
static void
collect_verdicts(CollectKind kind, Node *parsetree, List *proven,
				 Oid relid, BlockNumber pages, const char *what,
				 bool certain, List **verdicts)
{
	Assert(collected == NULL);
	collected = verdicts;
	script_proven = proven;
	PG_TRY();
	{
		switch (kind)
		{
			case COLLECT_STATEMENT:
				check_statement(parsetree);
				break;
			case COLLECT_REWRITE:
				report_rewrite(relid, pages, what, certain);
				((GrdDdlVerdict *) llast(*verdicts))->uncertain = !certain;
				break;
			case COLLECT_VALIDATE:
				report_validate(relid, pages, what);
				break;
		}
	}
	PG_FINALLY();
	{
		collected = NULL;
		script_proven = NIL;
	}
	PG_END_TRY();
}

/*
 * The verdicts the rules give one utility statement.  proven lists the
 * columns (GrdProvenColumn) that earlier statements of the script prove
 * not null, which the catalog does not know yet.
 */
void
grd_ddl_policy_collect(Node *parsetree, List *proven, List **verdicts)
{
	collect_verdicts(COLLECT_STATEMENT, parsetree, proven, InvalidOid, 0,
					 NULL, true, verdicts);
	rewrite_reported = InvalidOid;
}

/*
 * The verdict of rule table_rewrite on an ALTER TABLE of relid that will
 * (or, when certain is false, may) rewrite it for reason, as
 * check_migration() predicts it; nothing when the table is exempt.
 */
void
grd_ddl_policy_collect_rewrite(Oid relid, const char *reason, bool certain,
							   List **verdicts)
{
	BlockNumber pages = table_pages(relid, false);

	if (pages > 0)
		collect_verdicts(COLLECT_REWRITE, NULL, NIL, relid, pages, reason,
						 certain, verdicts);
}

/*
 * The verdict of rule validate_separately on constraint conname of table
 * relid, which the script that check_migration() reads adds NOT VALID in
 * the transaction that validates it; nothing when the table is exempt.
 */
void
grd_ddl_policy_collect_validate(Oid relid, const char *conname,
								List **verdicts)
{
	BlockNumber pages = table_pages(relid, false);

	if (pages > 0)
		collect_verdicts(COLLECT_VALIDATE, NULL, NIL, relid, pages, conname,
						 true, verdicts);
}

/* Why PostgreSQL rewrites a table, from the table_rewrite event's reason. */
static const char *
rewrite_reason(int reason)
{
	if (reason & AT_REWRITE_COLUMN_REWRITE)
		return "a column type change";
	if (reason & AT_REWRITE_DEFAULT_VAL)
		return "a column value computed for every row";
	if (reason & AT_REWRITE_ALTER_PERSISTENCE)
		return "SET LOGGED or SET UNLOGGED";
	if (reason & AT_REWRITE_ACCESS_METHOD)
		return "SET ACCESS METHOD";
	return "an ALTER TABLE command";
}

/*
 * The table_rewrite event trigger (guardrails.ddl_policy_table_rewrite,
 * installed by the extension script): PostgreSQL has decided to rewrite a
 * table, and has not copied a row yet.  Rule table_rewrite.
 *
 * pg_event_trigger_table_rewrite_oid() and _reason() read the event in
 * progress, not their arguments, so we call them with our own call info.
 */
Datum
grd_ddl_policy_table_rewrite(PG_FUNCTION_ARGS)
{
	Oid			relid;
	int			reason;
	BlockNumber pages;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired by an event trigger",
						"ddl_policy_table_rewrite")));
	if (!grd_preloaded() ||
		rule_level(GRD_RULE_TABLE_REWRITE) == GRD_DDL_POLICY_OFF ||
		creating_extension || IsBinaryUpgrade)
		PG_RETURN_VOID();

	relid = DatumGetObjectId(pg_event_trigger_table_rewrite_oid(fcinfo));
	reason = DatumGetInt32(pg_event_trigger_table_rewrite_reason(fcinfo));
	if (relid == rewrite_reported)
		PG_RETURN_VOID();
	pages = table_pages(relid, false);
	if (pages == 0)
		PG_RETURN_VOID();

	report_rewrite(relid, pages, rewrite_reason(reason), true);
	PG_RETURN_VOID();
}

/* A string without its leading and trailing white space, cut in place. */
static char *
trim_spaces(char *str)
{
	char	   *end;

	while (isspace((unsigned char) *str))
		str++;
	end = str + strlen(str);
	while (end > str && isspace((unsigned char) end[-1]))
		*--end = '\0';
	return str;
}

/*
 * Check hook of guardrails.ddl_policy_rules: a comma-separated list of
 * "rule: level" items, parsed once.  An unknown rule, an unknown level, a
 * rule named twice or an empty item is refused, naming it.
 */
static bool
check_policy_rules(char **newval, void **extra, GucSource source)
{
	RuleLevels	levels;
	RuleLevels *result;
	char	   *copy = pstrdup(*newval);
	char	   *item = trim_spaces(copy);
	int			n = 0;

	for (int i = 0; i < GRD_NUM_RULES; i++)
		levels.level[i] = -1;
	if (*item == '\0')
		item = NULL;			/* an empty value names no rule */

	while (item != NULL)
	{
		char	   *next = strchr(item, ',');
		char	   *colon;
		char	   *name;
		char	   *level;
		int			rule = -1;
		int			lvl = -1;

		n++;
		if (next != NULL)
			*next++ = '\0';
		colon = strchr(item, ':');
		if (colon)
			*colon = '\0';
		name = trim_spaces(item);
		level = colon ? trim_spaces(colon + 1) : NULL;

		if (*name == '\0' && level == NULL)
		{
			GUC_check_errdetail("Item %d is empty.", n);
			goto bad;
		}
		if (level == NULL || *level == '\0')
		{
			GUC_check_errdetail("Item %d, \"%s\", has no level.", n, name);
			goto bad;
		}
		for (int i = 0; i < GRD_NUM_RULES; i++)
			if (pg_strcasecmp(name, rule_names[i]) == 0)
				rule = i;
		if (rule < 0)
		{
			GUC_check_errdetail("Item %d names unknown rule \"%s\".", n, name);
			goto bad;
		}
		for (int i = 0; ddl_policy_options[i].name != NULL; i++)
			if (pg_strcasecmp(level, ddl_policy_options[i].name) == 0)
				lvl = ddl_policy_options[i].val;
		if (lvl < 0)
		{
			GUC_check_errdetail("Item %d gives rule \"%s\" unknown level \"%s\".",
								n, rule_names[rule], level);
			goto bad;
		}
		if (levels.level[rule] >= 0)
		{
			GUC_check_errdetail("Item %d names rule \"%s\" a second time.",
								n, rule_names[rule]);
			goto bad;
		}
		levels.level[rule] = (int8) lvl;
		item = next;
	}
	pfree(copy);

	result = grd_guc_malloc(sizeof(RuleLevels));
	if (result == NULL)
		return false;
	*result = levels;
	*extra = result;
	return true;

bad:
	GUC_check_errhint("Write \"rule: level\" items separated by commas, such as \"rename: warn, new_tables: enforce\"; rules: new_column, table_rewrite, index_concurrently, constraint_not_valid, new_tables, set_not_null, validate_separately, detach_concurrently, rename, attach_partition; levels: off, warn, enforce.");
	pfree(copy);
	return false;
}

/* Assign hook of guardrails.ddl_policy_rules: the parsed levels. */
static void
assign_policy_rules(const char *newval, void *extra)
{
	rule_levels = (const RuleLevels *) extra;
}
const GrdModule grd_ddl_policy_module = {
	.name = "DDL policy",
	.settings = ddl_policy_settings,
};
