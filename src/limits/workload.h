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
extern void grd_overload_statement(int cls, bool first,
								   struct QueryDesc *queryDesc);

/* workload_class.c */
extern bool grd_like_match(const char *text, const char *pattern);
extern void grd_workload_totals(int *active, uint64 *statements,
								uint64 *exempt);

#endif							/* GRD_WORKLOAD_H */
