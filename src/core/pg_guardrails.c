/*-------------------------------------------------------------------------
 *
 * pg_guardrails.c
 *		Module entry point: the list of feature modules, and _PG_init.
 *		Nothing else lives here.
 *
 * pg_guardrails works only from shared_preload_libraries: its state is in
 * shared memory, which can be requested only while the postmaster starts.
 * Loaded any other way (CREATE EXTENSION loads the library to check its
 * functions), it defines nothing and installs nothing, and its SQL
 * functions report that it must be preloaded.
 *
 * Each feature module describes itself in a GrdModule (module.h): its
 * settings, its shared memory, its section of the state file and its rows
 * of guardrails.status.  Adding a module means adding it to grd_modules[].
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "compat.h"
#include "hooks.h"
#include "module.h"

GRD_MODULE_MAGIC;

extern const GrdModule grd_config_module;
extern const GrdModule grd_latency_module;
extern const GrdModule grd_index_visibility_module;
extern const GrdModule grd_digest_limits_module;
extern const GrdModule grd_connection_limits_module;
extern const GrdModule grd_workload_module;
extern const GrdModule grd_overload_module;
extern const GrdModule grd_contain_module;
extern const GrdModule grd_wal_budget_module;
extern const GrdModule grd_wal_lag_module;
extern const GrdModule grd_ddl_lock_module;
extern const GrdModule grd_ddl_policy_module;
extern const GrdModule grd_ddl_log_module;
extern const GrdModule grd_ddl_history_module;
extern const GrdModule grd_stall_guard_module;

/*
 * Every module, in the order their settings are defined, their shared
 * memory is created and their rows of guardrails.status are shown.
 */
const GrdModule *const grd_modules[] = {
	&grd_config_module,
	&grd_latency_module,
	&grd_index_visibility_module,
	&grd_digest_limits_module,
	&grd_connection_limits_module,
	&grd_workload_module,
	&grd_overload_module,
	&grd_contain_module,
	&grd_wal_budget_module,
	&grd_wal_lag_module,
	&grd_ddl_lock_module,
	&grd_ddl_policy_module,
	&grd_ddl_log_module,
	&grd_ddl_history_module,
	&grd_stall_guard_module,
};
const int	grd_num_modules = lengthof(grd_modules);

void		_PG_init(void);

/*
 * Define the settings of one module's table.  The calls differ only in
 * the kind's own arguments; the common ones are named once.
 */
static void
define_settings(const GrdSetting *s)
{
	for (; s->kind != GRD_SETTING_END; s++)
	{
		const char *name = s->name;
		const char *sdesc = s->short_desc;
		const char *ldesc = s->long_desc;
		GucContext	ctx = s->context;
		int			flags = s->flags;

		switch (s->kind)
		{
			case GRD_SETTING_KIND_BOOL:
				DefineCustomBoolVariable(name, sdesc, ldesc, (bool *) s->variable,
										 s->boot_value != 0, ctx, flags,
										 NULL, NULL, NULL);
				break;
			case GRD_SETTING_KIND_INT:
				DefineCustomIntVariable(name, sdesc, ldesc, (int *) s->variable,
										(int) s->boot_value, (int) s->min_value,
										(int) s->max_value, ctx, flags,
										NULL, NULL, NULL);
				break;
			case GRD_SETTING_KIND_REAL:
				DefineCustomRealVariable(name, sdesc, ldesc, (double *) s->variable,
										 s->boot_value, s->min_value, s->max_value,
										 ctx, flags, NULL, NULL, NULL);
				break;
			case GRD_SETTING_KIND_STRING:
				DefineCustomStringVariable(name, sdesc, ldesc, (char **) s->variable,
										   s->boot_string, ctx, flags,
										   s->check_string, s->assign_string, NULL);
				break;
			case GRD_SETTING_KIND_ENUM:
				DefineCustomEnumVariable(name, sdesc, ldesc, (int *) s->variable,
										 (int) s->boot_value, s->options, ctx, flags,
										 NULL, NULL, NULL);
				break;
			case GRD_SETTING_END:
				break;
		}
	}
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	for (int i = 0; i < grd_num_modules; i++)
	{
		if (grd_modules[i]->settings)
			define_settings(grd_modules[i]->settings);
		if (grd_modules[i]->init)
			grd_modules[i]->init();
	}

	MarkGUCPrefixReserved("guardrails");

	/* Digests are core's query ids, whatever compute_query_id says. */
	EnableQueryId();

	grd_hooks_install();
}
