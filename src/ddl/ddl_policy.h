/*-------------------------------------------------------------------------
 *
 * ddl_policy.h
 *		The schema-change policy (ddl_policy.c, its rules in ddl_rules_*.c),
 *		and what guardrails.check_migration() (ddl_check.c) asks of it.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_POLICY_H
#define GRD_DDL_POLICY_H

#include "fmgr.h"
#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "storage/block.h"
#include "storage/lockdefs.h"

/* What a rule violation does (guardrails.ddl_policy and each rule's own) */
typedef enum GrdDdlPolicy
{
	GRD_DDL_POLICY_OFF,
	GRD_DDL_POLICY_WARN,
	GRD_DDL_POLICY_ENFORCE
} GrdDdlPolicy;

/* The rules; their names are in ddl_policy.c's rule_names[] */
typedef enum GrdDdlRule
{
	GRD_RULE_NEW_COLUMN,
	GRD_RULE_TABLE_REWRITE,
	GRD_RULE_INDEX_CONCURRENTLY,
	GRD_RULE_CONSTRAINT_NOT_VALID,
	GRD_RULE_NEW_TABLES,
	GRD_RULE_SET_NOT_NULL,
	GRD_RULE_VALIDATE_SEPARATELY,
	GRD_RULE_DETACH_CONCURRENTLY,
	GRD_RULE_RENAME,
	GRD_RULE_ATTACH_PARTITION,
	GRD_RULE_LOCK_HELD,
	GRD_RULE_TRANSACTION_BLOCK,
	GRD_RULE_TRUNCATE,
	GRD_RULE_JSON_COLUMN,
	GRD_RULE_FK_INDEX,
	GRD_RULE_NEW_ENUM_VALUE
} GrdDdlRule;

#define GRD_NUM_RULES	(GRD_RULE_NEW_ENUM_VALUE + 1)

/* One verdict, as grd_ddl_policy_collect() returns it */
typedef struct GrdDdlVerdict
{
	GrdDdlRule	rule;
	int			level;			/* GrdDdlPolicy: what the policy would do */
	char	   *message;
	char	   *detail;
	char	   *hint;
	Oid			relid;			/* the table, or InvalidOid */
	int64		bytes;			/* its size (main forks), or -1 */
	bool		uncertain;		/* decided only when the statement runs */
	List	   *columns;		/* fk_index: the referencing columns
								 * (String), for an index the script creates
								 * later; else NIL */
} GrdDdlVerdict;

/* A column of an existing table, as a script changes it */
typedef struct GrdScriptColumn
{
	Oid			relid;
	char	   *colname;
} GrdScriptColumn;

/* An index a script creates on an existing table */
typedef struct GrdScriptIndex
{
	Oid			relid;			/* its table */
	char	   *name;
	List	   *colnames;		/* String per key column; NULL for an
								 * expression */
} GrdScriptIndex;

/*
 * What the earlier statements of a script checked by check_migration() did
 * that the catalog does not show yet: the rules judge each statement
 * against it.
 */
typedef struct GrdScriptFacts
{
	List	   *proven;			/* GrdScriptColumn: proven not null by a
								 * validated check */
	List	   *added_columns;	/* GrdScriptColumn: added by the script */
	List	   *dropped_columns;	/* GrdScriptColumn: dropped by it */
	List	   *indexes;		/* GrdScriptIndex: created by it */
	List	   *dropped;		/* OIDs of the relations it dropped */
} GrdScriptFacts;

/* For guardrails.check_migration() (ddl_check.c). */
extern void grd_ddl_policy_collect(Node *parsetree,
								   const GrdScriptFacts *facts,
								   List **verdicts);
extern void grd_ddl_policy_collect_in_block(const char *command,
											List **verdicts);
extern void grd_ddl_policy_collect_lock_held(Oid relid, LOCKMODE mode,
											 const char *doing,
											 List **verdicts);
extern void grd_ddl_policy_collect_rewrite(Oid relid, const char *reason,
										   bool certain, List **verdicts);
extern void grd_ddl_policy_collect_validate(Oid relid, const char *conname,
											List **verdicts);
extern void grd_ddl_policy_collect_enum_value(Oid typid, const char *value,
											  bool certain, List **verdicts);
extern bool grd_ddl_index_leads_with(List *indexcols, List *columns);
extern bool grd_expr_calls_user_function(Node *expr);
extern const char *grd_ddl_rule_name(GrdDdlRule rule);
extern const char *grd_ddl_level_name(int level);

#endif							/* GRD_DDL_POLICY_H */
