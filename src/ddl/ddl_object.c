/*-------------------------------------------------------------------------
 *
 * ddl_object.c
 *		What object a DDL statement names: its type and identity, as the
 *		entry of the DDL log shows them, read from the parse tree.
 *
 * grd_ddl_describe_statement() runs at the start of a statement and again
 * after it succeeded (see its comment for which lookups run when); its
 * lookups take no lock.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl_entry.h"
#include "ddl_object.h"

/* The name of an object type, as getObjectTypeDescription() spells it. */
static const char *
objtype_name(ObjectType type)
{
	switch (type)
	{
		case OBJECT_TABLE:
			return "table";
		case OBJECT_INDEX:
			return "index";
		case OBJECT_SEQUENCE:
			return "sequence";
		case OBJECT_VIEW:
			return "view";
		case OBJECT_MATVIEW:
			return "materialized view";
		case OBJECT_FOREIGN_TABLE:
			return "foreign table";
		case OBJECT_COLUMN:
			return "table column";
		case OBJECT_TABCONSTRAINT:
			return "table constraint";
		case OBJECT_DOMCONSTRAINT:
			return "domain constraint";
		case OBJECT_SCHEMA:
			return "schema";
		case OBJECT_FUNCTION:
			return "function";
		case OBJECT_PROCEDURE:
			return "procedure";
		case OBJECT_ROUTINE:
			return "routine";
		case OBJECT_AGGREGATE:
			return "aggregate";
		case OBJECT_TYPE:
			return "type";
		case OBJECT_DOMAIN:
			return "domain";
		case OBJECT_TRIGGER:
			return "trigger";
		case OBJECT_RULE:
			return "rule";
		case OBJECT_POLICY:
			return "policy";
		case OBJECT_EXTENSION:
			return "extension";
		case OBJECT_DATABASE:
			return "database";
		case OBJECT_ROLE:
			return "role";
		case OBJECT_TABLESPACE:
			return "tablespace";
		case OBJECT_COLLATION:
			return "collation";
		case OBJECT_CONVERSION:
			return "conversion";
		case OBJECT_OPERATOR:
			return "operator";
		case OBJECT_EVENT_TRIGGER:
			return "event trigger";
		case OBJECT_FOREIGN_SERVER:
			return "server";
		case OBJECT_FDW:
			return "foreign-data wrapper";
		case OBJECT_PUBLICATION:
			return "publication";
		case OBJECT_SUBSCRIPTION:
			return "subscription";
		case OBJECT_STATISTIC_EXT:
			return "statistics object";
		case OBJECT_LANGUAGE:
			return "language";
		default:
			return "";
	}
}

static bool
is_relation_type(ObjectType type)
{
	return type == OBJECT_TABLE || type == OBJECT_INDEX ||
		type == OBJECT_SEQUENCE || type == OBJECT_VIEW ||
		type == OBJECT_MATVIEW || type == OBJECT_FOREIGN_TABLE;
}

/*
 * The type of relation relid by its kind, which PostgreSQL lets differ
 * from the statement's words (ALTER INDEX renames a table, ALTER TABLE
 * alters a view or an index); written, the type the words say, when the
 * kind is none of these.
 */
static const char *
relkind_type_name(Oid relid, const char *written)
{
	switch (get_rel_relkind(relid))
	{
		case RELKIND_RELATION:
		case RELKIND_PARTITIONED_TABLE:
			return objtype_name(OBJECT_TABLE);
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return objtype_name(OBJECT_INDEX);
		case RELKIND_SEQUENCE:
			return objtype_name(OBJECT_SEQUENCE);
		case RELKIND_VIEW:
			return objtype_name(OBJECT_VIEW);
		case RELKIND_MATVIEW:
			return objtype_name(OBJECT_MATVIEW);
		case RELKIND_FOREIGN_TABLE:
			return objtype_name(OBJECT_FOREIGN_TABLE);
		default:
			return written;
	}
}

/*
 * The schema-qualified name of a relation named by rv, when it can be
 * found without taking a lock or raising an error: an explicit schema is
 * taken as written, an unqualified name is searched in search_path when
 * lookup is set.  Sets *resolved when the result is qualified.
 */
static char *
relation_identity(const RangeVar *rv, const char *relname, bool lookup,
				  bool *resolved)
{
	Oid			relid;
	char	   *nspname;

	if (relname == NULL)
		relname = rv->relname;
	if (rv->schemaname != NULL)
	{
		*resolved = true;
		return quote_qualified_identifier(rv->schemaname, relname);
	}
	if (lookup && rv->relname != NULL)
	{
		relid = RelnameGetRelid(rv->relname);
		if (OidIsValid(relid) &&
			(nspname = get_namespace_name(get_rel_namespace(relid))) != NULL)
		{
			*resolved = true;
			return quote_qualified_identifier(nspname, relname);
		}
	}
	*resolved = false;
	return (char *) quote_identifier(relname);
}

/* The name of a non-relation object as the statement writes it. */
static char *
object_name(Node *object)
{
	if (object == NULL)
		return "";
	if (IsA(object, List))
		return NameListToQuotedString((List *) object);
	if (IsA(object, String))
		return (char *) quote_identifier(strVal(object));
	if (IsA(object, ObjectWithArgs))
		return NameListToQuotedString(((ObjectWithArgs *) object)->objname);
	if (IsA(object, TypeName))
		return TypeNameToString((TypeName *) object);
	return "";
}

/*
 * A role as the statement writes it: its name, or the keyword standing for
 * one (resolving CURRENT_USER would need a lookup, and may fail).
 */
static const char *
rolespec_name(const RoleSpec *role)
{
	if (role == NULL)
		return "";
	switch (role->roletype)
	{
		case ROLESPEC_CSTRING:
			return quote_identifier(role->rolename);
		case ROLESPEC_CURRENT_ROLE:
			return "CURRENT_ROLE";
		case ROLESPEC_CURRENT_USER:
			return "CURRENT_USER";
		case ROLESPEC_SESSION_USER:
			return "SESSION_USER";
		case ROLESPEC_PUBLIC:
			return "PUBLIC";
	}
	return "";
}

/* A relation named by a dotted name list (DROP TABLE a.b, ...). */
static char *
relation_list_identity(List *names, bool lookup, bool *resolved)
{
	if (list_length(names) < 1 || list_length(names) > 3)
	{
		*resolved = true;
		return NameListToQuotedString(names);
	}
	return relation_identity(makeRangeVarFromNameList(names), NULL, lookup,
							 resolved);
}

/*
 * The relations a TRUNCATE, LOCK or VACUUM names (TRUNCATE a, b; VACUUM
 * FULL a, b), comma-separated; *resolved is set when all of them are
 * qualified.  TRUNCATE and LOCK list RangeVars, VACUUM VacuumRelations.
 */
static char *
relations_identity(Node *stmt, bool lookup, bool *resolved)
{
	List	   *relations;
	StringInfoData buf;
	ListCell   *lc;

	if (IsA(stmt, TruncateStmt))
		relations = ((TruncateStmt *) stmt)->relations;
	else if (IsA(stmt, LockStmt))
		relations = ((LockStmt *) stmt)->relations;
	else
		relations = castNode(VacuumStmt, stmt)->rels;

	initStringInfo(&buf);
	*resolved = true;
	foreach(lc, relations)
	{
		RangeVar   *rv = lfirst(lc);
		bool		one_resolved = true;

		if (IsA(rv, VacuumRelation))
			rv = ((VacuumRelation *) rv)->relation;
		if (rv == NULL)
			continue;
		if (buf.len > 0)
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, relation_identity(rv, NULL, lookup,
													   &one_resolved));
		*resolved = *resolved && one_resolved;
	}
	return buf.data;
}

/*
 * The statements that create or change one relation of a fixed type, named
 * by a RangeVar field of their node: the type, and the offset of that field
 * in the node, so that grd_ddl_describe_statement() reads all of them the
 * same way.
 */
typedef struct OneRelationStatement
{
	NodeTag		tag;
	const char *type;
	size_t		relation_offset;	/* of the node's RangeVar pointer */
} OneRelationStatement;

static const OneRelationStatement one_relation_statements[] = {
	{T_CreateStmt, "table", offsetof(CreateStmt, relation)},
	{
		T_CreateForeignTableStmt, "foreign table",
		offsetof(CreateForeignTableStmt, base.relation)
	},
	{T_ViewStmt, "view", offsetof(ViewStmt, view)},
	{T_CreateSeqStmt, "sequence", offsetof(CreateSeqStmt, sequence)},
	{T_AlterSeqStmt, "sequence", offsetof(AlterSeqStmt, sequence)},
	{
		T_RefreshMatViewStmt, "materialized view",
		offsetof(RefreshMatViewStmt, relation)
	},
};

/*
 * Fill audit->object_type and object_identity from the parse tree.
 *
 * Unqualified relation names are looked up in search_path after the
 * statement succeeded (after = true), when the catalog caches are warm and
 * what it created exists.  At the start (after = false) only statements
 * that make a name disappear (DROP, RENAME, SET SCHEMA) look it up: any
 * other lookup there would only warm caches for the statement, moving its
 * cost out of the time that guardrails.latency and pg_stat_statements
 * measure for it.  CREATE INDEX CONCURRENTLY looks up too: if it fails,
 * its invalid index remains, and the entry must name it (the lookup is
 * nothing next to a concurrent build).  A failed statement therefore
 * names most objects as it wrote them.  Only relation names are
 * qualified; other objects are named as the statement writes them.
 */
void
grd_ddl_describe_statement(GrdDdlAudit *audit, bool after)
{
	Node	   *tree = audit->parsetree;
	const char *type = "";
	char	   *identity = "";
	RangeVar   *relation = NULL;	/* the relation it names, if any */
	char	   *relname = NULL;		/* the name of an index on relation */
	Node	   *other_object = NULL;	/* or the other object it names */
	bool		resolved = true;
	bool		by_kind = false;	/* a relation, typed by its kind */
	bool		lookup = after || IsA(tree, DropStmt) ||
		IsA(tree, RenameStmt) || IsA(tree, AlterObjectSchemaStmt) ||
		(IsA(tree, IndexStmt) && ((IndexStmt *) tree)->concurrent);

	switch (nodeTag(tree))
	{
		case T_IndexStmt:
			type = "index";
			/* an index lives in its table's schema */
			relname = ((IndexStmt *) tree)->idxname;
			if (relname != NULL)
				relation = ((IndexStmt *) tree)->relation;
			break;
		case T_CreateTableAsStmt:
			type = objtype_name(((CreateTableAsStmt *) tree)->objtype);
			relation = ((CreateTableAsStmt *) tree)->into->rel;
			break;
		case T_AlterTableStmt:
			type = objtype_name(((AlterTableStmt *) tree)->objtype);
			relation = ((AlterTableStmt *) tree)->relation;
			by_kind = true;
			break;

			/*
			 * RENAME, SET SCHEMA, OWNER TO: a relation or another object, in
			 * fields of the same names in three node types.
			 */
#define RELATION_OR_OBJECT(node, type_field) \
			type = objtype_name(((node *) tree)->type_field); \
			relation = ((node *) tree)->relation; \
			other_object = ((node *) tree)->object; \
			by_kind = is_relation_type(((node *) tree)->type_field)
		case T_RenameStmt:
			RELATION_OR_OBJECT(RenameStmt, renameType);
			/* a role, schema, database or tablespace: by its old name */
			if (relation == NULL && other_object == NULL &&
				((RenameStmt *) tree)->subname != NULL)
				identity = (char *) quote_identifier(((RenameStmt *) tree)->subname);
			break;
		case T_AlterObjectSchemaStmt:
			RELATION_OR_OBJECT(AlterObjectSchemaStmt, objectType);
			break;
		case T_AlterOwnerStmt:
			RELATION_OR_OBJECT(AlterOwnerStmt, objectType);
			break;
#undef RELATION_OR_OBJECT
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) tree;
				StringInfoData buf;
				ListCell   *lc;

				type = objtype_name(stmt->removeType);
				initStringInfo(&buf);
				foreach(lc, stmt->objects)
				{
					Node	   *object = (Node *) lfirst(lc);
					bool		one_resolved = true;

					if (buf.len > 0)
						appendStringInfoString(&buf, ", ");
					if (is_relation_type(stmt->removeType) && IsA(object, List))
						appendStringInfoString(&buf,
											   relation_list_identity((List *) object,
																	  lookup,
																	  &one_resolved));
					else
						appendStringInfoString(&buf, object_name(object));
					resolved = resolved && one_resolved;
				}
				identity = buf.data;
				break;
			}
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) tree;

				type = "trigger";
				identity = psprintf("%s on %s", quote_identifier(stmt->trigname),
									relation_identity(stmt->relation, NULL,
													  lookup, &resolved));
				break;
			}
		case T_CreateSchemaStmt:
			{
				CreateSchemaStmt *stmt = (CreateSchemaStmt *) tree;

				type = "schema";
				if (stmt->schemaname != NULL)
					identity = (char *) quote_identifier(stmt->schemaname);
				break;
			}
		case T_CreateFunctionStmt:
			{
				CreateFunctionStmt *stmt = (CreateFunctionStmt *) tree;

				type = stmt->is_procedure ? "procedure" : "function";
				identity = NameListToQuotedString(stmt->funcname);
				break;
			}

			/* statements that lock existing relations (ddl_statement.c) */
		case T_TruncateStmt:
		case T_LockStmt:
		case T_VacuumStmt:
			type = "table";
			identity = relations_identity(tree, lookup, &resolved);
			break;
		case T_GrdClusterStmt:
			type = "table";
			relation = grd_cluster_relation(tree);
			break;
		case T_ReindexStmt:
			{
				ReindexStmt *stmt = (ReindexStmt *) tree;

				switch (stmt->kind)
				{
					case REINDEX_OBJECT_INDEX:
						type = "index";
						relation = stmt->relation;
						break;
					case REINDEX_OBJECT_TABLE:
						type = "table";
						relation = stmt->relation;
						break;
					case REINDEX_OBJECT_SCHEMA:
						type = "schema";
						identity = (char *) quote_identifier(stmt->name);
						break;
					default:
						type = "database";
						if (stmt->name != NULL)
							identity = (char *) quote_identifier(stmt->name);
						break;
				}
				break;
			}
		case T_CreateRoleStmt:
			type = "role";
			identity = (char *) quote_identifier(((CreateRoleStmt *) tree)->role);
			break;
		case T_AlterRoleStmt:
			type = "role";
			identity = (char *) rolespec_name(((AlterRoleStmt *) tree)->role);
			break;
		case T_AlterRoleSetStmt:
			/* ALTER ROLE ALL SET names no role */
			type = "role";
			identity = (char *) rolespec_name(((AlterRoleSetStmt *) tree)->role);
			break;
		case T_DropRoleStmt:
			{
				StringInfoData buf;
				ListCell   *lc;

				type = "role";
				initStringInfo(&buf);
				foreach(lc, ((DropRoleStmt *) tree)->roles)
				{
					if (buf.len > 0)
						appendStringInfoString(&buf, ", ");
					appendStringInfoString(&buf,
										   rolespec_name(lfirst_node(RoleSpec, lc)));
				}
				identity = buf.data;
				break;
			}

			/*
			 * Types, as written: a composite type has a row in pg_class, but
			 * it is named as the other types are, not qualified.
			 */
		case T_CompositeTypeStmt:
			{
				RangeVar   *rv = ((CompositeTypeStmt *) tree)->typevar;

				type = "type";
				identity = rv->schemaname != NULL ?
					quote_qualified_identifier(rv->schemaname, rv->relname) :
					(char *) quote_identifier(rv->relname);
				break;
			}
		case T_CreateEnumStmt:
			type = "type";
			identity = NameListToQuotedString(((CreateEnumStmt *) tree)->typeName);
			break;
		case T_CreateRangeStmt:
			type = "type";
			identity = NameListToQuotedString(((CreateRangeStmt *) tree)->typeName);
			break;
		case T_AlterEnumStmt:
			type = "type";
			identity = NameListToQuotedString(((AlterEnumStmt *) tree)->typeName);
			break;
		case T_AlterTypeStmt:
			type = "type";
			identity = NameListToQuotedString(((AlterTypeStmt *) tree)->typeName);
			break;
		case T_CreateDomainStmt:
			type = "domain";
			identity = NameListToQuotedString(((CreateDomainStmt *) tree)->domainname);
			break;
		case T_AlterDomainStmt:
			type = "domain";
			identity = NameListToQuotedString(((AlterDomainStmt *) tree)->typeName);
			break;
		case T_DefineStmt:
			/* CREATE TYPE name (...), AGGREGATE, OPERATOR, COLLATION... */
			type = objtype_name(((DefineStmt *) tree)->kind);
			identity = NameListToQuotedString(((DefineStmt *) tree)->defnames);
			break;
		case T_CreateExtensionStmt:
			type = "extension";
			identity = (char *) quote_identifier(((CreateExtensionStmt *) tree)->extname);
			break;
		case T_CreatedbStmt:
			type = "database";
			identity = (char *) quote_identifier(((CreatedbStmt *) tree)->dbname);
			break;
		case T_DropdbStmt:
			type = "database";
			identity = (char *) quote_identifier(((DropdbStmt *) tree)->dbname);
			break;
		default:
			for (int i = 0; i < lengthof(one_relation_statements); i++)
			{
				const OneRelationStatement *st = &one_relation_statements[i];

				if (nodeTag(tree) == st->tag)
				{
					type = st->type;
					relation = *(RangeVar **) ((char *) tree +
											   st->relation_offset);
				}
			}
			break;
	}

	if (relation != NULL)
		identity = relation_identity(relation, relname, lookup, &resolved);
	if (relation != NULL && by_kind && lookup)
	{
		Oid			relid = RangeVarGetRelid(relation, NoLock, true);

		if (OidIsValid(relid))
			type = relkind_type_name(relid, type);
	}
	else if (other_object != NULL)
		identity = object_name(other_object);

	/* after success, keep what the start found unless we found better */
	if (after && !resolved)
		return;
	strlcpy(audit->object_type, type, sizeof(audit->object_type));
	grd_ddl_copy_text(audit->object_identity, identity,
					  sizeof(audit->object_identity));
	audit->identity_resolved = resolved;
}
