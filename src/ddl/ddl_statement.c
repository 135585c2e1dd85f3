/*-------------------------------------------------------------------------
 *
 * ddl_statement.c
 *		What a utility statement is, decided once: whether it is audited,
 *		whether it runs under the DDL lock timeout, whether it is a
 *		CONCURRENTLY form, whether it creates a table, and which relations
 *		it is about to lock, in which mode.
 *
 * The schema-change policy (ddl_policy.c), the lock guard (ddl_lock.c) and
 * the DDL audit (ddl_audit.c) all need to know what kind of statement they
 * are looking at; this file is the one place that answers, so that they
 * never disagree.  hooks.c calls grd_ddl_classify() once per utility
 * statement (plain SELECT and DML never get here) and hands the answer on.
 *
 * A statement is audited, and runs under the DDL lock timeout, when it is
 * DDL as PostgreSQL itself classifies it for log_statement = ddl
 * (GetCommandLogLevel), or when it takes a lock stronger than ROW
 * EXCLUSIVE on an existing relation, which PostgreSQL does not call DDL:
 * TRUNCATE, LOCK TABLE in such a mode, REINDEX, VACUUM FULL and CLUSTER
 * (REPACK on 19).  Each of them, waiting in the lock queue, stalls every
 * query on its table exactly as an ALTER TABLE would, and each is a schema
 * or maintenance operation an operator wants in the DDL log.  Plain VACUUM
 * and ANALYZE are neither: their SHARE UPDATE EXCLUSIVE lock blocks no read
 * and no write, and they run all the time (by hand and by autovacuum's
 * schedule), which would drown the log.  EXPLAIN ANALYZE is looked
 * through, as GetCommandLogLevel does: EXPLAIN ANALYZE CREATE TABLE AS
 * creates its table.
 *
 * grd_ddl_targets() names the relations a statement is about to lock, and
 * the mode, as PostgreSQL will ask for them: the first lock of each
 * statement, and the later ones that can be known from the statement (the
 * partition an ATTACH names and the default partition, the table a
 * foreign key references, the indexes REINDEX rebuilds, the inheritance
 * children of TRUNCATE and LOCK, the tables whose values ALTER DOMAIN
 * checks).  The lock guard takes them all before the statement runs, under
 * one budget; locks it cannot know (a view's
 * base tables, TRUNCATE ... CASCADE's referencing tables) are waited for
 * by the statement itself, under the lock timeout that remains.
 *
 * Nothing here waits for a lock or changes anything: relations are looked
 * up without a lock, as they are named now, and their catalog rows read
 * from the system caches.  A relation's relcache entry (its index list,
 * and in the policy's rules its files and constraints) is read only through
 * grd_ddl_relation_open_now(): under an ACCESS SHARE lock had at once, or
 * not at all, and given back at once.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/catalog.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_type.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "parser/parse_type.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/syscache.h"

#include "compat.h"
#include "ddl_statement.h"

/* Whether a VACUUM statement is VACUUM FULL. */
static bool
vacuum_is_full(VacuumStmt *stmt)
{
	ListCell   *lc;
	bool		full = false;

	if (!stmt->is_vacuumcmd)
		return false;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "full") == 0)
			full = defGetBoolean(opt);
	}
	return full;
}

/*
 * The statement EXPLAIN ANALYZE executes, looked through as
 * GetCommandLogLevel does; the statement itself otherwise.  Only utility
 * statements are of interest (EXPLAIN ANALYZE of a query is DML at most).
 */
static Node *
explained_statement(Node *parsetree)
{
	while (IsA(parsetree, ExplainStmt))
	{
		ExplainStmt *stmt = (ExplainStmt *) parsetree;
		bool		analyze = false;
		ListCell   *lc;
		Query	   *query;

		foreach(lc, stmt->options)
		{
			DefElem    *opt = (DefElem *) lfirst(lc);

			if (strcmp(opt->defname, "analyze") == 0)
				analyze = defGetBoolean(opt);
		}
		if (!analyze || !IsA(stmt->query, Query))
			break;
		query = (Query *) stmt->query;
		if (query->commandType != CMD_UTILITY || query->utilityStmt == NULL)
			break;
		parsetree = query->utilityStmt;
	}
	return parsetree;
}

/*
 * Whether a statement locks an existing relation in a mode stronger than
 * ROW EXCLUSIVE although PostgreSQL does not call it DDL (those it calls
 * DDL are guarded anyway).  The CONCURRENTLY forms do not.
 */
static bool
takes_strong_lock(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_TruncateStmt:
			return true;
		case T_LockStmt:
			return ((LockStmt *) stmt)->mode > RowExclusiveLock;
		case T_ReindexStmt:
			return !grd_ddl_is_concurrent(stmt);
		case T_VacuumStmt:
			return vacuum_is_full((VacuumStmt *) stmt);
		case T_GrdClusterStmt:
			return !grd_cluster_concurrent(stmt);
		default:
			return false;
	}
}

/*
 * Classify a utility statement, once (hooks.c): see the file header.
 * Reads the parse tree only.
 */
void
grd_ddl_classify(Node *parsetree, GrdDdlStatement *st)
{
	Node	   *stmt = explained_statement(parsetree);

	st->stmt = stmt;
	st->is_ddl = GetCommandLogLevel(stmt) == LOGSTMT_DDL;
	st->strong_lock = takes_strong_lock(stmt);
	st->concurrent = grd_ddl_is_concurrent(stmt);

	/*
	 * REINDEX CONCURRENTLY and REPACK CONCURRENTLY are audited with the
	 * other forms of their commands: they are the same maintenance
	 * operation, done more gently.
	 */
	st->audited = st->is_ddl || st->strong_lock ||
		IsA(stmt, ReindexStmt) || IsA(stmt, GrdClusterStmt);
	st->guarded = (st->is_ddl || st->strong_lock) && !st->concurrent;
	st->creates_table = IsA(stmt, CreateStmt) ||
		(IsA(stmt, CreateTableAsStmt) &&
		 ((CreateTableAsStmt *) stmt)->objtype == OBJECT_TABLE);
	st->own_xacts = IsA(stmt, VacuumStmt);
}

/*
 * The CONCURRENTLY forms of CREATE INDEX, DROP INDEX, REINDEX, DETACH
 * PARTITION and (19+) REPACK, which block neither reads nor writes while
 * they wait, and then wait for older transactions to end (a wait that a
 * lock timeout would cut short).
 */
bool
grd_ddl_is_concurrent(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_IndexStmt:
			return ((IndexStmt *) parsetree)->concurrent;
		case T_DropStmt:
			return ((DropStmt *) parsetree)->concurrent;
		case T_ReindexStmt:
			foreach(lc, ((ReindexStmt *) parsetree)->params)
			{
				DefElem    *opt = (DefElem *) lfirst(lc);

				if (strcmp(opt->defname, "concurrently") == 0)
					return defGetBoolean(opt);
			}
			return false;
		case T_AlterTableStmt:
			foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			{
				AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

				if (cmd->subtype == AT_DetachPartition &&
					((PartitionCmd *) cmd->def)->concurrent)
					return true;
			}
			return false;
		case T_GrdClusterStmt:
			return grd_cluster_concurrent(parsetree);
		default:
			return false;
	}
}

/* The relation a name designates now, looked up without a lock. */
Oid
grd_ddl_relid(RangeVar *rv)
{
	return rv ? RangeVarGetRelid(rv, NoLock, true) : InvalidOid;
}

/* Whether a relation is an index (of a table or a partitioned one). */
bool
grd_ddl_is_index(Oid relid)
{
	char		relkind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

	return relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX;
}

/*
 * Whether a relation holds rows that clients name in their queries: a
 * table (partitioned or not) or a materialized view.  Decided by the
 * relation's kind, never by the statement's words, which PostgreSQL lets
 * differ (ALTER INDEX renames a table, ALTER VIEW renames a table's
 * column).
 */
bool
grd_ddl_is_table(Oid relid)
{
	char		relkind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

	return relkind == RELKIND_RELATION ||
		relkind == RELKIND_PARTITIONED_TABLE || relkind == RELKIND_MATVIEW;
}

/* A relation's schema-qualified name, for messages. */
char *
grd_ddl_relation_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp = get_namespace_name(get_rel_namespace(relid));

	if (rel == NULL || nsp == NULL)
		return psprintf("%u", relid);
	return psprintf("%s.%s", nsp, rel);
}

/*
 * Open a relation the caller has not locked, to read its relcache entry or
 * the size of its files, if an ACCESS SHARE lock on it can be had at once;
 * NULL if it cannot, or if the relation is gone.  Without a lock, a
 * concurrent TRUNCATE, VACUUM FULL or DROP gives the relation new files or
 * removes its catalog rows while we read, and nothing makes us process its
 * invalidations: we would read a stale entry that names files that are
 * gone, or build an entry from rows that vanish half-way ("could not open
 * file", "cache lookup failed").  Taking the lock processes the
 * invalidations, and holding it keeps the files in place.  It is never
 * waited for: the statement must not queue before its lock guard runs,
 * and check_migration() waits for nothing.  Callers fall back on what the
 * system caches say.  Close with grd_ddl_relation_close_now(), which gives
 * the lock back at once, as pg_relation_size() does: the statement takes
 * its own locks later.
 */
Relation
grd_ddl_relation_open_now(Oid relid)
{
	Relation	rel;

	if (!OidIsValid(relid) ||
		!ConditionalLockRelationOid(relid, AccessShareLock))
		return NULL;
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
		UnlockRelationOid(relid, AccessShareLock);
	return rel;
}

/* Close a relation opened by grd_ddl_relation_open_now(), and unlock it. */
void
grd_ddl_relation_close_now(Relation rel)
{
	relation_close(rel, AccessShareLock);
}

/* The relations a statement is about to lock, being collected. */
typedef struct TargetList
{
	GrdDdlTarget *items;
	int			n;
	int			size;
} TargetList;

/*
 * Whether the current user may run the statement on a relation: owns it,
 * holds one of the privileges in acl (0: none does), or, with maintain,
 * holds 17's MAINTAIN.  We must not lock what the statement would refuse
 * to touch.
 */
static bool
may_lock(Oid relid, AclMode acl, bool maintain)
{
	Oid			userid = GetUserId();

	return grd_relation_ownercheck(relid, userid) ||
		(acl != 0 && pg_class_aclmask(relid, userid, acl, ACLMASK_ANY) != 0) ||
		(maintain && grd_relation_may_maintain(relid, userid));
}

/*
 * Add a relation to the targets, if it exists.  Names are looked up
 * without a lock, as the statement itself will look them up again under
 * its lock: if a name moved to another relation in between, the lock guard
 * holds a lock the statement did not need until the transaction ends,
 * nothing worse.
 */
static void
add(TargetList *list, Oid relid, LOCKMODE mode)
{
	if (!OidIsValid(relid))
		return;
	if (list->n == list->size)
	{
		list->size = list->size == 0 ? 8 : list->size * 2;
		list->items = list->items == NULL ?
			palloc(sizeof(GrdDdlTarget) * list->size) :
			repalloc(list->items, sizeof(GrdDdlTarget) * list->size);
	}
	list->items[list->n].relid = relid;
	list->items[list->n].mode = mode;
	list->n++;
}

/*
 * Whether the current user may VACUUM a relation: as may_lock with
 * MAINTAIN, or as the owner of the database, of any relation there but
 * the shared catalogs (vacuum_is_permitted_for_relation in vacuum.c).
 * Leaving the database owner out would leave its VACUUM FULL of others'
 * tables unguarded: queued for its lock behind every reader, and, once
 * VACUUM has committed the transaction that held our lock_timeout, without
 * any timeout.
 */
static bool
may_vacuum(Oid relid)
{
	return may_lock(relid, 0, true) ||
		(!IsSharedRelation(relid) &&
		 grd_database_ownercheck(MyDatabaseId, GetUserId()));
}

/*
 * Add a relation, when it exists and the user may run the statement on it
 * (see may_lock); returns whether it was added.
 */
static bool
add_checked(TargetList *list, Oid relid, LOCKMODE mode, AclMode acl,
			bool maintain)
{
	if (!OidIsValid(relid) || !may_lock(relid, acl, maintain))
		return false;
	add(list, relid, mode);
	return true;
}

/*
 * The inheritance children (partitions) of a relation that a statement
 * names without ONLY, which it locks in the same mode after the relation.
 */
static void
add_children(TargetList *list, Oid relid, LOCKMODE mode)
{
	List	   *children;
	ListCell   *lc;

	if (!has_subclass(relid))
		return;
	children = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, children)
		if (lfirst_oid(lc) != relid)
			add(list, lfirst_oid(lc), mode);
}

/* A relation's TOAST table, or InvalidOid: its pg_class row says. */
static Oid
toast_of(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			toastrelid;

	if (!HeapTupleIsValid(tuple))
		return InvalidOid;
	toastrelid = ((Form_pg_class) GETSTRUCT(tuple))->reltoastrelid;
	ReleaseSysCache(tuple);
	return toastrelid;
}

/*
 * REINDEX of a table (and its TOAST table): SHARE on the table, then
 * ACCESS EXCLUSIVE on each index it rebuilds, as reindex_index() asks.
 * An index is read by every query planned on its table, so its lock
 * blocks readers as surely as the table's would.
 */
static void
add_reindexed(TargetList *list, Oid relid, bool with_toast)
{
	Relation	rel = grd_ddl_relation_open_now(relid);
	List	   *indexes = NIL;
	ListCell   *lc;
	Oid			toastrelid = toast_of(relid);

	/*
	 * When the table is locked (or about to be) in ACCESS EXCLUSIVE by
	 * another session, its indexes are not known here: REINDEX then locks
	 * them itself, under the lock timeout that remains once the table's
	 * SHARE lock, which waits behind that session anyway, is had.
	 */
	if (rel != NULL)
	{
		indexes = RelationGetIndexList(rel);
		grd_ddl_relation_close_now(rel);
	}

	add(list, relid, ShareLock);
	foreach(lc, indexes)
		add(list, lfirst_oid(lc), AccessExclusiveLock);
	if (with_toast && OidIsValid(toastrelid))
		add_reindexed(list, toastrelid, false);
}

/*
 * The foreign keys of a list of constraints (a column's, or ALTER TABLE
 * ADD CONSTRAINT's): each locks the table it references in SHARE ROW
 * EXCLUSIVE, which needs the REFERENCES privilege there.
 */
static void
add_referenced(TargetList *list, List *constraints)
{
	ListCell   *lc;

	foreach(lc, constraints)
	{
		Node	   *node = lfirst(lc);

		if (IsA(node, Constraint) &&
			((Constraint *) node)->contype == CONSTR_FOREIGN)
			add_checked(list, grd_ddl_relid(((Constraint *) node)->pktable),
						ShareRowExclusiveLock, ACL_REFERENCES, false);
	}
}

/*
 * The tables that store values of domain typid, directly or through
 * domains over it, as PostgreSQL finds them to check its stored values
 * (get_rels_with_domain in typecmds.c): tables and materialized views
 * with a column of it, appended once each to *relids.  Reads pg_depend.
 */
void
grd_ddl_domain_tables(Oid typid, List **relids)
{
	Relation	depend;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tuple;

	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(TypeRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(typid));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL,
							  2, key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);
		char		relkind;

		if (dep->classid == TypeRelationId)
		{
			if (get_typtype(dep->objid) == TYPTYPE_DOMAIN)
				grd_ddl_domain_tables(dep->objid, relids);
			continue;
		}
		if (dep->classid != RelationRelationId || dep->objsubid <= 0 ||
			list_member_oid(*relids, dep->objid))
			continue;
		relkind = get_rel_relkind(dep->objid);
		if (relkind == RELKIND_RELATION || relkind == RELKIND_MATVIEW)
			*relids = lappend_oid(*relids, dep->objid);
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);
}

/*
 * The domain an ALTER DOMAIN that checks stored values names: ADD
 * CONSTRAINT ... CHECK or NOT NULL without NOT VALID, SET NOT NULL,
 * VALIDATE CONSTRAINT.  InvalidOid for any other ALTER DOMAIN, and when
 * the current user does not own the domain (PostgreSQL refuses it; the
 * owner may run it whoever owns the tables).
 */
Oid
grd_ddl_checked_domain(AlterDomainStmt *stmt)
{
	Constraint *con = (Constraint *) stmt->def;
	Oid			typid;

	switch (stmt->subtype)
	{
		case 'O':				/* SET NOT NULL */
		case 'V':				/* VALIDATE CONSTRAINT */
			break;
		case 'C':				/* ADD CONSTRAINT */
			if (con == NULL || !IsA(con, Constraint) || con->skip_validation ||
				(con->contype != CONSTR_CHECK &&
				 con->contype != CONSTR_NOTNULL))
				return InvalidOid;
			break;
		default:
			return InvalidOid;
	}
	typid = LookupTypeNameOid(NULL, makeTypeNameFromNameList(stmt->typeName),
							  true);
	if (!OidIsValid(typid) || get_typtype(typid) != TYPTYPE_DOMAIN ||
		!grd_type_ownercheck(typid, GetUserId()))
		return InvalidOid;
	return typid;
}

/* ALTER TABLE (INDEX, VIEW, ...): its relation and what its commands name. */
static void
alter_table_targets(TargetList *list, AlterTableStmt *stmt)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	ListCell   *lc;

	if (!add_checked(list, relid, AlterTableGetLockLevel(stmt->cmds), 0,
					 false))
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = (AlterTableCmd *) lfirst(lc);

		switch (cmd->subtype)
		{
			case AT_AttachPartition:
			case AT_DetachPartition:
				{
					PartitionCmd *part = (PartitionCmd *) cmd->def;

					/*
					 * Decided by the relation, not by the words: ALTER
					 * TABLE may name a partitioned index, whose partition
					 * is an index, locked alone (ATExecAttachPartitionIdx).
					 */
					if (get_rel_relkind(relid) == RELKIND_PARTITIONED_INDEX)
					{
						add_checked(list, grd_ddl_relid(part->name),
									AccessExclusiveLock, 0, false);
						break;
					}
					if (get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE)
						break;
					add_checked(list, grd_ddl_relid(part->name),
								AccessExclusiveLock, 0, false);
					/* the default partition is scanned or re-checked */
					add(list, get_default_partition_oid(relid),
						AccessExclusiveLock);
					break;
				}
			case AT_AddConstraint:
				if (cmd->def != NULL)
					add_referenced(list, list_make1(cmd->def));
				break;
			case AT_AddColumn:
				add_referenced(list, castNode(ColumnDef, cmd->def)->constraints);
				break;
			default:
				break;
		}
	}
}

/*
 * The relations a statement is about to lock, and in which mode, stored
 * in *targets (palloc'd); returns how many.  See the file header for which
 * locks are known; relations the user may not run the statement on are
 * left out, and so are all of them for a CONCURRENTLY form.  Looks
 * relations up by name, without a lock.
 */
int
grd_ddl_targets(const GrdDdlStatement *st, GrdDdlTarget **targets)
{
	TargetList	list = {NULL, 0, 0};
	Node	   *parsetree = st->stmt;
	ListCell   *lc;

	*targets = NULL;
	if (st->concurrent)
		return 0;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			alter_table_targets(&list, (AlterTableStmt *) parsetree);
			break;
		case T_IndexStmt:
			add_checked(&list, grd_ddl_relid(((IndexStmt *) parsetree)->relation),
						ShareLock, 0, false);
			break;
		case T_AlterDomainStmt:
			{
				/* SHARE on each table whose stored values it checks */
				Oid			typid = grd_ddl_checked_domain((AlterDomainStmt *) parsetree);
				List	   *relids = NIL;

				if (!OidIsValid(typid))
					break;
				grd_ddl_domain_tables(typid, &relids);
				foreach(lc, relids)
					add(&list, lfirst_oid(lc), ShareLock);
				break;
			}
		case T_CreateTrigStmt:
			add_checked(&list,
						grd_ddl_relid(((CreateTrigStmt *) parsetree)->relation),
						ShareRowExclusiveLock, 0, false);
			break;
		case T_CreateStmt:
			/* a new table locks only the tables its foreign keys reference */
			foreach(lc, ((CreateStmt *) parsetree)->tableElts)
			{
				Node	   *elt = lfirst(lc);

				if (IsA(elt, ColumnDef))
					add_referenced(&list, ((ColumnDef *) elt)->constraints);
				else if (IsA(elt, Constraint))
					add_referenced(&list, list_make1(elt));
			}
			add_referenced(&list, ((CreateStmt *) parsetree)->constraints);
			break;
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;
				Oid			relid = grd_ddl_relid(stmt->relation);

				/*
				 * Every rename that names a relation (the relation itself,
				 * a column or attribute, a constraint, trigger, rule or
				 * policy of it) locks it in ACCESS EXCLUSIVE, whatever
				 * words it is spelled with: ALTER INDEX renames a table,
				 * ALTER TYPE ... RENAME ATTRIBUTE a table's column.  Only
				 * ALTER INDEX of a real index takes SHARE UPDATE EXCLUSIVE
				 * (RenameRelation in tablecmds.c), which blocks nobody's
				 * reads or writes: left to the statement.
				 */
				if (stmt->renameType == OBJECT_INDEX &&
					grd_ddl_is_index(relid))
					break;
				add_checked(&list, relid, AccessExclusiveLock, 0, false);
				break;
			}
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;

				if (stmt->removeType != OBJECT_TABLE &&
					stmt->removeType != OBJECT_INDEX &&
					stmt->removeType != OBJECT_VIEW &&
					stmt->removeType != OBJECT_MATVIEW &&
					stmt->removeType != OBJECT_SEQUENCE &&
					stmt->removeType != OBJECT_FOREIGN_TABLE)
					break;
				foreach(lc, stmt->objects)
				{
					Oid			relid;

					relid = grd_ddl_relid(makeRangeVarFromNameList((List *) lfirst(lc)));
					if (!OidIsValid(relid) || !may_lock(relid, 0, false))
						continue;
					/* DROP INDEX locks the index's table first */
					if (stmt->removeType == OBJECT_INDEX)
						add(&list, IndexGetRelation(relid, true),
							AccessExclusiveLock);
					add(&list, relid, AccessExclusiveLock);
				}
				break;
			}
		case T_TruncateStmt:
			foreach(lc, ((TruncateStmt *) parsetree)->relations)
			{
				RangeVar   *rv = lfirst_node(RangeVar, lc);
				Oid			relid = grd_ddl_relid(rv);

				if (add_checked(&list, relid, AccessExclusiveLock,
								ACL_TRUNCATE, false) && rv->inh)
					add_children(&list, relid, AccessExclusiveLock);
			}
			break;
		case T_LockStmt:
			{
				LockStmt   *stmt = (LockStmt *) parsetree;

				/* NOWAIT never queues: PostgreSQL's own attempt is enough */
				if (stmt->nowait || stmt->mode <= RowExclusiveLock)
					break;
				foreach(lc, stmt->relations)
				{
					RangeVar   *rv = lfirst_node(RangeVar, lc);
					Oid			relid = grd_ddl_relid(rv);

					/* what LOCK TABLE asks for these modes (LockTableAclCheck) */
					if (add_checked(&list, relid, stmt->mode,
									ACL_UPDATE | ACL_DELETE | ACL_TRUNCATE,
									true) && rv->inh)
						add_children(&list, relid, stmt->mode);
				}
				break;
			}
		case T_ReindexStmt:
			{
				ReindexStmt *stmt = (ReindexStmt *) parsetree;
				Oid			relid = grd_ddl_relid(stmt->relation);

				if (stmt->kind == REINDEX_OBJECT_INDEX && OidIsValid(relid))
				{
					Oid			heapid = IndexGetRelation(relid, true);

					if (OidIsValid(heapid) && may_lock(heapid, 0, true))
					{
						add(&list, heapid, ShareLock);
						add(&list, relid, AccessExclusiveLock);
					}
				}
				else if (stmt->kind == REINDEX_OBJECT_TABLE && OidIsValid(relid) &&
						 get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE &&
						 may_lock(relid, 0, true))
					add_reindexed(&list, relid, true);
				break;
			}
		case T_VacuumStmt:
			/* VACUUM FULL: ACCESS EXCLUSIVE on each table and its TOAST */
			if (!st->strong_lock)
				break;
			foreach(lc, ((VacuumStmt *) parsetree)->rels)
			{
				VacuumRelation *vrel = lfirst_node(VacuumRelation, lc);
				Oid			relid = grd_ddl_relid(vrel->relation);

				if (!OidIsValid(relid) || !may_vacuum(relid))
					continue;
				add(&list, relid, AccessExclusiveLock);
				if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
					add_children(&list, relid, AccessExclusiveLock);
				else
					add(&list, toast_of(relid), AccessExclusiveLock);
			}
			break;
		case T_GrdClusterStmt:
			add_checked(&list, grd_ddl_relid(grd_cluster_relation(parsetree)),
						AccessExclusiveLock, 0, true);
			break;
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;

				add_checked(&list, grd_ddl_relid(stmt->relation),
							stmt->concurrent ? ExclusiveLock : AccessExclusiveLock,
							0, true);
				break;
			}
		default:
			break;
	}
	*targets = list.items;
	return list.n;
}
