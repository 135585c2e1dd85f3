/*-------------------------------------------------------------------------
 *
 * ddl_statement.h
 *		What a utility statement is (ddl_statement.c), beyond the
 *		classification in ddl.h: what the policy, the lock guard and the
 *		audit ask of it and of the relations it names.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_DDL_STATEMENT_H
#define GRD_DDL_STATEMENT_H

#include "nodes/primnodes.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "ddl.h"

extern int	grd_ddl_targets(const GrdDdlStatement *st, GrdDdlTarget **targets);
extern bool grd_ddl_is_concurrent(Node *parsetree);
extern Oid	grd_ddl_relid(RangeVar *rv);
extern bool grd_ddl_is_index(Oid relid);
extern bool grd_ddl_is_table(Oid relid);
extern void grd_ddl_domain_tables(Oid typid, List **relids);
extern Oid	grd_ddl_checked_domain(AlterDomainStmt *stmt);
extern char *grd_ddl_relation_name(Oid relid);
extern Relation grd_ddl_relation_open_now(Oid relid);
extern void grd_ddl_relation_close_now(Relation rel);

#endif							/* GRD_DDL_STATEMENT_H */
