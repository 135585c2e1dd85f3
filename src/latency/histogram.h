/*-------------------------------------------------------------------------
 *
 * histogram.h
 *		Log-linear latency buckets with a guaranteed quantile error.
 *
 * A recorded value is a duration in nanoseconds.  Between 2^9 ns (512 ns)
 * and 2^42 ns (about 73 minutes) every power of two is split into
 * GRD_HIST_PER_OCTAVE buckets whose boundaries grow geometrically, by a
 * factor r = 2^(1/35) = 1.0200.  Reporting, for any value of a bucket
 * [lo, hi), the point 2*lo*hi/(lo+hi) is wrong by at most
 * (hi - lo) / (hi + lo) = (r - 1) / (r + 1) = 0.9902% of that value, which is
 * the accuracy pg_guardrails promises for every quantile.  Values below the
 * range land in bucket 0, values above it in the last bucket.
 *
 * This file and histogram.c use no server headers, so that the bucket math
 * can be tested exhaustively by a plain C program (test/test_histogram.c).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GRD_HISTOGRAM_H
#define GRD_HISTOGRAM_H

#include <stdint.h>

#define GRD_HIST_PER_OCTAVE		35
#define GRD_HIST_MIN_EXP		9	/* first regular bucket starts at 2^9 ns */
#define GRD_HIST_MAX_EXP		42	/* last regular bucket ends at 2^42 ns */
#define GRD_HIST_OCTAVES		(GRD_HIST_MAX_EXP - GRD_HIST_MIN_EXP)
#define GRD_HIST_UNDERFLOW		0
#define GRD_HIST_OVERFLOW		(GRD_HIST_OCTAVES * GRD_HIST_PER_OCTAVE + 1)
#define GRD_HIST_NBUCKETS		(GRD_HIST_OVERFLOW + 1)

/* Values in [GRD_HIST_MIN_NS, GRD_HIST_MAX_NS) get the accuracy guarantee. */
#define GRD_HIST_MIN_NS			(UINT64_C(1) << GRD_HIST_MIN_EXP)
#define GRD_HIST_MAX_NS			(UINT64_C(1) << GRD_HIST_MAX_EXP)

/* The largest relative error of a reported quantile, by construction. */
#define GRD_HIST_MAX_REL_ERROR	0.009902

extern void grd_hist_init(void);
extern int	grd_hist_bucket(uint64_t ns);
extern double grd_hist_lower(int bucket);
extern double grd_hist_upper(int bucket);
extern double grd_hist_value(int bucket, double min_ns, double max_ns);
extern uint64_t grd_hist_rank(double q, uint64_t total);
extern int	grd_hist_rank_bucket(const uint64_t *counts, uint64_t rank);
extern double grd_hist_quantile(const uint64_t *counts, uint64_t total,
								double q, double min_ns, double max_ns);

#endif							/* GRD_HISTOGRAM_H */
