/*-------------------------------------------------------------------------
 *
 * wal_budget.c
 *		WAL budgets per workload class: each top-level statement is charged
 *		the WAL it wrote, and a statement of a class that has written more
 *		than its budget allows waits, before it starts, until the budget
 *		has room again.
 *
 * A class's budget is a rate, in WAL bytes per second
 * (guardrails.wal_budget_<class>), with a burst of
 * guardrails.wal_budget_burst worth of that rate.  No class has a budget
 * by default; the critical class is meant to keep none.  The replica-lag
 * controller (wal_lag.c) may cut a class's rate below its budget, or give
 * a class without one a rate, through the class's cap.
 *
 * The budget is kept as a debt: the bytes the class wrote that its rate
 * has not yet paid for, which drains at the rate as time passes.  A
 * statement writing n bytes adds n.  A statement may start while the debt
 * is within the burst (rate x guardrails.wal_budget_burst); otherwise it
 * waits on its latch (using no CPU) for the time the excess takes to
 * drain, looking again at least every 100 ms in case the rate changed,
 * and is refused with SQLSTATE 53W01 once it has waited
 * guardrails.wal_budget_max_wait.  So a class is paced: a statement that
 * wrote n bytes makes the next one of its class wait n / rate, rather
 * than letting the class write a second's worth at once and then stall.
 * The debt is in bytes, not in time, so that a rate that changes (a
 * reload, the lag controller) applies at once to what is owed.
 *
 * What a statement writes is only known when it ends, so a statement that
 * is admitted reserves, at once, what the previous statement of its
 * backend in that class wrote, and settles the difference when it ends.
 * Two backends of one class that wait together are therefore admitted one
 * after the other, each by its own reservation, and not both at once.
 *
 * What is charged: pgWalUsage.wal_bytes of this backend (its parallel
 * workers' included, which core adds to it when they finish), read when
 * the statement is admitted and when it ends, whether it completes or
 * fails (a failed statement is charged from the transaction's abort
 * callback; reading a counter and an atomic update cannot fail).  Nested
 * statements are part of their top-level statement.  Transaction control
 * is not a top-level statement for workload_class.c, so COMMIT and
 * ROLLBACK never wait; nor does any statement that workload_class.c says
 * is exempt (superusers, WAL senders, the extension's own work), and
 * those are not charged, only counted.
 *
 * Shared state, per class: a spinlock protects the debt and the time it
 * was last drained to, held for a few instructions, with nothing inside
 * that can fail or wait; it is taken only for a class that has a rate.
 * The rest is atomics: the cap is written by the lag controller alone;
 * the counters only grow.  The budgets themselves are published in shared
 * memory by the overload controller's worker (grd_wal_budget_publish(),
 * every 100 ms), which reads the configuration when it is reloaded: so a
 * reload reaches every backend at once, including one that waits in the
 * middle of a statement, where a backend does not read its configuration
 * again.  Until the worker has run, no class has a budget.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "executor/instrument.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "grd_limits.h"
#include "module.h"
#include "wal_budget.h"
#include "workload.h"

#define WAIT_POLL_MS	100		/* a waiter looks again at least this often */

/* settings */
static int	wal_budget_kb[GRD_NUM_CLASSES] = {-1, -1, -1, -1};
static int	wal_budget_burst_ms = 1000;
static int	wal_budget_max_wait_ms = 5000;

#define BUDGET_SETTING(cls) \
	GRD_SETTING_INT("guardrails.wal_budget_" #cls, \
		&wal_budget_kb[GRD_CLASS_##cls##_ID], -1, -1, INT_MAX, \
		PGC_SIGHUP, GUC_UNIT_KB, \
		"WAL that statements of workload class " #cls " may write per second; -1: no budget.", \
		NULL)

#define GRD_CLASS_critical_ID	GRD_CLASS_CRITICAL
#define GRD_CLASS_normal_ID		GRD_CLASS_NORMAL
#define GRD_CLASS_low_ID		GRD_CLASS_LOW
#define GRD_CLASS_background_ID GRD_CLASS_BACKGROUND

static const GrdSetting wal_budget_settings[] = {
	BUDGET_SETTING(critical),
	BUDGET_SETTING(normal),
	BUDGET_SETTING(low),
	BUDGET_SETTING(background),
	GRD_SETTING_INT("guardrails.wal_budget_burst", &wal_budget_burst_ms,
		1000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
		"Burst of a WAL budget: how many milliseconds of its rate a class may write at once.",
		NULL),
	GRD_SETTING_INT("guardrails.wal_budget_max_wait", &wal_budget_max_wait_ms,
		5000, 0, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS,
		"Longest wait of a statement for its class's WAL budget before it is refused.",
		NULL),
	GRD_SETTINGS_END
};

/* What a class wrote and met, on this server. */
typedef struct GrdWalClass
{
	slock_t		mutex;			/* protects debt and as_of */
	double		debt;			/* bytes written and not yet paid for */
	TimestampTz as_of;			/* when debt was last drained */
	pg_atomic_uint64 budget;	/* guardrails.wal_budget_<class>, bytes/s;
								 * 0: none */
	pg_atomic_uint64 cap;		/* rate cap of the lag controller, bytes/s;
								 * 0: none */
	pg_atomic_uint64 wal_bytes; /* written by its top-level statements */
	pg_atomic_uint64 charged;	/* of those, charged to its budget */
	pg_atomic_uint64 waited;	/* statements admitted after a wait */
	pg_atomic_uint64 wait_us;	/* time waited, all statements */
	pg_atomic_uint64 refused;	/* statements refused */
	pg_atomic_uint32 waiting;	/* statements waiting now */
} GrdWalClass;

static GrdWalClass *wal_classes = NULL;

/* The top-level statement running in this backend. */
static bool stmt_active = false;
static bool stmt_charged;		/* charged to its class's budget */
static int	stmt_cls;
static uint64 stmt_start_bytes;
static uint64 stmt_reserved;	/* bytes reserved at admission */
static uint64 stmt_rate;		/* its class's rate at admission */
static uint64 last_bytes[GRD_NUM_CLASSES];	/* by this backend's last
											 * charged statement */

static Size
wal_budget_shmem_size(void)
{
	return MAXALIGN(sizeof(GrdWalClass) * GRD_NUM_CLASSES);
}

static void
wal_budget_shmem_startup(bool found)
{
	wal_classes = ShmemInitStruct("pg_guardrails WAL budgets",
								  wal_budget_shmem_size(), &found);
	if (found)
		return;
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		GrdWalClass *wc = &wal_classes[c];

		SpinLockInit(&wc->mutex);
		wc->debt = 0;
		wc->as_of = 0;
		pg_atomic_init_u64(&wc->budget, 0);
		pg_atomic_init_u64(&wc->cap, 0);
		pg_atomic_init_u64(&wc->wal_bytes, 0);
		pg_atomic_init_u64(&wc->charged, 0);
		pg_atomic_init_u64(&wc->waited, 0);
		pg_atomic_init_u64(&wc->wait_us, 0);
		pg_atomic_init_u64(&wc->refused, 0);
		pg_atomic_init_u32(&wc->waiting, 0);
	}
}

/*
 * The configured budget of class cls, bytes per second, in this process's
 * configuration; 0: none.
 */
uint64
grd_wal_budget_configured(int cls)
{
	return wal_budget_kb[cls] < 0 ? 0 : (uint64) wal_budget_kb[cls] * 1024;
}

/* Publish the budgets of this process's configuration; by the worker. */
void
grd_wal_budget_publish(void)
{
	if (wal_classes == NULL)
		return;
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
		pg_atomic_write_u64(&wal_classes[c].budget,
							grd_wal_budget_configured(c));
}

/*
 * The rate a statement of class cls is held to now, bytes per second: the
 * lower of its published budget and the lag controller's cap; 0: no
 * limit.
 */
uint64
grd_wal_class_rate(int cls)
{
	uint64		rate;
	uint64		cap;

	if (wal_classes == NULL)
		return 0;
	rate = pg_atomic_read_u64(&wal_classes[cls].budget);
	cap = pg_atomic_read_u64(&wal_classes[cls].cap);
	if (cap != 0 && (rate == 0 || cap < rate))
		rate = cap;
	return rate;
}

/* Set the lag controller's cap of class cls, bytes per second; 0: none. */
void
grd_wal_class_set_cap(int cls, uint64 cap)
{
	if (wal_classes != NULL)
		pg_atomic_write_u64(&wal_classes[cls].cap, cap);
}

/* WAL written by class cls's top-level statements on this server. */
uint64
grd_wal_class_bytes(int cls)
{
	return wal_classes == NULL ? 0 :
		pg_atomic_read_u64(&wal_classes[cls].wal_bytes);
}

/*
 * Drain the debt of class wc to now, at rate (0: no limit, nothing owed).
 * Caller holds wc->mutex.
 */
static inline void
drain(GrdWalClass *wc, uint64 rate, TimestampTz now)
{
	if (rate == 0)
		wc->debt = 0;
	else if (now > wc->as_of)
		wc->debt = Max(0.0, wc->debt -
					   (double) rate * (now - wc->as_of) / USECS_PER_SEC);
	wc->as_of = Max(wc->as_of, now);
}

/*
 * Charge class wc n bytes (a negative n gives back part of a
 * reservation), at rate.
 */
static void
budget_charge(GrdWalClass *wc, int64 n, uint64 rate, TimestampTz now)
{
	SpinLockAcquire(&wc->mutex);
	drain(wc, rate, now);
	wc->debt = Max(0.0, wc->debt + (double) n);
	SpinLockRelease(&wc->mutex);
}

/*
 * How long, in microseconds, a statement of class wc, held to rate, must
 * still wait at now: the time the debt beyond the burst takes to drain;
 * 0 or less: none.
 */
static int64
ahead_of_budget(GrdWalClass *wc, uint64 rate, TimestampTz now)
{
	double		debt;

	if (rate == 0)
		return 0;
	SpinLockAcquire(&wc->mutex);
	drain(wc, rate, now);
	debt = wc->debt;
	SpinLockRelease(&wc->mutex);
	return (int64) Min(1.0e15, debt * USECS_PER_SEC / (double) rate) -
		(int64) wal_budget_burst_ms * 1000;
}

/*
 * Wait, on the latch, until class cls's budget lets a statement start, or
 * refuse the statement once it has waited guardrails.wal_budget_max_wait.
 * Returns the class's rate when the statement is admitted (0: no limit
 * any more).
 */
static uint64
wal_budget_wait(int cls, uint64 rate, TimestampTz start)
{
	GrdWalClass *wc = &wal_classes[cls];
	TimestampTz deadline = TimestampTzPlusMilliseconds(start,
													   wal_budget_max_wait_ms);
	TimestampTz now = start;
	int64		ahead = 0;
	bool		admitted = false;

	pg_atomic_fetch_add_u32(&wc->waiting, 1);
	PG_TRY();
	{
		for (;;)
		{
			long		sleep_ms;

			rate = grd_wal_class_rate(cls);
			ahead = ahead_of_budget(wc, rate, now);
			if (rate == 0 || ahead <= 0)
			{
				admitted = true;
				break;
			}
			if (now >= deadline)
				break;
			sleep_ms = (long) ((Min(ahead, deadline - now) + 999) / 1000);
			sleep_ms = Max(1, Min(sleep_ms, WAIT_POLL_MS));
			GRD_INJECTION_POINT("pg-guardrails-wal-budget-wait");
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			now = GetCurrentTimestamp();
		}
	}
	PG_FINALLY();
	{
		pg_atomic_fetch_sub_u32(&wc->waiting, 1);
	}
	PG_END_TRY();

	pg_atomic_fetch_add_u64(&wc->wait_us, (uint64) Max(0, now - start));
	if (admitted)
	{
		pg_atomic_fetch_add_u64(&wc->waited, 1);
		return rate;
	}
	pg_atomic_fetch_add_u64(&wc->refused, 1);
	ereport(ERROR,
			(errcode(GRD_ERRCODE_WAL_BUDGET),
			 errmsg("WAL budget of workload class \"%s\" exhausted",
					grd_class_names[cls]),
			 errdetail("The class may write %llu kB of WAL per second; it has written %.1f s ahead of that, and this statement waited %d ms, guardrails.wal_budget_max_wait.",
					   (unsigned long long) (rate / 1024),
					   (double) ahead / USECS_PER_SEC, wal_budget_max_wait_ms),
			 errhint("Retry after a pause that grows with each attempt, or write in smaller pieces; see guardrails.wal_budgets.")));
	return 0;					/* keep the compiler quiet */
}

/*
 * A top-level statement of class cls starts (exempt: never held by a
 * budget).  Wait for the budget if the class has overspent it (this may
 * raise an ERROR), then note where this backend's WAL counter stands.
 */
void
grd_wal_budget_start(int cls, bool exempt)
{
	uint64		rate = 0;

	/*
	 * A statement workload_class.c saw start at top level inside another
	 * (the query of an untimed EXPLAIN ANALYZE or DECLARE CURSOR): settle
	 * the outer one first, so that its reservation is given back.
	 */
	if (unlikely(stmt_active))
		grd_wal_budget_end();
	if (unlikely(wal_classes == NULL))
		return;
	if (!exempt)
		rate = grd_wal_class_rate(cls);
	if (rate != 0)
	{
		GrdWalClass *wc = &wal_classes[cls];
		TimestampTz now = GetCurrentTimestamp();

		if (ahead_of_budget(wc, rate, now) > 0)
		{
			rate = wal_budget_wait(cls, rate, now);
			now = GetCurrentTimestamp();
		}
		if (rate != 0 && last_bytes[cls] > 0)
			budget_charge(wc, (int64) last_bytes[cls], rate, now);
	}
	stmt_cls = cls;
	stmt_charged = rate != 0;
	stmt_rate = rate;
	stmt_reserved = rate != 0 ? last_bytes[cls] : 0;
	stmt_start_bytes = (uint64) pgWalUsage.wal_bytes;
	stmt_active = true;
}

/*
 * The top-level statement ended, completed or failed: count the WAL it
 * wrote, and charge it to its class's budget, less what it reserved.
 * Cannot fail: the abort callback calls it.
 */
void
grd_wal_budget_end(void)
{
	GrdWalClass *wc;
	uint64		written;

	if (!stmt_active)
		return;
	stmt_active = false;
	wc = &wal_classes[stmt_cls];
	written = (uint64) pgWalUsage.wal_bytes - stmt_start_bytes;
	if (written > 0)
		pg_atomic_fetch_add_u64(&wc->wal_bytes, written);
	if (!stmt_charged)
		return;
	if (written > 0)
		pg_atomic_fetch_add_u64(&wc->charged, written);
	if (written != stmt_reserved)
		budget_charge(wc, (int64) written - (int64) stmt_reserved, stmt_rate,
			   GetCurrentTimestamp());
	last_bytes[stmt_cls] = written;
}

/*
 * guardrails.wal_budget_stats(): per class, its budget and what it wrote
 * and met, for the view guardrails.wal_budgets.
 */
PG_FUNCTION_INFO_V1(grd_wal_budget_stats);

Datum
grd_wal_budget_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	TimestampTz now = GetCurrentTimestamp();

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		GrdWalClass *wc = &wal_classes[c];
		Datum		values[12];
		bool		nulls[12] = {0};
		int			i = 0;
		uint64		budget = pg_atomic_read_u64(&wc->budget);
		uint64		cap = pg_atomic_read_u64(&wc->cap);
		uint64		rate = grd_wal_class_rate(c);
		int64		ahead = ahead_of_budget(wc, rate, now);

		values[i++] = CStringGetTextDatum(grd_class_names[c]);
		values[i] = Int64GetDatum((int64) budget);
		nulls[i++] = budget == 0;
		values[i] = Int64GetDatum((int64) cap);
		nulls[i++] = cap == 0;
		values[i] = Int64GetDatum((int64) rate);
		nulls[i++] = rate == 0;
		values[i++] = Float8GetDatum(rate != 0 && ahead > 0 ? ahead / 1000.0 : 0.0);
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&wc->wal_bytes));
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&wc->charged));
		values[i++] = Int64GetDatum((int64) grd_wal_class_recent_rate(c));
		values[i++] = Int32GetDatum((int32) pg_atomic_read_u32(&wc->waiting));
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&wc->waited));
		values[i++] = Float8GetDatum(pg_atomic_read_u64(&wc->wait_us) / 1000.0);
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&wc->refused));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Rows of guardrails.status. */
static void
wal_budget_status(GrdStatus *status)
{
	uint64		waited = 0,
				refused = 0;

	if (wal_classes == NULL)
		return;
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		waited += pg_atomic_read_u64(&wal_classes[c].waited);
		refused += pg_atomic_read_u64(&wal_classes[c].refused);
	}
	grd_status_put(status, "wal_budget_waited", (int64) waited);
	grd_status_put(status, "wal_budget_refused", (int64) refused);
}

const GrdModule grd_wal_budget_module = {
	.name = "WAL budgets",
	.settings = wal_budget_settings,
	.shmem_size = wal_budget_shmem_size,
	.shmem_startup = wal_budget_shmem_startup,
	.status = wal_budget_status,
};
