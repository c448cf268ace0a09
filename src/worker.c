/*
 * worker.c
 *		The extension's background workers: a launcher, started with the
 *		server, and a worker for each database that has timed work for it
 *		(closing joiners' windows; the parameter sync is to live here too).
 *
 * The launcher starts a database's worker when the database asks
 * (worker_request, when a transaction that made a joiner or a model commits,
 * and when a model's state is made) and, once
 * after each server start, for every database, as slots allow, since
 * shared memory does not remember which ones asked before.  A worker whose database has nothing for it exits
 * cleanly and says it is no longer wanted; one that exits any other way (an
 * error, a crash, SIGTERM) is started again after WORKER_RESTART_DELAY_MS.
 * A worker does its work in short transactions, each as the role that owns
 * the work (joiner.c), and sleeps monolith.joiner_naptime between rounds;
 * SIGHUP rereads the configuration, SIGTERM ends it at the next
 * CHECK_FOR_INTERRUPTS.
 *
 * Locking: WorkerShared is guarded by its spinlock, held only to read or
 * write a few fields; the launcher alone starts workers.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "catalog/pg_database.h"
#include "utils/syscache.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "expiry.h"
#include "joiner.h"
#include "lifecycle.h"
#include "replica.h"
#include "restore.h"
#include "shmem.h"
#include "snapshot.h"
#include "sync.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(monolith_wake_worker);
PGDLLEXPORT void monolith_launcher_main(Datum arg);
PGDLLEXPORT void monolith_database_worker_main(Datum arg);

int			monolith_joiner_naptime_ms = 1000;

/* How long the launcher waits before starting again a worker that failed. */
#define WORKER_RESTART_DELAY_MS 5000
/* Pieces of one joiner's work a round does before moving to the next joiner. */
#define PIECES_PER_ROUND 16
/* Longest wait before retrying a joiner whose work failed. */
#define MAX_RETRY_DELAY_MS 60000

/* A database that has, or may have, work for a worker. */
typedef struct DatabaseSlot
{
	Oid			database;		/* InvalidOid: free */
	bool		wanted;			/* a worker should run there */
	uint64		requests;		/* worker_request calls for it */
	pid_t		worker_pid;		/* the worker running there, or 0 */
	bool		fresh;			/* taken since its last worker ended its work */
} DatabaseSlot;

typedef struct WorkerShared
{
	slock_t		mutex;
	Latch	   *launcher_latch; /* NULL while no launcher runs */
	int			n_slots;
	DatabaseSlot slots[FLEXIBLE_ARRAY_MEMBER];
} WorkerShared;

static WorkerShared *shared = NULL;
static void worker_xact_callback(XactEvent event, void *arg);
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* A database at most each worker process could serve. */
static Size
worker_shmem_size(void)
{
	return add_size(offsetof(WorkerShared, slots), mul_size(max_worker_processes, sizeof(DatabaseSlot)));
}

static void
worker_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(worker_shmem_size());
}

static void
worker_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("monolith workers", worker_shmem_size(), &found);
	if (!found)
	{
		SpinLockInit(&shared->mutex);
		shared->launcher_latch = NULL;
		shared->n_slots = max_worker_processes;
		memset(shared->slots, 0, sizeof(DatabaseSlot) * shared->n_slots);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
worker_install_hooks(void)
{
	RegisterXactCallback(worker_xact_callback, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = worker_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = worker_shmem_startup;
}

/*
 * Describes one of the extension's workers, run by function, of type type,
 * started again after restart_time seconds (or BGW_NEVER_RESTART); its
 * name is the type's until the caller says more.
 */
static void
describe_worker(BackgroundWorker *w, const char *function, const char *type, int restart_time)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	w->bgw_restart_time = restart_time;
	snprintf(w->bgw_library_name, BGW_MAXLEN, "monolith");
	snprintf(w->bgw_function_name, BGW_MAXLEN, "%s", function);
	snprintf(w->bgw_name, BGW_MAXLEN, "%s", type);
	snprintf(w->bgw_type, BGW_MAXLEN, "%s", type);
}

/* Registers the launcher; at shared_preload_libraries time only. */
void
worker_register_launcher(void)
{
	BackgroundWorker w;

	describe_worker(&w, "monolith_launcher_main", "monolith launcher", WORKER_RESTART_DELAY_MS / 1000);
	RegisterBackgroundWorker(&w);
}

/*
 * Set by SIGTERM in a database's worker (at a server's shutdown, say): it
 * ends once its round of work is through, shipping a last round of the
 * parameter sync first, so that a clean restart loses no training.
 */
static volatile sig_atomic_t shutdown_pending = false;

static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	shutdown_pending = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * SIGHUP rereads the configuration; SIGTERM ends the launcher at its next
 * CHECK_FOR_INTERRUPTS, and a database's worker (graceful) as
 * worker_sigterm says.
 */
static void
worker_handle_signals(bool graceful)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, graceful ? worker_sigterm : die);
	BackgroundWorkerUnblockSignals();
}

/*
 * Sleeps until the latch is set or timeout_ms pass (-1: no timeout; 0: not
 * at all), then does what signals asked for.
 */
static void
worker_sleep(long timeout_ms)
{
	if (timeout_ms != 0)
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout_ms > 0 ? WL_TIMEOUT : 0),
						 timeout_ms, PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
	CHECK_FOR_INTERRUPTS();
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* The slot of database, taken if it has none; NULL if all are taken.  Under the mutex. */
static DatabaseSlot *
database_slot(Oid database)
{
	DatabaseSlot *free_slot = NULL;

	for (int i = 0; i < shared->n_slots; i++)
	{
		if (shared->slots[i].database == database)
			return &shared->slots[i];
		if (free_slot == NULL && !OidIsValid(shared->slots[i].database))
			free_slot = &shared->slots[i];
	}
	if (free_slot != NULL)
	{
		free_slot->database = database;
		free_slot->wanted = false;
		free_slot->requests = 0;
		free_slot->worker_pid = 0;
		free_slot->fresh = true;
	}
	return free_slot;
}

/*
 * Asks for a worker in database, and wakes the launcher to start it; false
 * if there is no room for another database.  Cannot fail: it runs at commit.
 */
bool
worker_request(Oid database)
{
	DatabaseSlot *slot;
	Latch	   *launcher;

	if (shared == NULL)
		return false;
	SpinLockAcquire(&shared->mutex);
	slot = database_slot(database);
	if (slot != NULL)
	{
		slot->wanted = true;
		slot->requests++;
	}
	launcher = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	if (launcher != NULL)
		SetLatch(launcher);
	return slot != NULL;
}

/* Whether this transaction made what the database needs its worker for. */
static bool wake_at_commit = false;

/* A database whose worker this transaction stopped to drop it: asked for again if that fails. */
static Oid	stopped_for_drop = InvalidOid;

static void
worker_xact_callback(XactEvent event, void *arg)
{
	if (OidIsValid(stopped_for_drop) && (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT))
	{
		if (event == XACT_EVENT_ABORT)
			(void) worker_request(stopped_for_drop);
		stopped_for_drop = InvalidOid;
	}
	if (!wake_at_commit)
		return;
	if (event == XACT_EVENT_COMMIT && !worker_request(MyDatabaseId))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("no room for another database's monolith worker"),
				 errdetail("As many databases as max_worker_processes (%d) have one already; this one's joiners close only through monolith.close_joiner.",
						   max_worker_processes)));
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE)
		wake_at_commit = false;
}

/*
 * Before DROP DATABASE counts the database's other sessions: ends its
 * worker (SIGTERM), which would keep it from being dropped, and frees its
 * slot so that the launcher starts no other.
 */
void
worker_stop_for_drop(Oid database)
{
	pid_t		pid = 0;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->n_slots; i++)
		if (shared->slots[i].database == database)
		{
			pid = shared->slots[i].worker_pid;
			shared->slots[i].database = InvalidOid;
			shared->slots[i].wanted = false;
		}
	SpinLockRelease(&shared->mutex);
	if (pid != 0)
		kill(pid, SIGTERM);
	stopped_for_drop = database;
}

/* Asks for the database's worker when the current transaction commits. */
void
worker_request_at_commit(void)
{
	wake_at_commit = true;
}

/*
 * monolith.wake_worker(): the trigger on monolith.joiners and
 * monolith.model_definitions that asks for the database's worker when a
 * joiner or a model is made, or restored, and its transaction commits.
 */
Datum
monolith_wake_worker(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("monolith.wake_worker must be called as a trigger")));
	worker_request_at_commit();
	return PointerGetDatum(NULL);
}

/* worker_request calls for database so far. */
static uint64
database_requests(Oid database)
{
	uint64		requests = 0;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->n_slots; i++)
		if (shared->slots[i].database == database)
			requests = shared->slots[i].requests;
	SpinLockRelease(&shared->mutex);
	return requests;
}

/*
 * Says database needs no worker, unless it asked again since requests; true
 * if it did not.
 */
static bool
database_done(Oid database, uint64 requests)
{
	bool		done = true;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->n_slots; i++)
	{
		DatabaseSlot *slot = &shared->slots[i];

		if (slot->database != database)
			continue;
		done = slot->requests == requests;
		if (done)
			slot->database = InvalidOid;
	}
	SpinLockRelease(&shared->mutex);
	return done;
}

/*
 * Takes database's slot for this worker; false if another worker has it
 * (one started by a launcher that has since been restarted).
 */
static bool
worker_claim(Oid database)
{
	bool		claimed = false;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->n_slots; i++)
	{
		DatabaseSlot *slot = &shared->slots[i];

		if (slot->database == database && (slot->worker_pid == 0 || slot->worker_pid == MyProcPid))
		{
			slot->worker_pid = MyProcPid;
			claimed = true;
		}
	}
	SpinLockRelease(&shared->mutex);
	return claimed;
}

/* Gives back this worker's slot as it exits. */
static void
worker_release(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < shared->n_slots; i++)
		if (shared->slots[i].worker_pid == MyProcPid)
			shared->slots[i].worker_pid = 0;
	SpinLockRelease(&shared->mutex);
}

/*
 * Runs step(arg) in a transaction of its own, as a statement would; on an
 * error, logs it, rolls back and returns false.
 */
static bool
run_in_transaction(const char *activity, bool (*step) (void *arg), void *arg, bool *result)
{
	MemoryContext context = CurrentMemoryContext;
	volatile bool ok = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
	PG_TRY();
	{
		*result = step(arg);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(context);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(context);
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(false);
	return ok;
}

/* A joiner whose work failed, and when to try it again. */
typedef struct Retry
{
	int64		id;
	int			delay_ms;
	TimestampTz at;
} Retry;

static Retry *retries = NULL;
static int	n_retries = 0;

static Retry *
retry_of(int64 id)
{
	for (int i = 0; i < n_retries; i++)
		if (retries[i].id == id)
			return &retries[i];
	return NULL;
}

/* Waits twice as long as last time (up to MAX_RETRY_DELAY_MS) before trying id again. */
static void
retry_later(int64 id)
{
	Retry	   *r = retry_of(id);

	if (r == NULL)
	{
		retries = retries == NULL ? MemoryContextAlloc(TopMemoryContext, sizeof(Retry)) :
			repalloc(retries, sizeof(Retry) * (n_retries + 1));
		r = &retries[n_retries++];
		r->id = id;
		r->delay_ms = 500;
	}
	r->delay_ms = Min(r->delay_ms * 2, MAX_RETRY_DELAY_MS);
	r->at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), r->delay_ms);
}

static void
retry_forget(int64 id)
{
	Retry	   *r = retry_of(id);

	if (r != NULL)
		*r = retries[--n_retries];
}

typedef struct JoinerList
{
	int64	   *ids;
	int			n;
	MemoryContext context;		/* where ids go: the transaction's goes with it */
} JoinerList;

static bool
list_joiners(void *arg)
{
	JoinerList *list = arg;

	list->n = joiner_list(&list->ids, list->context);
	return true;
}

static bool
work_on_joiner(void *arg)
{
	return joiner_work(*(int64 *) arg);
}

/*
 * A round of every joiner's work; *busy if one has more to do at once.
 * Returns whether the database has joiners (or might: an error keeps it).
 */
static bool
joiners_round(bool *busy)
{
	JoinerList	list = {NULL, 0, CurrentMemoryContext};
	bool		listed;

	if (!run_in_transaction("listing joiners", list_joiners, &list, &listed))
		return true;
	for (int i = 0; i < list.n; i++)
	{
		int64		id = list.ids[i];
		Retry	   *r = retry_of(id);
		bool		done = false;

		if (r != NULL && GetCurrentTimestamp() < r->at)
			continue;
		for (int piece = 0; piece < PIECES_PER_ROUND && !done; piece++)
		{
			CHECK_FOR_INTERRUPTS();
			if (!run_in_transaction("closing joiner windows", work_on_joiner, &id, &done))
			{
				retry_later(id);
				break;
			}
			retry_forget(id);
		}
		if (!done && retry_of(id) == NULL)
			*busy = true;
	}
	return list.n > 0;
}

typedef struct ModelList
{
	int64	   *ids;
	int			n;
	bool		sync;			/* the installation has the sync's tables */
} ModelList;

/*
 * Lists the installation's live models, and says whether it has the sync's
 * tables; without them (SQL older than the library) it counts the
 * database's live models, for which the worker stays until an update.
 */
static bool
list_live_models(void *arg)
{
	ModelList  *list = arg;
	CatalogScope scope;

	list->sync = sync_installed();
	if (list->sync)
		catalog_scope(&scope);
	list->n = shmem_live_model_ids(list->sync ? scope.extension : InvalidOid, list->ids,
								   monolith_max_models);
	return true;
}

static bool
ship_model(void *arg)
{
	return sync_ship_model(*(int64 *) arg);
}

static bool
forget_dropped(void *arg)
{
	sync_forget_dropped();
	return true;
}

/*
 * A round of the parameter sync: each live model's changes shipped, each
 * in a transaction of its own.  Returns whether the database has live
 * models (or might: an error keeps it).
 */
static bool
sync_round(void)
{
	static uint64 definitions_seen = 0;
	ModelList	list = {palloc(sizeof(int64) * monolith_max_models), 0};
	uint64		definitions = definitions_version();
	bool		done;

	if (!run_in_transaction("listing models", list_live_models, &list, &done))
		return true;
	if (!list.sync)
		return list.n > 0;
	if (definitions != definitions_seen &&
		run_in_transaction("forgetting dropped models", forget_dropped, NULL, &done))
		definitions_seen = definitions;
	for (int i = 0; i < list.n; i++)
	{
		bool		ok;

		CHECK_FOR_INTERRUPTS();
		ok = run_in_transaction("shipping parameters", ship_model, &list.ids[i], &done);
		sync_after_transaction(list.ids[i], ok);
	}
	return list.n > 0;
}

/* Runs step on each model of list, each in a transaction of its own; whether any failed. */
static bool
each_model(ModelList *list, const char *activity, bool (*step) (void *arg))
{
	bool		done;
	bool		failed = false;

	for (int i = 0; i < list->n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		failed |= !run_in_transaction(activity, step, &list->ids[i], &done);
	}
	return failed;
}

static bool
list_unready_models(void *arg)
{
	ModelList  *list = arg;

	list->sync = sync_installed();
	list->n = list->sync ? replica_models_to_rebuild(list->ids, monolith_max_models) : 0;
	return true;
}

static bool
rebuild_model(void *arg)
{
	return replica_rebuild(*(int64 *) arg);
}

/*
 * On a replica, a round of rebuilding the models whose memory is not ready,
 * each in a transaction of its own.  Returns whether any were (or might be:
 * an error keeps the worker): with none, the worker may go, and the
 * replica's trigger asks for it again when a model needs it.
 */
static bool
replica_round(void)
{
	ModelList	list = {palloc(sizeof(int64) * monolith_max_models), 0};
	bool		done;

	if (!run_in_transaction("listing models to rebuild", list_unready_models, &list, &done))
		return true;
	return each_model(&list, "rebuilding a model from the replicated tables", rebuild_model);
}

static bool
list_models_to_restore(void *arg)
{
	ModelList  *list = arg;

	snapshot_forget_unfinished();
	list->n = restore_list_models(list->ids, monolith_max_models);
	return true;
}

static bool
restore_one(void *arg)
{
	return restore_model_by_id(*(int64 *) arg);
}

/*
 * On a trainer, once as the worker starts (as the server does, after a
 * crash too): every model of the database restored from its snapshots and
 * the sync's rows (restore.c), each in a transaction of its own, before
 * the first round of the sync ships anything; and temporary files of
 * snapshots whose writers are gone removed.
 */
static void
restore_models(void)
{
	ModelList	list = {palloc(sizeof(int64) * monolith_max_models), 0};
	bool		done;

	if (!run_in_transaction("listing models to restore", list_models_to_restore, &list, &done))
		return;
	(void) each_model(&list, "restoring a model", restore_one);
}

static bool
expire_step(void *arg)
{
	return expiry_step();
}

/*
 * A turn of expiry by age on a trainer: with begin, a pass begins over the
 * database's live models.  Sets *busy while the pass goes on; returns
 * whether the database has live models (or might: an error keeps it).
 */
static bool
expiry_round(bool begin, bool *busy)
{
	ModelList	list = {palloc(sizeof(int64) * monolith_max_models), 0};
	bool		done;

	*busy = false;
	if (begin)
	{
		if (!run_in_transaction("listing models", list_live_models, &list, &done))
			return true;
		expiry_begin(list.ids, list.n);
	}
	*busy = run_in_transaction("expiring IDs past their ttl", expire_step, NULL, &done) && done;
	return !begin || list.n > 0;
}

/* After SIGTERM: a trainer's last round of the sync, then the end, as die would. */
static void
worker_shut_down(void)
{
	if (monolith_role == MONOLITH_ROLE_TRAINER && monolith_sync_interval_ms > 0)
		(void) sync_round();
	ereport(FATAL,
			(errcode(ERRCODE_ADMIN_SHUTDOWN),
			 errmsg("terminating monolith worker due to administrator command")));
}

/* Time between rounds of the sync, or on a replica of rebuilding (which never stops). */
static int
sync_round_interval_ms(void)
{
	if (monolith_role == MONOLITH_ROLE_REPLICA && monolith_sync_interval_ms == 0)
		return 100;
	return monolith_sync_interval_ms;
}

/* Milliseconds from now until at, 0 if it has passed. */
static long
ms_until(TimestampTz at)
{
	return Max(0, TimestampDifferenceMilliseconds(GetCurrentTimestamp(), at));
}

/*
 * A database's worker: rounds of work until its database has none.  Joiners
 * every monolith.joiner_naptime (at once while one has more to do), the
 * parameter sync every monolith.sync_interval, and on a trainer a pass of
 * expiry by age every monolith.expire_interval (a turn of it between the
 * others while it goes on), each on its own clock.
 */
void
monolith_database_worker_main(Datum arg)
{
	Oid			database = DatumGetObjectId(arg);
	MemoryContext round_context;
	TimestampTz joiners_done = 0;	/* when the last round of each began */
	TimestampTz sync_done = 0;
	TimestampTz expiry_begun = 0;
	bool		joiners_busy = false;
	bool		expiry_busy = false;
	bool		expiry_has_models = true;
	bool		expires = monolith_role == MONOLITH_ROLE_TRAINER;
	bool		has_joiners = true;
	bool		has_models = true;

	worker_handle_signals(true);
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	pgstat_report_appname("monolith worker");
	if (!worker_claim(database))
		proc_exit(0);
	on_shmem_exit(worker_release, (Datum) 0);
	/*
	 * A session holding a record the worker needs (an action not yet
	 * committed) makes it give up that joiner for a while, not wait.
	 */
	SetConfigOption("lock_timeout", "1s", PGC_SUSET, PGC_S_OVERRIDE);
	round_context = AllocSetContextCreate(TopMemoryContext, "monolith worker round",
										  ALLOCSET_DEFAULT_SIZES);
	if (monolith_role == MONOLITH_ROLE_TRAINER)
	{
		MemoryContextSwitchTo(round_context);
		restore_models();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(round_context);
	}
	for (;;)
	{
		uint64		requests = database_requests(database);
		TimestampTz now = GetCurrentTimestamp();
		long		sleep_ms;

		/* Due times follow from the settings as they are now, which SIGHUP may change. */
		MemoryContextSwitchTo(round_context);
		if (joiners_busy || now >= TimestampTzPlusMilliseconds(joiners_done, monolith_joiner_naptime_ms))
		{
			joiners_busy = false;
			joiners_done = now;
			has_joiners = joiners_round(&joiners_busy);
		}
		has_models = sync_round_interval_ms() > 0;
		if (has_models && now >= TimestampTzPlusMilliseconds(sync_done, sync_round_interval_ms()))
		{
			sync_done = now;
			has_models = monolith_role == MONOLITH_ROLE_REPLICA ? replica_round() : sync_round();
		}
		if (expires && monolith_expire_interval_ms > 0 &&
			(expiry_busy || now >= TimestampTzPlusMilliseconds(expiry_begun, monolith_expire_interval_ms)))
		{
			bool		begin = !expiry_busy;

			if (begin)
				expiry_begun = now;
			expiry_has_models = expiry_round(begin, &expiry_busy);
		}
		/* Between passes too: the worker stays for the next. */
		has_models |= expires && monolith_expire_interval_ms > 0 && expiry_has_models;
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(round_context);
		if (shutdown_pending)
			worker_shut_down();
		if (!has_joiners && !has_models && database_done(database, requests))
			proc_exit(0);
		sleep_ms = joiners_busy || expiry_busy ? 0 :
			ms_until(TimestampTzPlusMilliseconds(joiners_done, monolith_joiner_naptime_ms));
		if (expires && monolith_expire_interval_ms > 0)
			sleep_ms = Min(sleep_ms, ms_until(TimestampTzPlusMilliseconds(expiry_begun, monolith_expire_interval_ms)));
		if (sync_round_interval_ms() > 0)
			sleep_ms = Min(sleep_ms, ms_until(TimestampTzPlusMilliseconds(sync_done, sync_round_interval_ms())));
		worker_sleep(sleep_ms);
	}
}

/* Databases the launcher is to look for work in, once each, as slots allow. */
static Oid *to_probe = NULL;
static int	n_to_probe = 0;

/* Lists every database that accepts connections in to_probe: any may have work. */
static void
list_every_database(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tuple;
	int			capacity = 16;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	to_probe = MemoryContextAlloc(TopMemoryContext, sizeof(Oid) * capacity);
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tuple);

		if (!db->datallowconn || db->datistemplate)
			continue;
		if (n_to_probe == capacity)
		{
			capacity *= 2;
			to_probe = repalloc(to_probe, sizeof(Oid) * capacity);
		}
		to_probe[n_to_probe++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
}

/* Marks as wanted the databases still to probe that a slot can be found for. */
static void
probe_databases(void)
{
	while (n_to_probe > 0)
	{
		DatabaseSlot *slot;

		SpinLockAcquire(&shared->mutex);
		slot = database_slot(to_probe[n_to_probe - 1]);
		if (slot != NULL)
			slot->wanted = true;
		SpinLockRelease(&shared->mutex);
		if (slot == NULL)
			return;
		n_to_probe--;
	}
}

/* Whether database still exists (a dropped one's slot is freed). */
static bool
database_exists(Oid database)
{
	bool		exists;

	StartTransactionCommand();
	exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(database));
	CommitTransactionCommand();
	return exists;
}

/* What the launcher knows of a database's worker. */
typedef struct LaunchedWorker
{
	Oid			database;
	BackgroundWorkerHandle *handle; /* NULL: not running */
	TimestampTz retry_at;		/* after a failed one, when to start another */
} LaunchedWorker;

static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = NULL;
	SpinLockRelease(&shared->mutex);
}

/*
 * Starts a worker for each wanted database that has none running; returns
 * how long to sleep before a failed one may start again.
 */
static long
start_workers(LaunchedWorker *launched)
{
	TimestampTz now = GetCurrentTimestamp();
	long		sleep_ms = -1;

	for (int i = 0; i < shared->n_slots; i++)
	{
		LaunchedWorker *l = &launched[i];
		BackgroundWorker w;
		pid_t		pid;
		Oid			database;
		bool		wanted;
		uint64		requests;
		bool		other_worker;	/* started by an earlier launcher */
		bool		fresh;

		SpinLockAcquire(&shared->mutex);
		database = shared->slots[i].database;
		wanted = shared->slots[i].wanted && OidIsValid(database);
		requests = shared->slots[i].requests;
		other_worker = shared->slots[i].worker_pid != 0 && l->handle == NULL;
		fresh = shared->slots[i].fresh;
		SpinLockRelease(&shared->mutex);

		if (l->handle != NULL && GetBackgroundWorkerPid(l->handle, &pid) == BGWH_STOPPED)
		{
			pfree(l->handle);
			l->handle = NULL;
			/* A worker that leaves its slot wanted did not finish its work. */
			l->retry_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_DELAY_MS);
		}
		if (l->handle != NULL || !wanted || other_worker)
			continue;
		/* A database asked for anew since its last worker ended its work waits for nothing. */
		if (l->database != database || fresh)
			l->retry_at = 0;
		l->database = database;
		if (now < l->retry_at)
		{
			long		wait = TimestampDifferenceMilliseconds(now, l->retry_at);

			sleep_ms = sleep_ms < 0 ? wait : Min(sleep_ms, wait);
			continue;
		}
		if (!database_exists(database))
		{
			(void) database_done(database, requests);
			continue;
		}
		describe_worker(&w, "monolith_database_worker_main", "monolith worker", BGW_NEVER_RESTART);
		snprintf(w.bgw_name, BGW_MAXLEN, "monolith worker for database %u", database);
		w.bgw_main_arg = ObjectIdGetDatum(database);
		w.bgw_notify_pid = MyProcPid;
		SpinLockAcquire(&shared->mutex);
		shared->slots[i].fresh = false;
		SpinLockRelease(&shared->mutex);
		if (!RegisterDynamicBackgroundWorker(&w, &l->handle))
		{
			/* No free background worker slot: try again later. */
			l->handle = NULL;
			l->retry_at = TimestampTzPlusMilliseconds(now, WORKER_RESTART_DELAY_MS);
			sleep_ms = sleep_ms < 0 ? WORKER_RESTART_DELAY_MS : Min(sleep_ms, WORKER_RESTART_DELAY_MS);
		}
	}
	return sleep_ms;
}

/* The launcher: starts and restarts the databases' workers. */
void
monolith_launcher_main(Datum arg)
{
	LaunchedWorker *launched;

	worker_handle_signals(false);
	/* Shared catalogs only: pg_database. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	launched = MemoryContextAllocZero(TopMemoryContext, sizeof(LaunchedWorker) * shared->n_slots);
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	SpinLockRelease(&shared->mutex);
	on_shmem_exit(launcher_detach, (Datum) 0);
	list_every_database();
	for (;;)
	{
		probe_databases();
		worker_sleep(start_workers(launched));
	}
}
