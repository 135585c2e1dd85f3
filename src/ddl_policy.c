/*-------------------------------------------------------------------------
 *
 * ddl_policy.c
 *		The schema-change policy: the rules a careful operator applies to
 *		every migration, enforced.
 *
 * Which statements are DDL, and which relation a statement names, is
 * decided by ddl_statement.c.
 *
 * The policy (guardrails.ddl_policy = off | warn | enforce) has five rules,
 * each about a statement that would hold a lock that blocks writes (or
 * reads) for as long as it scans or copies a whole table:
 *
 *	new_column			ADD COLUMN that is NOT NULL without a default, or
 *						whose default must be computed for every row
 *	table_rewrite		anything that rewrites a whole table: ALTER TABLE
 *						when PostgreSQL decides to rewrite (table_rewrite
 *						event), VACUUM FULL, CLUSTER, REFRESH MATERIALIZED
 *						VIEW without CONCURRENTLY
 *	index_concurrently	CREATE INDEX or REINDEX without CONCURRENTLY, and
 *						ADD PRIMARY KEY / UNIQUE, which build an index the
 *						same way
 *	constraint_not_valid ADD FOREIGN KEY or CHECK without NOT VALID
 *	new_tables			CREATE TABLE (AS), SELECT INTO, when
 *						guardrails.allow_new_tables is off
 *
 * The first four apply to existing tables with data: a temporary table, a
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
 * the size of the table's main fork, without a lock.
 *
 * In enforce a violation is an ERROR, in warn a WARNING with the same text;
 * both carry SQLSTATE 42G01.  Extension scripts and binary upgrades are
 * exempt: they create what they must.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "storage/smgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "compat.h"
#include "ddl_audit.h"
#include "ddl_policy.h"
#include "ddl_statement.h"
#include "module.h"

/* guardrails.ddl_policy: what a schema-change rule violation does */
typedef enum GrdDdlPolicy
{
	GRD_DDL_POLICY_OFF,
	GRD_DDL_POLICY_WARN,
	GRD_DDL_POLICY_ENFORCE
} GrdDdlPolicy;

static const struct config_enum_entry ddl_policy_options[] =
{
	{"off", GRD_DDL_POLICY_OFF, false},
	{"warn", GRD_DDL_POLICY_WARN, false},
	{"enforce", GRD_DDL_POLICY_ENFORCE, false},
	{NULL, 0, false}
};

/* settings */
static int	grd_ddl_policy = GRD_DDL_POLICY_WARN;
static bool grd_allow_new_tables = true;
static int	grd_ddl_policy_min_size = 1024;

/* The settings of the schema-change policy. */
static const GrdSetting ddl_policy_settings[] = {
	GRD_SETTING_ENUM("guardrails.ddl_policy", &grd_ddl_policy, GRD_DDL_POLICY_WARN, ddl_policy_options,
		PGC_SUSET, 0,
		"What a schema change that breaks a rule does: off, warn or enforce.",
		NULL),
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
 * The data pages of one relation, or 0 when it is exempt from the rules:
 * temporary, created in this transaction, or not there (*exempt is then
 * set).  Read without a lock, from the relation cache and the size of its
 * main fork.
 */
static BlockNumber
relation_pages(Oid relid, bool *exempt)
{
	Relation	rel = RelationIdGetRelation(relid);
	BlockNumber pages = 0;

	*exempt = true;
	if (!RelationIsValid(rel))
		return 0;
	if (rel->rd_rel->relpersistence != RELPERSISTENCE_TEMP &&
		rel->rd_createSubid == InvalidSubTransactionId)
	{
		*exempt = false;
		if (RELKIND_HAS_STORAGE(rel->rd_rel->relkind) &&
			smgrexists(RelationGetSmgr(rel), MAIN_FORKNUM))
			pages = smgrnblocks(RelationGetSmgr(rel), MAIN_FORKNUM);
	}
	RelationClose(rel);
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

/* How a violation of a rule is reported: ERROR in enforce, else WARNING. */
static int
violation_level(const char *rule)
{
	if (grd_ddl_policy == GRD_DDL_POLICY_ENFORCE)
		return ERROR;
	grd_ddl_audit_note_warning(rule);
	return WARNING;
}

/* POLICY_REPORT(rule, (errmsg(...), errdetail(...), errhint(...))) */
#define POLICY_REPORT(rule, rest) \
	ereport(violation_level(rule), \
			(errcode(GRD_ERRCODE_DDL_POLICY), rest))

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
		POLICY_REPORT("new_column",
					  (errmsg("adding column \"%s\" %s violates schema-change rule \"new_column\"",
							  col->colname, per_row),
					   errdetail("Its value would be computed for every row, rewriting all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
								 pages_pretty(pages), grd_ddl_relation_name(relid)),
					   errhint("Add the column without a default or with a constant one, then fill it in batches.")));
	}
	else if (not_null && !has_default)
		POLICY_REPORT("new_column",
					  (errmsg("adding column \"%s\" as NOT NULL without a default violates schema-change rule \"new_column\"",
							  col->colname),
					   errdetail("Table \"%s\" holds %s of existing rows, which would have no value for it.",
								 grd_ddl_relation_name(relid), pages_pretty(pages)),
					   errhint("Add the column as nullable, backfill it in batches, then add a NOT VALID check constraint and validate it.")));
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

	POLICY_REPORT("index_concurrently",
				  (errmsg("building an index on table \"%s\" without CONCURRENTLY violates schema-change rule \"index_concurrently\"",
						  get_rel_name(relid)),
				   errdetail("Table \"%s\" holds %s, and writes to it would be blocked until the build ends.",
							 grd_ddl_relation_name(relid), pages_pretty(pages)),
				   errhint("%s", hint)));
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
	POLICY_REPORT("table_rewrite",
				  (errmsg("rewriting table \"%s\" violates schema-change rule \"table_rewrite\"",
						  get_rel_name(relid)),
				   errdetail("%s rewrites all %s of table \"%s\" under an ACCESS EXCLUSIVE lock.",
							 command, pages_pretty(pages),
							 grd_ddl_relation_name(relid)),
				   errhint("%s", hint)));
}

static const char *vacuum_full_hint =
"Use plain VACUUM, or a tool that rebuilds tables online.";

/* ALTER TABLE: rules new_column, index_concurrently, constraint_not_valid. */
static void
check_alter_table(AlterTableStmt *stmt)
{
	Oid			relid = grd_ddl_relid(stmt->relation);
	BlockNumber pages = table_pages(relid, false);
	ListCell   *lc;

	if (pages == 0)
		return;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *con;

		if (cmd->subtype == AT_AddColumn)
		{
			check_new_column(relid, pages, castNode(ColumnDef, cmd->def));
			continue;
		}
		if (cmd->subtype != AT_AddConstraint || !IsA(cmd->def, Constraint))
			continue;

		con = (Constraint *) cmd->def;
		switch (con->contype)
		{
			case CONSTR_FOREIGN:
			case CONSTR_CHECK:
				if (con->skip_validation)
					break;
				POLICY_REPORT("constraint_not_valid",
							  (errmsg("adding a %s constraint to table \"%s\" without NOT VALID violates schema-change rule \"constraint_not_valid\"",
									  con->contype == CONSTR_FOREIGN ? "FOREIGN KEY" : "CHECK",
									  get_rel_name(relid)),
							   errdetail("Validating it would scan all %s of table \"%s\" while writes to it are blocked.",
										 pages_pretty(pages), grd_ddl_relation_name(relid)),
							   errhint("Add the constraint with NOT VALID, then validate it with ALTER TABLE ... VALIDATE CONSTRAINT, which does not block writes.")));
				break;
			case CONSTR_PRIMARY:
			case CONSTR_UNIQUE:
			case CONSTR_EXCLUSION:
				if (con->indexname == NULL)
					report_index_build(relid, pages,
									   "Build a unique index with CREATE UNIQUE INDEX CONCURRENTLY, then add the constraint with ADD CONSTRAINT ... USING INDEX.");
				break;
			default:
				break;
		}
	}
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
			POLICY_REPORT("index_concurrently",
						  (errmsg("rebuilding indexes without CONCURRENTLY violates schema-change rule \"index_concurrently\""),
						   errdetail("REINDEX %s \"%s\" rebuilds every index in it, blocking writes to each table in turn.",
									 stmt->kind == REINDEX_OBJECT_SCHEMA ? "SCHEMA" : "DATABASE",
									 stmt->name ? stmt->name : get_database_name(MyDatabaseId)),
						   errhint("Rebuild them with REINDEX CONCURRENTLY.")));
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
		POLICY_REPORT("table_rewrite",
					  (errmsg("rewriting every table violates schema-change rule \"table_rewrite\""),
					   errdetail("VACUUM FULL without a table rewrites every table of database \"%s\", each under an ACCESS EXCLUSIVE lock.",
								 get_database_name(MyDatabaseId)),
					   errhint("%s", vacuum_full_hint)));
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
	POLICY_REPORT("new_tables",
				  (errmsg("creating table \"%s\" violates schema-change rule \"new_tables\"",
						  rv->relname),
				   errdetail("guardrails.allow_new_tables is off: this instance takes no new tables."),
				   errhint("Create the table on an instance that is open to new workloads.")));
}

/*
 * Before a utility statement runs, and before it takes any lock: report
 * (warn) or reject (enforce) what the rules decide from the statement.
 */
void
grd_ddl_policy_check(Node *parsetree)
{
	rewrite_reported = InvalidOid;
	if (grd_ddl_policy == GRD_DDL_POLICY_OFF || creating_extension ||
		IsBinaryUpgrade || RecoveryInProgress())
		return;

	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) parsetree);
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
				POLICY_REPORT("table_rewrite",
							  (errmsg("rewriting every clustered table violates schema-change rule \"table_rewrite\""),
							   errdetail("%s without a table rewrites every table clustered before, each under an ACCESS EXCLUSIVE lock.",
										 grd_cluster_command(parsetree)),
							   errhint("%s", vacuum_full_hint)));
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
	if (!grd_preloaded() || grd_ddl_policy == GRD_DDL_POLICY_OFF ||
		creating_extension || IsBinaryUpgrade)
		PG_RETURN_VOID();

	relid = DatumGetObjectId(pg_event_trigger_table_rewrite_oid(fcinfo));
	reason = DatumGetInt32(pg_event_trigger_table_rewrite_reason(fcinfo));
	if (relid == rewrite_reported)
		PG_RETURN_VOID();
	pages = table_pages(relid, false);
	if (pages == 0)
		PG_RETURN_VOID();

	POLICY_REPORT("table_rewrite",
				  (errmsg("rewriting table \"%s\" violates schema-change rule \"table_rewrite\"",
						  get_rel_name(relid)),
				   errdetail("ALTER TABLE would rewrite all %s of table \"%s\" under an ACCESS EXCLUSIVE lock, for %s.",
							 pages_pretty(pages), grd_ddl_relation_name(relid),
							 rewrite_reason(reason)),
				   errhint("Make the change without a rewrite (for example, a new column backfilled in batches), or make it in a maintenance window with guardrails.ddl_policy set to off.")));
	PG_RETURN_VOID();
}

const GrdModule grd_ddl_policy_module = {
	.name = "DDL policy",
	.settings = ddl_policy_settings,
};
