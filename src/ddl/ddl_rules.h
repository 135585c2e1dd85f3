/*-------------------------------------------------------------------------
 *
 * ddl_rules.h
 *		Private to src/ddl: what the schema-change policy's dispatch
 *		(ddl_policy.c) and its rules, one file per family (ddl_rules_*.c),
 *		share.
 *
 * A rule function looks at one statement (or one ALTER TABLE command),
 * measures the table it names with grd_ddl_table_pages(), and reports each
 * violation with grd_ddl_report(), which raises it, or collects it for
 * check_migration().  Everything here runs in the backend that runs the
 * statement (or check_migration()), before the statement takes its locks;
 * no shared memory is touched.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_RULES_H
#define GRD_DDL_RULES_H

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "storage/block.h"
#include "utils/relcache.h"

#include "ddl_policy.h"

/* ddl_policy.c: settings and the state of the statement being checked */
extern bool grd_allow_new_tables;
extern Oid	grd_ddl_rewrite_reported;
extern const GrdScriptFacts *grd_ddl_script;

/* ddl_policy.c: what a rule measures, and how it reports */
extern BlockNumber grd_ddl_relation_pages(Oid relid, bool *exempt);
extern bool grd_ddl_may_change(Oid relid, bool maintain);
extern BlockNumber grd_ddl_table_pages(Oid relid, bool maintain);
extern bool grd_ddl_is_small(BlockNumber pages);
extern bool grd_ddl_script_has_column(List *columns, Oid relid,
									  const char *colname);
extern char *grd_ddl_pages_pretty(BlockNumber pages);
extern void grd_ddl_report(GrdDdlRule rule, Oid relid, BlockNumber pages,
						   const char *message, const char *detail,
						   const char *hint);
extern char *grd_ddl_violates(GrdDdlRule rule, const char *what);
extern bool grd_ddl_collecting(void);
extern void grd_ddl_note_columns(List *columns);

/* ddl_rules_columns.c: new_column, set_not_null */
extern void grd_ddl_check_new_column(Oid relid, BlockNumber pages,
									 ColumnDef *col);
extern void grd_ddl_check_set_not_null(Oid relid, BlockNumber pages,
									   const char *colname, const char *how);

/*
 * ddl_rules_constraints.c: constraint_not_valid, validate_separately, the
 * columns of a primary key; the proofs the catalog offers
 */
extern List *grd_ddl_valid_checks(Relation rel);
extern void grd_ddl_check_add_constraint(Oid relid, BlockNumber pages,
										 Constraint *con);
extern void grd_ddl_check_validate(Oid relid, BlockNumber pages,
								   const char *conname);
extern void grd_ddl_report_validate(Oid relid, BlockNumber pages,
									const char *conname);
extern void grd_ddl_check_alter_domain(AlterDomainStmt *stmt);

/* ddl_rules_indexes.c: index_concurrently */
extern void grd_ddl_report_index_build(Oid relid, BlockNumber pages,
									   const char *hint);
extern void grd_ddl_check_create_index(IndexStmt *stmt);
extern void grd_ddl_check_drop_index(DropStmt *stmt);
extern void grd_ddl_check_reindex(ReindexStmt *stmt);

/* ddl_rules_tables.c: table_rewrite, new_tables */
extern void grd_ddl_check_set_tablespace(Oid relid, const char *tablespace);
extern void grd_ddl_check_move_all(AlterTableMoveAllStmt *stmt);
extern void grd_ddl_check_vacuum(VacuumStmt *stmt);
extern void grd_ddl_check_cluster(Node *parsetree);
extern void grd_ddl_check_refresh(RefreshMatViewStmt *stmt);
extern void grd_ddl_check_new_table(RangeVar *rv, bool is_partition);
extern Oid	grd_ddl_creation_namespace(RangeVar *rv);
extern void grd_ddl_report_rewrite(Oid relid, BlockNumber pages,
								   const char *reason, bool certain);

/* ddl_rules_partitions.c: attach_partition, detach_concurrently */
extern void grd_ddl_check_attach(Oid parentid, PartitionCmd *cmd);
extern void grd_ddl_check_detach(Oid relid, BlockNumber pages,
								 PartitionCmd *cmd);

/* ddl_rules_locks.c: lock_held, transaction_block */
extern void grd_ddl_report_in_block(const char *command);
extern void grd_ddl_report_lock_held(Oid relid, BlockNumber pages,
									 LOCKMODE mode, const char *doing);
extern void grd_ddl_check_lock_held(PlannedStmt *pstmt);

/* ddl_rules_rename.c: rename */
extern void grd_ddl_check_rename(Node *parsetree);
extern void grd_ddl_check_renames_at_commit(void);
extern void grd_ddl_check_enum_rename(AlterEnumStmt *stmt);

/* ddl_rules_truncate.c: truncate */
extern void grd_ddl_check_truncate(TruncateStmt *stmt);

/* ddl_rules_types.c: json_column, new_enum_value */
extern void grd_ddl_check_json_column(Oid relid, const char *colname,
									  TypeName *typeName, bool altered);
extern void grd_ddl_report_enum_value(Oid typid, const char *value,
									  bool certain);

/* ddl_rules_foreign_keys.c: fk_index */
extern void grd_ddl_check_foreign_key(Oid relid, Constraint *con);
extern void grd_ddl_check_column_foreign_key(Oid relid, ColumnDef *col);
extern void grd_ddl_check_create_foreign_keys(CreateStmt *stmt);

#endif							/* GRD_DDL_RULES_H */
