/*-------------------------------------------------------------------------
 *
 * wal_lag.c
 *		Replica-lag backpressure: the lag of each standby, read from the
 *		WAL senders, and a controller that cuts the WAL rate of the low
 *		workload classes while it is above a target.
 *
 * The overload controller's background worker calls grd_wal_tick() at
 * each of its samples; it acts every 100 ms.  It reads every WAL sender
 * in WalSndCtl, as pg_stat_get_wal_senders() does (each sender's spinlock
 * held just to copy its fields): a streaming sender's flush and replay
 * positions, its replay lag (replay_lag of pg_stat_replication), and when
 * its standby last replied.  A cascading standby's lag reaches us only as
 * its upstream's own lag, which is as it should be.
 *
 * The standbys are remembered by the pid of their WAL sender.  The lag
 * that matters is the worst of them.  A standby whose sender is gone is
 * kept with its last lag, shown as "absent", until it has been absent
 * guardrails.wal_lag_standby_timeout; then it drops out, so that a dead
 * standby does not throttle the primary for ever.  A standby that has not
 * replied for that long is "stuck", and drops out of the signal once it
 * has been silent for twice as long (it is still shown).
 *
 * The controller, while guardrails.wal_lag_target is set, moves a cap on
 * the rate of the low and background classes every 500 ms: while the lag
 * is above the target, the cap falls by 30%, starting from the class's
 * recent rate, down to guardrails.wal_lag_floor; once the lag is below
 * half the target, it rises by 50% a step, and is lifted when it exceeds
 * both the class's budget (if any) and twice its recent rate.  Between
 * the two, it holds.  The cap is applied by wal_budget.c like a budget.
 *
 * Fail open.  When throttling cannot help, because the worst standby's
 * replay does not advance while it has WAL to replay (replay paused, or
 * a conflict), or the standby is stuck or absent, the controller holds
 * the floor rate rather than cutting further, says so in the view
 * ("holding"), and logs it once.  The floor is never 0: writers go on.
 * The start and the end of throttling are logged, not each step.
 *
 * Shared state: the standbys and the controller's state are written by
 * the worker alone, under the LWLock GRD_LOCK_WAL_LAG held exclusively
 * for the copy, and read by the view under it held shared.  The recent
 * rates and the injected lag are atomics.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/execdesc.h"
#include <math.h>

#include "access/htup_details.h"
#include "access/xlogdefs.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "replication/walsender.h"
#include "replication/walsender_private.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "module.h"
#include "wal_budget.h"
#include "workload.h"

#define TICK_MS			100
#define STEP_MS			500		/* the cap moves once a step */
#define RATE_ALPHA		0.1		/* weight of a new tick: about 1 s */
#define CUT_FACTOR		0.7
#define RAISE_FACTOR	1.5
#define STALLED_MS		1000	/* replay not advancing this long: paused */
#define NOT_INJECTED	PG_UINT64_MAX

/* settings */
static int	wal_lag_target_ms = 0;
static int	wal_lag_floor_kb = 1024;
static int	wal_lag_standby_timeout_ms = 10000;

static const GrdSetting wal_lag_settings[] = {
	GRD_SETTING_INT("guardrails.wal_lag_target", &wal_lag_target_ms,
		0, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
		"Replay lag of the worst standby above which the WAL rate of the low and background classes is cut; 0: never.",
		NULL),
	GRD_SETTING_INT("guardrails.wal_lag_floor", &wal_lag_floor_kb,
		1024, 1, INT_MAX, PGC_SIGHUP, GUC_UNIT_KB,
		"Lowest WAL rate, per second, that replica-lag backpressure cuts a class to.",
		NULL),
	GRD_SETTING_INT("guardrails.wal_lag_standby_timeout", &wal_lag_standby_timeout_ms,
		10000, 100, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
		"How long a standby that is gone or does not reply still counts in the replica lag.",
		NULL),
	GRD_SETTINGS_END
};

typedef enum GrdStandbyState
{
	STANDBY_STREAMING,
	STANDBY_PAUSED,				/* replay not advancing, WAL to replay */
	STANDBY_STUCK,				/* no reply for a while */
	STANDBY_ABSENT				/* its WAL sender is gone */
} GrdStandbyState;

static const char *const standby_state_names[] = {
	"streaming", "paused", "stuck", "absent"
};

typedef enum GrdLagState
{
	LAG_IDLE,					/* no cap */
	LAG_CUTTING,				/* lag above target: cutting */
	LAG_HOLDING,				/* throttling cannot help: at the floor */
	LAG_STEADY,					/* between half the target and the target */
	LAG_RAISING					/* lag drained: raising */
} GrdLagState;

static const char *const lag_state_names[] = {
	"idle", "cutting", "holding", "steady", "raising"
};

typedef struct GrdStandby
{
	int			pid;			/* its WAL sender's; 0: free entry */
	GrdStandbyState state;
	XLogRecPtr	flush;
	XLogRecPtr	replay;
	int64		replay_lag_us;	/* -1: none reported */
	TimestampTz reply_time;
	TimestampTz seen;			/* last seen streaming */
	TimestampTz replay_moved;	/* replay position last advanced */
	bool		counted;		/* in the signal */
} GrdStandby;

typedef struct GrdWalLagShared
{
	pg_atomic_uint64 recent_rate[GRD_NUM_CLASSES];	/* bytes/s */
	pg_atomic_uint64 injected_lag_us;	/* test lag, or NOT_INJECTED */
	/* protected by GRD_LOCK_WAL_LAG */
	GrdLagState state;
	int64		lag_us;			/* the signal: the worst counted lag */
	int			worst_pid;
	TimestampTz since;			/* start of the episode; 0: none */
	uint64		episodes;
	int			nstandbys;
	GrdStandby	standbys[FLEXIBLE_ARRAY_MEMBER];
} GrdWalLagShared;

static GrdWalLagShared *lag = NULL;
static int	max_standbys = 0;

/* The worker's own memory. */
static TimestampTz last_tick = 0;
static TimestampTz last_step = 0;
static uint64 prev_bytes[GRD_NUM_CLASSES];
static double rate_avg[GRD_NUM_CLASSES];
static double cap[GRD_NUM_CLASSES];	/* bytes/s; 0: none */
static bool holding_logged = false;

/* The classes that backpressure slows. */
#define THROTTLED(c)	((c) >= GRD_CLASS_LOW)

static Size
wal_lag_shmem_size(void)
{
	max_standbys = 2 * Max(max_wal_senders, 1);
	return add_size(offsetof(GrdWalLagShared, standbys),
					mul_size(max_standbys, sizeof(GrdStandby)));
}

static void
wal_lag_shmem_startup(bool found)
{
	Size		size = wal_lag_shmem_size();

	lag = ShmemInitStruct("pg_guardrails WAL lag", size, &found);
	if (found)
		return;
	memset(lag, 0, size);
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
		pg_atomic_init_u64(&lag->recent_rate[c], 0);
	pg_atomic_init_u64(&lag->injected_lag_us, NOT_INJECTED);
}

/* The recent WAL rate of class cls, bytes per second. */
uint64
grd_wal_class_recent_rate(int cls)
{
	return lag == NULL ? 0 : pg_atomic_read_u64(&lag->recent_rate[cls]);
}

/* The entry of the standby whose sender is pid, or a free one, or NULL. */
static GrdStandby *
standby_entry(int pid)
{
	GrdStandby *free_entry = NULL;

	for (int i = 0; i < lag->nstandbys; i++)
	{
		if (lag->standbys[i].pid == pid)
			return &lag->standbys[i];
		if (lag->standbys[i].pid == 0 && free_entry == NULL)
			free_entry = &lag->standbys[i];
	}
	if (free_entry == NULL && lag->nstandbys < max_standbys)
		free_entry = &lag->standbys[lag->nstandbys++];
	if (free_entry != NULL)
	{
		memset(free_entry, 0, sizeof(GrdStandby));
		free_entry->pid = pid;
		free_entry->replay_lag_us = -1;
	}
	return free_entry;
}

/*
 * Read the WAL senders into the standbys, and return the lag that
 * matters: the worst of the standbys that count.  *stalled says whether
 * that standby cannot catch up by our slowing down.  Caller holds
 * GRD_LOCK_WAL_LAG exclusively.
 */
static int64
read_standbys(TimestampTz now, bool *stalled, int *worst_pid)
{
	int64		worst = 0;
	int64		timeout_us = (int64) wal_lag_standby_timeout_ms * 1000;

	*stalled = false;
	*worst_pid = 0;
	for (int i = 0; i < lag->nstandbys; i++)
		lag->standbys[i].state = STANDBY_ABSENT;

	for (int i = 0; WalSndCtl != NULL && i < max_wal_senders; i++)
	{
		WalSnd	   *walsnd = &WalSndCtl->walsnds[i];
		GrdStandby *sb;
		int			pid;
		WalSndState state;
		XLogRecPtr	flush,
					apply;
		TimeOffset	apply_lag;
		TimestampTz reply;

		SpinLockAcquire(&walsnd->mutex);
		pid = walsnd->pid;
		state = walsnd->state;
		flush = walsnd->flush;
		apply = walsnd->apply;
		apply_lag = walsnd->applyLag;
		reply = walsnd->replyTime;
		SpinLockRelease(&walsnd->mutex);

		if (pid == 0 || state != WALSNDSTATE_STREAMING)
			continue;
		sb = standby_entry(pid);
		if (sb == NULL)
			continue;
		if (sb->seen == 0 || apply != sb->replay)
			sb->replay_moved = now;
		sb->flush = flush;
		sb->replay = apply;
		sb->replay_lag_us = apply_lag;
		sb->reply_time = reply;
		sb->seen = now;
		if (reply != 0 && now - reply > timeout_us)
			sb->state = STANDBY_STUCK;
		else if (apply < flush && now - sb->replay_moved > STALLED_MS * 1000)
			sb->state = STANDBY_PAUSED;
		else
			sb->state = STANDBY_STREAMING;
	}

	for (int i = 0; i < lag->nstandbys; i++)
	{
		GrdStandby *sb = &lag->standbys[i];
		int64		l;

		if (sb->pid == 0)
			continue;
		/* gone for longer than the timeout: forgotten */
		if (sb->state == STANDBY_ABSENT && now - sb->seen > timeout_us)
		{
			sb->pid = 0;
			continue;
		}
		/* silent for twice the timeout: shown, but out of the signal */
		sb->counted = sb->state != STANDBY_STUCK ||
			now - sb->reply_time <= 2 * timeout_us;
		if (!sb->counted)
			continue;
		l = sb->replay_lag_us < 0 ? 0 : sb->replay_lag_us;
		/* a standby that stopped replaying lags ever more */
		if (sb->state == STANDBY_PAUSED)
			l = Max(l, now - sb->replay_moved);
		if (l > worst)
		{
			worst = l;
			*worst_pid = sb->pid;
			*stalled = sb->state != STANDBY_STREAMING;
		}
	}
	while (lag->nstandbys > 0 && lag->standbys[lag->nstandbys - 1].pid == 0)
		lag->nstandbys--;
	return worst;
}

/*
 * One step of the controller: move the caps with the lag, and log the
 * start and the end of throttling.  Caller holds GRD_LOCK_WAL_LAG
 * exclusively.
 */
static void
controller_step(int64 lag_us, bool stalled, TimestampTz now)
{
	int64		target_us = (int64) wal_lag_target_ms * 1000;
	double		floor_rate = (double) wal_lag_floor_kb * 1024;
	GrdLagState state;
	bool		capped = false;

	if (target_us == 0)
		state = LAG_IDLE;
	else if (lag_us > target_us)
		state = stalled ? LAG_HOLDING : LAG_CUTTING;
	else if (lag_us > target_us / 2)
		state = LAG_STEADY;
	else
		state = LAG_RAISING;

	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		double		budget = (double) grd_wal_budget_configured(c);

		if (!THROTTLED(c) || state == LAG_IDLE)
			cap[c] = 0;
		else if (state == LAG_CUTTING || state == LAG_HOLDING)
		{
			double		from = cap[c] > 0 ? cap[c] :
				Max(rate_avg[c], floor_rate);

			if (budget > 0)
				from = Min(from, budget);
			cap[c] = state == LAG_HOLDING ? floor_rate :
				Max(floor_rate, from * CUT_FACTOR);
		}
		else if (state == LAG_RAISING && cap[c] > 0)
		{
			cap[c] *= RAISE_FACTOR;
			if (cap[c] > 2 * rate_avg[c] && (budget == 0 || cap[c] >= budget))
				cap[c] = 0;
		}
		grd_wal_class_set_cap(c, (uint64) rint(cap[c]));
		capped |= cap[c] > 0;
	}

	if (state == LAG_HOLDING && !holding_logged)
		ereport(LOG,
				(errmsg("WAL throttling holds the floor rate: the replay of standby with WAL sender %d does not advance",
						lag->worst_pid),
				 errdetail("Replay lag %.1f s, target %.1f s; the low classes may write %d kB per second until it replays again or drops out.",
						   lag_us / 1.0e6, target_us / 1.0e6, wal_lag_floor_kb)));
	holding_logged = state == LAG_HOLDING;

	if (capped && lag->since == 0)
	{
		lag->since = now;
		lag->episodes++;
		ereport(LOG,
				(errmsg("WAL throttling started: replay lag %.1f s of standby with WAL sender %d, target %.1f s",
						lag_us / 1.0e6, lag->worst_pid, target_us / 1.0e6)));
	}
	else if (!capped && lag->since != 0)
	{
		ereport(LOG,
				(errmsg("WAL throttling stopped after %.1f s: replay lag %.1f s, target %.1f s",
						(double) (now - lag->since) / USECS_PER_SEC,
						lag_us / 1.0e6, target_us / 1.0e6)));
		lag->since = 0;
	}
	lag->state = capped ? state : LAG_IDLE;
}

/*
 * Called by the overload controller's worker at each of its samples; acts
 * every 100 ms.  Runs in a process with no database and no transaction:
 * it reads shared memory only.
 */
void
grd_wal_tick(void)
{
	TimestampTz now = GetCurrentTimestamp();
	double		dt;
	int64		lag_us;
	uint64		injected;
	bool		stalled;
	int			worst_pid;

	if (lag == NULL)
		return;
	if (last_tick == 0)
	{
		last_tick = last_step = now;
		for (int c = 0; c < GRD_NUM_CLASSES; c++)
			prev_bytes[c] = grd_wal_class_bytes(c);
		return;
	}
	if (now - last_tick < TICK_MS * 1000)
		return;
	dt = (double) (now - last_tick) / USECS_PER_SEC;
	last_tick = now;
	grd_wal_budget_publish();
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		uint64		bytes = grd_wal_class_bytes(c);

		rate_avg[c] += RATE_ALPHA * ((double) (bytes - prev_bytes[c]) / dt -
									 rate_avg[c]);
		prev_bytes[c] = bytes;
		pg_atomic_write_u64(&lag->recent_rate[c],
							(uint64) Max(0.0, rate_avg[c]));
	}

	LWLockAcquire(grd_lock(GRD_LOCK_WAL_LAG), LW_EXCLUSIVE);
	lag_us = read_standbys(now, &stalled, &worst_pid);
	injected = pg_atomic_read_u64(&lag->injected_lag_us);
	if (injected != NOT_INJECTED)
	{
		lag_us = (int64) injected;
		stalled = false;
	}
	lag->lag_us = lag_us;
	lag->worst_pid = worst_pid;
	if (now - last_step >= STEP_MS * 1000)
	{
		last_step = now;
		controller_step(lag_us, stalled, now);
	}
	LWLockRelease(grd_lock(GRD_LOCK_WAL_LAG));
}

/*
 * guardrails.wal_lag_standbys(): the standbys the controller knows, for
 * the view guardrails.wal_lag.
 */
PG_FUNCTION_INFO_V1(grd_wal_lag_standbys);

Datum
grd_wal_lag_standbys(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LWLockAcquire(grd_lock(GRD_LOCK_WAL_LAG), LW_SHARED);
	GRD_INJECTION_POINT("pg-guardrails-wal-lag-read");
	for (int i = 0; i < lag->nstandbys; i++)
	{
		GrdStandby *sb = &lag->standbys[i];
		Datum		values[8];
		bool		nulls[8] = {0};
		int			j = 0;

		if (sb->pid == 0)
			continue;
		values[j++] = Int32GetDatum(sb->pid);
		values[j++] = CStringGetTextDatum(standby_state_names[sb->state]);
		values[j++] = LSNGetDatum(sb->flush);
		values[j++] = LSNGetDatum(sb->replay);
		values[j] = Float8GetDatum(sb->replay_lag_us / 1000.0);
		nulls[j++] = sb->replay_lag_us < 0;
		values[j] = TimestampTzGetDatum(sb->reply_time);
		nulls[j++] = sb->reply_time == 0;
		values[j++] = TimestampTzGetDatum(sb->seen);
		values[j++] = BoolGetDatum(sb->counted);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(grd_lock(GRD_LOCK_WAL_LAG));
	return (Datum) 0;
}

/*
 * guardrails.wal_lag_controller(): the controller's state, one row.
 */
PG_FUNCTION_INFO_V1(grd_wal_lag_controller);

Datum
grd_wal_lag_controller(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {0};
	uint64		injected;

	grd_require_preload();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	injected = pg_atomic_read_u64(&lag->injected_lag_us);
	LWLockAcquire(grd_lock(GRD_LOCK_WAL_LAG), LW_SHARED);
	values[0] = CStringGetTextDatum(lag_state_names[lag->state]);
	values[1] = Float8GetDatum(lag->lag_us / 1000.0);
	values[2] = Int32GetDatum(lag->worst_pid);
	nulls[2] = lag->worst_pid == 0;
	values[3] = Int32GetDatum(wal_lag_target_ms);
	values[4] = TimestampTzGetDatum(lag->since);
	nulls[4] = lag->since == 0;
	values[5] = Int64GetDatum((int64) lag->episodes);
	values[6] = BoolGetDatum(injected != NOT_INJECTED);
	LWLockRelease(grd_lock(GRD_LOCK_WAL_LAG));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * guardrails.wal_lag_inject(lag_ms float8): for tests, replace the lag
 * the controller acts on (NULL: read the standbys again).
 * Superuser-only: it decides what the whole server throttles.
 */
PG_FUNCTION_INFO_V1(grd_wal_lag_inject);

Datum
grd_wal_lag_inject(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to inject a replica lag"),
				 errdetail("Only superusers may replace the lag the WAL controller acts on.")));
	if (PG_ARGISNULL(0))
		pg_atomic_write_u64(&lag->injected_lag_us, NOT_INJECTED);
	else
	{
		double		v = PG_GETARG_FLOAT8(0);

		if (isnan(v) || v < 0 || v > 1.0e9)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("injected lag must be between 0 and 1000000000 ms, not %g", v)));
		pg_atomic_write_u64(&lag->injected_lag_us, (uint64) rint(v * 1000.0));
	}
	PG_RETURN_VOID();
}

/* Rows of guardrails.status. */
static void
wal_lag_status(GrdStatus *status)
{
	if (lag == NULL)
		return;
	LWLockAcquire(grd_lock(GRD_LOCK_WAL_LAG), LW_SHARED);
	grd_status_put(status, "wal_lag_us", lag->lag_us);
	grd_status_put(status, "wal_throttling", lag->since != 0);
	grd_status_put(status, "wal_throttling_episodes", (int64) lag->episodes);
	LWLockRelease(grd_lock(GRD_LOCK_WAL_LAG));
}

const GrdModule grd_wal_lag_module = {
	.name = "WAL lag controller",
	.settings = wal_lag_settings,
	.shmem_size = wal_lag_shmem_size,
	.shmem_startup = wal_lag_shmem_startup,
	.status = wal_lag_status,
};
