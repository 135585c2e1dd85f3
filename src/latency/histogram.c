/*-------------------------------------------------------------------------
 *
 * histogram.c
 *		Bucket math for the latency histograms: value -> bucket, bucket ->
 *		bounds, and nearest-rank quantiles over bucket counts.
 *
 * The hot path is grd_hist_bucket(), called once per recorded execution.
 * It avoids floating point and logarithms: the value is normalised so that
 * its leading one bit is bit 63 (a 64-bit fixed-point mantissa m in
 * [1, 2)), the octave is the position of that bit, and the bucket within
 * the octave is found with a 256-entry table indexed by the next eight
 * bits of m.  Each of those 256 slices spans a ratio of at most 1 + 1/256,
 * narrower than a bucket (1.0200), so a slice contains at most one bucket
 * boundary and a single comparison against it finishes the job.
 *
 * The boundaries are the integers thresh[j] ~ 2^63 * 2^(j/35), computed
 * once by grd_hist_init(); bounds reported to users are derived from the
 * very same integers, so what the map does and what is reported agree
 * exactly.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "histogram.h"

#define SLICE_BITS	8
#define NSLICES		(1 << SLICE_BITS)

/* thresh[j]: mantissa where bucket j of an octave begins; thresh[0] = 2^63 */
static uint64_t thresh[GRD_HIST_PER_OCTAVE];

/* first bucket of each slice, and the boundary inside it (or UINT64_MAX) */
static uint8_t slice_bucket[NSLICES];
static uint64_t slice_next[NSLICES];

static int
leading_bit(uint64_t v)
{
	return 63 - __builtin_clzll(v);
}

/*
 * Compute the boundary tables.  Must run once before any other function
 * here; the server calls it from _PG_init, so every backend inherits the
 * tables from the postmaster.
 */
void
grd_hist_init(void)
{
	int			j = 0;

	for (j = 0; j < GRD_HIST_PER_OCTAVE; j++)
	{
		double		ratio = pow(2.0, (double) j / GRD_HIST_PER_OCTAVE);

		thresh[j] = (uint64_t) ldexp(ratio, 63);
	}

	j = 0;
	for (int s = 0; s < NSLICES; s++)
	{
		uint64_t	width = UINT64_C(1) << (63 - SLICE_BITS);
		uint64_t	start = (UINT64_C(1) << 63) + (uint64_t) s * width;
		uint64_t	end = start + width - 1;

		while (j + 1 < GRD_HIST_PER_OCTAVE && thresh[j + 1] <= start)
			j++;
		slice_bucket[s] = (uint8_t) j;
		if (j + 1 < GRD_HIST_PER_OCTAVE && thresh[j + 1] <= end)
			slice_next[s] = thresh[j + 1];
		else
			slice_next[s] = UINT64_MAX;
	}
}

/*
 * Map a duration in nanoseconds to its bucket.
 */
int
grd_hist_bucket(uint64_t ns)
{
	int			exp;
	uint64_t	m;
	int			slice;

	if (ns < GRD_HIST_MIN_NS)
		return GRD_HIST_UNDERFLOW;
	if (ns >= GRD_HIST_MAX_NS)
		return GRD_HIST_OVERFLOW;

	exp = leading_bit(ns);
	m = ns << (63 - exp);
	slice = (int) ((m >> (63 - SLICE_BITS)) & (NSLICES - 1));

	/* m < UINT64_MAX: its low (63 - exp) >= 21 bits are zero */
	return 1 + (exp - GRD_HIST_MIN_EXP) * GRD_HIST_PER_OCTAVE +
		slice_bucket[slice] + (m >= slice_next[slice]);
}

/*
 * Inclusive lower bound of a bucket, in nanoseconds.
 */
double
grd_hist_lower(int bucket)
{
	int			octave;
	int			j;

	if (bucket <= GRD_HIST_UNDERFLOW)
		return 0.0;
	if (bucket >= GRD_HIST_OVERFLOW)
		return (double) GRD_HIST_MAX_NS;
	octave = (bucket - 1) / GRD_HIST_PER_OCTAVE;
	j = (bucket - 1) % GRD_HIST_PER_OCTAVE;
	return ldexp((double) thresh[j], GRD_HIST_MIN_EXP + octave - 63);
}

/*
 * Exclusive upper bound of a bucket, in nanoseconds (infinity for the
 * overflow bucket).
 */
double
grd_hist_upper(int bucket)
{
	if (bucket >= GRD_HIST_OVERFLOW)
		return INFINITY;
	return grd_hist_lower(bucket + 1);
}

/*
 * The value reported for a quantile that falls in this bucket.
 *
 * For a regular bucket [lo, hi) the point 2*lo*hi/(lo+hi) is within
 * (hi-lo)/(hi+lo) of every value of the bucket.  Clamping to the smallest
 * and largest values recorded can only move it closer to the true value,
 * which lies between them, and it gives the end buckets, which have no
 * useful midpoint, a meaningful answer.
 */
double
grd_hist_value(int bucket, double min_ns, double max_ns)
{
	double		lo = grd_hist_lower(bucket);
	double		hi = grd_hist_upper(bucket);
	double		v;

	if (bucket == GRD_HIST_UNDERFLOW)
		v = hi / 2;
	else if (bucket == GRD_HIST_OVERFLOW)
		v = lo;
	else
		v = 2.0 * lo * hi / (lo + hi);

	if (v < min_ns)
		v = min_ns;
	if (v > max_ns)
		v = max_ns;
	return v;
}

/*
 * Nearest rank of quantile q among total values: the smallest rank r with
 * r >= q * total, at least 1.  The same rank as percentile_disc(q), so
 * results can be checked against PostgreSQL's own ordered-set aggregate.
 */
uint64_t
grd_hist_rank(double q, uint64_t total)
{
	double		r = ceil(q * (double) total);

	if (r < 1.0)
		return 1;
	if (r > (double) total)
		return total;
	return (uint64_t) r;
}

/*
 * The bucket holding the value of the given rank (1-based), or -1 when the
 * counts hold fewer values than that.
 */
int
grd_hist_rank_bucket(const uint64_t *counts, uint64_t rank)
{
	uint64_t	seen = 0;

	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		seen += counts[b];
		if (seen >= rank)
			return b;
	}
	return -1;
}

/*
 * The q-quantile (nearest rank) of the values counted in counts, which sum
 * to total > 0, given the smallest and largest of them.  The first and last
 * ranks are those very values; any other is the reported value of the
 * bucket that holds it.
 */
double
grd_hist_quantile(const uint64_t *counts, uint64_t total, double q,
				  double min_ns, double max_ns)
{
	uint64_t	rank = grd_hist_rank(q, total);

	if (rank <= 1)
		return min_ns;
	if (rank >= total)
		return max_ns;
	return grd_hist_value(grd_hist_rank_bucket(counts, rank), min_ns, max_ns);
}
