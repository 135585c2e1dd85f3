/*
 * test_histogram.c
 *		Exhaustive test of the latency bucket math
 *		(src/latency/histogram.c), with no server: build and run it with
 *		"make unittest".
 *
 * What it proves:
 *	1. the map value -> bucket is exactly the one the reported bounds
 *	   describe: at every boundary of every bucket the map steps, and it
 *	   steps nowhere else, checked for every nanosecond up to 2^25 ns and
 *	   for every microsecond from 1 microsecond to 1 hour;
 *	2. every regular bucket is narrow enough that its reported value is
 *	   within 1% of any value in it;
 *	3. quantiles computed from bucket counts are within 1% of the exact
 *	   nearest-rank quantiles of random data sets, for many q.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"

static long checks = 0;
static long failures = 0;

#define CHECK(cond, ...) \
	do { \
		checks++; \
		if (!(cond)) \
		{ \
			if (failures++ < 20) \
			{ \
				printf("FAIL %s:%d: ", __FILE__, __LINE__); \
				printf(__VA_ARGS__); \
				printf("\n"); \
			} \
		} \
	} while (0)

/* smallest integer value that belongs to bucket b */
static uint64_t
first_int(int b)
{
	return (uint64_t) ceil(grd_hist_lower(b));
}

static void
test_boundaries(void)
{
	CHECK(grd_hist_bucket(0) == GRD_HIST_UNDERFLOW, "0 in underflow");
	CHECK(grd_hist_bucket(GRD_HIST_MIN_NS - 1) == GRD_HIST_UNDERFLOW, "511");
	CHECK(grd_hist_bucket(GRD_HIST_MIN_NS) == 1, "512 in bucket 1");
	CHECK(grd_hist_bucket(GRD_HIST_MAX_NS - 1) == GRD_HIST_OVERFLOW - 1, "top");
	CHECK(grd_hist_bucket(GRD_HIST_MAX_NS) == GRD_HIST_OVERFLOW, "overflow");
	CHECK(grd_hist_bucket(UINT64_MAX) == GRD_HIST_OVERFLOW, "max");

	for (int b = 1; b <= GRD_HIST_OVERFLOW; b++)
	{
		uint64_t	lo = first_int(b);

		CHECK(grd_hist_bucket(lo) == b, "bucket(%llu) = %d, want %d",
			  (unsigned long long) lo, grd_hist_bucket(lo), b);
		CHECK(grd_hist_bucket(lo - 1) == b - 1, "bucket(%llu) = %d, want %d",
			  (unsigned long long) (lo - 1), grd_hist_bucket(lo - 1), b - 1);
		CHECK(grd_hist_upper(b - 1) == grd_hist_lower(b), "contiguous %d", b);
	}
}

/*
 * Walk v upwards by step and check bucket(v) against the bucket expected
 * from the reported bounds, advanced incrementally.
 */
static void
test_walk(uint64_t from, uint64_t to, uint64_t step)
{
	int			b = grd_hist_bucket(from);
	uint64_t	next = b < GRD_HIST_OVERFLOW ? first_int(b + 1) : UINT64_MAX;
	long		bad = 0;

	CHECK(from >= first_int(b) && from < next, "walk start %llu",
		  (unsigned long long) from);
	for (uint64_t v = from; v < to; v += step)
	{
		while (v >= next)
		{
			b++;
			next = b < GRD_HIST_OVERFLOW ? first_int(b + 1) : UINT64_MAX;
		}
		if (grd_hist_bucket(v) != b)
		{
			if (bad++ < 5)
				printf("FAIL walk: bucket(%llu) = %d, want %d\n",
					   (unsigned long long) v, grd_hist_bucket(v), b);
		}
	}
	checks++;
	if (bad)
		failures++;
}

static void
test_widths(void)
{
	double		worst = 0;

	for (int b = 1; b < GRD_HIST_OVERFLOW; b++)
	{
		double		lo = grd_hist_lower(b);
		double		hi = grd_hist_upper(b);
		double		v = grd_hist_value(b, 0, INFINITY);
		uint64_t	a = first_int(b);
		uint64_t	z = first_int(b + 1) - 1;
		double		ea = fabs(v - (double) a) / (double) a;
		double		ez = fabs(v - (double) z) / (double) z;

		if (ea > worst)
			worst = ea;
		if (ez > worst)
			worst = ez;
		CHECK(ea <= GRD_HIST_MAX_REL_ERROR && ez <= GRD_HIST_MAX_REL_ERROR,
			  "bucket %d [%g, %g): error %g / %g", b, lo, hi, ea, ez);
	}
	printf("# widest bucket error: %.4f%%\n", worst * 100);
	CHECK(grd_hist_lower(1) <= 1000.0, "range starts at or below 1 us");
	CHECK(grd_hist_upper(GRD_HIST_OVERFLOW - 1) >= 3600e9, "range reaches 1 h");
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* a reproducible generator, so a failure can be replayed */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
xorshift(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static double
uniform(void)
{
	return (double) (xorshift() >> 11) / 9007199254740992.0;
}

/*
 * Quantiles from buckets against exact nearest-rank quantiles.  Values are
 * drawn log-uniformly between lo_ns and hi_ns, optionally from a handful of
 * distinct values so that many ranks share a value.
 */
static void
test_quantiles(int n, double lo_ns, double hi_ns, int distinct)
{
	uint64_t   *vals = malloc(sizeof(uint64_t) * n);
	uint64_t	counts[GRD_HIST_NBUCKETS];
	uint64_t	pool[16];
	uint64_t	min = UINT64_MAX,
				max = 0;
	static const double qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9,
	0.95, 0.99, 0.995, 0.999, 0.9999, 1};

	memset(counts, 0, sizeof(counts));
	for (int i = 0; i < 16; i++)
		pool[i] = (uint64_t) exp(log(lo_ns) + uniform() * (log(hi_ns) - log(lo_ns)));
	for (int i = 0; i < n; i++)
	{
		uint64_t	v = distinct ? pool[xorshift() % distinct] :
			(uint64_t) exp(log(lo_ns) + uniform() * (log(hi_ns) - log(lo_ns)));

		vals[i] = v;
		counts[grd_hist_bucket(v)]++;
		if (v < min)
			min = v;
		if (v > max)
			max = v;
	}
	qsort(vals, n, sizeof(uint64_t), cmp_u64);

	for (int k = 0; k < (int) (sizeof(qs) / sizeof(qs[0])) + 200; k++)
	{
		double		q = k < (int) (sizeof(qs) / sizeof(qs[0])) ? qs[k] : uniform();
		uint64_t	rank = grd_hist_rank(q, n);
		uint64_t	exact = vals[rank - 1];
		double		got = grd_hist_quantile(counts, n, q, (double) min, (double) max);
		double		err = fabs(got - (double) exact) / (double) exact;

		if (rank == 1 || rank == (uint64_t) n)
			CHECK(got == (double) exact, "ends are exact: q=%g", q);
		if (exact < GRD_HIST_MIN_NS || exact >= GRD_HIST_MAX_NS)
			continue;			/* outside the guaranteed range */
		CHECK(err <= 0.01, "n=%d q=%g: exact %llu, got %.1f (%.3f%%)",
			  n, q, (unsigned long long) exact, got, err * 100);
	}
	free(vals);
}

static void
test_rank(void)
{
	CHECK(grd_hist_rank(0, 10) == 1, "rank q=0");
	CHECK(grd_hist_rank(1, 10) == 10, "rank q=1");
	CHECK(grd_hist_rank(0.5, 10) == 5, "rank q=0.5 n=10");
	CHECK(grd_hist_rank(0.51, 10) == 6, "rank q=0.51 n=10");
	CHECK(grd_hist_rank(0.99, 1000) == 990, "rank q=0.99 n=1000");
	CHECK(grd_hist_rank(0.5, 1) == 1, "rank n=1");
}

int
main(void)
{
	grd_hist_init();

	test_boundaries();
	test_rank();
	test_widths();

	/* every nanosecond up to 2^25 ns (33 ms) */
	test_walk(0, UINT64_C(1) << 25, 1);
	/* every microsecond from 1 microsecond to 1 hour */
	test_walk(1000, UINT64_C(3600000000000) + 1, 1000);
	/* and a stride that hits no round numbers, to the top of the range */
	test_walk(GRD_HIST_MIN_NS, GRD_HIST_MAX_NS + 100000, 999983);

	for (int round = 0; round < 20; round++)
	{
		test_quantiles(1 + round * 997, 600, 3.0e12, 0);
		test_quantiles(1000 + round, 1000, 5.0e6, 1 + round % 16);
	}
	/* a distribution straddling both ends of the range */
	test_quantiles(50000, 10, 8.0e12, 0);

	printf("%ld passed, %ld failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
