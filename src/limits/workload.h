/*-------------------------------------------------------------------------
 *
 * workload.h
 *		Workload classes, between workload_class.c and the overload
 *		controller (overload.c); private to this folder.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_WORKLOAD_H
#define GRD_WORKLOAD_H

#include "port/atomics.h"

/* The classes, from the most important; a class's rank is its priority. */
typedef enum GrdWorkloadClass
{
	GRD_CLASS_CRITICAL,
	GRD_CLASS_NORMAL,
	GRD_CLASS_LOW,
	GRD_CLASS_BACKGROUND,
	GRD_NUM_CLASSES
} GrdWorkloadClass;

extern const char *const grd_class_names[GRD_NUM_CLASSES];

/* What was decided about the top-level statement running in this backend. */
typedef struct GrdWorkloadDecision
{
	int			cls;			/* GrdWorkloadClass */
	bool		exempt;			/* never shed */
} GrdWorkloadDecision;

extern GrdWorkloadDecision grd_workload_current;

/* overload.c */
extern bool grd_overload_shedding(void);
extern uint32 grd_overload_class_permille(int cls);
extern void grd_contain_tick(void);
extern void grd_overload_statement(int cls, bool first,
								   struct QueryDesc *queryDesc);

/* workload_class.c */
extern bool grd_like_match(const char *text, const char *pattern);
extern void grd_workload_totals(int *active, uint64 *statements,
								uint64 *exempt);

/* contain.c */
struct GrdAdmission;

typedef enum GrdContainMode
{
	GRD_CONTAIN_OFF,
	GRD_CONTAIN_DRY_RUN,
	GRD_CONTAIN_ON
} GrdContainMode;

extern int	grd_contain_mode;
extern pg_atomic_uint64 *grd_contain_mask;

/* A digest's bit in the mask of the contained ones. */
#define GRD_CONTAIN_BIT(queryid)	(UINT64CONST(1) << ((queryid) & 63))
extern void grd_contain_admit_slow(uint64 queryid,
								   struct GrdAdmission *admission);

/*
 * A top-level execution of a digest is admitted (digest_limits.c): while
 * containment is off, or no contained digest shares its bit of the mask
 * (none is contained, or 1 in 64 digests when one is), this is all it
 * costs.
 */
static inline void
grd_contain_admit(uint64 queryid, struct GrdAdmission *admission)
{
	if (likely(grd_contain_mode == GRD_CONTAIN_OFF) ||
		unlikely(grd_contain_mask == NULL) ||
		likely((pg_atomic_read_u64(grd_contain_mask) &
				GRD_CONTAIN_BIT(queryid)) == 0))
		return;
	grd_contain_admit_slow(queryid, admission);
}

#endif							/* GRD_WORKLOAD_H */
