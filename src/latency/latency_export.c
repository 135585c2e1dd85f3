/*-------------------------------------------------------------------------
 *
 * latency_export.c
 *		Histograms that leave the server and come back: latency_export()
 *		writes a digest's histogram (cumulative, or of a window) as a
 *		compact versioned bytea, the aggregate latency_merge() adds such
 *		histograms exactly, and histogram_quantile() reads one.
 *
 * The format (version 1), all integers little-endian, whatever the host:
 *
 *	offset	size	field
 *	0		4		magic "GRDH"
 *	4		1		version, 1
 *	5		1		flags: EXPORT_EXACT (min_ns, max_ns and sum_ns were
 *					recorded; unset for windows and for merges with one)
 *	6		2		number of buckets of the layout, 1157
 *	8		8		calls (completed executions)
 *	16		8		failed (executions ended by an error or a cancel)
 *	24		8		sum_ns (time of all executions; 0 unless EXPORT_EXACT)
 *	32		8		min_ns (0 unless EXPORT_EXACT)
 *	40		8		max_ns (0 unless EXPORT_EXACT)
 *	48		4		n, the number of non-empty buckets
 *	52		10 * n	(bucket u16, count u64), buckets strictly increasing,
 *					counts not zero
 *
 * The bucket layout is that of histogram.h, fixed by the version: 35
 * buckets per power of two from 2^9 ns to 2^42 ns, an underflow and an
 * overflow bucket.  Any two servers' exports of version 1 therefore merge
 * exactly, whatever their settings.
 *
 * Anyone may call histogram_quantile() and latency_merge() with any bytes:
 * every field is checked, and input that is not a well-formed histogram is
 * an error (22P03, invalid binary representation) naming what is wrong.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "histogram.h"
#include "latency.h"
#include "shmem.h"

#define EXPORT_VERSION		1
#define EXPORT_EXACT		0x01
#define EXPORT_HEADER		52
#define EXPORT_PAIR			10

/* A histogram being read, merged or written: the layout's every bucket. */
typedef struct GrdExport
{
	uint8		flags;
	uint64		calls;
	uint64		failed;
	uint64		sum_ns;
	uint64		min_ns;
	uint64		max_ns;
	uint64		nvalues;		/* sum of counts */
	bool		empty;			/* nothing merged yet (aggregate state) */
	uint64		counts[GRD_HIST_NBUCKETS];
} GrdExport;

static void
put_u64(uint8 *p, uint64 v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8) (v >> (8 * i));
}

static uint64
get_u64(const uint8 *p)
{
	uint64		v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/*
 * Write a histogram in the format of version 1.
 */
static bytea *
export_encode(const GrdExport *e)
{
	int			n = 0;
	bytea	   *result;
	uint8	   *p;

	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
		n += (e->counts[b] != 0);
	result = palloc(VARHDRSZ + EXPORT_HEADER + EXPORT_PAIR * n);
	SET_VARSIZE(result, VARHDRSZ + EXPORT_HEADER + EXPORT_PAIR * n);
	p = (uint8 *) VARDATA(result);
	memcpy(p, "GRDH", 4);
	p[4] = EXPORT_VERSION;
	p[5] = e->flags;
	p[6] = (uint8) (GRD_HIST_NBUCKETS & 0xff);
	p[7] = (uint8) (GRD_HIST_NBUCKETS >> 8);
	put_u64(p + 8, e->calls);
	put_u64(p + 16, e->failed);
	put_u64(p + 24, (e->flags & EXPORT_EXACT) ? e->sum_ns : 0);
	put_u64(p + 32, (e->flags & EXPORT_EXACT) ? e->min_ns : 0);
	put_u64(p + 40, (e->flags & EXPORT_EXACT) ? e->max_ns : 0);
	p[48] = (uint8) n;
	p[49] = (uint8) (n >> 8);
	p[50] = 0;
	p[51] = 0;
	p += EXPORT_HEADER;
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		if (e->counts[b] == 0)
			continue;
		p[0] = (uint8) (b & 0xff);
		p[1] = (uint8) (b >> 8);
		put_u64(p + 2, e->counts[b]);
		p += EXPORT_PAIR;
	}
	return result;
}

/* Raise the error of a malformed histogram, saying what is wrong. */
static void
export_invalid(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid pg_guardrails latency histogram"),
			 errdetail("%s", detail),
			 errhint("Pass a value returned by guardrails.latency_export() or guardrails.latency_merge().")));
}

/*
 * Read a histogram, checking every field: anything but a well-formed
 * histogram of version 1 is an error, never a crash or a wrong answer
 * beyond what the values themselves say.
 */
static void
export_decode(bytea *data, GrdExport *e)
{
	const uint8 *p = (const uint8 *) VARDATA_ANY(data);
	Size		len = VARSIZE_ANY_EXHDR(data);
	uint32		n;
	int			prev = -1;

	memset(e, 0, sizeof(*e));
	if (len < EXPORT_HEADER || memcmp(p, "GRDH", 4) != 0)
		export_invalid("The value does not start with a histogram header.");
	if (p[4] != EXPORT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("unsupported pg_guardrails latency histogram version %d",
						p[4]),
				 errdetail("This server reads version %d.", EXPORT_VERSION)));
	if ((p[5] & ~EXPORT_EXACT) != 0)
		export_invalid("Unknown flags are set.");
	if ((p[6] | (p[7] << 8)) != GRD_HIST_NBUCKETS)
		export_invalid("The number of buckets of the layout is wrong.");
	e->flags = p[5];
	e->calls = get_u64(p + 8);
	e->failed = get_u64(p + 16);
	e->sum_ns = get_u64(p + 24);
	e->min_ns = get_u64(p + 32);
	e->max_ns = get_u64(p + 40);
	n = (uint32) p[48] | ((uint32) p[49] << 8) |
		((uint32) p[50] << 16) | ((uint32) p[51] << 24);
	if (n > GRD_HIST_NBUCKETS || len != EXPORT_HEADER + (Size) EXPORT_PAIR * n)
		export_invalid("The length does not match the number of buckets.");
	if (!(e->flags & EXPORT_EXACT) &&
		(e->sum_ns != 0 || e->min_ns != 0 || e->max_ns != 0))
		export_invalid("An inexact histogram has a sum, a minimum or a maximum.");
	if ((e->flags & EXPORT_EXACT) && e->min_ns > e->max_ns)
		export_invalid("The minimum is above the maximum.");
	p += EXPORT_HEADER;
	for (uint32 i = 0; i < n; i++, p += EXPORT_PAIR)
	{
		int			b = p[0] | (p[1] << 8);
		uint64		count = get_u64(p + 2);

		if (b >= GRD_HIST_NBUCKETS || b <= prev)
			export_invalid("The buckets are out of range or not in increasing order.");
		if (count == 0)
			export_invalid("A bucket has a count of zero.");
		if (pg_add_u64_overflow(e->nvalues, count, &e->nvalues))
			export_invalid("The counts overflow.");
		e->counts[b] = count;
		prev = b;
	}
	if ((e->flags & EXPORT_EXACT) && n == 0)
		export_invalid("An empty histogram has a minimum and a maximum.");
}

/*
 * Add histogram b into a (a->empty: a is nothing yet).  Counts add up;
 * the result has a min, max and sum only if both have.
 */
static void
export_merge(GrdExport *a, const GrdExport *b)
{
	if (b->nvalues == 0 && b->calls == 0 && b->failed == 0)
		return;					/* the identity */
	if (a->empty)
	{
		memcpy(a, b, sizeof(GrdExport));
		a->empty = false;
		return;
	}
	if (pg_add_u64_overflow(a->calls, b->calls, &a->calls) ||
		pg_add_u64_overflow(a->failed, b->failed, &a->failed) ||
		pg_add_u64_overflow(a->nvalues, b->nvalues, &a->nvalues))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("merged latency histogram counts overflow")));
	for (int k = 0; k < GRD_HIST_NBUCKETS; k++)
		a->counts[k] += b->counts[k];	/* bounded by nvalues */
	if ((a->flags & EXPORT_EXACT) && (b->flags & EXPORT_EXACT))
	{
		a->min_ns = Min(a->min_ns, b->min_ns);
		a->max_ns = Max(a->max_ns, b->max_ns);
		if (pg_add_u64_overflow(a->sum_ns, b->sum_ns, &a->sum_ns))
			a->flags &= ~EXPORT_EXACT;
	}
	else
		a->flags &= ~EXPORT_EXACT;
}

/*
 * One row of latency_export(): a digest's histogram; arg is the
 * ReturnSetInfo.
 */
static void
latency_export_row(const GrdLatencyKey *key, const GrdLatencySnapshot *snap,
				   void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	GrdExport  *e = palloc0(sizeof(GrdExport));
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	/* an entry whose min is not yet written (just created) is inexact */
	e->flags = (snap->exact && snap->totals.min_ns != PG_UINT64_MAX) ?
		EXPORT_EXACT : 0;
	e->calls = snap->totals.calls;
	e->failed = snap->totals.failed;
	e->sum_ns = (e->flags & EXPORT_EXACT) ? snap->totals.total_ns + snap->totals.failed_ns : 0;
	memcpy(e->counts, snap->counts, sizeof(e->counts));
	if (e->flags & EXPORT_EXACT)
	{
		/*
		 * min and max were read before the buckets, while executions went
		 * on: keep them consistent with the buckets read, as the format
		 * requires min <= max.
		 */
		e->min_ns = snap->totals.min_ns;
		e->max_ns = Max(snap->totals.max_ns, snap->totals.min_ns);
	}
	values[0] = ObjectIdGetDatum(key->dbid);
	values[1] = ObjectIdGetDatum(key->userid);
	values[2] = Int64GetDatum((int64) key->queryid);
	values[3] = PointerGetDatum(export_encode(e));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	pfree(e);
}

/*
 * guardrails.latency_export(last interval): per digest, its histogram since
 * the last reset (last NULL) or in the window of that length.
 */
PG_FUNCTION_INFO_V1(grd_latency_export);

Datum
grd_latency_export(PG_FUNCTION_ARGS)
{
	int			window;

	grd_require_preload();
	window = grd_window_arg(fcinfo, 0);
	return grd_latency_rows_srf(fcinfo, window, latency_export_row);
}

/*
 * Transition function of guardrails.latency_merge(bytea): decode and add.
 * NULL histograms are skipped.
 */
PG_FUNCTION_INFO_V1(grd_latency_merge_trans);

Datum
grd_latency_merge_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt;
	GrdExport  *state;
	GrdExport  *input;

	/*
	 * A NULL input to a NULL state leaves it NULL, so that only NULLs give
	 * NULL; and this holds however the function is called.
	 */
	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("guardrails.latency_merge_trans() must be called as an aggregate")));
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(PG_GETARG_POINTER(0));	/* skipped */
	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(aggcxt, sizeof(GrdExport));
		state->empty = true;
	}
	else
		state = (GrdExport *) PG_GETARG_POINTER(0);

	input = palloc(sizeof(GrdExport));
	export_decode(PG_GETARG_BYTEA_PP(1), input);
	export_merge(state, input);
	pfree(input);
	PG_RETURN_POINTER(state);
}

/*
 * Final function of guardrails.latency_merge(bytea): the merged histogram,
 * NULL when no histogram (or only NULLs) was given.
 */
PG_FUNCTION_INFO_V1(grd_latency_merge_final);

Datum
grd_latency_merge_final(PG_FUNCTION_ARGS)
{
	GrdExport  *state;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (GrdExport *) PG_GETARG_POINTER(0);
	if (state->empty)
	{
		/* only empty histograms: an empty one */
		GrdExport  *e = palloc0(sizeof(GrdExport));

		PG_RETURN_BYTEA_P(export_encode(e));
	}
	PG_RETURN_BYTEA_P(export_encode(state));
}

/*
 * guardrails.histogram_quantile(histogram bytea, q float8): the q-quantile,
 * in milliseconds, of a histogram from latency_export() or
 * latency_merge(); NULL for an empty one.  With a recorded min and max,
 * q = 0 and q = 1 are those; otherwise they are the values of the end
 * buckets, within the same bound as any other quantile.
 */
PG_FUNCTION_INFO_V1(grd_histogram_quantile);

Datum
grd_histogram_quantile(PG_FUNCTION_ARGS)
{
	GrdExport  *e;
	double		q = PG_GETARG_FLOAT8(1);
	double		min_ns;
	double		max_ns;
	double		result;
	int			lo = -1;
	int			hi = -1;

	if (isnan(q) || q < 0.0 || q > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quantile %g is not between 0 and 1", q)));
	e = palloc(sizeof(GrdExport));
	export_decode(PG_GETARG_BYTEA_PP(0), e);
	if (e->nvalues == 0)
		PG_RETURN_NULL();
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		if (e->counts[b] != 0)
		{
			if (lo < 0)
				lo = b;
			hi = b;
		}
	}
	if (e->flags & EXPORT_EXACT)
	{
		min_ns = (double) e->min_ns;
		max_ns = (double) e->max_ns;
	}
	else
	{
		min_ns = grd_hist_value(lo, 0.0, INFINITY);
		max_ns = grd_hist_value(hi, min_ns, INFINITY);
	}
	result = grd_hist_quantile(e->counts, e->nvalues, q, min_ns, max_ns);
	pfree(e);
	PG_RETURN_FLOAT8(result / 1e6);
}

/*
 * guardrails.histogram_stats(histogram bytea): calls, failed and the usual
 * quantiles of a histogram, in one row, as guardrails.latency shows them.
 */
PG_FUNCTION_INFO_V1(grd_histogram_stats);

Datum
grd_histogram_stats(PG_FUNCTION_ARGS)
{
	static const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false, false, false, false, false, false, false};
	GrdExport  *e;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	e = palloc(sizeof(GrdExport));
	export_decode(PG_GETARG_BYTEA_PP(0), e);
	values[0] = Int64GetDatum((int64) Min(e->calls, (uint64) PG_INT64_MAX));
	values[1] = Int64GetDatum((int64) Min(e->failed, (uint64) PG_INT64_MAX));
	for (int k = 0; k < lengthof(quantiles); k++)
	{
		if (e->nvalues == 0)
			nulls[2 + k] = true;
		else
			values[2 + k] = DirectFunctionCall2(grd_histogram_quantile,
												PG_GETARG_DATUM(0),
												Float8GetDatum(quantiles[k]));
	}
	pfree(e);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * guardrails.histogram_prometheus(histogram bytea): a histogram in the form
 * postgres_exporter's HISTOGRAM columns take: the finite bounds (le, in
 * seconds) of guardrails.latency_buckets, the cumulative count at each,
 * the sum in seconds (NULL unless recorded) and the count of all values.
 * A bucket of ours that straddles a bound is counted at the next bound,
 * as in latency_buckets.
 */
PG_FUNCTION_INFO_V1(grd_histogram_prometheus);

Datum
grd_histogram_prometheus(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Datum		le[GRD_NUM_LE_BOUNDS - 1];
	Datum		cum[GRD_NUM_LE_BOUNDS - 1];
	GrdExport  *e;
	uint64		cumulative = 0;
	int			b = 0;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	e = palloc(sizeof(GrdExport));
	export_decode(PG_GETARG_BYTEA_PP(0), e);
	for (int k = 0; k < GRD_NUM_LE_BOUNDS - 1; k++)
	{
		while (b < GRD_HIST_NBUCKETS &&
			   grd_hist_upper(b) <= grd_le_bounds[k] * 1e9)
			cumulative += e->counts[b++];
		le[k] = Float8GetDatum(grd_le_bounds[k]);
		cum[k] = Int64GetDatum((int64) Min(cumulative, (uint64) PG_INT64_MAX));
	}
	values[0] = PointerGetDatum(construct_array(le, GRD_NUM_LE_BOUNDS - 1,
												FLOAT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(cum, GRD_NUM_LE_BOUNDS - 1,
												INT8OID, 8, FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	if (e->flags & EXPORT_EXACT)
		values[2] = Float8GetDatum((double) e->sum_ns / 1e9);
	else
		nulls[2] = true;
	values[3] = Int64GetDatum((int64) Min(e->nvalues, (uint64) PG_INT64_MAX));
	pfree(e);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
