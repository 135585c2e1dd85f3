/*-------------------------------------------------------------------------
 *
 * ddl_statement.h
 *		What a utility statement is (ddl_statement.c): decided once per
 *		statement by hooks.c, read by the policy, the lock guard and the
 *		audit.
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

/*
 * The classification of one utility statement, read from its parse tree
 * alone (no catalog access): hooks.c fills it once, with
 * grd_ddl_classify(), and hands it to everyone else.
 */
typedef struct GrdDdlStatement
{
	/*
	 * The statement that runs: the utility statement itself, or, for
	 * EXPLAIN ANALYZE, the statement it executes (CREATE TABLE AS, SELECT
	 * INTO), as GetCommandLogLevel looks through it.
	 */
	Node	   *stmt;
	bool		is_ddl;			/* DDL as log_statement = ddl says */
	bool		strong_lock;	/* locks an existing relation in a mode
								 * stronger than ROW EXCLUSIVE: TRUNCATE,
								 * LOCK TABLE, REINDEX, VACUUM FULL, CLUSTER */
	bool		audited;		/* the DDL log records it */
	bool		guarded;		/* runs under the DDL lock timeout */
	bool		concurrent;		/* a CONCURRENTLY form */
	bool		creates_table;	/* CREATE TABLE (AS), SELECT INTO */
	bool		own_xacts;		/* commits and starts transactions of its
								 * own (VACUUM) */
} GrdDdlStatement;

/* A relation a statement is about to lock, and the mode. */
typedef struct GrdDdlTarget
{
	Oid			relid;
	LOCKMODE	mode;
} GrdDdlTarget;

extern void grd_ddl_classify(Node *parsetree, GrdDdlStatement *st);
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
