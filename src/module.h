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

#include "shmem.h"

typedef struct GrdModule
{
	/* a short name, used in the server log and the state file's messages */
	const char *name;

	/*
	 * In _PG_init, in the postmaster: define the module's settings and
	 * register its background workers.
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
