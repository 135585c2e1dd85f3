/*-------------------------------------------------------------------------
 *
 * ddl_policy.c
 *		The schema-change policy: the rules a careful operator applies to
 *		every migration, enforced.
 *
 * Which statements are DDL, and which relation a statement names, is
 * decided by ddl_statement.c.
 *
 * The policy (guardrails.ddl_policy = off | warn | enforce) has sixteen
 * rules, each about a statement that would hold a lock that blocks writes
 * (or reads) for as long as it scans or copies a whole table, that would
 * break the clients that run while it commits, or that PostgreSQL would
 * refuse:
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
 *	lock_held			a query (SELECT, INSERT, UPDATE, DELETE, MERGE) on a
 *						table while its transaction holds a lock on it that
 *						blocks writes (SHARE or stronger), taken by an
 *						earlier statement: the brief ALTER's lock is held
 *						for the whole query
 *	transaction_block	(check_migration() only) a CONCURRENTLY form or
 *						VACUUM inside the script's transaction block, which
 *						PostgreSQL refuses
 *	truncate			TRUNCATE of a table with data, and TRUNCATE ...
 *						CASCADE of any table, which empties tables it does
 *						not name
 *	json_column			(warn at most) a column of type json added to an
 *						existing table, or changed to it: json has no
 *						equality operator, and running queries that compare
 *						whole rows (DISTINCT, UNION) break
 *	fk_index			(warn at most) a foreign key whose referencing
 *						columns no index leads with: every delete of a
 *						referenced row scans the referencing table
 *	new_enum_value		(check_migration() only) an enum value used in the
 *						transaction block that added it, which PostgreSQL
 *						refuses
 *
 * Each rule follows guardrails.ddl_policy unless guardrails.ddl_policy_rules
 * gives it its own level ('rename: warn, new_tables: enforce'); json_column
 * and fk_index, whose statements block nothing, follow it up to warn only
 * (an operator may still set them to enforce).
 *
 * All but new_tables, json_column, fk_index, new_enum_value and TRUNCATE
 * ... CASCADE apply to existing tables with data: a temporary table, a
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
 * All but table_rewrite and lock_held are decided from the statement
 * before it runs, so before it takes any lock; ALTER TABLE's rewrites are
 * decided by PostgreSQL only once it has analysed the commands, so we are
 * told by an event trigger, before a single row is copied; lock_held is
 * decided at the start of the query's execution, from the locks the
 * transaction holds.  Emptiness is read from
 * the size of the table's main fork, under an ACCESS SHARE lock taken only
 * if it is free at once and given back at once (see
 * grd_ddl_relation_pages()); we never wait for a lock here.
 *
 * In enforce a violation is an ERROR, in warn a WARNING with the same text;
 * both carry SQLSTATE 42G01.  guardrails.check_migration() runs the same
 * checks on a script without running it, and collects the verdicts
 * (grd_ddl_policy_collect()) instead of raising them.  Extension scripts
 * and binary upgrades are exempt: they create what they must.
 *
 * This file holds the settings and the levels, how a table is measured and
 * a verdict reported, the dispatch of a statement to its rules,
 * check_migration()'s interface, and the table_rewrite event trigger.  The
 * rules themselves are in one file per family (ddl_rules.h):
 * ddl_rules_columns.c, ddl_rules_constraints.c, ddl_rules_indexes.c,
 * ddl_rules_tables.c (rewrites and new tables), ddl_rules_partitions.c,
 * ddl_rules_rename.c and ddl_rules_locks.c (lock_held, transaction_block).
 *
 * Locking: none of its own; no shared memory.  A relation is read only
 * under an ACCESS SHARE lock had at once and given back at once
 * (grd_ddl_relation_open_now()), never waited for.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/pg_inherits.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/smgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_audit.h"
#include "ddl_rules.h"
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
	"attach_partition",
	"lock_held",
	"transaction_block",
	"truncate",
	"json_column",
	"fk_index",
	"new_enum_value"
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
bool		grd_allow_new_tables = true;
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
Oid			grd_ddl_rewrite_reported = InvalidOid;

/*
 * While grd_ddl_policy_collect() runs: where the verdicts go, instead of
 * being raised.
 */
static List **collected = NULL;

/*
 * While grd_ddl_policy_collect() runs: what the earlier statements of the
 * script being checked did, which the catalog does not show.
 */
const GrdScriptFacts *grd_ddl_script = NULL;

/*
 * The local transaction in which this backend last ran a utility
 * statement that may take a lock stronger than ROW EXCLUSIVE: only in that
 * one may a query run while the transaction holds such a lock that an
 * earlier statement took (rule lock_held), so that every other execution
 * pays one comparison.
 */
static LocalTransactionId strong_lock_lxid = InvalidLocalTransactionId;

/*
 * The level of one rule: its own, or guardrails.ddl_policy's.  The rules
 * about statements that block nothing, whose verdicts are advice about the
 * schema (json_column, fk_index), follow the policy up to warn only.
 */
static int
rule_level(GrdDdlRule rule)
{
	if (rule_levels != NULL && rule_levels->level[rule] >= 0)
		return rule_levels->level[rule];
	if (rule == GRD_RULE_JSON_COLUMN || rule == GRD_RULE_FK_INDEX)
		return Min(grd_ddl_policy, GRD_DDL_POLICY_WARN);
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
BlockNumber
grd_ddl_relation_pages(Oid relid, bool *exempt)
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
bool
grd_ddl_may_change(Oid relid, bool maintain)
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
BlockNumber
grd_ddl_table_pages(Oid relid, bool maintain)
{
	BlockNumber pages;
	bool		exempt;
	List	   *rels;
	ListCell   *lc;

	if (!OidIsValid(relid) || !grd_ddl_may_change(relid, maintain))
		return 0;
	/* a relation the script dropped: what bears its name now is new */
	if (grd_ddl_script != NULL &&
		list_member_oid(grd_ddl_script->dropped, relid))
		return 0;
	pages = grd_ddl_relation_pages(relid, &exempt);
	if (!exempt && get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
	{
		rels = find_all_inheritors(relid, NoLock, NULL);
		foreach(lc, rels)
		{
			BlockNumber partpages = grd_ddl_relation_pages(lfirst_oid(lc), &exempt);

			if (!exempt)
				pages += partpages;
		}
	}
	if (grd_ddl_is_small(pages))
		return 0;
	return pages;
}

/* Whether columns (GrdScriptColumn) names column colname of relid. */
bool
grd_ddl_script_has_column(List *columns, Oid relid, const char *colname)
{
	ListCell   *lc;

	foreach(lc, columns)
	{
		GrdScriptColumn *col = (GrdScriptColumn *) lfirst(lc);

		if (col->relid == relid && strcmp(col->colname, colname) == 0)
			return true;
	}
	return false;
}

/* Whether pages is below guardrails.ddl_policy_min_size: exempt. */
bool
grd_ddl_is_small(BlockNumber pages)
{
	return (double) pages * BLCKSZ < (double) grd_ddl_policy_min_size * 1024.0;
}

/* A size in the units pg_size_pretty() would use. */
char *
grd_ddl_pages_pretty(BlockNumber pages)
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
void
grd_ddl_report(GrdDdlRule rule, Oid relid, BlockNumber pages,
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

/* Whether the rules run for check_migration(), collecting verdicts. */
bool
grd_ddl_collecting(void)
{
	return collected != NULL;
}

/*
 * For check_migration(): the columns the verdict just collected is about
 * (rule fk_index), so that a later CREATE INDEX of the script can withdraw
 * it.  Nothing when the verdict was raised.
 */
void
grd_ddl_note_columns(List *columns)
{
	if (collected != NULL && *collected != NIL)
		((GrdDdlVerdict *) llast(*collected))->columns = columns;
}

/*
 * The message of a violation: what the statement does, then the rule it
 * violates, named.
 */
char *
grd_ddl_violates(GrdDdlRule rule, const char *what)
{
	return psprintf("%s violates schema-change rule \"%s\"", what,
					rule_names[rule]);
}

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
	BlockNumber pages = grd_ddl_table_pages(relid, false);
	ListCell   *lc;

	/*
	 * What ATTACH scans is the table attached, whatever the parent holds;
	 * json_column and fk_index are about the table's queries, whatever it
	 * holds now.
	 */
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (!OidIsValid(relid))
			break;
		switch (cmd->subtype)
		{
			case AT_AttachPartition:
				grd_ddl_check_attach(relid, (PartitionCmd *) cmd->def);
				break;
			case AT_AddColumn:
				grd_ddl_check_json_column(relid, castNode(ColumnDef, cmd->def)->colname,
										  castNode(ColumnDef, cmd->def)->typeName,
										  false);
				grd_ddl_check_column_foreign_key(relid,
												 castNode(ColumnDef, cmd->def));
				break;
			case AT_AlterColumnType:
				grd_ddl_check_json_column(relid, cmd->name,
										  castNode(ColumnDef, cmd->def)->typeName,
										  true);
				break;
			case AT_AddConstraint:
				if (IsA(cmd->def, Constraint) &&
					((Constraint *) cmd->def)->contype == CONSTR_FOREIGN)
					grd_ddl_check_foreign_key(relid, (Constraint *) cmd->def);
				break;
			default:
				break;
		}
	}
	if (pages == 0)
		return;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_AddColumn:
				grd_ddl_check_new_column(relid, pages, castNode(ColumnDef, cmd->def));
				continue;
			case AT_SetNotNull:
				grd_ddl_check_set_not_null(relid, pages, cmd->name, "");
				continue;
			case AT_ValidateConstraint:
				grd_ddl_check_validate(relid, pages, cmd->name);
				continue;
			case AT_SetTableSpace:
				grd_ddl_check_set_tablespace(relid, cmd->name);
				continue;
			case AT_DetachPartition:
				grd_ddl_check_detach(relid, pages, (PartitionCmd *) cmd->def);
				continue;
			case AT_AddConstraint:
				if (IsA(cmd->def, Constraint))
					grd_ddl_check_add_constraint(relid, pages,
												 (Constraint *) cmd->def);
				continue;
			default:
				continue;
		}
	}
}

/*
 * The rules, on one utility statement: each violation is reported (see
 * grd_ddl_report()).
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
			grd_ddl_check_move_all((AlterTableMoveAllStmt *) parsetree);
			break;
		case T_AlterDomainStmt:
			grd_ddl_check_alter_domain((AlterDomainStmt *) parsetree);
			break;
		case T_IndexStmt:
			grd_ddl_check_create_index((IndexStmt *) parsetree);
			break;
		case T_DropStmt:
			grd_ddl_check_drop_index((DropStmt *) parsetree);
			break;
		case T_RenameStmt:
		case T_AlterObjectSchemaStmt:
			grd_ddl_check_rename(parsetree);
			break;
		case T_AlterEnumStmt:
			grd_ddl_check_enum_rename((AlterEnumStmt *) parsetree);
			break;
		case T_ReindexStmt:
			grd_ddl_check_reindex((ReindexStmt *) parsetree);
			break;
		case T_VacuumStmt:
			grd_ddl_check_vacuum((VacuumStmt *) parsetree);
			break;
		case T_GrdClusterStmt:
			grd_ddl_check_cluster(parsetree);
			break;
		case T_RefreshMatViewStmt:
			grd_ddl_check_refresh((RefreshMatViewStmt *) parsetree);
			break;
		case T_CreateStmt:
			grd_ddl_check_new_table(((CreateStmt *) parsetree)->relation,
									((CreateStmt *) parsetree)->partbound != NULL);
			grd_ddl_check_create_foreign_keys((CreateStmt *) parsetree);
			break;
		case T_TruncateStmt:
			grd_ddl_check_truncate((TruncateStmt *) parsetree);
			break;
		case T_CreateTableAsStmt:
			if (((CreateTableAsStmt *) parsetree)->objtype == OBJECT_TABLE)
				grd_ddl_check_new_table(((CreateTableAsStmt *) parsetree)->into->rel,
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
grd_ddl_policy_check(Node *parsetree, bool guarded)
{
	grd_ddl_rewrite_reported = InvalidOid;
	if (guarded)
		strong_lock_lxid = GRD_MY_LXID;
	if (creating_extension || IsBinaryUpgrade || RecoveryInProgress() ||
		all_rules_off())
		return;
	check_statement(parsetree);
}

/*
 * Before the transaction commits or prepares (hooks.c): the verdicts that
 * wait for it (rule rename).
 */
void
grd_ddl_policy_pre_commit(void)
{
	if (creating_extension || IsBinaryUpgrade)
		return;
	grd_ddl_check_renames_at_commit();
}

/*
 * Before a top-level statement that the executor runs (hooks.c): rule
 * lock_held, for a transaction that has run a utility statement that may
 * take a strong lock.
 */
void
grd_ddl_policy_check_executor(QueryDesc *queryDesc, int eflags,
							  int nesting_level)
{
	if (likely(strong_lock_lxid != GRD_MY_LXID) || nesting_level > 0 ||
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) || creating_extension ||
		rule_level(GRD_RULE_LOCK_HELD) == GRD_DDL_POLICY_OFF)
		return;
	grd_ddl_check_lock_held(queryDesc->plannedstmt);
}

/* What collect_verdicts() checks. */
typedef enum CollectKind
{
	COLLECT_STATEMENT,			/* a utility statement */
	COLLECT_REWRITE,			/* a predicted rewrite */
	COLLECT_VALIDATE,			/* a VALIDATE after ADD ... NOT VALID */
	COLLECT_LOCK_HELD,			/* a statement under a strong lock */
	COLLECT_IN_BLOCK,			/* a statement refused in a block */
	COLLECT_ENUM_VALUE			/* an enum value used where it was added */
} CollectKind;

/*
 * Apply the rules for check_migration(), appending the verdicts they give,
 * whatever their level (off included), to *verdicts as GrdDdlVerdict;
 * nothing is raised.
 */
static void
collect_verdicts(CollectKind kind, Node *parsetree,
				 const GrdScriptFacts *facts, Oid relid, BlockNumber pages,
				 const char *what, bool certain, LOCKMODE mode,
				 List **verdicts)
{
	Assert(collected == NULL);
	collected = verdicts;
	grd_ddl_script = facts;
	PG_TRY();
	{
		switch (kind)
		{
			case COLLECT_STATEMENT:
				check_statement(parsetree);
				break;
			case COLLECT_REWRITE:
				grd_ddl_report_rewrite(relid, pages, what, certain);
				((GrdDdlVerdict *) llast(*verdicts))->uncertain = !certain;
				break;
			case COLLECT_VALIDATE:
				grd_ddl_report_validate(relid, pages, what);
				break;
			case COLLECT_LOCK_HELD:
				grd_ddl_report_lock_held(relid, pages, mode, what);
				break;
			case COLLECT_IN_BLOCK:
				grd_ddl_report_in_block(what);
				break;
			case COLLECT_ENUM_VALUE:
				grd_ddl_report_enum_value(relid, what, certain);
				((GrdDdlVerdict *) llast(*verdicts))->uncertain = !certain;
				break;
		}
	}
	PG_FINALLY();
	{
		collected = NULL;
		grd_ddl_script = NULL;
	}
	PG_END_TRY();
}

/*
 * The verdicts the rules give one utility statement, judged against what
 * the earlier statements of the script did (facts).
 */
void
grd_ddl_policy_collect(Node *parsetree, const GrdScriptFacts *facts,
					   List **verdicts)
{
	collect_verdicts(COLLECT_STATEMENT, parsetree, facts, InvalidOid, 0,
					 NULL, true, NoLock, verdicts);
	grd_ddl_rewrite_reported = InvalidOid;
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
	BlockNumber pages = grd_ddl_table_pages(relid, false);

	if (pages > 0)
		collect_verdicts(COLLECT_REWRITE, NULL, NULL, relid, pages, reason,
						 certain, NoLock, verdicts);
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
	BlockNumber pages = grd_ddl_table_pages(relid, false);

	if (pages > 0)
		collect_verdicts(COLLECT_VALIDATE, NULL, NULL, relid, pages, conname,
						 true, NoLock, verdicts);
}

/*
 * The verdict of rule lock_held on a statement of a script that is doing
 * (reading or writing) table relid while an earlier statement of its
 * transaction block holds a lock of mode on it; nothing when the table is
 * exempt.
 */
void
grd_ddl_policy_collect_lock_held(Oid relid, LOCKMODE mode, const char *doing,
								 List **verdicts)
{
	BlockNumber pages = grd_ddl_table_pages(relid, false);

	if (pages > 0)
		collect_verdicts(COLLECT_LOCK_HELD, NULL, NULL, relid, pages, doing,
						 true, mode, verdicts);
}

/*
 * The verdict of rule transaction_block on a statement of a script
 * (command, its tag) that PostgreSQL refuses inside the script's
 * transaction block.
 */
void
grd_ddl_policy_collect_in_block(const char *command, List **verdicts)
{
	collect_verdicts(COLLECT_IN_BLOCK, NULL, NULL, InvalidOid, 0, command,
					 true, NoLock, verdicts);
}

/*
 * The verdict of rule new_enum_value on a statement of a script that uses
 * (or, when certain is false, may use) value of enum type typid, which an
 * earlier statement of its transaction block added.
 */
void
grd_ddl_policy_collect_enum_value(Oid typid, const char *value, bool certain,
								  List **verdicts)
{
	collect_verdicts(COLLECT_ENUM_VALUE, NULL, NULL, typid, 0, value,
					 certain, NoLock, verdicts);
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
	if (relid == grd_ddl_rewrite_reported)
		PG_RETURN_VOID();
	pages = grd_ddl_table_pages(relid, false);
	if (pages == 0)
		PG_RETURN_VOID();

	grd_ddl_report_rewrite(relid, pages, rewrite_reason(reason), true);
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
	GUC_check_errhint("Write \"rule: level\" items separated by commas, such as \"rename: warn, new_tables: enforce\"; rules: new_column, table_rewrite, index_concurrently, constraint_not_valid, new_tables, set_not_null, validate_separately, detach_concurrently, rename, attach_partition, lock_held, transaction_block, truncate, json_column, fk_index, new_enum_value; levels: off, warn, enforce.");
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
