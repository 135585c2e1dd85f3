/*-------------------------------------------------------------------------
 *
 * overload.c
 *		The overload controller: a per-server signal of overload, the share
 *		of each workload class to shed, and the admission of transactions
 *		by it.
 *
 * The signal is the number of processes of this server that are on a CPU
 * or waiting for one, divided by the cores (guardrails.overload_cores, or
 * the cores online): a process of the server whose PGPROC shows no wait
 * event is running or runnable.  Parallel workers have PGPROCs of their
 * own, so a statement counts as the cores it uses.  The controller, a
 * background worker with no database, samples it every 10 ms and smooths
 * it (an exponential average over about 100 ms), so a standby sheds on its
 * own load, and nothing in a backend reads a file.  The README says why
 * this signal rather than CPU pressure, the load average or the latency of
 * the critical class.
 *
 * The shed share, from 0 to 3, rises and falls with the signal: every
 * 100 ms it moves by half the signal's relative excess over
 * guardrails.overload_threshold (at most 0.5 a step), so that it settles
 * where the signal is at the threshold.  It is spent from the lowest class
 * up: a share of 1.4 sheds all of background and 40% of low.  Critical is
 * never shed, nor is any statement that workload_class.c says is exempt.
 *
 * Admission is decided at the first statement of a transaction (after
 * BEGIN, the first one that is not transaction control): a transaction
 * admitted runs to its end, never aborted half done.  While its class is
 * being shed, a transaction is admitted at once with the probability of
 * the share not shed; otherwise it waits on its latch, using no CPU, and
 * is admitted as soon as its class is no longer shed, or refused with
 * SQLSTATE 53C01 when it has waited too long.  How long is CoDel's rule:
 * guardrails.overload_queue_timeout while the class's queue empties now
 * and then, guardrails.overload_queue_target once it has stood non-empty
 * for more than 100 ms (a standing queue: waiting longer would only add
 * latency).  Each class waits on its own: a high class never waits behind
 * a low one.  While shedding, statements of the low and background
 * classes also run without parallel workers.
 *
 * In dry-run mode the same decisions are counted and logged, and nothing
 * waits or is refused.  The start and the end of each episode of shedding
 * are logged by the controller, not each statement.
 *
 * Shared state: atomics only.  The controller alone writes the signal,
 * the share and the episode; backends add to the counters of their class.
 * The test signal (guardrails.overload_inject_signal(), superuser-only)
 * replaces the measured one while set.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <unistd.h>

#include "access/parallel.h"
#include "common/pg_prng.h"
#include "executor/execdesc.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "compat.h"
#include "grd_limits.h"
#include "module.h"
#include "wal_budget.h"
#include "workload.h"

/* A transaction refused while its class was shed. */
#define GRD_ERRCODE_OVERLOAD_SHED	MAKE_SQLSTATE('5','3','C','0','1')

#define TICK_MS			100		/* the share moves once a tick */
#define SAMPLE_MS		10		/* the signal is sampled this often */
#define SAMPLE_ALPHA	0.1		/* weight of a new sample */
#define MAX_SHARE		((double) (GRD_NUM_CLASSES - 1))
#define STANDING_MS		100		/* CoDel's interval */
#define WAIT_POLL_MS	20		/* a waiter looks again this often */

typedef enum GrdOverloadMode
{
	GRD_OVERLOAD_OFF,
	GRD_OVERLOAD_DRY_RUN,
	GRD_OVERLOAD_ON
} GrdOverloadMode;

static const struct config_enum_entry mode_options[] = {
	{"off", GRD_OVERLOAD_OFF, false},
	{"dry_run", GRD_OVERLOAD_DRY_RUN, false},
	{"on", GRD_OVERLOAD_ON, false},
	{NULL, 0, false}
};

/* settings */
static int	grd_overload_control = GRD_OVERLOAD_OFF;
static double grd_overload_threshold = 1.0;
static int	grd_overload_cores = 0;
static int	grd_overload_queue_timeout = 1000;
static int	grd_overload_queue_target = 100;

static const GrdSetting overload_settings[] = {
	GRD_SETTING_ENUM("guardrails.overload_control", &grd_overload_control,
		GRD_OVERLOAD_OFF, mode_options, PGC_SIGHUP, 0,
		"Whether the overload controller sheds low workload classes: off, dry_run or on.",
		"dry_run counts and logs what would be shed, and sheds nothing."),
	GRD_SETTING_REAL("guardrails.overload_threshold", &grd_overload_threshold,
		1.0, 0.1, 100.0, PGC_SIGHUP, 0,
		"Overload signal (running or runnable processes per core) above which shedding grows.",
		NULL),
	GRD_SETTING_INT("guardrails.overload_cores", &grd_overload_cores,
		0, 0, 4096, PGC_SIGHUP, 0,
		"Cores the overload signal is divided by; 0: the cores online.",
		"Set it to the CPU quota of a container."),
	GRD_SETTING_INT("guardrails.overload_queue_timeout", &grd_overload_queue_timeout,
		1000, 1, 60000, PGC_SIGHUP, GUC_UNIT_MS,
		"Longest wait of a transaction of a shed class, while its queue empties now and then.",
		NULL),
	GRD_SETTING_INT("guardrails.overload_queue_target", &grd_overload_queue_target,
		100, 0, 60000, PGC_SIGHUP, GUC_UNIT_MS,
		"Longest wait of a transaction of a shed class once its queue has stood for 100 ms.",
		NULL),
	GRD_SETTINGS_END
};

/* What a class's transactions met, on this server. */
typedef struct GrdClassState
{
	pg_atomic_uint32 shed_permille;	/* share of the class shed now, 0-1000 */
	pg_atomic_uint32 queued;	/* transactions waiting now */
	pg_atomic_uint64 nonempty_since;	/* TimestampTz; 0: queue empty */
	pg_atomic_uint64 admitted;	/* transactions admitted */
	pg_atomic_uint64 waited;	/* of those, after a wait */
	pg_atomic_uint64 shed;		/* refused (or, dry run, would be) */
	pg_atomic_uint64 wait_us;	/* time waited, all transactions */
	pg_atomic_uint64 parallel_denied;	/* statements run without workers */
} GrdClassState;

typedef struct GrdOverloadShared
{
	pg_atomic_uint32 shedding;	/* some class is shed: the hot path's test */
	pg_atomic_uint32 signal_milli;	/* smoothed signal x 1000 */
	pg_atomic_uint32 share_milli;	/* shed share x 1000 */
	pg_atomic_uint32 injected_milli;	/* test signal x 1000, or NOT_INJECTED */
	pg_atomic_uint32 dry_run;	/* decisions are only counted */
	pg_atomic_uint64 episode_start;	/* TimestampTz; 0: not shedding */
	pg_atomic_uint64 episodes;
	pg_atomic_uint32 controller_pid;
	GrdClassState classes[GRD_NUM_CLASSES];
} GrdOverloadShared;

#define NOT_INJECTED	PG_UINT32_MAX

static GrdOverloadShared *ovl = NULL;

PGDLLEXPORT void grd_overload_main(Datum main_arg);

static Size
overload_shmem_size(void)
{
	return MAXALIGN(sizeof(GrdOverloadShared));
}

static void
overload_shmem_startup(bool found)
{
	ovl = ShmemInitStruct("pg_guardrails overload", overload_shmem_size(),
						  &found);
	if (found)
		return;
	pg_atomic_init_u32(&ovl->shedding, 0);
	pg_atomic_init_u32(&ovl->signal_milli, 0);
	pg_atomic_init_u32(&ovl->share_milli, 0);
	pg_atomic_init_u32(&ovl->injected_milli, NOT_INJECTED);
	pg_atomic_init_u32(&ovl->dry_run, 0);
	pg_atomic_init_u64(&ovl->episode_start, 0);
	pg_atomic_init_u64(&ovl->episodes, 0);
	pg_atomic_init_u32(&ovl->controller_pid, 0);
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		GrdClassState *cs = &ovl->classes[c];

		pg_atomic_init_u32(&cs->shed_permille, 0);
		pg_atomic_init_u32(&cs->queued, 0);
		pg_atomic_init_u64(&cs->nonempty_since, 0);
		pg_atomic_init_u64(&cs->admitted, 0);
		pg_atomic_init_u64(&cs->waited, 0);
		pg_atomic_init_u64(&cs->shed, 0);
		pg_atomic_init_u64(&cs->wait_us, 0);
		pg_atomic_init_u64(&cs->parallel_denied, 0);
	}
}

/* Register the controller; in _PG_init. */
static void
overload_init(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_PostmasterStart;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "pg_guardrails",
			sizeof(worker.bgw_library_name));
	strlcpy(worker.bgw_function_name, "grd_overload_main",
			sizeof(worker.bgw_function_name));
	strlcpy(worker.bgw_name, "pg_guardrails overload controller",
			sizeof(worker.bgw_name));
	strlcpy(worker.bgw_type, "pg_guardrails overload controller",
			sizeof(worker.bgw_type));
	RegisterBackgroundWorker(&worker);
}

/*
 * Processes of this server on a CPU or waiting for one: those with a
 * PGPROC in use that wait for nothing.  A PGPROC is in use while its
 * process owns its latch: up to 16, a backend that exits leaves its pid
 * in its PGPROC (only auxiliary processes clear it), and the wait event
 * it last had, often none, so the pid alone would count every backend
 * that ever exited until its PGPROC is reused.  Read without a lock; a
 * process changing its state as we look is counted either way.
 */
static int
runnable_processes(void)
{
	int			n = 0;

	for (uint32 i = 0; i < ProcGlobal->allProcCount; i++)
	{
		volatile PGPROC *proc = &ProcGlobal->allProcs[i];

		if (proc == MyProc || proc->pid == 0 ||
			proc->procLatch.owner_pid != proc->pid)
			continue;
		if (proc->wait_event_info == 0)
			n++;
	}
	return n;
}

static int
cores(void)
{
	long		n;

	if (grd_overload_cores > 0)
		return grd_overload_cores;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int) n : 1;
}

/* Share x 1000 of class c shed, for a total share x 1000. */
static uint32
class_permille(int c, uint32 share_milli)
{
	/* background takes the first 1000, low the next, normal the next */
	int64		below = (int64) (GRD_NUM_CLASSES - 1 - c) * 1000;
	int64		v = (int64) share_milli - below;

	if (c == GRD_CLASS_CRITICAL || v <= 0)
		return 0;
	return v >= 1000 ? 1000 : (uint32) v;
}

/*
 * One tick of the controller: move the share with the signal, publish it,
 * and log the start and the end of an episode.
 */
static void
controller_tick(double signal, double *share)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		on = grd_overload_control != GRD_OVERLOAD_OFF;
	double		step;
	uint32		share_milli;
	TimestampTz episode = (TimestampTz) pg_atomic_read_u64(&ovl->episode_start);

	step = 0.5 * (signal / grd_overload_threshold - 1.0);
	step = Max(-0.5, Min(0.5, step));
	*share = on ? Max(0.0, Min(MAX_SHARE, *share + step)) : 0.0;
	share_milli = (uint32) rint(*share * 1000.0);

	pg_atomic_write_u32(&ovl->dry_run,
						grd_overload_control == GRD_OVERLOAD_DRY_RUN);
	pg_atomic_write_u32(&ovl->share_milli, share_milli);
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		GrdClassState *cs = &ovl->classes[c];
		uint32		old = pg_atomic_read_u32(&cs->shed_permille);
		uint32		now_permille = class_permille(c, share_milli);

		pg_atomic_write_u32(&cs->shed_permille, now_permille);
		if (pg_atomic_read_u32(&cs->queued) == 0)
			pg_atomic_write_u64(&cs->nonempty_since, 0);
		else if (pg_atomic_read_u64(&cs->nonempty_since) == 0)
			pg_atomic_write_u64(&cs->nonempty_since, (uint64) now);
		(void) old;
	}

	if (share_milli > 0 && episode == 0)
	{
		pg_atomic_write_u64(&ovl->episode_start, (uint64) now);
		pg_atomic_fetch_add_u64(&ovl->episodes, 1);
		pg_atomic_write_u32(&ovl->shedding, 1);
		ereport(LOG,
				(errmsg("overload: shedding started%s: signal %.2f, threshold %.2f",
						grd_overload_control == GRD_OVERLOAD_DRY_RUN ? " (dry run)" : "",
						signal, grd_overload_threshold)));
	}
	else if (share_milli == 0 && episode != 0)
	{
		uint64		shed = 0;

		pg_atomic_write_u32(&ovl->shedding, 0);
		pg_atomic_write_u64(&ovl->episode_start, 0);
		for (int c = 0; c < GRD_NUM_CLASSES; c++)
			shed += pg_atomic_read_u64(&ovl->classes[c].shed);
		ereport(LOG,
				(errmsg("overload: shedding stopped after %.1f s: signal %.2f, threshold %.2f",
						(double) (now - episode) / USECS_PER_SEC,
						signal, grd_overload_threshold),
				 errdetail("%llu transactions shed on this server since it started.",
						   (unsigned long long) shed)));
	}
}

/*
 * The controller's main loop: sample every 10 ms, move the share every
 * 100 ms (when control is off, sample and tick every 100 ms).  No
 * database, no transaction: it reads shared memory only.
 */
void
grd_overload_main(Datum main_arg)
{
	double		signal = 0.0;
	double		share = 0.0;
	int			samples = 0;
	bool		on;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	pg_atomic_write_u32(&ovl->controller_pid, (uint32) MyProcPid);

	for (;;)
	{
		uint32		injected;
		double		sample;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* switched off: a sample and a tick every 100 ms, nothing shed */
		on = grd_overload_control != GRD_OVERLOAD_OFF;
		injected = pg_atomic_read_u32(&ovl->injected_milli);
		if (injected != NOT_INJECTED)
			signal = injected / 1000.0;
		else
		{
			sample = (double) runnable_processes() / cores();
			signal = on ? signal + SAMPLE_ALPHA * (sample - signal) : sample;
		}
		pg_atomic_write_u32(&ovl->signal_milli,
							(uint32) Min(rint(signal * 1000.0), 4.0e9));
		if (!on || ++samples * SAMPLE_MS >= TICK_MS)
		{
			samples = 0;
			controller_tick(signal, &share);
		}
		grd_wal_tick();
		grd_contain_tick();

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 on ? SAMPLE_MS : TICK_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Whether a transaction of a class shed by permille must wait. */
static inline bool
must_wait(uint32 permille)
{
	return permille >= 1000 ||
		(permille > 0 && pg_prng_uint32(&pg_global_prng_state) % 1000 < permille);
}

/*
 * A transaction of class cls, not exempt, starts while some class is
 * shed: admit it, make it wait, or refuse it.  Called at its first
 * statement only.
 */
static void
overload_admit(int cls)
{
	GrdClassState *cs = &ovl->classes[cls];
	uint32		permille = pg_atomic_read_u32(&cs->shed_permille);
	TimestampTz start,
				deadline,
				standing;
	int			timeout_ms;
	bool		admitted = false;

	if (!must_wait(permille))
	{
		pg_atomic_fetch_add_u64(&cs->admitted, 1);
		return;
	}
	if (pg_atomic_read_u32(&ovl->dry_run))
	{
		pg_atomic_fetch_add_u64(&cs->shed, 1);
		pg_atomic_fetch_add_u64(&cs->admitted, 1);
		return;
	}

	/* CoDel: a queue that has not emptied for a while gets the short wait */
	start = GetCurrentTimestamp();
	standing = (TimestampTz) pg_atomic_read_u64(&cs->nonempty_since);
	timeout_ms = (standing != 0 && start - standing > STANDING_MS * 1000) ?
		grd_overload_queue_target : grd_overload_queue_timeout;
	deadline = TimestampTzPlusMilliseconds(start, timeout_ms);

	pg_atomic_fetch_add_u32(&cs->queued, 1);
	PG_TRY();
	{
		for (;;)
		{
			TimestampTz now;
			long		left;

			/* room: the class is no longer shed (or control went off) */
			if (pg_atomic_read_u32(&cs->shed_permille) == 0 ||
				pg_atomic_read_u32(&ovl->shedding) == 0)
			{
				admitted = true;
				break;
			}
			now = GetCurrentTimestamp();
			left = TimestampDifferenceMilliseconds(now, deadline);
			if (left <= 0)
				break;
			GRD_INJECTION_POINT("pg-guardrails-overload-wait");
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(left, WAIT_POLL_MS), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		pg_atomic_fetch_sub_u32(&cs->queued, 1);
	}
	PG_END_TRY();

	pg_atomic_fetch_add_u64(&cs->wait_us,
							(uint64) Max(0, GetCurrentTimestamp() - start));
	if (admitted)
	{
		pg_atomic_fetch_add_u64(&cs->waited, 1);
		pg_atomic_fetch_add_u64(&cs->admitted, 1);
		return;
	}
	pg_atomic_fetch_add_u64(&cs->shed, 1);
	ereport(ERROR,
			(errcode(GRD_ERRCODE_OVERLOAD_SHED),
			 errmsg("server is overloaded: transaction of workload class \"%s\" refused",
					grd_class_names[cls]),
			 errdetail("It waited %d ms for room; %.0f%% of this class is being shed, at an overload signal of %.2f (threshold %.2f).",
					   timeout_ms, permille / 10.0,
					   pg_atomic_read_u32(&ovl->signal_milli) / 1000.0,
					   grd_overload_threshold),
			 errhint("Retry after a pause that grows with each attempt, with jitter; see guardrails.workload_classes.")));
}

/*
 * A top-level statement of a class that is not exempt starts while the
 * controller sheds something (the caller tested grd_overload_shedding()):
 * at the first statement of a transaction (first), admit it; at any statement of
 * the low and background classes, run it without parallel workers (from
 * a flat copy of its plan, so that a cached plan is left as it is).
 */
void
grd_overload_statement(int cls, bool first, QueryDesc *queryDesc)
{
	if (first)
		overload_admit(cls);
	if (queryDesc != NULL && cls >= GRD_CLASS_LOW &&
		queryDesc->plannedstmt->parallelModeNeeded &&
		!pg_atomic_read_u32(&ovl->dry_run))
	{
		PlannedStmt *copy;

		copy = MemoryContextAlloc(GetMemoryChunkContext(queryDesc),
								  sizeof(PlannedStmt));
		memcpy(copy, queryDesc->plannedstmt, sizeof(PlannedStmt));
		copy->parallelModeNeeded = false;
		queryDesc->plannedstmt = copy;
		pg_atomic_fetch_add_u64(&ovl->classes[cls].parallel_denied, 1);
	}
}

/* The share x 1000 of a class shed now (contain.c). */
uint32
grd_overload_class_permille(int cls)
{
	if (ovl == NULL || cls < 0 || cls >= GRD_NUM_CLASSES)
		return 0;
	return pg_atomic_read_u32(&ovl->classes[cls].shed_permille);
}

/* Whether some class is shed now: the hot path's one shared read. */
bool
grd_overload_shedding(void)
{
	return ovl != NULL && pg_atomic_read_u32(&ovl->shedding) != 0;
}

/*
 * guardrails.overload_inject_signal(value float8): for tests, replace the
 * measured signal with value (NULL: measure again).  Superuser-only: it
 * decides what the whole server sheds.
 */
PG_FUNCTION_INFO_V1(grd_overload_inject_signal);

Datum
grd_overload_inject_signal(PG_FUNCTION_ARGS)
{
	grd_require_preload();
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to inject an overload signal"),
				 errdetail("Only superusers may replace the signal of the overload controller.")));
	if (PG_ARGISNULL(0))
		pg_atomic_write_u32(&ovl->injected_milli, NOT_INJECTED);
	else
	{
		double		v = PG_GETARG_FLOAT8(0);

		if (isnan(v) || v < 0 || v > 1000000)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("overload signal must be between 0 and 1000000, not %g", v)));
		pg_atomic_write_u32(&ovl->injected_milli, (uint32) rint(v * 1000.0));
	}
	PG_RETURN_VOID();
}

/*
 * guardrails.workload_class_stats(): the controller's state and each
 * class's counters, for the view guardrails.workload_classes.
 */
PG_FUNCTION_INFO_V1(grd_workload_class_stats);

Datum
grd_workload_class_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo;
	int			active[GRD_NUM_CLASSES];
	uint64		statements[GRD_NUM_CLASSES];
	uint64		exempt[GRD_NUM_CLASSES];
	TimestampTz episode;

	grd_require_preload();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	grd_workload_totals(active, statements, exempt);
	episode = (TimestampTz) pg_atomic_read_u64(&ovl->episode_start);
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
	{
		GrdClassState *cs = &ovl->classes[c];
		Datum		values[16];
		bool		nulls[16] = {0};
		int			i = 0;

		values[i++] = CStringGetTextDatum(grd_class_names[c]);
		values[i++] = Int32GetDatum(c);
		values[i++] = Int32GetDatum(active[c]);
		values[i++] = Int64GetDatum((int64) statements[c]);
		values[i++] = Int64GetDatum((int64) exempt[c]);
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&cs->admitted));
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&cs->shed));
		values[i++] = Int32GetDatum((int32) pg_atomic_read_u32(&cs->queued));
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&cs->waited));
		values[i++] = Float8GetDatum(pg_atomic_read_u64(&cs->wait_us) / 1000.0);
		values[i++] = Int64GetDatum((int64) pg_atomic_read_u64(&cs->parallel_denied));
		values[i++] = Float8GetDatum(pg_atomic_read_u32(&cs->shed_permille) / 1000.0);
		values[i++] = Float8GetDatum(pg_atomic_read_u32(&ovl->signal_milli) / 1000.0);
		values[i++] = Float8GetDatum(pg_atomic_read_u32(&ovl->share_milli) / 1000.0);
		values[i] = TimestampTzGetDatum(episode);
		nulls[i++] = episode == 0;
		values[i++] = CStringGetTextDatum(mode_options[grd_overload_control].name);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Rows of guardrails.status. */
static void
overload_status(GrdStatus *status)
{
	uint64		shed = 0;

	if (ovl == NULL)
		return;
	for (int c = 0; c < GRD_NUM_CLASSES; c++)
		shed += pg_atomic_read_u64(&ovl->classes[c].shed);
	grd_status_put(status, "overload_signal_milli",
				   pg_atomic_read_u32(&ovl->signal_milli));
	grd_status_put(status, "overload_share_milli",
				   pg_atomic_read_u32(&ovl->share_milli));
	grd_status_put(status, "overload_episodes",
				   (int64) pg_atomic_read_u64(&ovl->episodes));
	grd_status_put(status, "overload_shed", (int64) shed);
}

const GrdModule grd_overload_module = {
	.name = "overload controller",
	.settings = overload_settings,
	.init = overload_init,
	.shmem_size = overload_shmem_size,
	.shmem_startup = overload_shmem_startup,
	.status = overload_status,
};
