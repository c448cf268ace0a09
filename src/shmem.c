/*
 * shmem.c
 *		The extension's shared memory: a fixed registry of live models, and a
 *		DSA area, created in place inside the fixed segment, that grows by DSM
 *		segments as models' tables grow, up to monolith.max_memory.
 *
 * A model's parameters live in the DSA area as a ModelState (its inner locks
 * and its Model).  A registry entry names it by (database, model id) and
 * holds the model's table lock, which lives outside the DSA so that it
 * outlasts the state it guards.
 *
 * Locking rules:
 *	- MonolithShared.lock (registry lock) shared to find a model or read its
 *	  figures; exclusive to claim an entry for a new state or give one up.
 *	  Nothing waits for a table lock while holding it: a release marks its
 *	  entries dying under it, then frees them without it, so that a release
 *	  waiting for a long training step stalls no other model.
 *	- ModelSlot.table_lock is the core's CK_LOCK_TABLE (see cuckoo.h).  A
 *	  backend checks the entry's generation right after taking it: a release
 *	  bumps the generation, then takes the lock once to wait out its holders,
 *	  then frees, so a state seen under the table lock with the right
 *	  generation is never freed under it.
 *	- ModelSlot.write_seq is odd while anyone holds the table lock exclusive,
 *	  and grows by one when it is taken and when it is released: a sequence
 *	  lock, for the core's reads without the table lock (env read_begin and
 *	  read_end).  It is set only under the exclusive table lock.  An error
 *	  inside the exclusive section leaves it odd, which only sends readers to
 *	  the lock until the next exclusive holder makes it even again.  Such a
 *	  reader may read a state freed under it: the DSA area keeps the memory
 *	  mapped in this process until this process next calls into it, which a
 *	  reader does not do before read_end tells it to discard what it read.
 *	- ModelSlot.restoring is set and cleared under the registry lock
 *	  exclusive.  While it is set, only the process that made the state uses
 *	  it (restoring it: restore.c); shmem_open_model makes others wait on
 *	  ModelSlot.restored, and shrink_others passes it over.  A restore that
 *	  fails frees the state at the (sub)transaction's abort, once its locks
 *	  are released, so that the next user makes and restores it again.
 *	- ModelState.locks are the core's arena and stripe locks, taken only
 *	  under the table lock.
 *	- A process that holds a table lock takes another table lock, or the
 *	  registry lock, only conditionally, never waiting: so does reclaiming
 *	  memory from other models for one that is growing (see below).
 *
 * Memory under the cap.  Each live model's fair share is monolith.max_memory
 * over the number of live models, in every database.  The cap bounds the
 * bytes the models hold (MonolithShared.allocated), not only the area's
 * segments: those mapped under a higher cap stay mapped when it is lowered.
 * While the cap has room a model may grow past its share.  When an allocation fails for a
 * model below its share, the models above theirs give back memory (an arena
 * chunk at a time, in pieces of SHRINK_PIECE_IDS IDs moved or evicted, the
 * least recently seen, a hold each): at once, those whose locks are free; the
 * others at their own next training steps, which see the memory pressure
 * flag.  Under pressure a model at its share grows no more, so it
 * makes room by evicting its own least recently seen IDs; the flag ends
 * once no model is above its share.  Lowering the cap raises the flag too.
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>
#include <time.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proclist.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "metrics.h"
#include "model_sync.h"

#include "replica.h"
#include "restore.h"
#include "shmem.h"
#include "worker.h"

#define MODEL_STRIPES 64
/* Bytes of the DSA area kept in the fixed segment, before any DSM segment. */
#define DSA_IN_PLACE_SIZE (1024 * 1024)

/*
 * The exclusive holder's CPU time and involuntary context switches when its
 * hold began, taken only while monolith.log_long_holds is on.
 */
typedef struct HoldUsage
{
	bool		taken;
	struct timespec cpu;
	long		preempted;
} HoldUsage;

typedef struct ModelSlot
{
	LWLock		table_lock;
	pg_atomic_uint32 write_seq;
	bool		in_use;			/* holds a live state, found by its key */
	bool		dying;			/* being freed: neither found nor reused */
	int			dying_by;		/* the pid of the process freeing it */
	bool		restoring;		/* being restored by the process that made it (restore.c) */
	ConditionVariable restored; /* broadcast when restoring ends, or the state goes */
	ModelKey	key;
	uint32		generation;
	dsa_pointer state;
	instr_time	exclusive_since;	/* when the exclusive holder took it */
	double		longest_exclusive_ms;	/* the longest exclusive hold yet */
	HoldUsage	hold_usage;		/* the exclusive holder's, for monolith.log_long_holds */
	pg_atomic_uint64 outcomes[N_COMMIT_OUTCOMES];	/* see shmem_count_outcome */
	/*
	 * Label weights of the examples trained at commit, by prediction bin, in
	 * AUC_WEIGHT_UNITs: positive weights, then negative ones.
	 */
	pg_atomic_uint64 committed_auc[2 * METRICS_AUC_BINS];
	/* The parameter sync's (sync.c), times as TimestampTz: */
	TimestampTz incarnation;	/* when the state was made; orders its rounds after earlier states' */
	pg_atomic_uint64 sync_rounds;
	pg_atomic_uint64 sync_keys;
	pg_atomic_uint64 sync_bytes;
	pg_atomic_uint64 last_cut;
	pg_atomic_uint64 last_sync;
	pg_atomic_uint64 last_dense_sync;
	/* A replica's (replica.c), set under the registry lock: */
	bool		replica_ready;	/* rebuilt from the replicated tables: it may score */
	TimestampTz replica_incarnation;	/* the trainer's state whose rows it holds */
	pg_atomic_uint64 replica_keys;	/* keys applied */
	pg_atomic_uint64 replica_rejected;	/* parts it could not apply */
	pg_atomic_uint64 replica_shipped_at;	/* when the last part it applied was shipped */
} ModelSlot;

/* A label weight of 1 in ModelSlot.committed_auc. */
#define AUC_WEIGHT_UNIT 65536.0

typedef struct MonolithShared
{
	LWLock	   *lock;
	pg_atomic_uint64 releases;	/* bumped by every release, under the lock */
	pg_atomic_uint64 definitions_version;
	pg_atomic_uint32 memory_pressure;	/* see "Memory under the cap" */
	pg_atomic_uint64 allocated;	/* bytes the models hold in the area, likewise */
	int			n_live;			/* entries in use, under the registry lock */
	int			model_lock_tranche;
	int			dsa_tranche;
	uint32		next_generation;
	TimestampTz last_incarnation;	/* the latest state's, under the registry lock */
	int			max_models;
	Size		dsa_offset;		/* where the in-place DSA area starts */
	ModelSlot	models[FLEXIBLE_ARRAY_MEMBER];
} MonolithShared;

/* A model's state in the DSA area. */
typedef struct ModelState
{
	LWLock		locks[1 + MODEL_STRIPES];	/* CK_LOCK_ARENA, then stripes */
	Model		model;
} ModelState;

int			monolith_max_memory_mb = 1024;
int			monolith_max_models = 64;
int			monolith_log_long_holds_ms = -1;

static MonolithShared *shared = NULL;
static dsa_area *area = NULL;
pg_atomic_uint64 *monolith_definitions_version = NULL;
pg_atomic_uint32 *monolith_memory_pressure = NULL;

static void restore_abort_callback(XactEvent event, void *arg);
static void restore_subabort_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent,
									  void *arg);
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
registry_size(void)
{
	return MAXALIGN(add_size(offsetof(MonolithShared, models),
							 mul_size(monolith_max_models, sizeof(ModelSlot))));
}

static Size
shmem_size(void)
{
	return add_size(registry_size(), DSA_IN_PLACE_SIZE);
}

static void
monolith_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shmem_size());
	RequestNamedLWLockTranche("monolith", 1);
}

/* Creates the registry and the DSA area, once per server start. */
static void
monolith_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("monolith", shmem_size(), &found);
	if (!found)
	{
		dsa_area   *created;

		shared->lock = &(GetNamedLWLockTranche("monolith"))->lock;
		shared->model_lock_tranche = LWLockNewTrancheId();
		shared->dsa_tranche = LWLockNewTrancheId();
		shared->next_generation = 1;
		shared->last_incarnation = 0;
		pg_atomic_init_u64(&shared->releases, 0);
		pg_atomic_init_u64(&shared->definitions_version, 0);
		pg_atomic_init_u32(&shared->memory_pressure, 0);
		pg_atomic_init_u64(&shared->allocated, 0);
		shared->n_live = 0;
		shared->max_models = monolith_max_models;
		shared->dsa_offset = registry_size();
		for (int i = 0; i < monolith_max_models; i++)
		{
			LWLockInitialize(&shared->models[i].table_lock, shared->model_lock_tranche);
			pg_atomic_init_u32(&shared->models[i].write_seq, 0);
			for (int o = 0; o < N_COMMIT_OUTCOMES; o++)
				pg_atomic_init_u64(&shared->models[i].outcomes[o], 0);
			for (int b = 0; b < 2 * METRICS_AUC_BINS; b++)
				pg_atomic_init_u64(&shared->models[i].committed_auc[b], 0);
			shared->models[i].in_use = false;
			shared->models[i].dying = false;
			shared->models[i].restoring = false;
			ConditionVariableInit(&shared->models[i].restored);
		}
		created = dsa_create_in_place((char *) shared + shared->dsa_offset,
									  DSA_IN_PLACE_SIZE, shared->dsa_tranche, NULL);
		dsa_pin(created);
		dsa_detach(created);
	}
	monolith_definitions_version = &shared->definitions_version;
	monolith_memory_pressure = &shared->memory_pressure;
	LWLockRelease(AddinShmemInitLock);
}

void
shmem_install_hooks(void)
{
	RegisterXactCallback(restore_abort_callback, NULL);
	RegisterSubXactCallback(restore_subabort_callback, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = monolith_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = monolith_shmem_startup;
}

static void
detach_area(int code, Datum arg)
{
	if (area != NULL)
		dsa_detach(area);
	area = NULL;
}

/*
 * Errors out unless the library was preloaded; attaches this backend to the
 * DSA area on first use, with the size limit that monolith.max_memory sets.
 */
void
shmem_require(void)
{
	if (shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("monolith must be loaded via shared_preload_libraries"),
				 errhint("Add monolith to shared_preload_libraries in postgresql.conf and restart the server.")));
	if (area == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		LWLockRegisterTranche(shared->model_lock_tranche, "monolith_model");
		LWLockRegisterTranche(shared->dsa_tranche, "monolith_dsa");
		area = dsa_attach_in_place((char *) shared + shared->dsa_offset, NULL);
		dsa_pin_mapping(area);
		MemoryContextSwitchTo(old);
		before_shmem_exit(detach_area, 0);
		shmem_assign_max_memory(monolith_max_memory_mb, NULL);
	}
}

/*
 * Assign hook of monolith.max_memory: the cap is the area's, so any process
 * that has the area sets it, at once when the setting is reloaded, and on
 * attaching.
 */
void
shmem_assign_max_memory(int newval, void *extra)
{
	if (area != NULL)
		dsa_set_size_limit(area, (size_t) newval * 1024 * 1024);
	/* Models above their shares of a lowered cap give memory back. */
	if (shared != NULL)
		pg_atomic_write_u32(&shared->memory_pressure, 1);
}

/* Bytes a model's state holds in the area. */
static uint64
state_bytes(const Model *m)
{
	return sizeof(ModelState) + model_memory_bytes(m);
}

/* This process's address of the model of a registry entry that holds one. */
static Model *
slot_model(const ModelSlot *slot)
{
	return &((ModelState *) dsa_get_address(area, slot->state))->model;
}

static uint64
cap_bytes(void)
{
	return (uint64) monolith_max_memory_mb * 1024 * 1024;
}

/*
 * A model's fair share of the cap; with making, while one more is being
 * made.  The count is read without the lock, as a hint.
 */
static uint64
fair_share_of(bool making)
{
	return cap_bytes() / Max(shared->n_live + (making ? 1 : 0), 1);
}

static uint64
fair_share(void)
{
	return fair_share_of(false);
}

static bool reclaim_for(uint64 own_bytes, int self, uint64 share, uint64 wanted);
static dsa_pointer area_take(size_t size);
static void release_mark(ReleaseScope scope, const ModelKey *key);
static void release_marked(void);

/*
 * Memory on the DSA area for a model holding own_bytes (registry index
 * self, or -1 for one being made): 0 when at the cap.  Under memory pressure
 * a model at its share is refused at once; one below it first takes memory
 * from the models above theirs.
 */
static dsa_pointer
area_alloc(size_t size, uint64 own_bytes, int self)
{
	/* A model being made is not counted among the live ones yet. */
	uint64		share = fair_share_of(self < 0 || !shared->models[self].in_use);
	dsa_pointer dp;

	if (pg_atomic_read_u32(&shared->memory_pressure) != 0 && own_bytes + size > share)
		return InvalidDsaPointer;
	dp = area_take(size);
	if (!DsaPointerIsValid(dp) && reclaim_for(own_bytes, self, share, size))
		dp = area_take(size);
	return dp;
}

/* Zeroed memory of the area if the cap has room for it, counted in allocated. */
static dsa_pointer
area_take(size_t size)
{
	dsa_pointer dp = InvalidDsaPointer;

	/* Counted first, so that two processes cannot both take the last room. */
	if (pg_atomic_add_fetch_u64(&shared->allocated, size) > cap_bytes())
	{
		pg_atomic_sub_fetch_u64(&shared->allocated, size);
		return InvalidDsaPointer;
	}
	PG_TRY();
	{
		dp = dsa_allocate_extended(area, size, DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM | DSA_ALLOC_ZERO);
	}
	PG_CATCH();
	{
		/* A DSM segment that the system could not make. */
		pg_atomic_sub_fetch_u64(&shared->allocated, size);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!DsaPointerIsValid(dp))
		pg_atomic_sub_fetch_u64(&shared->allocated, size);
	return dp;
}

/* Frees what area_take gave, of size bytes. */
static void
area_free(dsa_pointer dp, size_t size)
{
	dsa_free(area, dp);
	pg_atomic_sub_fetch_u64(&shared->allocated, size);
}

/* CoreEnv memory for the model of handle ctx: a failure means "at the cap". */
static MemHandle
dsa_env_alloc(void *ctx, size_t size)
{
	const ModelHandle *h = ctx;

	return (MemHandle) area_alloc(size, state_bytes(h->model), h->registry_index);
}

static void
dsa_env_free(void *ctx, MemHandle handle, size_t size)
{
	area_free((dsa_pointer) handle, size);
}

static void *
dsa_env_address(void *ctx, MemHandle handle)
{
	return dsa_get_address(area, (dsa_pointer) handle);
}

/* The LWLock behind a core lock id of a model. */
static LWLock *
model_lwlock(const ModelHandle *h, uint32_t id)
{
	if (id == CK_LOCK_TABLE)
		return &shared->models[h->registry_index].table_lock;
	return &((ModelState *) ((char *) h->model - offsetof(ModelState, model)))->locks[id - 1];
}

static void
hold_usage_now(HoldUsage *usage)
{
	struct rusage ru;

	/* The thread's CPU clock is exact, where rusage counts CPU time in ticks. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &usage->cpu);
	getrusage(RUSAGE_THREAD, &ru);
	usage->preempted = ru.ru_nivcsw;
	usage->taken = true;
}

/* Logs an exclusive hold of at least monolith.log_long_holds, from its usage. */
static void
log_long_hold(const ModelKey *key, const HoldUsage *start, double held_ms)
{
	HoldUsage	end;

	hold_usage_now(&end);
	ereport(LOG,
			(errmsg("exclusive hold of the lock of model " INT64_FORMAT " of database %u lasted %.3f ms",
					key->id, key->dboid, held_ms),
			 errdetail_plural("The process was on the CPU for %.3f ms of it and was preempted %ld time.",
							  "The process was on the CPU for %.3f ms of it and was preempted %ld times.",
							  end.preempted - start->preempted,
							  (end.cpu.tv_sec - start->cpu.tv_sec) * 1e3 +
							  (end.cpu.tv_nsec - start->cpu.tv_nsec) / 1e6,
							  end.preempted - start->preempted)));
}

/* Begins an exclusive hold of a table lock just taken: write_seq goes odd. */
static void
exclusive_begin(ModelSlot *slot)
{
	Assert(LWLockHeldByMeInMode(&slot->table_lock, LW_EXCLUSIVE));
	/* A full barrier each: the odd value is seen before any write under the lock. */
	pg_atomic_write_u32(&slot->write_seq, pg_atomic_read_u32(&slot->write_seq) | 1);
	pg_memory_barrier();
	/* Per slot, not per process: a holder may take another model's lock meanwhile. */
	slot->hold_usage.taken = false;
	if (monolith_log_long_holds_ms >= 0)
		hold_usage_now(&slot->hold_usage);
	INSTR_TIME_SET_CURRENT(slot->exclusive_since);
}

/* How long a process tries for a busy table lock on the CPU before it sleeps. */
#define TABLE_LOCK_SPIN_USECS 20

/*
 * Takes a table lock.  Its holds are mostly a training step or one new ID
 * placed, a microsecond or so, while sleeping on the lock and being woken
 * costs tens of microseconds: so a process first tries again for a moment,
 * on the CPU, and only then queues.  Two trainers of one model otherwise
 * spend much of their time asleep, each woken by the other's every hold.
 */
static void
table_lock_acquire(ModelSlot *slot, LWLockMode mode)
{
	instr_time	start;
	instr_time	now;

	if (LWLockConditionalAcquire(&slot->table_lock, mode))
		return;
	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		for (int i = 0; i < 16; i++)
			pg_spin_delay();
		if (LWLockConditionalAcquire(&slot->table_lock, mode))
			return;
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		if (INSTR_TIME_GET_MICROSEC(now) >= TABLE_LOCK_SPIN_USECS)
			break;
	}
	LWLockAcquire(&slot->table_lock, mode);
}

/* Takes a table lock exclusive, making its slot's write_seq odd. */
static void
table_lock_exclusive(ModelSlot *slot)
{
	/* Nothing waits for a table lock while holding the registry lock. */
	Assert(!LWLockHeldByMe(shared->lock));
	table_lock_acquire(slot, LW_EXCLUSIVE);
	exclusive_begin(slot);
}

/*
 * Whether others waited for the table lock that this process last let go of
 * exclusive: then it lets them in before its next piece (yield_to_waiters).
 */
static bool waiters_at_release = false;

/* Releases an exclusive table lock, making write_seq even and new. */
static void
table_unlock_exclusive(ModelSlot *slot)
{
	instr_time	held;
	double		held_ms;
	ModelKey	key = slot->key;
	HoldUsage	usage = slot->hold_usage;

	Assert(LWLockHeldByMeInMode(&slot->table_lock, LW_EXCLUSIVE));
	/* Only the exclusive holder writes it: no atomics needed. */
	INSTR_TIME_SET_CURRENT(held);
	INSTR_TIME_SUBTRACT(held, slot->exclusive_since);
	held_ms = INSTR_TIME_GET_MILLISEC(held);
	slot->longest_exclusive_ms = Max(slot->longest_exclusive_ms, held_ms);
	pg_memory_barrier();
	pg_atomic_write_u32(&slot->write_seq, pg_atomic_read_u32(&slot->write_seq) + 1);
	/* A hint, read without the wait list's lock: at worst one pause too many or too few. */
	waiters_at_release = !proclist_is_empty(&slot->table_lock.waiters);
	LWLockRelease(&slot->table_lock);
	if (usage.taken && monolith_log_long_holds_ms >= 0 && held_ms >= monolith_log_long_holds_ms)
		log_long_hold(&key, &usage, held_ms);
}

/* A pause before the next piece of an operation, for waiters to take the lock. */
#define YIELD_USECS 20

/*
 * Between the pieces of a long operation: if others waited for the lock just
 * let go, a moment for them to take it.  An LWLock goes to whoever asks first
 * once it is free, and waiters, woken only when it is released, would find
 * it taken again by the next piece, and so wait for the whole operation.
 */
static void
yield_to_waiters(void)
{
	if (waiters_at_release)
	{
		waiters_at_release = false;
		pg_usleep(YIELD_USECS);
	}
}

/* CoreEnv locks; taking the table lock checks the model still exists. */
static void
model_lock(void *ctx, uint32_t id, bool exclusive)
{
	ModelHandle *h = ctx;
	ModelSlot  *slot = &shared->models[h->registry_index];

	/* Arena and stripe locks only under the table lock; the table lock not under the registry's. */
	Assert(id == CK_LOCK_TABLE ? !LWLockHeldByMe(shared->lock) : LWLockHeldByMe(&slot->table_lock));
	if (id == CK_LOCK_TABLE && exclusive)
		table_lock_exclusive(slot);
	else if (id == CK_LOCK_TABLE)
		table_lock_acquire(slot, LW_SHARED);
	else
		LWLockAcquire(model_lwlock(h, id), exclusive ? LW_EXCLUSIVE : LW_SHARED);
	if (id == CK_LOCK_TABLE && slot->generation != h->generation)
	{
		if (exclusive)
			table_unlock_exclusive(slot);
		else
			LWLockRelease(&slot->table_lock);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" was dropped or restored from a snapshot", h->def.name)));
	}
}

static void
model_unlock(void *ctx, uint32_t id)
{
	ModelHandle *h = ctx;
	LWLock	   *lock = model_lwlock(h, id);

	if (id == CK_LOCK_TABLE && LWLockHeldByMeInMode(lock, LW_EXCLUSIVE))
		table_unlock_exclusive(&shared->models[h->registry_index]);
	else
	{
		/* Waiters of an exclusive hold let go before were let in by this one. */
		if (id == CK_LOCK_TABLE)
			waiters_at_release = false;
		LWLockRelease(lock);
	}
}

/*
 * CoreEnv unlocked reads (see the locking rules above): a token, unless a
 * writer is at work or the model is no longer the handle's.
 */
static bool
model_read_begin(void *ctx, uint64_t *token)
{
	ModelHandle *h = ctx;
	ModelSlot  *slot = &shared->models[h->registry_index];
	uint32		seq = pg_atomic_read_u32(&slot->write_seq);

	/* The model's memory is read only after its generation is seen to match. */
	pg_read_barrier();
	if ((seq & 1) != 0 || slot->generation != h->generation)
		return false;
	*token = seq;
	return true;
}

/* Whether no writer came, nor the model was dropped, since the token. */
static bool
model_read_end(void *ctx, uint64_t token)
{
	ModelHandle *h = ctx;
	ModelSlot  *slot = &shared->models[h->registry_index];

	pg_read_barrier();
	return pg_atomic_read_u32(&slot->write_seq) == token && slot->generation == h->generation;
}

/* CoreEnv between_pieces: a long operation may be cancelled, and lets waiters in. */
static void
model_between_pieces(void *ctx)
{
	CHECK_FOR_INTERRUPTS();
	yield_to_waiters();
}

static void
handle_bind(ModelHandle *h, int index)
{
	ModelSlot  *slot = &shared->models[index];

	h->registry_index = index;
	h->generation = slot->generation;
	h->model = slot_model(slot);
	h->env = (CoreEnv) {
		h, false, dsa_env_alloc, dsa_env_free, dsa_env_address,
		h, model_lock, model_unlock, &h->view, model_read_begin, model_read_end,
		model_between_pieces
	};
	ck_view_reset(&h->view);
}

static bool
key_equal(const ModelKey *a, const ModelKey *b)
{
	return a->dboid == b->dboid && a->extension == b->extension && a->id == b->id;
}

static int
registry_find(const ModelKey *key)
{
	Assert(LWLockHeldByMe(shared->lock));
	for (int i = 0; i < shared->max_models; i++)
	{
		ModelSlot  *slot = &shared->models[i];

		if (slot->in_use && key_equal(&slot->key, key))
			return i;
	}
	return -1;
}

/* The key of def's state in this database. */
static ModelKey
key_of(const ModelDef *def)
{
	return (ModelKey) {MyDatabaseId, def->extension, def->id};
}

/* A registry entry free for a new state; errors if there is none.  Registry lock held. */
static int
registry_free_entry(void)
{
	Assert(LWLockHeldByMe(shared->lock));
	for (int index = 0; index < shared->max_models; index++)
		if (!shared->models[index].in_use && !shared->models[index].dying)
			return index;
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("too many models in use"),
			 errdetail("At most %d models can be live at once.", shared->max_models),
			 errhint("Drop unused models or raise monolith.max_models.")));
	pg_unreachable();
}

/*
 * Makes a fresh state for def, whose core configuration is model_config, in a
 * free registry entry, to be restored by this process if restore; registry
 * lock exclusive.
 */
static int
registry_create(ModelHandle *h, const ModelDef *def, const ModelConfig *model_config, bool restore)
{
	ModelSlot  *slot;
	int			index;
	dsa_pointer dp;
	ModelState *state;
	CuckooConfig config;
	uint64		needed;
	volatile bool initialized;

	Assert(LWLockHeldByMeInMode(shared->lock, LW_EXCLUSIVE));
	index = registry_free_entry();
	slot = &shared->models[index];
	table_config_from_def(&config, def);
	config.n_stripes = MODEL_STRIPES;
	/* A replica holds what the trainer admitted. */
	if (monolith_role == MONOLITH_ROLE_REPLICA)
		config.admission = (CuckooAdmission) {1, 1.0, config.admission.seed, config.admission.sketch_width_log2};
	/* A model that could never hold an ID under the cap is refused outright. */
	needed = sizeof(ModelState) + model_min_bytes(model_config, &config);
	if (needed > cap_bytes())
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" needs " UINT64_FORMAT " kB of shared memory to hold one ID, more than monolith.max_memory",
						def->name, (needed + 1023) / 1024),
				 errhint("Raise monolith.max_memory, or make the model's dim or tower smaller.")));

	dp = area_alloc(sizeof(ModelState), 0, -1);
	if (!DsaPointerIsValid(dp))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("not enough shared memory for model \"%s\"", def->name),
				 errhint("Raise monolith.max_memory or drop other models.")));
	state = dsa_get_address(area, dp);
	for (int i = 0; i < 1 + MODEL_STRIPES; i++)
		LWLockInitialize(&state->locks[i], shared->model_lock_tranche);

	slot->state = dp;
	slot->generation = shared->next_generation++;
	handle_bind(h, index);

	/*
	 * An allocation can also raise an error (a DSM segment that the system
	 * cannot make): give back what was taken before passing it on.
	 */
	PG_TRY();
	{
		initialized = model_init(h->model, &h->env, model_config, &config);
	}
	PG_CATCH();
	{
		model_destroy(h->model, &h->env);
		area_free(dp, sizeof(ModelState));
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!initialized)
	{
		area_free(dp, sizeof(ModelState));
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("not enough shared memory for model \"%s\"", def->name),
				 errhint("Raise monolith.max_memory or drop other models.")));
	}
	slot->key = key_of(def);
	shared->n_live++;
	slot->longest_exclusive_ms = 0;
	for (int o = 0; o < N_COMMIT_OUTCOMES; o++)
		pg_atomic_write_u64(&slot->outcomes[o], 0);
	for (int b = 0; b < 2 * METRICS_AUC_BINS; b++)
		pg_atomic_write_u64(&slot->committed_auc[b], 0);
	/* Microseconds apart at least, so that a state made again is a later incarnation. */
	slot->incarnation = Max(GetCurrentTimestamp(), shared->last_incarnation + 1);
	shared->last_incarnation = slot->incarnation;
	pg_atomic_write_u64(&slot->sync_rounds, 0);
	pg_atomic_write_u64(&slot->sync_keys, 0);
	pg_atomic_write_u64(&slot->sync_bytes, 0);
	pg_atomic_write_u64(&slot->last_cut, (uint64) slot->incarnation);
	pg_atomic_write_u64(&slot->last_sync, 0);
	pg_atomic_write_u64(&slot->last_dense_sync, 0);
	slot->replica_ready = false;
	slot->replica_incarnation = 0;
	pg_atomic_write_u64(&slot->replica_keys, 0);
	pg_atomic_write_u64(&slot->replica_rejected, 0);
	pg_atomic_write_u64(&slot->replica_shipped_at, 0);
	slot->restoring = restore;
	slot->in_use = true;
	worker_request(key_of(def).dboid);
	return index;
}

/*
 * The registry entry of def's state, made if there is none (then *created:
 * a trainer's is this process's to restore); registry lock held shared on
 * return.  A definition this transaction still sees may be
 * of a model whose row another has deleted since and whose state it freed:
 * that state must not come back.  So a state is made only for a row that
 * exists as of now; and a release in between (which might have been that
 * row's, finding nothing yet to free) sends the check round again.
 */
static int
registry_find_or_create(ModelHandle *h, const ModelDef *def, const ModelConfig *config,
						bool *created)
{
	ModelKey	key = key_of(def);
	uint32		made = 0;		/* the generation of the state this process made */

	for (;;)
	{
		uint64		releases;
		int			index;

		LWLockAcquire(shared->lock, LW_SHARED);
		index = registry_find(&key);
		*created = index >= 0 && made != 0 && shared->models[index].generation == made;
		if (index >= 0)
			return index;
		releases = pg_atomic_read_u64(&shared->releases);
		LWLockRelease(shared->lock);

		/* A trainer's state is restored as it is made, which a parallel worker cannot do. */
		if (IsParallelWorker() && monolith_role == MONOLITH_ROLE_TRAINER)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" is not restored yet", def->name),
					 errdetail("After a server start a model is restored before a parallel worker may use it."),
					 errhint("Try again in a moment.")));
		/* Catalog reads run with no LWLock of ours held. */
		Assert(!LWLockHeldByMe(shared->lock));
		if (!catalog_row_exists_now(def))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" was dropped", def->name)));

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		index = registry_find(&key);
		if (index < 0 && pg_atomic_read_u64(&shared->releases) == releases)
		{
			index = registry_create(h, def, config, monolith_role == MONOLITH_ROLE_TRAINER);
			made = shared->models[index].generation;
		}
		LWLockRelease(shared->lock);
	}
}

/* Waits until the state of a registry entry is restored, or goes (its generation changes). */
static void
wait_for_restore(ModelSlot *slot, uint32 generation)
{
	ConditionVariablePrepareToSleep(&slot->restored);
	for (;;)
	{
		bool		done;

		LWLockAcquire(shared->lock, LW_SHARED);
		done = !slot->restoring || slot->generation != generation;
		LWLockRelease(shared->lock);
		if (done)
			break;
		/* Timed: a wakeup lost to a process that died is at most a second late. */
		(void) ConditionVariableTimedSleep(&slot->restored, 1000, PG_WAIT_EXTENSION);
	}
	ConditionVariableCancelSleep();
}

/* The state this process is restoring, freed if the (sub)transaction aborts meanwhile. */
static ModelKey restore_failing;
static bool restore_under_way = false;

/*
 * Restores the handle's state, which this process made (see restore.c),
 * from only or else by itself; then others may use it.
 */
static uint64
restore_state(ModelHandle *h, const SnapshotFile *only)
{
	ModelSlot  *slot = &shared->models[h->registry_index];
	uint64		ids;

	restore_failing = key_of(&h->def);
	restore_under_way = true;
	ids = restore_model(h, only);
	restore_under_way = false;
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot->restoring = false;
	/* A failed snapshot's reset may have made the dense weights anew. */
	model_snapshot(&h->snapshot, h->model, &h->env);
	LWLockRelease(shared->lock);
	ConditionVariableBroadcast(&slot->restored);
	return ids;
}

/* At abort: a restore under way failed, and its state goes. */
static void
restore_abort_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT && restore_under_way)
	{
		restore_under_way = false;
		shmem_release(RELEASE_MODEL, &restore_failing);
	}
}

static void
restore_subabort_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		restore_abort_callback(XACT_EVENT_ABORT, arg);
}

/*
 * On a trainer: frees the model's state and makes a new one, restored from
 * the snapshot file alone, which snapshot_check found whole.  Nobody else
 * can make the model a state in between.  Returns the IDs restored.
 */
uint64
shmem_restore_model(ModelHandle *h, const ModelDef *def, const SnapshotFile *file)
{
	ModelConfig expected;
	ModelKey	key = key_of(def);
	int			index;
	uint64		ids;

	shmem_require();
	h->def = *def;
	model_config_from_def(&expected, def);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	/* The old state's entry is not free until it is freed: a new one must be. */
	(void) registry_free_entry();
	release_mark(RELEASE_MODEL, &key);
	PG_TRY();
	{
		index = registry_create(h, def, &expected, true);
	}
	PG_CATCH();
	{
		LWLockRelease(shared->lock);
		release_marked();
		PG_RE_THROW();
	}
	PG_END_TRY();
	handle_bind(h, index);
	model_snapshot(&h->snapshot, h->model, &h->env);
	LWLockRelease(shared->lock);
	release_marked();
	ids = restore_state(h, file);
	/* Call sites bound to the old state look again, and find this one. */
	pg_atomic_fetch_add_u64(&shared->definitions_version, 1);
	return ids;
}

/*
 * Binds a handle to the model's shared state, creating an empty one if none;
 * errors if the state was made from another definition.  The state is read
 * only under the registry lock, which keeps it from being freed meanwhile.
 */
void
shmem_open_model(ModelHandle *h, const ModelDef *def)
{
	ModelConfig expected;
	bool		matches;
	bool		created;
	int			index;

	shmem_require();
	h->def = *def;
	model_config_from_def(&expected, def);
	for (;;)
	{
		ModelSlot  *slot;
		uint32		generation;

		index = registry_find_or_create(h, def, &expected, &created);
		slot = &shared->models[index];
		if (!slot->restoring || created)
			break;
		generation = slot->generation;
		LWLockRelease(shared->lock);
		wait_for_restore(slot, generation);
	}
	handle_bind(h, index);
	matches = memcmp(&expected, &h->model->config, sizeof(ModelConfig)) == 0;
	/* The registry lock keeps the model from being freed while it is copied. */
	model_snapshot(&h->snapshot, h->model, &h->env);
	LWLockRelease(shared->lock);
	if (created && shared->models[index].restoring)
		restore_state(h, NULL);
	if (!matches)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("definition of model \"%s\" no longer matches its parameters", def->name),
				 errdetail("Its features, dimension, tower or optimizers differ from those the parameters in memory were made with."),
				 errhint("Drop and re-create the model instead of editing its definition.")));
}

/*
 * IDs a model moves or evicts to give memory back in one exclusive hold at
 * most, and holds it takes one after another, letting others in between,
 * where it holds no lock: enough to give back an arena chunk, each of whose
 * IDs may cost an eviction and a move.
 */
#define SHRINK_PIECE_IDS 64
#define SHRINK_PIECES ((2 << CK_CHUNK_LOG2_DEFAULT) / SHRINK_PIECE_IDS + 1)

/*
 * Makes the model of handle h give back asked bytes, a piece a hold of its
 * table lock exclusive, in at most *pieces holds (counted down): its own
 * model's lock waited for (which checks that the model still exists),
 * another's taken only if free, as the caller may hold a lock.  With pause,
 * it lets the lock's waiters in between holds.  Returns the bytes given back.
 */
static uint64
give_back_pieces(ModelHandle *h, uint64 asked, int *pieces, bool own, bool pause)
{
	ModelSlot  *slot = &shared->models[h->registry_index];
	uint64		given = 0;

	while (given < asked && *pieces > 0)
	{
		if (own)
			h->env.lock(h->env.lock_ctx, CK_LOCK_TABLE, true);
		else if (LWLockConditionalAcquire(&slot->table_lock, LW_EXCLUSIVE))
			exclusive_begin(slot);
		else
			break;
		(*pieces)--;
		given += model_shrink(h->model, &h->env, asked - given, SHRINK_PIECE_IDS);
		table_unlock_exclusive(slot);
		if (pause)
			yield_to_waiters();
	}
	return given;
}

/*
 * Makes the models above their fair shares, but model except, give back up
 * to wanted bytes together, in at most max_pieces pieces; only those whose
 * table locks are free, taken without waiting, as the caller may hold one.
 * With pause, it pauses between pieces for their locks' waiters (holding
 * the registry lock shared meanwhile: a model made or dropped then waits
 * for those pauses, a few milliseconds at most).  Sets *any_over if some
 * model is above its share.  Returns the bytes given back.
 */
static uint64
shrink_others(int except, uint64 share, uint64 wanted, int max_pieces, bool pause,
			  bool *any_over)
{
	static ModelHandle *other = NULL;
	uint64		freed = 0;

	/* A model being made holds the registry lock exclusive already. */
	bool		registry_held = LWLockHeldByMe(shared->lock);

	*any_over = false;
	if (other == NULL)
		other = MemoryContextAlloc(TopMemoryContext, sizeof(ModelHandle));
	if (!registry_held && !LWLockConditionalAcquire(shared->lock, LW_SHARED))
	{
		*any_over = true;		/* unknown: keep the pressure on */
		return 0;
	}
	for (int i = 0; i < shared->max_models && freed < wanted && max_pieces > 0; i++)
	{
		ModelSlot  *slot = &shared->models[i];
		uint64		bytes;

		if (i == except || !slot->in_use || slot->restoring)
			continue;
		bytes = state_bytes(slot_model(slot));
		if (bytes <= share)
			continue;
		*any_over = true;
		handle_bind(other, i);
		freed += give_back_pieces(other, Min(bytes - share, wanted - freed), &max_pieces, false, pause);
	}
	if (!registry_held)
		LWLockRelease(shared->lock);
	return freed;
}

/*
 * For a model holding own_bytes (registry index self, or -1) whose
 * allocation of wanted bytes failed: if it is below its fair share, raises
 * the memory pressure and takes memory from the models above their shares
 * that can give it now.  Whether any was given back.
 */
static bool
reclaim_for(uint64 own_bytes, int self, uint64 share, uint64 wanted)
{
	bool		any_over;

	if (own_bytes + wanted > share)
		return false;			/* at its share: its own IDs make room */
	pg_atomic_write_u32(&shared->memory_pressure, 1);
	/*
	 * One piece only from a caller holding its own table lock exclusive, and
	 * no pause from one that may hold a lock (the registry's, making a model).
	 */
	return shrink_others(self, share, wanted,
						 self >= 0 && LWLockHeldByMeInMode(&shared->models[self].table_lock, LW_EXCLUSIVE) ?
						 1 : SHRINK_PIECES, false, &any_over) > 0;
}

/*
 * Under memory pressure, between training steps, with no lock held: a
 * model above its fair share gives back a chunk's worth, a piece a hold;
 * one at its share helps the others above theirs down, and ends the
 * pressure once none is.
 */
void
shmem_relieve_pressure(ModelHandle *h)
{
	uint64		share = fair_share();
	uint64		bytes;
	bool		any_over;

	/* Under the registry lock, so that a model dropped since is not read. */
	LWLockAcquire(shared->lock, LW_SHARED);
	if (shared->models[h->registry_index].generation != h->generation)
	{
		LWLockRelease(shared->lock);
		return;
	}
	bytes = state_bytes(h->model);
	LWLockRelease(shared->lock);

	if (bytes > share)
	{
		int			pieces = SHRINK_PIECES;

		give_back_pieces(h, bytes - share, &pieces, true, true);
		return;
	}
	shrink_others(h->registry_index, share, UINT64_MAX, SHRINK_PIECES, true, &any_over);
	if (!any_over)
		pg_atomic_write_u32(&shared->memory_pressure, 0);
}

/* Whether a state of that key falls within a release of scope and key. */
static bool
release_covers(ReleaseScope scope, const ModelKey *key, const ModelKey *of)
{
	switch (scope)
	{
		case RELEASE_MODEL:
			return key_equal(key, of);
		case RELEASE_INSTALLATION:
			return key->dboid == of->dboid && key->extension == of->extension;
		case RELEASE_DATABASE:
			return key->dboid == of->dboid;
	}
	pg_unreachable();
}

/*
 * Marks the states that scope and key name dying, with new generations, so
 * that nobody finds or binds them again and whoever holds them errors at
 * his next lock; registry lock exclusive.
 */
static void
release_mark(ReleaseScope scope, const ModelKey *key)
{
	Assert(LWLockHeldByMeInMode(shared->lock, LW_EXCLUSIVE));
	pg_atomic_fetch_add_u64(&shared->releases, 1);
	for (int i = 0; i < shared->max_models; i++)
	{
		ModelSlot  *slot = &shared->models[i];

		if (!slot->in_use || !release_covers(scope, &slot->key, key))
			continue;
		slot->in_use = false;
		slot->dying = true;
		slot->dying_by = MyProcPid;
		shared->n_live--;
		slot->generation = shared->next_generation++;
	}
}

/* Frees the states this process marked dying, without the registry lock. */
static void
release_marked(void)
{
	Assert(!LWLockHeldByMe(shared->lock));
	for (int i = 0; i < shared->max_models; i++)
	{
		ModelSlot  *slot = &shared->models[i];
		ModelHandle h;			/* on the stack: this runs at abort, too */

		if (!slot->dying || slot->dying_by != MyProcPid)
			continue;
		/* Those waiting for its restore see it go. */
		ConditionVariableBroadcast(&slot->restored);
		handle_bind(&h, i);

		/*
		 * Whoever takes the table lock from now on finds the new generation
		 * and touches nothing, and readers without it find write_seq moved:
		 * so once the lock has been taken, waiting out those who held it,
		 * the state is freed without it, which for millions of IDs takes
		 * tens of milliseconds.
		 */
		table_lock_exclusive(slot);
		table_unlock_exclusive(slot);
		model_destroy(h.model, &h.env);
		area_free(slot->state, sizeof(ModelState));
		slot->state = InvalidDsaPointer;

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		slot->dying = false;
		slot->restoring = false;
		LWLockRelease(shared->lock);
	}
}

/*
 * Frees the shared states that scope and key name: marked dying under the
 * registry lock, then, with it released, each freed once the operations
 * under way on it have ended.  Runs at COMMIT and ABORT: nothing here may
 * fail.
 */
void
shmem_release(ReleaseScope scope, const ModelKey *key)
{
	shmem_require();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	release_mark(scope, key);
	LWLockRelease(shared->lock);
	release_marked();
}

/*
 * Whether the handle's state is still the model's: not freed since the
 * handle was bound, as it is once the model is dropped.
 */
bool
shmem_model_alive(const ModelHandle *h)
{
	ModelSlot  *slot = &shared->models[h->registry_index];
	bool		alive;

	LWLockAcquire(shared->lock, LW_SHARED);
	alive = slot->in_use && !slot->dying && slot->generation == h->generation;
	LWLockRelease(shared->lock);
	return alive;
}

/*
 * Counts n examples captured to train at commit as having come to outcome,
 * on the handle's model if it still lives.  Cannot fail: it is called after
 * commits and in aborts.  The registry lock keeps the entry from being given
 * to another model meanwhile.
 */
void
shmem_count_outcome(const ModelHandle *h, CommitOutcome outcome, uint64 n)
{
	ModelSlot  *slot = &shared->models[h->registry_index];

	if (n == 0)
		return;
	LWLockAcquire(shared->lock, LW_SHARED);
	if (slot->in_use && slot->generation == h->generation)
		pg_atomic_fetch_add_u64(&slot->outcomes[outcome], n);
	LWLockRelease(shared->lock);
}

/*
 * Adds the label weights of examples trained at commit, by prediction bin
 * (pos and neg, METRICS_AUC_BINS each), to the handle's model if it still
 * lives.  Cannot fail, as shmem_count_outcome.
 */
void
shmem_add_committed_auc(const ModelHandle *h, const double *pos, const double *neg)
{
	ModelSlot  *slot = &shared->models[h->registry_index];

	LWLockAcquire(shared->lock, LW_SHARED);
	if (slot->in_use && slot->generation == h->generation)
		for (int b = 0; b < 2 * METRICS_AUC_BINS; b++)
		{
			double		weight = b < METRICS_AUC_BINS ? pos[b] : neg[b - METRICS_AUC_BINS];

			if (weight > 0)
				pg_atomic_fetch_add_u64(&slot->committed_auc[b], (uint64) rint(weight * AUC_WEIGHT_UNIT));
		}
	LWLockRelease(shared->lock);
}

/* The progressive AUC of the examples slot's model trained at commit; NaN before both classes. */
static double
committed_auc(ModelSlot *slot)
{
	double		pos[METRICS_AUC_BINS];
	double		neg[METRICS_AUC_BINS];

	for (int b = 0; b < METRICS_AUC_BINS; b++)
	{
		pos[b] = pg_atomic_read_u64(&slot->committed_auc[b]) / AUC_WEIGHT_UNIT;
		neg[b] = pg_atomic_read_u64(&slot->committed_auc[METRICS_AUC_BINS + b]) / AUC_WEIGHT_UNIT;
	}
	return metrics_auc_of_bins(pos, neg);
}

/* Copies the figures of this database's live models of an installation into out[0..max). */
int
shmem_collect_stats(Oid extension, ModelStats *out, int max)
{
	int			n = 0;

	shmem_require();
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->max_models && n < max; i++)
	{
		ModelSlot  *slot = &shared->models[i];
		Model	   *model;

		if (!slot->in_use || slot->key.dboid != MyDatabaseId || slot->key.extension != extension)
			continue;
		model = slot_model(slot);
		out[n].model_id = slot->key.id;
		out[n].ids = __atomic_load_n(&model->table.live, __ATOMIC_RELAXED);
		out[n].memory_bytes = state_bytes(model);
		out[n].examples = __atomic_load_n(&model->examples, __ATOMIC_RELAXED);
		out[n].evicted = __atomic_load_n(&model->table.evicted, __ATOMIC_RELAXED);
		out[n].expired = __atomic_load_n(&model->table.expired, __ATOMIC_RELAXED);
		out[n].refused = __atomic_load_n(&model->table.refused, __ATOMIC_RELAXED);
		out[n].longest_exclusive_ms = slot->longest_exclusive_ms;
		for (int o = 0; o < N_COMMIT_OUTCOMES; o++)
			out[n].outcomes[o] = pg_atomic_read_u64(&slot->outcomes[o]);
		out[n].committed_auc = committed_auc(slot);
		out[n].incarnation = slot->incarnation;
		out[n].sync_rounds = pg_atomic_read_u64(&slot->sync_rounds);
		out[n].sync_keys = pg_atomic_read_u64(&slot->sync_keys);
		out[n].sync_bytes = pg_atomic_read_u64(&slot->sync_bytes);
		out[n].keys_waiting = model_changes_waiting(model);
		out[n].last_cut = (TimestampTz) pg_atomic_read_u64(&slot->last_cut);
		out[n].last_sync = (TimestampTz) pg_atomic_read_u64(&slot->last_sync);
		out[n].last_dense_sync = (TimestampTz) pg_atomic_read_u64(&slot->last_dense_sync);
		out[n].replica_ready = slot->replica_ready;
		out[n].replica_incarnation = slot->replica_incarnation;
		out[n].replica_keys = pg_atomic_read_u64(&slot->replica_keys);
		out[n].replica_rejected = pg_atomic_read_u64(&slot->replica_rejected);
		out[n].replica_shipped_at = (TimestampTz) pg_atomic_read_u64(&slot->replica_shipped_at);
		n++;
	}
	LWLockRelease(shared->lock);
	return n;
}

/* The ids of the live states of this database's installation (InvalidOid: any), at most max. */
int
shmem_live_model_ids(Oid extension, int64 *ids, int max)
{
	int			n = 0;

	shmem_require();
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->max_models && n < max; i++)
	{
		ModelSlot  *slot = &shared->models[i];

		if (slot->in_use && slot->key.dboid == MyDatabaseId &&
			(slot->key.extension == extension || !OidIsValid(extension)))
			ids[n++] = slot->key.id;
	}
	LWLockRelease(shared->lock);
	return n;
}

/*
 * On a replica: whether the handle's state is ready to score, and the
 * trainer's incarnation whose rows it holds.
 */
bool
shmem_replica_state(const ModelHandle *h, TimestampTz *incarnation)
{
	ModelSlot  *slot = &shared->models[h->registry_index];
	bool		ready;

	LWLockAcquire(shared->lock, LW_SHARED);
	ready = slot->replica_ready && slot->generation == h->generation;
	*incarnation = slot->replica_incarnation;
	LWLockRelease(shared->lock);
	return ready;
}

/* Sets what shmem_replica_state tells. */
void
shmem_replica_set(const ModelHandle *h, TimestampTz incarnation, bool ready)
{
	ModelSlot  *slot = &shared->models[h->registry_index];

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (slot->generation == h->generation)
	{
		/* Call sites that resolved the model look again, and see whether it is ready. */
		if (slot->replica_ready != ready)
			pg_atomic_fetch_add_u64(&shared->definitions_version, 1);
		slot->replica_incarnation = incarnation;
		slot->replica_ready = ready;
	}
	LWLockRelease(shared->lock);
}

/* On a replica: every model of the database's installation is to be rebuilt. */
void
shmem_replica_invalidate(Oid extension)
{
	shmem_require();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < shared->max_models; i++)
	{
		ModelSlot  *slot = &shared->models[i];

		if (slot->in_use && slot->key.dboid == MyDatabaseId && slot->key.extension == extension)
			slot->replica_ready = false;
	}
	pg_atomic_fetch_add_u64(&shared->definitions_version, 1);
	LWLockRelease(shared->lock);
}

/* Counts, on a replica, a part applied (keys of it, shipped when) or rejected. */
void
shmem_replica_applied(const ModelHandle *h, bool rejected, uint64 keys, TimestampTz shipped_at)
{
	ModelSlot  *slot = &shared->models[h->registry_index];

	if (rejected)
	{
		pg_atomic_fetch_add_u64(&slot->replica_rejected, 1);
		return;
	}
	pg_atomic_fetch_add_u64(&slot->replica_keys, keys);
	pg_atomic_write_u64(&slot->replica_shipped_at, (uint64) shipped_at);
}

/* Whether the model of this database's installation has a live state that is ready (on a replica). */
bool
shmem_model_ready(Oid extension, int64 id)
{
	ModelKey	key = {MyDatabaseId, extension, id};
	int			index;
	bool		ready;

	shmem_require();
	LWLockAcquire(shared->lock, LW_SHARED);
	index = registry_find(&key);
	ready = index >= 0 && shared->models[index].replica_ready;
	LWLockRelease(shared->lock);
	return ready;
}

/* When the state of the handle's model was made: the incarnation its rounds belong to. */
TimestampTz
shmem_incarnation(const ModelHandle *h)
{
	return shared->models[h->registry_index].incarnation;
}

/*
 * After a restore from the sync's rows of incarnation: the state goes on
 * with it, so that its next rounds follow those rows.
 */
void
shmem_continue_incarnation(const ModelHandle *h, TimestampTz incarnation)
{
	ModelSlot  *slot = &shared->models[h->registry_index];

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	slot->incarnation = incarnation;
	shared->last_incarnation = Max(shared->last_incarnation, incarnation);
	LWLockRelease(shared->lock);
}

/* Notes, for monolith.sync_status, a round cut. */
void
shmem_sync_cut(const ModelHandle *h)
{
	pg_atomic_write_u64(&shared->models[h->registry_index].last_cut, (uint64) GetCurrentTimestamp());
}

/* Notes a round shipped (with keys and bytes), or the dense weights (dense). */
void
shmem_sync_shipped(const ModelHandle *h, bool dense, uint64 keys, uint64 bytes)
{
	ModelSlot  *slot = &shared->models[h->registry_index];

	if (dense)
	{
		pg_atomic_write_u64(&slot->last_dense_sync, (uint64) GetCurrentTimestamp());
		return;
	}
	pg_atomic_fetch_add_u64(&slot->sync_rounds, 1);
	pg_atomic_fetch_add_u64(&slot->sync_keys, keys);
	pg_atomic_fetch_add_u64(&slot->sync_bytes, bytes);
	pg_atomic_write_u64(&slot->last_sync, (uint64) GetCurrentTimestamp());
}

/* The live states of every database, and the bytes they hold together. */
void
shmem_usage(int *live, uint64 *bytes)
{
	shmem_require();
	*bytes = 0;
	LWLockAcquire(shared->lock, LW_SHARED);
	*live = shared->n_live;
	for (int i = 0; i < shared->max_models; i++)
		if (shared->models[i].in_use)
			*bytes += state_bytes(slot_model(&shared->models[i]));
	LWLockRelease(shared->lock);
}
