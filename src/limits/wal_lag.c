/*-------------------------------------------------------------------------
 *
 * wal_lag.c
 *		The WAL controller's tick, run by the overload controller's
 *		background worker: the recent WAL rate of each workload class.
 *
 * Every 100 ms the worker reads each class's WAL counter and keeps an
 * exponential average of its rate over about a second, for the view.
 *
 * Shared state: atomics only; the worker alone writes them.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/execdesc.h"
#include "port/atomics.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "module.h"
#include "wal_budget.h"
#include "workload.h"

#define TICK_MS			100
#define RATE_ALPHA		0.1		/* weight of a new tick: about 1 s */

typedef struct GrdWalLagShared
{
	pg_atomic_uint64 recent_rate[GRD_NUM_CLASSES];	/* bytes/s */
} GrdWalLagShared;

static GrdWalLagShared *lag = NULL;

/* The worker's own memory. */
static TimestampTz last_tick = 0;
static uint64 last_bytes[GRD_NUM_CLASSES];
static double rate_avg[GRD_NUM_CLASSES];

static Size
wal_lag_shmem_size(void)
{
	return MAXALIGN(sizeof(GrdWalLagShared));
}

static void
wal_lag_shmem_startup(bool found)
{
	lag = ShmemInitStruct("pg_guardrails WAL lag", wal_lag_shmem_size(),
						  &found);
	if (found)
		return;
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
		pg_atomic_init_u64(&lag->recent_rate[c], 0);
}

/* The recent WAL rate of class cls, bytes per second. */
uint64
grd_wal_class_recent_rate(int cls)
{
	return lag == NULL ? 0 : pg_atomic_read_u64(&lag->recent_rate[cls]);
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

	if (lag == NULL)
		return;
	if (last_tick == 0)
	{
		last_tick = now;
		for (int c = 0; c < GRD_NUM_CLASSES; c++)
			last_bytes[c] = grd_wal_class_bytes(c);
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

		rate_avg[c] += RATE_ALPHA * ((double) (bytes - last_bytes[c]) / dt -
									 rate_avg[c]);
		last_bytes[c] = bytes;
		pg_atomic_write_u64(&lag->recent_rate[c],
							(uint64) Max(0.0, rate_avg[c]));
	}
}

const GrdModule grd_wal_lag_module = {
	.name = "WAL lag controller",
	.shmem_size = wal_lag_shmem_size,
	.shmem_startup = wal_lag_shmem_startup,
};
