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
 *	  figures; exclusive to create or destroy one, and for the ring of ids of
 *	  models freed lately, which creation consults.  It is taken before, never
 *	  while holding, a table lock.
 *	- ModelSlot.table_lock is the core's CK_LOCK_TABLE (see cuckoo.h).  A
 *	  backend checks the entry's generation right after taking it: destroying
 *	  a model takes it exclusive and bumps the generation, so a state seen
 *	  under the table lock with the right generation is never freed under it.
 *	- ModelSlot.write_seq is odd while anyone holds the table lock exclusive,
 *	  and grows by one when it is taken and when it is released: a sequence
 *	  lock, for the core's reads without the table lock (env read_begin and
 *	  read_end).  It is set only under the exclusive table lock.  An error
 *	  inside the exclusive section leaves it odd, which only sends readers to
 *	  the lock until the next exclusive holder makes it even again.  Such a
 *	  reader may read a state freed under it: the DSA area keeps the memory
 *	  mapped in this process until this process next calls into it, which a
 *	  reader does not do before read_end tells it to discard what it read.
 *	- ModelState.locks are the core's arena and stripe locks, taken only
 *	  under the table lock.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/memutils.h"

#include "shmem.h"

#define MODEL_STRIPES 64
/* Bytes of the DSA area kept in the fixed segment, before any DSM segment. */
#define DSA_IN_PLACE_SIZE (1024 * 1024)

typedef struct ModelSlot
{
	LWLock		table_lock;
	pg_atomic_uint32 write_seq;
	bool		in_use;
	Oid			dboid;
	int64		model_id;
	uint32		generation;
	dsa_pointer state;
} ModelSlot;

/* Models freed lately, so that none is made again from an old snapshot. */
#define FREED_MEMORY 1024

typedef struct FreedModel
{
	Oid			dboid;
	int64		model_id;
} FreedModel;

typedef struct MonolithShared
{
	LWLock	   *lock;
	FreedModel	freed[FREED_MEMORY];	/* a ring, under the registry lock */
	uint32		next_freed;
	int			model_lock_tranche;
	int			dsa_tranche;
	uint32		next_generation;
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

static MonolithShared *shared = NULL;
static dsa_area *area = NULL;

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
		shared->next_freed = 0;
		memset(shared->freed, 0, sizeof(shared->freed));
		shared->max_models = monolith_max_models;
		shared->dsa_offset = registry_size();
		for (int i = 0; i < monolith_max_models; i++)
		{
			LWLockInitialize(&shared->models[i].table_lock, shared->model_lock_tranche);
			pg_atomic_init_u32(&shared->models[i].write_seq, 0);
			shared->models[i].in_use = false;
		}
		created = dsa_create_in_place((char *) shared + shared->dsa_offset,
									  DSA_IN_PLACE_SIZE, shared->dsa_tranche, NULL);
		dsa_pin(created);
		dsa_detach(created);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
shmem_install_hooks(void)
{
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
}

/* CoreEnv memory on the DSA area: a failed allocation means "at the cap". */
static MemHandle
dsa_env_alloc(void *ctx, size_t size)
{
	return (MemHandle) dsa_allocate_extended(area, size,
											 DSA_ALLOC_HUGE | DSA_ALLOC_NO_OOM | DSA_ALLOC_ZERO);
}

static void
dsa_env_free(void *ctx, MemHandle handle)
{
	dsa_free(area, (dsa_pointer) handle);
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

/* Takes a table lock exclusive, making its slot's write_seq odd. */
static void
table_lock_exclusive(ModelSlot *slot)
{
	LWLockAcquire(&slot->table_lock, LW_EXCLUSIVE);
	/* A full barrier each: the odd value is seen before any write under the lock. */
	pg_atomic_write_u32(&slot->write_seq, pg_atomic_read_u32(&slot->write_seq) | 1);
	pg_memory_barrier();
}

/* Releases an exclusive table lock, making write_seq even and new. */
static void
table_unlock_exclusive(ModelSlot *slot)
{
	pg_memory_barrier();
	pg_atomic_write_u32(&slot->write_seq, pg_atomic_read_u32(&slot->write_seq) + 1);
	LWLockRelease(&slot->table_lock);
}

/* CoreEnv locks; taking the table lock checks the model still exists. */
static void
model_lock(void *ctx, uint32_t id, bool exclusive)
{
	ModelHandle *h = ctx;
	ModelSlot  *slot = &shared->models[h->registry_index];

	if (id == CK_LOCK_TABLE && exclusive)
		table_lock_exclusive(slot);
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
				 errmsg("model \"%s\" was dropped", h->def.name)));
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
		LWLockRelease(lock);
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

static void
handle_bind(ModelHandle *h, int index)
{
	ModelSlot  *slot = &shared->models[index];

	h->registry_index = index;
	h->generation = slot->generation;
	h->model = &((ModelState *) dsa_get_address(area, slot->state))->model;
	h->env = (CoreEnv) {
		NULL, false, dsa_env_alloc, dsa_env_free, dsa_env_address,
		h, model_lock, model_unlock, &h->view, model_read_begin, model_read_end
	};
	ck_view_reset(&h->view);
}

static int
registry_find(Oid dboid, int64 model_id)
{
	for (int i = 0; i < shared->max_models; i++)
	{
		ModelSlot  *slot = &shared->models[i];

		if (slot->in_use && slot->dboid == dboid && slot->model_id == model_id)
			return i;
	}
	return -1;
}

/* The core's configuration of a model, from its definition. */
void
model_config_from_def(ModelConfig *config, const ModelDef *def)
{
	/* Zeroed whole, padding too, so that configurations compare with memcmp. */
	memset(config, 0, sizeof(*config));
	config->n_slots = def->n_slots;
	config->n_numeric = def->n_numeric;
	config->dim = def->dim;
	config->n_layers = def->n_layers;
	for (int l = 0; l < def->n_layers; l++)
		config->width[l] = def->hidden[l];
	config->embedding_optimizer = (Optimizer) {
		def->optimizer, (float) def->learning_rate, (float) def->l1, (float) def->l2
	};
	config->weight_optimizer = config->embedding_optimizer;
	config->weight_optimizer.kind = def->weight_optimizer;
	config->dense_optimizer = (Optimizer) {
		def->dense_optimizer, (float) def->dense_learning_rate, 0, (float) def->l2
	};
	config->init_scale = 0.01f;
	config->negative_rate = def->negative_sample_rate;
	config->hash_rows = (uint64) def->hash_rows;
	config->seed = (uint64) def->seed;
}

/* Remembers a freed model; registry lock exclusive. */
static void
freed_remember(Oid dboid, int64 model_id)
{
	shared->freed[shared->next_freed++ % FREED_MEMORY] = (FreedModel) {dboid, model_id};
}

/*
 * Forgets a database's freed models, when all its models go: dropping the
 * extension (or the database) ends the sequence their ids came from, and a
 * new one starts over.
 */
static void
freed_forget_database(Oid dboid)
{
	for (int i = 0; i < FREED_MEMORY; i++)
		if (shared->freed[i].dboid == dboid)
			shared->freed[i] = (FreedModel) {InvalidOid, 0};
}

/* Whether a model was freed lately; registry lock held. */
static bool
freed_lately(Oid dboid, int64 model_id)
{
	for (int i = 0; i < FREED_MEMORY; i++)
		if (shared->freed[i].model_id == model_id && shared->freed[i].dboid == dboid)
			return true;
	return false;
}

/*
 * Makes a fresh state for def, whose core configuration is model_config, in a
 * free registry entry; registry lock exclusive.
 */
static int
registry_create(ModelHandle *h, const ModelDef *def, const ModelConfig *model_config)
{
	ModelSlot  *slot = NULL;
	int			index;
	dsa_pointer dp;
	ModelState *state;
	CuckooConfig config;
	volatile bool initialized;

	/*
	 * A definition this session still sees may belong to a model dropped
	 * since: its parameters are gone for good, and must not come back.
	 */
	if (freed_lately(MyDatabaseId, def->id))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" was dropped", def->name)));
	for (index = 0; index < shared->max_models; index++)
		if (!shared->models[index].in_use)
		{
			slot = &shared->models[index];
			break;
		}
	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many models in use"),
				 errdetail("At most %d models can be live at once.", shared->max_models),
				 errhint("Drop unused models or raise monolith.max_models.")));

	dp = dsa_allocate_extended(area, sizeof(ModelState),
							   DSA_ALLOC_NO_OOM | DSA_ALLOC_ZERO);
	if (!DsaPointerIsValid(dp))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("not enough shared memory for model \"%s\"", def->name),
				 errhint("Raise monolith.max_memory or drop other models.")));
	state = dsa_get_address(area, dp);
	for (int i = 0; i < 1 + MODEL_STRIPES; i++)
		LWLockInitialize(&state->locks[i], shared->model_lock_tranche);

	ck_default_config(&config, 0);
	config.n_stripes = MODEL_STRIPES;
	config.admission.min_count = def->min_count;
	config.admission.probability = def->admit_probability;
	config.admission.seed = (uint64) def->seed;

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
		dsa_free(area, dp);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (!initialized)
	{
		dsa_free(area, dp);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("not enough shared memory for model \"%s\"", def->name),
				 errhint("Raise monolith.max_memory or drop other models.")));
	}
	slot->dboid = MyDatabaseId;
	slot->model_id = def->id;
	slot->in_use = true;
	return index;
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
	int			index;

	shmem_require();
	h->def = *def;
	model_config_from_def(&expected, def);
	LWLockAcquire(shared->lock, LW_SHARED);
	index = registry_find(MyDatabaseId, def->id);
	if (index < 0)
	{
		/* Upgrade to exclusive to create it, unless someone beat us to it. */
		LWLockRelease(shared->lock);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		index = registry_find(MyDatabaseId, def->id);
		if (index < 0)
			index = registry_create(h, def, &expected);
	}
	handle_bind(h, index);
	matches = memcmp(&expected, &h->model->config, sizeof(ModelConfig)) == 0;
	/* The registry lock keeps the model from being freed while it is copied. */
	model_snapshot(&h->snapshot, h->model, &h->env);
	LWLockRelease(shared->lock);
	if (!matches)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("definition of model \"%s\" no longer matches its parameters", def->name),
				 errdetail("Its features, dimension, tower or optimizers differ from those the parameters in memory were made with."),
				 errhint("Drop and re-create the model instead of editing its definition.")));
}

/*
 * Frees the shared state of one model, or with model_id MODEL_ID_ALL of every
 * model of the database, waiting for operations under way on each.
 */
void
shmem_release_model(Oid dboid, int64 model_id)
{
	shmem_require();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (model_id == MODEL_ID_ALL)
		freed_forget_database(dboid);
	else
		freed_remember(dboid, model_id);
	for (int i = 0; i < shared->max_models; i++)
	{
		ModelSlot  *slot = &shared->models[i];
		ModelHandle h;			/* on the stack: this runs at abort, too */

		if (!slot->in_use || slot->dboid != dboid ||
			(model_id != MODEL_ID_ALL && slot->model_id != model_id))
			continue;
		handle_bind(&h, i);
		table_lock_exclusive(slot);
		slot->in_use = false;
		slot->generation = shared->next_generation++;
		model_destroy(h.model, &h.env);
		dsa_free(area, slot->state);
		slot->state = InvalidDsaPointer;
		table_unlock_exclusive(slot);
	}
	LWLockRelease(shared->lock);
}

/* Copies the figures of this database's live models into out[0..max). */
int
shmem_collect_stats(Oid dboid, ModelStats *out, int max)
{
	int			n = 0;

	shmem_require();
	LWLockAcquire(shared->lock, LW_SHARED);
	for (int i = 0; i < shared->max_models && n < max; i++)
	{
		ModelSlot  *slot = &shared->models[i];
		Model	   *model;

		if (!slot->in_use || slot->dboid != dboid)
			continue;
		model = &((ModelState *) dsa_get_address(area, slot->state))->model;
		out[n].model_id = slot->model_id;
		out[n].ids = __atomic_load_n(&model->table.live, __ATOMIC_RELAXED);
		out[n].memory_bytes = sizeof(ModelState) + model_memory_bytes(model);
		out[n].examples = __atomic_load_n(&model->examples, __ATOMIC_RELAXED);
		out[n].evicted = __atomic_load_n(&model->table.evicted, __ATOMIC_RELAXED);
		n++;
	}
	LWLockRelease(shared->lock);
	return n;
}
