/*-------------------------------------------------------------------------
 *
 * module.h
 *		What a feature module of pg_guardrails tells the rest of the
 *		extension about itself.
 *
 * Each module (latency, connection limits, the DDL log, ...) fills in one
 * GrdModule, and pg_guardrails.c lists them all in grd_modules[].  _PG_init,
 * the shared-memory code (shmem.c) and the status view iterate over that
 * array; none of them names a module.  A new module therefore adds itself
 * in two places: its descriptor, and one line of grd_modules[].
 *
 * Every member but name may be NULL (or 0) when the module has nothing of
 * that kind.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_MODULE_H
#define GRD_MODULE_H

#include "utils/guc.h"

#include "shmem.h"

/*
 * One setting of a module, defined by _PG_init from the module's table.
 * The GRD_SETTING_* macros below fill one in for each kind.
 */
typedef enum GrdSettingKind
{
	GRD_SETTING_END = 0,		/* ends a module's table */
	GRD_SETTING_KIND_BOOL,
	GRD_SETTING_KIND_INT,
	GRD_SETTING_KIND_REAL,
	GRD_SETTING_KIND_STRING,
	GRD_SETTING_KIND_ENUM
} GrdSettingKind;

typedef struct GrdSetting
{
	GrdSettingKind kind;
	const char *name;
	void	   *variable;
	double		boot_value;		/* all kinds but string */
	const char *boot_string;	/* string */
	double		min_value;		/* int and real */
	double		max_value;
	const struct config_enum_entry *options;	/* enum */
	GucContext	context;
	int			flags;
	GucStringCheckHook check_string;	/* string */
	GucStringAssignHook assign_string;
	const char *short_desc;
	const char *long_desc;
} GrdSetting;

#define GRD_SETTING_BOOL(name, var, boot, context, flags, short_desc, long_desc) \
	{GRD_SETTING_KIND_BOOL, name, var, boot, NULL, 0, 0, NULL, context, flags, \
	 NULL, NULL, short_desc, long_desc}
#define GRD_SETTING_INT(name, var, boot, min, max, context, flags, short_desc, long_desc) \
	{GRD_SETTING_KIND_INT, name, var, boot, NULL, min, max, NULL, context, flags, \
	 NULL, NULL, short_desc, long_desc}
#define GRD_SETTING_REAL(name, var, boot, min, max, context, flags, short_desc, long_desc) \
	{GRD_SETTING_KIND_REAL, name, var, boot, NULL, min, max, NULL, context, flags, \
	 NULL, NULL, short_desc, long_desc}
#define GRD_SETTING_STRING(name, var, boot, context, flags, check, assign, short_desc, long_desc) \
	{GRD_SETTING_KIND_STRING, name, var, 0, boot, 0, 0, NULL, context, flags, \
	 check, assign, short_desc, long_desc}
#define GRD_SETTING_ENUM(name, var, boot, options, context, flags, short_desc, long_desc) \
	{GRD_SETTING_KIND_ENUM, name, var, boot, NULL, 0, 0, options, context, flags, \
	 NULL, NULL, short_desc, long_desc}
#define GRD_SETTINGS_END	{GRD_SETTING_END}

typedef struct GrdModule
{
	/* a short name, used in the server log and the state file's messages */
	const char *name;

	/* The module's settings, ending with GRD_SETTINGS_END; _PG_init defines them. */
	const GrdSetting *settings;

	/*
	 * In _PG_init, in the postmaster, after the settings are defined:
	 * whatever else must be set up before the server starts, such as
	 * registering a background worker.
	 */
	void		(*init) (void);

	/* Bytes of the module's shared structures; asked once, at start. */
	Size		(*shmem_size) (void);

	/*
	 * Create (found = false) or attach to (found = true) the module's shared
	 * structures; called with AddinShmemInitLock held.
	 */
	void		(*shmem_startup) (bool found);

	/*
	 * The module's section of the state file, which carries its state across
	 * a clean restart.  section_tag names the section (four characters, such
	 * as 'LATN'), section_version its format.  save writes the section's
	 * body through grd_file_write(), and may write nothing (the section is
	 * then left out).  load reads a body of that version, whose checksum and
	 * length were already verified, through grd_file_read(); it returns
	 * false if the body's values are invalid, and must then leave the
	 * module's state as if nothing had been read.
	 */
	uint32		section_tag;
	uint32		section_version;
	bool		(*save) (FILE *file);
	bool		(*load) (FILE *file, uint32 version, uint64 length);

	/*
	 * In the postmaster, once the state file has been read (or found
	 * missing or invalid): loaded says whether this module's section was
	 * read back.
	 */
	void		(*after_load) (bool loaded);

	/* Add the module's rows to guardrails.status. */
	void		(*status) (GrdStatus *status);
} GrdModule;

#define GRD_SECTION_TAG(a, b, c, d) \
	(((uint32) (a) << 24) | ((uint32) (b) << 16) | ((uint32) (c) << 8) | (uint32) (d))

/* pg_guardrails.c */
extern const GrdModule *const grd_modules[];
extern const int grd_num_modules;

#endif							/* GRD_MODULE_H */
