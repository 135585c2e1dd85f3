/*-------------------------------------------------------------------------
 *
 * ddl_rules_types.c
 *		Schema-change rules about types: json_column, a column of type json
 *		added to an existing table (or changed to json), which breaks the
 *		running queries that compare whole rows; new_enum_value, an enum
 *		value used in the transaction that added it, which PostgreSQL
 *		refuses (check_migration() only: at run time PostgreSQL refuses it
 *		itself, and ddl_check.c finds the uses in the script).
 *
 * Type json has no equality operator: SELECT DISTINCT, UNION (without
 * ALL), GROUP BY and the other operations that compare whole rows of a
 * table fail once it has a json column (or one of an array of json, or of
 * a domain over json).  The rule is about the queries that run on the
 * table, not about its size: it applies to every existing table the user
 * owns, empty or not, but not to a temporary table nor to one created in
 * the transaction, which no running query uses yet.  Its verdict is a
 * warning unless the operator sets it to enforce (ddl_policy.c).
 *
 * Locking: none of its own; the catalog is read through the syscache.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "ddl.h"
#include "ddl_rules.h"
#include "ddl_statement.h"

/*
 * Whether values of type typid are json underneath: json itself, a domain
 * over it, or an array of either.  None of them has an equality operator.
 */
static bool
is_json_type(Oid typid)
{
	Oid			elem;

	if (!OidIsValid(typid))
		return false;
	typid = getBaseType(typid);
	elem = get_element_type(typid);
	if (OidIsValid(elem))
		typid = getBaseType(elem);
	return typid == JSONOID;
}

/*
 * Rule json_column: column colname of table relid is added with type
 * typeName (ALTER TABLE ... ADD COLUMN), or changed to it (altered: ALTER
 * COLUMN ... TYPE), when that type is json underneath.  A column that is
 * json underneath already changes nothing.
 */
void
grd_ddl_check_json_column(Oid relid, const char *colname, TypeName *typeName,
						  bool altered)
{
	Oid			typid;
	bool		exempt;
	BlockNumber pages;

	if (typeName == NULL || !grd_ddl_is_table(relid) ||
		!grd_ddl_may_change(relid, false))
		return;
	if (grd_ddl_script != NULL &&
		list_member_oid(grd_ddl_script->dropped, relid))
		return;
	typid = LookupTypeNameOid(NULL, typeName, true);
	if (!is_json_type(typid))
		return;
	if (altered)
	{
		AttrNumber	attnum = get_attnum(relid, colname);

		if (attnum <= 0 || is_json_type(get_atttype(relid, attnum)))
			return;
	}
	pages = grd_ddl_relation_pages(relid, &exempt);
	if (exempt)
		return;
	grd_ddl_report(GRD_RULE_JSON_COLUMN, relid, pages,
				   grd_ddl_violates(GRD_RULE_JSON_COLUMN,
									altered ?
									psprintf("changing column \"%s\" of table \"%s\" to type %s",
											 colname, get_rel_name(relid),
											 format_type_be(typid)) :
									psprintf("adding column \"%s\" of type %s to table \"%s\"",
											 colname, format_type_be(typid),
											 get_rel_name(relid))),
				   psprintf("Type json has no equality operator: every query that compares whole rows of table \"%s\", such as SELECT DISTINCT or UNION over all its columns, fails once the statement commits.",
							grd_ddl_relation_name(relid)),
				   "Use type jsonb, which has equality and index support, instead of json.");
}

/*
 * The verdict of rule new_enum_value: a statement that uses (or, when
 * certain is false, may use: a string literal that only the statement's
 * analysis would type) value of enum type typid, in the transaction block
 * that added it.
 */
void
grd_ddl_report_enum_value(Oid typid, const char *value, bool certain)
{
	grd_ddl_report(GRD_RULE_NEW_ENUM_VALUE, InvalidOid, 0,
				   grd_ddl_violates(GRD_RULE_NEW_ENUM_VALUE,
									psprintf("%s value \"%s\" of enum type \"%s\" in the transaction that added it",
											 certain ? "using" : "possibly using",
											 value, format_type_be(typid))),
				   certain ?
				   "PostgreSQL refuses a value added by ALTER TYPE ... ADD VALUE until the transaction that added it commits, whatever the policy's level: the statement, and the rest of the block, would fail." :
				   psprintf("The statement has the string literal '%s': if PostgreSQL reads it as a value of type \"%s\", it refuses it until the transaction that added the value commits. The literal's type is decided only when the statement is analysed.",
							value, format_type_be(typid)),
				   "Commit after ALTER TYPE ... ADD VALUE, then use the new value in a later transaction.");
}
