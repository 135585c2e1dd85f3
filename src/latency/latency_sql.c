/*-------------------------------------------------------------------------
 *
 * latency_sql.c
 *		The SQL functions that read and reset the per-digest latency
 *		histograms: latency_stats (the guardrails.latency view), quantile,
 *		latency_histogram, latency_bucket_counts and latency_reset.
 *
 * The digest table is latency.c's; this file sees no entry of it.  It gets
 * snapshots, copies of an entry's counters taken under the table's lock
 * held shared (latency.h), and removes entries through
 * grd_latency_remove().
 *
 * Consistency: a snapshot's number of values is the sum of the bucket
 * counts it read, not its calls, so that every quantile and cumulative
 * fraction computed here is consistent with itself while executions go on
 * (see the locking protocol in latency.c).
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "histogram.h"
#include "latency.h"
#include "shmem.h"

/* Width of the bars drawn by latency_histogram(), in characters. */
#define BAR_WIDTH		40

/* The q-quantile of a snapshot in milliseconds; the snapshot is not empty. */
static double
snapshot_quantile_ms(const GrdLatencySnapshot *snap, double q)
{
	return grd_hist_quantile(snap->counts, snap->nvalues, q,
							 (double) snap->totals.min_ns, (double) snap->totals.max_ns) / 1e6;
}

/* A quantile argument must be in [0, 1]. */
static void
quantile_arg_check(double q)
{
	if (isnan(q) || q < 0.0 || q > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("quantile %g is not between 0 and 1", q)));
}

/* The length of a window, as an interval. */
static Interval *
window_interval(int window)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = (int64) grd_window_slots[window] * grd_window_slot_seconds() *
		USECS_PER_SEC;
	return iv;
}

/*
 * The window (an index of grd_window_slots) of the given length, or
 * GRD_WINDOW_NONE for a NULL one.  Any other length is an error that
 * lists the lengths there are, which depend on
 * guardrails.latency_window_slot.
 */
int
grd_window_arg(FunctionCallInfo fcinfo, int argno)
{
	Interval   *iv;

	if (PG_ARGISNULL(argno))
		return GRD_WINDOW_NONE;
	iv = PG_GETARG_INTERVAL_P(argno);
	for (int w = 0; w < GRD_NUM_WINDOWS; w++)
	{
		Interval   *len = window_interval(w);

		if (iv->month == 0 && iv->day == 0 && iv->time == len->time)
			return w;
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("there is no latency window of %s",
					DatumGetCString(DirectFunctionCall1(interval_out,
														IntervalPGetDatum(iv)))),
			 errdetail("The windows are the last %d, %d, %d and %d slots of guardrails.latency_window_slot, %d s.",
					   grd_window_slots[0], grd_window_slots[1],
					   grd_window_slots[2], grd_window_slots[3],
					   grd_window_slot_seconds()),
			 errhint("Pass one of %s, %s, %s or %s, or NULL for every execution since the last reset.",
					 DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(window_interval(0)))),
					 DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(window_interval(1)))),
					 DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(window_interval(2)))),
					 DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(window_interval(3)))))));
	return GRD_WINDOW_NONE;		/* keep the compiler quiet */
}

/*
 * The body of the set-returning functions whose rows are per digest
 * (latency_bucket_counts, latency_export): visit writes the rows of each
 * digest, of the given window, into the function's result, given as its
 * arg.
 */
Datum
grd_latency_rows_srf(FunctionCallInfo fcinfo, int window,
					 GrdLatencyVisitor visit)
{
	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	grd_latency_foreach(window, visit, fcinfo->resultinfo);
	return (Datum) 0;
}

/*
 * Where latency_digest_row() writes: the function's result, and the
 * window's interval for latency_recent_stats() (NULL for latency_stats()).
 */
typedef struct DigestRows
{
	ReturnSetInfo *rsinfo;
	Interval   *window;
} DigestRows;

/*
 * One row of latency_stats() or of latency_recent_stats(), for one digest;
 * arg is a DigestRows.  Both start with the digest's key and end with the
 * same quantiles; latency_recent_stats() has the window's interval after
 * the key and no total, min or max, which a window does not record.
 */
static void
latency_digest_row(const GrdLatencyKey *key, const GrdLatencySnapshot *snap,
				   void *arg)
{
	static const double quantiles[] = {0.5, 0.9, 0.95, 0.99, 0.999};
	DigestRows *rows = (DigestRows *) arg;
	Datum		values[13];
	bool		nulls[13];
	int			i = 0;

	memset(nulls, 0, sizeof(nulls));
	values[i++] = ObjectIdGetDatum(key->dbid);
	values[i++] = ObjectIdGetDatum(key->userid);
	values[i++] = Int64GetDatum((int64) key->queryid);
	if (rows->window != NULL)
		values[i++] = IntervalPGetDatum(rows->window);
	values[i++] = Int64GetDatum((int64) snap->totals.calls);
	values[i++] = Int64GetDatum((int64) snap->totals.failed);
	if (rows->window == NULL)
	{
		values[i++] = Float8GetDatum((double) snap->totals.total_ns / 1e6);
		values[i++] = Float8GetDatum((double) snap->totals.min_ns / 1e6);
		values[i++] = Float8GetDatum((double) snap->totals.max_ns / 1e6);
	}
	for (int k = 0; k < lengthof(quantiles); k++)
		values[i++] = Float8GetDatum(snapshot_quantile_ms(snap, quantiles[k]));
	Assert(i == rows->rsinfo->setDesc->natts);
	tuplestore_putvalues(rows->rsinfo->setResult, rows->rsinfo->setDesc,
						 values, nulls);
}

/*
 * The body of latency_stats() (recent false: one row per digest, every
 * execution since the last reset) and of latency_recent_stats() (one row
 * per digest and window that holds executions).
 */
static Datum
latency_digest_rows(FunctionCallInfo fcinfo, bool recent)
{
	DigestRows	rows;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	rows.rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	rows.window = NULL;
	if (!recent)
		grd_latency_foreach(GRD_WINDOW_NONE, latency_digest_row, &rows);
	else
		for (int w = 0; w < GRD_NUM_WINDOWS; w++)
		{
			rows.window = window_interval(w);
			grd_latency_foreach(w, latency_digest_row, &rows);
		}
	return (Datum) 0;
}

/*
 * guardrails.latency_stats(): one row per digest, for the view
 * guardrails.latency.
 */
PG_FUNCTION_INFO_V1(grd_latency_stats);

Datum
grd_latency_stats(PG_FUNCTION_ARGS)
{
	return latency_digest_rows(fcinfo, false);
}

/*
 * guardrails.latency_recent_stats(): per digest with windows, one row per
 * window that holds executions, for the view guardrails.latency_recent.
 */
PG_FUNCTION_INFO_V1(grd_latency_recent_stats);

Datum
grd_latency_recent_stats(PG_FUNCTION_ARGS)
{
	return latency_digest_rows(fcinfo, true);
}

/*
 * guardrails.quantile(queryid, q, dbid, userid, last): the q-quantile, in
 * milliseconds, of the executions of queryid, over every database and user
 * unless dbid or userid narrow it, since the last reset or (last not NULL)
 * in the window of that length.  NULL when queryid or q is NULL or
 * nothing was recorded for it.
 */
PG_FUNCTION_INFO_V1(grd_quantile);

Datum
grd_quantile(PG_FUNCTION_ARGS)
{
	GrdLatencySnapshot *snap;
	double		q;
	double		result;
	int			window;

	grd_require_preload();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	q = PG_GETARG_FLOAT8(1);
	quantile_arg_check(q);

	window = grd_window_arg(fcinfo, 4);

	snap = palloc(sizeof(GrdLatencySnapshot));
	if (!grd_latency_collect(snap, window, (uint64) PG_GETARG_INT64(0),
							 PG_ARGISNULL(2), PG_GETARG_OID(2),
							 PG_ARGISNULL(3), PG_GETARG_OID(3)))
		PG_RETURN_NULL();
	result = snapshot_quantile_ms(snap, q);
	pfree(snap);
	PG_RETURN_FLOAT8(result);
}

/*
 * A bar of width proportional to count / max, in block characters when the
 * database encoding can show them and '#' otherwise.
 */
static text *
histogram_draw_bar(uint64 count, uint64 max)
{
	bool		utf8 = GetDatabaseEncoding() == PG_UTF8;
	int			eighths = (int) rint((double) count / max * BAR_WIDTH * 8);
	StringInfoData buf;

	static const char *const partial[] = {"", "\u258F", "\u258E", "\u258D",
	"\u258C", "\u258B", "\u258A", "\u2589"};

	if (eighths == 0 && count > 0)
		eighths = 1;			/* never hide a non-empty bucket */
	initStringInfo(&buf);
	if (utf8)
	{
		for (int i = 0; i < eighths / 8; i++)
			appendStringInfoString(&buf, "\u2588");
		appendStringInfoString(&buf, partial[eighths % 8]);
	}
	else
	{
		for (int i = 0; i < (eighths + 7) / 8; i++)
			appendStringInfoChar(&buf, '#');
	}
	return cstring_to_text_with_len(buf.data, buf.len);
}

/*
 * guardrails.latency_histogram(queryid, dbid, userid, per_octave): the
 * non-empty buckets of a digest, merged over databases and users as
 * quantile() does.  per_octave (a divisor of 35) merges adjacent buckets
 * into coarser ones for display.
 */
PG_FUNCTION_INFO_V1(grd_latency_histogram);

Datum
grd_latency_histogram(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	GrdLatencySnapshot *snap;
	int			per_octave;
	int			group;
	uint64		counts[GRD_HIST_NBUCKETS];
	int			first[GRD_HIST_NBUCKETS];
	int			last[GRD_HIST_NBUCKETS];
	int			ngroups = 0;
	uint64		max = 0;
	uint64		cumulative = 0;

	grd_require_preload();
	per_octave = PG_ARGISNULL(3) ? GRD_HIST_PER_OCTAVE : PG_GETARG_INT32(3);
	if (per_octave <= 0 || GRD_HIST_PER_OCTAVE % per_octave != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("per_octave must be a divisor of %d, not %d",
						GRD_HIST_PER_OCTAVE, per_octave),
				 errhint("Use 35 (full resolution), 7, 5 or 1.")));
	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;

	snap = palloc(sizeof(GrdLatencySnapshot));
	if (!grd_latency_collect(snap, GRD_WINDOW_NONE, (uint64) PG_GETARG_INT64(0),
							 PG_ARGISNULL(1), PG_GETARG_OID(1),
							 PG_ARGISNULL(2), PG_GETARG_OID(2)))
		return (Datum) 0;

	/* Merge buckets into display groups: the end buckets stay alone. */
	group = GRD_HIST_PER_OCTAVE / per_octave;
	for (int b = 0; b < GRD_HIST_NBUCKETS; b++)
	{
		if (b == GRD_HIST_UNDERFLOW || b == GRD_HIST_OVERFLOW ||
			(b - 1) % group == 0)
		{
			first[ngroups] = b;
			counts[ngroups] = 0;
			ngroups++;
		}
		last[ngroups - 1] = b;
		counts[ngroups - 1] += snap->counts[b];
	}
	for (int g = 0; g < ngroups; g++)
		max = Max(max, counts[g]);

	for (int g = 0; g < ngroups; g++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		if (counts[g] == 0)
			continue;
		cumulative += counts[g];
		values[0] = Float8GetDatum(grd_hist_lower(first[g]) / 1e6);
		values[1] = Float8GetDatum(grd_hist_upper(last[g]) / 1e6);
		values[2] = Int64GetDatum((int64) counts[g]);
		values[3] = Float8GetDatum((double) cumulative / snap->nvalues);
		values[4] = PointerGetDatum(histogram_draw_bar(counts[g], max));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(snap);
	return (Datum) 0;
}

/*
 * The bounds, in seconds, of the Prometheus histograms (latency_buckets,
 * histogram_prometheus), the last one infinite.
 */
const double grd_le_bounds[GRD_NUM_LE_BOUNDS] = {0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
30, 60, 300, INFINITY};

/*
 * The rows of latency_bucket_counts() for one digest, one per bound; arg is
 * the ReturnSetInfo.  A bound that falls inside one of our buckets counts
 * that bucket in the next bound: a value is never counted below a bound it
 * exceeds, and is at most 2% below the first bound that counts it.
 */
static void
latency_bucket_counts_rows(const GrdLatencyKey *key,
						   const GrdLatencySnapshot *snap, void *arg)
{
	const double *bounds = grd_le_bounds;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) arg;
	uint64		cumulative = 0;
	int			b = 0;

	for (int k = 0; k < GRD_NUM_LE_BOUNDS; k++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		while (b < GRD_HIST_NBUCKETS &&
			   grd_hist_upper(b) <= bounds[k] * 1e9)
			cumulative += snap->counts[b++];

		values[0] = ObjectIdGetDatum(key->dbid);
		values[1] = ObjectIdGetDatum(key->userid);
		values[2] = Int64GetDatum((int64) key->queryid);
		values[3] = Float8GetDatum(bounds[k]);
		values[4] = Int64GetDatum((int64) cumulative);
		values[5] = Float8GetDatum((snap->totals.total_ns + snap->totals.failed_ns) / 1e9);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 values, nulls);
	}
}

/*
 * guardrails.latency_bucket_counts(): for each digest, the cumulative number
 * of executions at or below each of a fixed set of bounds (in seconds),
 * the form of a Prometheus histogram.
 */
PG_FUNCTION_INFO_V1(grd_latency_bucket_counts);

Datum
grd_latency_bucket_counts(PG_FUNCTION_ARGS)
{
	return grd_latency_rows_srf(fcinfo, GRD_WINDOW_NONE,
								latency_bucket_counts_rows);
}

/*
 * guardrails.latency_reset(): forget every digest.
 */
PG_FUNCTION_INFO_V1(grd_latency_reset_all);

Datum
grd_latency_reset_all(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	PG_RETURN_INT64(grd_latency_remove(true, 0));
}

/*
 * guardrails.latency_reset(queryid): forget one digest, in every database
 * and for every user.
 */
PG_FUNCTION_INFO_V1(grd_latency_reset_queryid);

Datum
grd_latency_reset_queryid(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queryid must not be null"),
				 errhint("Call guardrails.latency_reset() without arguments to reset every digest.")));
	PG_RETURN_INT64(grd_latency_remove(false, (uint64) PG_GETARG_INT64(0)));
}
