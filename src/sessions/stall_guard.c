/*-------------------------------------------------------------------------
 *
 * stall_guard.c
 *		The stall guard: a background worker that ends the sessions stalled
 *		on their client inside a transaction.
 *
 * A session that waits on its client (wait event ClientRead or
 * ClientWrite) while a transaction is open holds what the transaction
 * holds: its snapshot, which keeps vacuum from cleaning up, and its
 * locks, behind which a migration queues and everything after it.  None
 * of core's timeouts ends it when its state is not idle:
 * statement_timeout does not run while the backend waits on the client,
 * idle_in_transaction_session_timeout does not apply to an active session
 * (a client that sent Parse and Bind but no Sync, a COPY FROM STDIN whose
 * client stopped sending, a result that the client stopped reading), and
 * a half-open TCP connection is noticed only by keepalives, if ever.
 *
 * One worker per server, also on hot standbys (it starts once the
 * standby is consistent, and writes nothing).  While
 * guardrails.client_stall_timeout is set it looks, once a second, at every
 * client backend:
 *
 *	- a backend is stalled while, at every look, it waits on its client
 *	  inside a transaction (its PGPROC has a local transaction id) and has
 *	  reported nothing new: the same transaction, the same wait event and
 *	  the same change count of its activity entry, which every statement,
 *	  protocol message and COPY progress report advances.  A COPY or an
 *	  extended-protocol stream that goes on, however slowly, is therefore
 *	  never stalled; a client that reads a large result more slowly than
 *	  its network can carry is (see README: nothing the server can see
 *	  tells it from one that stopped reading);
 *	- its state must be active (or a fast-path function call), or idle in
 *	  a transaction that holds a snapshot, a transaction id or a lock other
 *	  than its own virtual transaction id: an idle transaction that holds
 *	  nothing costs a connection slot only, which is what
 *	  idle_in_transaction_session_timeout is for;
 *	- once stalled for longer than the timeout, it is terminated as
 *	  pg_terminate_backend() would (SIGTERM), with a LOG message that
 *	  names it and why, and counted; unless it is a superuser's and
 *	  guardrails.client_stall_superusers is off, or its role is named in
 *	  guardrails.client_stall_exempt_roles: then it is logged and counted
 *	  once as exempt.  Replication connections and every process other
 *	  than a client backend are never looked at.
 *
 * The stall is measured by the worker's own looks, so it is known to about
 * a second, and a worker that restarts starts measuring again: it may end
 * a session later than the timeout, never earlier.
 *
 * Reading: PGPROC's pid, wait event and local transaction id are read
 * without a lock, as pg_stat_activity reads the wait event; a value torn
 * or stale only restarts a measurement.  The activity entries come from
 * core's consistent local copy (pgstat_read_current_status), taken only
 * when some backend waits on its client inside a transaction.  The locks
 * of an idle transaction are read (GetLockStatusData) once per stall, at
 * the timeout.  Before terminating, the worker checks again that the same
 * process still waits on its client in the same transaction.
 *
 * Shared memory holds only the two counters, atomics written by the
 * worker and read by guardrails.status.  The worker never takes an
 * extension lock, and an error in it ends only the worker, which the
 * postmaster starts again ten seconds later.
 *
 * Copyright (c) 2026, pg_guardrails developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "compat.h"
#include "identifier.h"
#include "module.h"
#include "sessions.h"

#define WORKER_NAME			"pg_guardrails stall guard"
#define SCAN_INTERVAL_MS	1000

/* The counters in shared memory. */
typedef struct StallShared
{
	pg_atomic_uint64 terminated;	/* sessions ended */
	pg_atomic_uint64 exempt;	/* stalls past the timeout, let be */
} StallShared;

static StallShared *stall_shared = NULL;

/*
 * What the worker knows of the process in one PGPROC slot, by slot
 * number: the stall being measured, if any (pid 0: none).
 */
typedef struct Tracked
{
	int			pid;
	LocalTransactionId lxid;
	uint32		wait_event_info;
	int			changecount;	/* of its activity entry */
	TimestampTz since;			/* first look at this stall */
	bool		settled;		/* dealt with: terminated, exempt, or an
								 * idle transaction that holds nothing */
} Tracked;

/* A backend found waiting on its client in a transaction, this look. */
typedef struct Candidate
{
	int			pid;
	int			slot;
	bool		matched;		/* has a client backend's activity entry */
} Candidate;

/*
 * A stall past the timeout, with what the worker needs of its activity
 * entry: the local copy of the entries is gone once a transaction ends,
 * and deciding may take one.
 */
typedef struct Due
{
	int			slot;
	Oid			userid;
	BackendState state;
	bool		has_snapshot;	/* a transaction id or an xmin */
	char		appname[NAMEDATALEN];
} Due;

static Tracked *tracked = NULL;
static Candidate *candidates = NULL;
static Due *due = NULL;
static MemoryContext scan_context = NULL;

/* settings */
static int	grd_client_stall_timeout = 0;
static bool grd_client_stall_superusers = false;
static char *grd_client_stall_exempt_roles = NULL;

static bool check_exempt_roles(char **newval, void **extra, GucSource source);

static const GrdSetting stall_settings[] = {
	GRD_SETTING_INT("guardrails.client_stall_timeout", &grd_client_stall_timeout, 0, 0, INT_MAX / 1000,
		PGC_SIGHUP, GUC_UNIT_S,
		"Terminates a session that has waited on its client inside a transaction for longer than this; 0 turns it off.",
		"Counts sessions that are active, in the extended protocol, in COPY, or idle in a transaction that holds a snapshot or locks. Replication connections are never terminated."),
	GRD_SETTING_BOOL("guardrails.client_stall_superusers", &grd_client_stall_superusers, false,
		PGC_SIGHUP, 0,
		"Whether the sessions of superusers stalled on their client are terminated too.",
		NULL),
	GRD_SETTING_STRING("guardrails.client_stall_exempt_roles", &grd_client_stall_exempt_roles, "",
		PGC_SIGHUP, GUC_LIST_INPUT, check_exempt_roles, NULL,
		"Roles whose sessions stalled on their client are never terminated.",
		"A comma-separated list of role names, matched against the session's login role."),
	GRD_SETTINGS_END
};

/*
 * Register the worker; in _PG_init, while shared_preload_libraries are
 * loaded.  It starts on a standby as soon as it is consistent (hot standby
 * accepts clients then), and after a crash of its own ten seconds later,
 * never in a loop faster than that.
 */
static void
stall_init(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 10;
	strlcpy(worker.bgw_library_name, "pg_guardrails",
			sizeof(worker.bgw_library_name));
	strlcpy(worker.bgw_function_name, "grd_stall_worker_main",
			sizeof(worker.bgw_function_name));
	strlcpy(worker.bgw_name, WORKER_NAME, sizeof(worker.bgw_name));
	strlcpy(worker.bgw_type, WORKER_NAME, sizeof(worker.bgw_type));
	RegisterBackgroundWorker(&worker);
}

static Size
stall_shmem_size(void)
{
	return MAXALIGN(sizeof(StallShared));
}

/* Create (or attach to) the counters; they start at zero. */
static void
stall_shmem_startup(bool found)
{
	bool		found_shared;

	stall_shared = ShmemInitStruct("pg_guardrails stall guard",
								   sizeof(StallShared), &found_shared);
	if (found_shared)
		return;
	pg_atomic_init_u64(&stall_shared->terminated, 0);
	pg_atomic_init_u64(&stall_shared->exempt, 0);
}

/* Rows of guardrails.status owned by this module. */
static void
stall_status(GrdStatus *status)
{
	grd_status_put(status, "client_stalls_terminated",
				   (int64) pg_atomic_read_u64(&stall_shared->terminated));
	grd_status_put(status, "client_stalls_exempt",
				   (int64) pg_atomic_read_u64(&stall_shared->exempt));
}

/*
 * Check hook of guardrails.client_stall_exempt_roles: the list must parse.
 * The worker, its only reader, splits it again when it needs it (at a
 * stall past the timeout, rarely).
 */
static bool
check_exempt_roles(char **newval, void **extra, GucSource source)
{
	List	   *names;

	return grd_parse_identifier_list(*newval, &names);
}

/* ----------------------------------------------------------------
 *		The worker
 * ----------------------------------------------------------------
 */

static bool
waits_on_client(uint32 wait_event_info)
{
	return wait_event_info == WAIT_EVENT_CLIENT_READ ||
		wait_event_info == WAIT_EVENT_CLIENT_WRITE;
}

static const char *
state_name(BackendState state)
{
	switch (state)
	{
		case STATE_RUNNING:
			return "active";
		case STATE_IDLEINTRANSACTION:
			return "idle in transaction";
		case STATE_FASTPATH:
			return "fastpath function call";
		default:
			return "other";
	}
}

static int
candidate_cmp(const void *a, const void *b)
{
	int			pa = ((const Candidate *) a)->pid;
	int			pb = ((const Candidate *) b)->pid;

	return (pa > pb) - (pa < pb);
}

/*
 * Whether the process holds a lock other than its virtual transaction id
 * (every transaction holds that one).  Reads the whole lock table, so it
 * is asked once per stall, at the timeout.
 */
static bool
holds_locks(int pid)
{
	LockData   *data = GetLockStatusData();

	for (int i = 0; i < data->nelements; i++)
	{
		LockInstanceData *lock = &data->locks[i];

		if (lock->pid == pid && lock->holdMask != 0 &&
			lock->locktag.locktag_type != LOCKTAG_VIRTUALTRANSACTION)
			return true;
	}
	return false;
}

/*
 * Why a session of this role is exempt, or NULL if it is not: a
 * superuser's (unless guardrails.client_stall_superusers), or one named in
 * guardrails.client_stall_exempt_roles.  Reads pg_authid, a shared
 * catalog, in a transaction of its own.  *role is set to the role's name
 * (or its OID, for a role dropped meanwhile).
 */
static const char *
role_exempt(Oid userid, char **role)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		exempt = false;
	char	   *name;
	List	   *names;
	ListCell   *lc;

	StartTransactionCommand();
	name = GetUserNameFromId(userid, true);
	if (name != NULL)
		name = MemoryContextStrdup(cxt, name);
	if (!grd_client_stall_superusers && superuser_arg(userid))
		exempt = true;
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);

	*role = name ? name : psprintf("%u", userid);
	if (exempt)
		return "The role is a superuser, and guardrails.client_stall_superusers is off.";
	if (name == NULL ||
		!grd_parse_identifier_list(grd_client_stall_exempt_roles, &names))
		return NULL;
	foreach(lc, names)
	{
		if (strcmp((const char *) lfirst(lc), name) == 0)
			return "The role is in guardrails.client_stall_exempt_roles.";
	}
	return NULL;
}

/*
 * A stall of a process past the timeout: let it be (an idle transaction
 * that holds nothing, an exempt role), or end it.
 */
static void
act_on_stall(const Due *d, TimestampTz now)
{
	Tracked    *t = &tracked[d->slot];
	PGPROC	   *proc = &ProcGlobal->allProcs[d->slot];
	char	   *role;
	const char *exempt;
	long		secs;
	int			usecs;

	t->settled = true;

	if (d->state == STATE_IDLEINTRANSACTION && !d->has_snapshot &&
		!holds_locks(t->pid))
		return;

	TimestampDifference(t->since, now, &secs, &usecs);
	exempt = role_exempt(d->userid, &role);
	if (exempt != NULL)
	{
		pg_atomic_fetch_add_u64(&stall_shared->exempt, 1);
		ereport(LOG,
				(errmsg("process %d of role \"%s\" stalled on its client inside a transaction for %ld s, left running: the role is exempt",
						t->pid, role, secs),
				 errdetail("Its state is \"%s\", its wait event %s.  %s",
						   state_name(d->state),
						   pgstat_get_wait_event(t->wait_event_info),
						   exempt)));
		return;
	}

	/* The same process, still in the same wait and transaction? */
	if (proc->pid != t->pid || proc->procLatch.owner_pid != t->pid ||
		proc->wait_event_info != t->wait_event_info ||
		GRD_PROC_LXID(proc) != t->lxid)
	{
		t->settled = false;
		t->pid = 0;
		return;
	}

	ereport(LOG,
			(errmsg("terminating process %d of role \"%s\": stalled on its client inside a transaction for %ld s",
					t->pid, role, secs),
			 errdetail("Its state is \"%s\", its wait event %s, its application \"%s\"; guardrails.client_stall_timeout is %d s.",
					   state_name(d->state),
					   pgstat_get_wait_event(t->wait_event_info),
					   d->appname,
					   grd_client_stall_timeout)));
	if (kill(t->pid, SIGTERM) != 0)
		ereport(LOG,
				(errmsg("could not send signal to process %d: %m", t->pid)));
	else
		pg_atomic_fetch_add_u64(&stall_shared->terminated, 1);
}

/*
 * One look at every backend: start, continue or end the measurement of
 * each stall, and act on those past the timeout.
 */
static void
scan_backends(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			nslots = ProcGlobal->allProcCount;
	int			ncand = 0;
	int			ndue = 0;
	int			nbackends;

	/* Who waits on the client inside a transaction; forget the others. */
	for (int i = 0; i < nslots; i++)
	{
		PGPROC	   *proc = &ProcGlobal->allProcs[i];
		int			pid = proc->pid;
		uint32		wait = proc->wait_event_info;
		LocalTransactionId lxid = GRD_PROC_LXID(proc);

		/*
		 * Up to 16, a backend that exits leaves its pid, wait event and
		 * transaction in its PGPROC; only the latch's owner is cleared.
		 */
		if (pid == 0 || proc->procLatch.owner_pid != pid ||
			!waits_on_client(wait) || lxid == InvalidLocalTransactionId)
		{
			tracked[i].pid = 0;
			continue;
		}
		candidates[ncand].pid = pid;
		candidates[ncand].slot = i;
		candidates[ncand].matched = false;
		ncand++;
	}
	if (ncand == 0)
		return;

	/* Their activity entries, from a fresh consistent copy. */
	qsort(candidates, ncand, sizeof(Candidate), candidate_cmp);
	pgstat_clear_backend_activity_snapshot();
	nbackends = pgstat_fetch_stat_numbackends();
	for (int b = 1; b <= nbackends; b++)
	{
		LocalPgBackendStatus *local = grd_local_beentry(b);
		PgBackendStatus *st;
		Candidate	key;
		Candidate  *c;
		Tracked    *t;
		PGPROC	   *proc;
		bool		stalled;

		if (local == NULL)
			continue;
		st = &local->backendStatus;
		if (st->st_backendType != B_BACKEND)
			continue;
		key.pid = st->st_procpid;
		c = bsearch(&key, candidates, ncand, sizeof(Candidate), candidate_cmp);
		if (c == NULL)
			continue;
		c->matched = true;
		proc = &ProcGlobal->allProcs[c->slot];
		t = &tracked[c->slot];

		stalled = (st->st_state == STATE_RUNNING ||
				   st->st_state == STATE_FASTPATH ||
				   st->st_state == STATE_IDLEINTRANSACTION);
		if (!stalled)
		{
			t->pid = 0;
			continue;
		}
		if (t->pid != c->pid ||
			t->lxid != GRD_PROC_LXID(proc) ||
			t->wait_event_info != proc->wait_event_info ||
			t->changecount != st->st_changecount)
		{
			/* a new stall, or progress since the last look */
			t->pid = c->pid;
			t->lxid = GRD_PROC_LXID(proc);
			t->wait_event_info = proc->wait_event_info;
			t->changecount = st->st_changecount;
			t->since = now;
			t->settled = false;
			continue;
		}
		if (!t->settled &&
			TimestampDifferenceExceeds(t->since, now,
									   grd_client_stall_timeout * 1000))
		{
			Due		   *d = &due[ndue++];

			d->slot = c->slot;
			d->userid = st->st_userid;
			d->state = st->st_state;
			d->has_snapshot = TransactionIdIsValid(local->backend_xid) ||
				TransactionIdIsValid(local->backend_xmin);
			strlcpy(d->appname, st->st_appname ? st->st_appname : "",
					NAMEDATALEN);
		}
	}

	/* Not a client backend (a walsender, a worker): nothing to measure. */
	for (int i = 0; i < ncand; i++)
	{
		if (!candidates[i].matched)
			tracked[candidates[i].slot].pid = 0;
	}
	pgstat_clear_backend_activity_snapshot();

	for (int i = 0; i < ndue; i++)
		act_on_stall(&due[i], now);
}

/*
 * The worker's main loop.  It connects to no database: the shared
 * catalogs (pg_authid) are all it reads.
 */
void
grd_stall_worker_main(Datum main_arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname(WORKER_NAME);

	tracked = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(Tracked) * ProcGlobal->allProcCount);
	candidates = MemoryContextAlloc(TopMemoryContext,
									sizeof(Candidate) * ProcGlobal->allProcCount);
	due = MemoryContextAlloc(TopMemoryContext,
							 sizeof(Due) * ProcGlobal->allProcCount);
	scan_context = AllocSetContextCreate(TopMemoryContext,
										 "pg_guardrails stall guard",
										 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		MemoryContext oldcxt;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (grd_client_stall_timeout > 0)
		{
			oldcxt = MemoryContextSwitchTo(scan_context);
			scan_backends();
			MemoryContextSwitchTo(oldcxt);
			MemoryContextReset(scan_context);
		}
		else
			memset(tracked, 0, sizeof(Tracked) * ProcGlobal->allProcCount);

		/* Off, it sleeps until a reload sets its latch. */
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH |
						 (grd_client_stall_timeout > 0 ? WL_TIMEOUT : 0),
						 SCAN_INTERVAL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

const GrdModule grd_stall_guard_module = {
	.name = "stall guard",
	.settings = stall_settings,
	.init = stall_init,
	.shmem_size = stall_shmem_size,
	.shmem_startup = stall_shmem_startup,
	.status = stall_status,
};
