/*
 * model.c
 *		DeepFM forward and backward passes; see model.h.
 */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t
input_width(const ModelConfig *c)
{
	return c->n_slots * c->dim + c->n_numeric;
}

static uint32_t
max_width(const ModelConfig *c)
{
	uint32_t	w = input_width(c);

	for (uint32_t l = 0; l < c->n_layers; l++)
		w = c->width[l] > w ? c->width[l] : w;
	return w;
}

/* Units of tower layer l; layer n_layers is the output unit. */
static uint32_t
layer_units(const ModelConfig *c, uint32_t l)
{
	return l < c->n_layers ? c->width[l] : 1;
}

/*
 * The tower's place in the dense block, which holds the numeric weights, then
 * per layer its weights (a row per unit) and biases, the output unit last:
 * where each layer's weights start and its fan-in.  Returns the block's size.
 */
static uint64_t
tower_layout(const ModelConfig *c, uint64_t at[MODEL_MAX_LAYERS + 1],
			 uint32_t fan_in[MODEL_MAX_LAYERS + 1])
{
	uint64_t	p = c->n_numeric;

	fan_in[0] = input_width(c);
	for (uint32_t l = 0; l <= c->n_layers; l++)
	{
		uint32_t	units = layer_units(c, l);

		at[l] = p;
		p += (uint64_t) units * fan_in[l] + units;
		if (l < c->n_layers)
			fan_in[l + 1] = units;
	}
	return p;
}

/* Dense weights of a model: numeric weights, and the tower if it has one. */
uint64_t
model_dense_param_count(const ModelConfig *c)
{
	uint64_t	at[MODEL_MAX_LAYERS + 1];
	uint32_t	fan_in[MODEL_MAX_LAYERS + 1];

	return c->n_layers == 0 ? c->n_numeric : tower_layout(c, at, fan_in);
}

static ScratchLayout
scratch_layout(const ModelConfig *c)
{
	ScratchLayout s;
	size_t		acts = 0;

	for (uint32_t l = 0; l < c->n_layers; l++)
		acts += c->width[l];
	s.input = 0;
	s.sum = s.input + input_width(c);
	s.count = s.sum + c->dim;
	s.acts = s.count + c->n_slots;
	s.delta = s.acts + acts;
	s.grad_input = s.delta + 2 * (size_t) max_width(c);
	s.grad_embedding = s.grad_input + input_width(c);
	s.dense_grad = s.grad_embedding + c->dim;
	s.total = s.dense_grad + model_dense_param_count(c);
	return s;
}

size_t
model_work_floats(const ModelConfig *config)
{
	return scratch_layout(config).total;
}

/* A uniform draw in [-1, 1) from a seed and an index. */
static float
seeded_uniform(uint64_t seed, uint64_t i)
{
	double		u = (double) (ck_mix64(seed + i) >> 11) * 0x1.0p-53;

	return (float) (2.0 * u - 1.0);
}

/*
 * Small uniform embedding drawn from the key and the model's seed alone, so a
 * replay gives the same model whatever order keys first appear in.
 */
static void
init_value(const void *arg, uint64_t key, void *value)
{
	const Model *m = arg;
	float	   *embedding = (float *) value + m->embedding_at;
	uint64_t	base = ck_mix64(m->config.seed ^ ck_mix64(key));

	for (uint32_t j = 0; j < m->config.dim; j++)
		embedding[j] = seeded_uniform(base, j) * m->config.init_scale;
}

/* He-uniform tower weights from the seed; zero biases and numeric weights. */
static void
init_dense(const ModelConfig *c, float *dense)
{
	uint64_t	base = ck_mix64(c->seed ^ 0x6465657066756c6cull);
	uint64_t	at[MODEL_MAX_LAYERS + 1];
	uint32_t	fan_in[MODEL_MAX_LAYERS + 1];

	if (c->n_layers == 0)
		return;
	tower_layout(c, at, fan_in);
	for (uint32_t l = 0; l <= c->n_layers; l++)
	{
		float		limit = sqrtf(6.0f / fan_in[l]);

		for (uint64_t i = 0; i < (uint64_t) layer_units(c, l) * fan_in[l]; i++)
			dense[at[l] + i] = seeded_uniform(base, at[l] + i) * limit;
	}
}

/* Floats of an entry's value: weight, its state, embedding, its state. */
static uint32_t
value_floats(const ModelConfig *config)
{
	return 1 + optim_state_floats(config->weight_optimizer.kind, 1) + config->dim +
		optim_state_floats(config->embedding_optimizer.kind, config->dim);
}

/*
 * The model's table configuration: the caller's, with the value size set,
 * and wide entries fewer a chunk, so that one chunk stays small beside a cap.
 */
static CuckooConfig
table_config_of(const ModelConfig *config, const CuckooConfig *table_config)
{
	CuckooConfig table = *table_config;

	table.value_size = value_floats(config) * sizeof(float);
	while (table.chunk_log2 > 0 &&
		   ((uint64_t) (sizeof(CuckooEntry) + table.value_size) << table.chunk_log2) > MODEL_CHUNK_BYTES)
		table.chunk_log2--;
	return table;
}

static uint64_t
dense_bytes_of(const ModelConfig *config)
{
	uint64_t	params = model_dense_param_count(config);

	return params == 0 ? 0 :
		(params + optim_state_floats(config->dense_optimizer.kind, (uint32_t) params)) * sizeof(float);
}

/* The memory a model of this configuration takes to hold its first ID. */
uint64_t
model_min_bytes(const ModelConfig *config, const CuckooConfig *table_config)
{
	CuckooConfig table = table_config_of(config, table_config);

	return ck_min_bytes(&table) + dense_bytes_of(config);
}

/* Creates an empty model; false when the memory cap leaves no room. */
bool
model_init(Model *m, const CoreEnv *env, const ModelConfig *config,
		   const CuckooConfig *table_config)
{
	CuckooConfig table = table_config_of(config, table_config);

	memset(m, 0, sizeof(*m));
	memcpy(&m->config, config, sizeof(*config));	/* padding too: configs compare by memcmp */
	m->embedding_at = 1 + optim_state_floats(config->weight_optimizer.kind, 1);
	m->embedding_state_at = m->embedding_at + config->dim;
	m->value_floats = value_floats(config);
	m->dense_params = (uint32_t) model_dense_param_count(config);
	m->scratch = scratch_layout(config);
	if (!ck_init(&m->table, env, &table))
		return false;
	if (m->dense_params > 0)
	{
		m->dense_bytes = dense_bytes_of(config);
		m->dense = env->alloc(env->mem_ctx, m->dense_bytes);
		if (m->dense == 0)
		{
			ck_destroy(&m->table, env);
			return false;
		}
		init_dense(config, env_address(env, m->dense));
	}
	return true;
}

void
model_destroy(Model *m, const CoreEnv *env)
{
	if (m->dense != 0)
		env->free(env->mem_ctx, m->dense, m->dense_bytes);
	m->dense = 0;
	ck_destroy(&m->table, env);
}

/* Bytes the model holds beyond its own header: table and dense weights. */
uint64_t
model_memory_bytes(const Model *m)
{
	return __atomic_load_n(&m->table.bytes, __ATOMIC_RELAXED) + m->dense_bytes;
}

/*
 * Gives back at least bytes of the model's memory if it can, by evicting
 * its least recently seen IDs, with at most max_work IDs moved or evicted
 * (see ck_shrink); table lock held exclusive.  Returns the bytes.
 */
uint64_t
model_shrink(Model *m, const CoreEnv *env, uint64_t bytes, uint32_t max_work)
{
	return ck_shrink(&m->table, env, bytes, max_work);
}

/* The memory the model needs beyond what it holds to store one more ID, at most. */
uint64_t
model_growth_bytes(const Model *m)
{
	return ck_chunk_bytes(&m->table);
}

_Static_assert(MODEL_MAX_SLOTS == 1 << 8, "a key's top byte indexes ModelExpiry.cutoff");

/* CuckooDoomed of the IDs a ModelExpiry removes: a key's top byte is its slot. */
static bool
expiry_dooms(const void *expiry, const CuckooEntry *e)
{
	return e->last_seen < ((const ModelExpiry *) expiry)->cutoff[e->key >> 56];
}

/*
 * Goes on with a pass that removes the IDs expiry names, from *ref (1 to
 * begin), for at most max_pieces pieces, taking the table lock itself (see
 * ck_remove_pieces); *ref is 0 once the pass is through.
 */
uint64_t
model_expire(Model *m, const CoreEnv *env, const ModelExpiry *expiry, uint32_t *ref,
			 uint32_t max_pieces)
{
	uint64_t	removed = ck_remove_pieces(&m->table, env, expiry_dooms, expiry, ref, max_pieces);

	__atomic_add_fetch(&m->table.expired, removed, __ATOMIC_RELAXED);
	return removed;
}

float *
model_dense(const Model *m, const CoreEnv *env)
{
	return m->dense == 0 ? NULL : env_address(env, m->dense);
}

static inline uint32_t
slot_begin(const Example *ex, uint32_t s)
{
	return s == 0 ? 0 : ex->slot_end[s - 1];
}

/* The table key of the example's k-th ID: the ID itself, or its shared row. */
static inline uint64_t
table_key(const Model *m, const Example *ex, uint32_t k)
{
	if (m->config.hash_rows == 0)
		return ex->keys[k];
	return ck_mix64(ex->keys[k] ^ m->config.seed) % m->config.hash_rows;
}

/* Marks, during admit_entries, keys the filters admitted that await room. */
static CuckooEntry awaiting_room;

/*
 * Copies of the entries that repeat within a round of batches (up to
 * SHADOW_ROUND_BATCHES consecutive model_train_batch calls of one caller):
 * a hot ID, such as a genre most examples share, is read and written by
 * every step of every trainer, so with two trainers on two cores each of
 * its cache lines moves from one core to the other at nearly every step.
 * A trainer instead copies such an entry on first use, steps on the copy,
 * and merges the copy back when the round ends, or before it lets the table
 * lock go inside a batch.  Between the batches of a round, when it holds no
 * lock, others may take the lock exclusive, but an entry is only ever freed
 * or moved with the table's relocations counted: unless they changed, the
 * copies' entries are where they were, else they are looked up again: a
 * copy whose key is gone is dropped, as its steps in place would have been,
 * and one whose key came back in a new entry meanwhile merges its change
 * into that one, as a Hogwild step that read before and wrote after would.
 * A merge adds the copy's change to the entry, but writes the copy itself
 * where the entry is as copied: so, with no other trainer, the entry ends
 * bit for bit as if stepped on in place, and what one trainer learns does
 * not change.  Others see the round's steps on the entry when it ends, as
 * they see other steps a moment late (Hogwild); a caller ends a round it
 * has no more batches for with model_train_flush.
 */
#define SHADOW_ROUND_BATCHES 4	/* batches of a round at most */
#define SHADOW_ROUND_KEYS 512	/* keys a round counts at most */
#define SHADOW_SLOTS 1024		/* of the set of a round's keys: a power of 2 */
#define SHADOW_MAX 64			/* entries copied in one round at most */

typedef struct Shadow
{
	CuckooEntry *entry;			/* the table's, NULL once its key is gone */
	CuckooEntry *copy;			/* entry_size bytes: header and values */
	uint32_t	as_copied_meta;	/* the entry's meta when copied */
	float	   *as_copied;		/* its values then */
} Shadow;

/* A table key of the round, in an open-addressed set whose stale slots are the older rounds'. */
typedef struct ShadowSlot
{
	uint64_t	key;
	uint32_t	round;			/* the round it is of */
	uint16_t	count;			/* occurrences in the round, up to 2 */
	int16_t		shadow;			/* index of its copy, or -1 */
} ShadowSlot;

typedef struct ShadowSet
{
	uint32_t	round;			/* numbers the rounds, so slots need no clearing */
	uint32_t	batches;		/* of the round so far; 0 between rounds */
	uint32_t	keys;			/* counted in the round */
	bool		active;			/* some key repeats: copies are made and used */
	uint64_t	relocations;	/* the table's when the copies' entries were found */
	uint32_t	n;
	ShadowSlot	slots[SHADOW_SLOTS];
	Shadow		shadows[SHADOW_MAX];
	char		data[];
} ShadowSet;

/* Bytes of a copy: the entry, then its values as copied, 8-aligned. */
static size_t
shadow_stride(const Model *m)
{
	return m->table.entry_size + ((m->value_floats * sizeof(float) + 7) & ~(size_t) 7);
}

/* Bytes of zeroed scratch model_train_batch needs for a model of this shape. */
size_t
model_batch_scratch_bytes(const Model *m)
{
	return offsetof(ShadowSet, data) + SHADOW_MAX * shadow_stride(m);
}

/* The slot of key in this round's set, claimed for it if new. */
static inline ShadowSlot *
shadow_slot(ShadowSet *set, uint64_t key)
{
	uint32_t	i = (uint32_t) ((key * 0x9e3779b97f4a7c15ull) >> 54) & (SHADOW_SLOTS - 1);

	for (;; i = (i + 1) & (SHADOW_SLOTS - 1))
	{
		ShadowSlot *slot = &set->slots[i];

		if (slot->round != set->round)
		{
			*slot = (ShadowSlot) {key, set->round, 0, -1};
			return slot;
		}
		if (slot->key == key)
			return slot;
	}
}

/* Merges a value stepped on locally into its shared one (see ShadowSet). */
static inline void
merge_float(float *shared, float as_copied, float local)
{
	float		now;

	__atomic_load(shared, &now, __ATOMIC_RELAXED);

	if (memcmp(&now, &as_copied, sizeof(float)) == 0)
		*shared = local;
	else
		*shared = now + (local - as_copied);
}

/* Ends the round: merges every copy into its entry; table lock held. */
static void
shadows_end(ShadowSet *set, Model *m, const CoreEnv *env)
{
	if (set == NULL)
		return;
	for (uint32_t i = 0; set->active && i < set->n; i++)
	{
		Shadow	   *sh = &set->shadows[i];
		float	   *shared;
		const float *local = CK_VALUE(sh->copy);
		uint32_t	touches = (sh->copy->meta & CK_META_COUNT) - (sh->as_copied_meta & CK_META_COUNT);
		uint32_t	meta;
		uint64_t	count;

		if (sh->entry == NULL)
			continue;
		shared = CK_VALUE(sh->entry);
		meta = __atomic_load_n(&sh->entry->meta, __ATOMIC_RELAXED);
		count = (uint64_t) (meta & CK_META_COUNT) + touches;
		for (uint32_t j = 0; j < m->value_floats; j++)
			merge_float(&shared[j], sh->as_copied[j], local[j]);
		if (touches > 0)
		{
			__atomic_store_n(&sh->entry->last_seen, sh->copy->last_seen, __ATOMIC_RELAXED);
			__atomic_store_n(&sh->entry->meta, (meta & CK_META_LIVE) |
							 (uint32_t) (count < CK_META_COUNT ? count : CK_META_COUNT),
							 __ATOMIC_RELAXED);
			ck_note_change(&m->table, env, sh->entry);
		}
	}
	set->active = false;
	set->batches = 0;
}

/*
 * If entries were freed or moved since the copies' entries were found,
 * finds them again, and drops the copies of keys that are gone; table lock
 * held shared.
 */
static void
shadows_refind(ShadowSet *set, const Model *m, const CoreEnv *env)
{
	if (set->relocations == m->table.relocations)
		return;
	for (uint32_t i = 0; i < set->n; i++)
	{
		Shadow	   *sh = &set->shadows[i];

		if (sh->entry == NULL)
			continue;
		sh->entry = ck_find(&m->table, env, sh->copy->key);
		if (sh->entry == NULL)
			shadow_slot(set, sh->copy->key)->shadow = -1;
	}
	set->relocations = m->table.relocations;
}

/*
 * Counts the batch's table keys in the round, to find those that occur more
 * than once: the next round begins if none is under way, or if the batch
 * would take the round past SHADOW_ROUND_KEYS (a batch of more keys than
 * that is not looked at, and steps in place).  Table lock held shared.
 */
static void
shadows_begin(ShadowSet *set, Model *m, const CoreEnv *env, const Example *exs,
			  uint32_t n)
{
	uint32_t	n_keys = 0;

	for (uint32_t i = 0; i < n; i++)
		n_keys += exs[i].slot_end[m->config.n_slots - 1];
	if (set->batches > 0)
		shadows_refind(set, m, env);
	if (set->batches > 0 && set->keys + n_keys > SHADOW_ROUND_KEYS)
		shadows_end(set, m, env);
	if (n_keys > SHADOW_ROUND_KEYS)
		return;
	if (set->batches == 0)
	{
		set->n = 0;
		set->keys = 0;
		set->relocations = m->table.relocations;
		if (++set->round == 0)
		{
			memset(set->slots, 0, sizeof(set->slots));
			set->round = 1;
		}
	}
	set->batches++;
	set->keys += n_keys;
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < exs[i].slot_end[m->config.n_slots - 1]; k++)
		{
			ShadowSlot *slot = shadow_slot(set, table_key(m, &exs[i], k));

			if (slot->count < 2 && ++slot->count == 2)
				set->active = true;
		}
}

/* Points the example's entries of repeated keys at their copies, made on first use. */
static void
shadows_substitute(ShadowSet *set, const Model *m, const Example *ex, ModelWork *work)
{
	uint32_t	n_keys;

	if (set == NULL || !set->active)
		return;
	n_keys = ex->slot_end[m->config.n_slots - 1];
	for (uint32_t k = 0; k < n_keys; k++)
	{
		ShadowSlot *slot;
		Shadow	   *sh;

		if (work->entries[k] == NULL)
			continue;
		slot = shadow_slot(set, table_key(m, ex, k));
		if (slot->count < 2)
			continue;
		if (slot->shadow < 0)
		{
			if (set->n == SHADOW_MAX)
				continue;
			sh = &set->shadows[set->n];
			sh->entry = work->entries[k];
			sh->copy = (CuckooEntry *) (set->data + set->n * shadow_stride(m));
			sh->as_copied = (float *) ((char *) sh->copy + m->table.entry_size);
			memcpy(sh->copy, sh->entry, m->table.entry_size);
			sh->copy->ref = 0;	/* its changes are noted when merged */
			sh->as_copied_meta = sh->copy->meta;
			memcpy(sh->as_copied, CK_VALUE(sh->copy), m->value_floats * sizeof(float));
			slot->shadow = (int16_t) set->n++;
		}
		work->entries[k] = set->shadows[slot->shadow].copy;
	}
}

/*
 * The round's copy of a key's entry, or NULL if it has none (or shadows is
 * NULL).  Where there is one, the table need not be looked in: the lookup
 * would read a line of the entry that another core's trainer rewrites at
 * the end of each of its rounds, a miss for nothing.
 */
static inline CuckooEntry *
shadow_copy_of(ShadowSet *shadows, uint64_t key)
{
	ShadowSlot *slot;

	if (shadows == NULL || !shadows->active)
		return NULL;
	slot = shadow_slot(shadows, key);
	return slot->shadow >= 0 ? shadows->shadows[slot->shadow].copy : NULL;
}

/* Looks up every key of the example, or takes its copy; table lock held shared. */
static void
find_entries(const Model *m, const CoreEnv *env, const Example *ex, ModelWork *work,
			 ShadowSet *shadows)
{
	uint32_t	n_keys = ex->slot_end[m->config.n_slots - 1];

	for (uint32_t k = 0; k < n_keys; k++)
	{
		uint64_t	key = table_key(m, ex, k);

		if ((work->entries[k] = shadow_copy_of(shadows, key)) == NULL)
			work->entries[k] = ck_find(&m->table, env, key);
	}
}

/* Keys of an example admitted under one hold of the table lock shared... */
#define ADMIT_PIECE 1024
/* ... and under one hold exclusive, where each may search a cuckoo path. */
#define ADMIT_EXCLUSIVE_PIECE 128

/* Lets others at the table lock between pieces, and takes it back shared. */
static void
pause_table_lock(const CoreEnv *env)
{
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	if (env->between_pieces != NULL)
		env->between_pieces(env->lock_ctx);
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
}

/*
 * From a hold of the table lock, shared or exclusive, to an exclusive one,
 * with others let in between and the memory that growing may need taken
 * before (under the shared lock, as the allocator may be slow).
 */
static void
regain_exclusive(Model *m, const CoreEnv *env)
{
	pause_table_lock(env);
	ck_prepare_growth(&m->table, env);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
}

/*
 * Looks up every key of the example, the table lock held shared, and gives
 * the new ones that the filters admit entries; takes the lock exclusive for
 * a moment if some need room made.  An example of many keys goes in pieces
 * of ADMIT_PIECE, the lock let go between them, and an exclusive hold ends
 * after any growth of the table or ADMIT_EXCLUSIVE_PIECE insertions, so that
 * no one hold of the lock grows with the example or the table.  Pointers
 * found before a pause may have moved, so then everything is looked up
 * again at the end.  Copies of repeated entries are merged back before the
 * lock is let go.
 */
static void
admit_entries(Model *m, const CoreEnv *env, const Example *ex, uint32_t now,
			  ModelWork *work, ShadowSet *shadows)
{
	uint32_t	n_keys = ex->slot_end[m->config.n_slots - 1];
	CuckooValueInit init = {init_value, m};
	bool		paused = false;

	for (uint32_t begin = 0; begin < n_keys; begin += ADMIT_PIECE)
	{
		uint32_t	end = n_keys - begin < ADMIT_PIECE ? n_keys : begin + ADMIT_PIECE;
		bool		need_exclusive = false;
		uint64_t	growths;
		uint32_t	inserted;

		if (begin > 0)
		{
			shadows_end(shadows, m, env);
			pause_table_lock(env);
			paused = true;
		}
		for (uint32_t k = begin; k < end; k++)
		{
			uint64_t	key = table_key(m, ex, k);

			if ((work->entries[k] = shadow_copy_of(shadows, key)) != NULL)
				continue;
			if (ck_find_or_admit(&m->table, env, key, now, &init,
								 &work->entries[k]) == CK_NEED_EXCLUSIVE)
			{
				/* Admitted but not yet placed; filtered keys stay NULL. */
				work->entries[k] = &awaiting_room;
				need_exclusive = true;
			}
		}
		if (!need_exclusive)
			continue;
		shadows_end(shadows, m, env);
		regain_exclusive(m, env);
		growths = m->table.growths;
		inserted = 0;
		for (uint32_t k = begin; k < end; k++)
		{
			if (work->entries[k] != &awaiting_room)
				continue;
			/* A new hold before the next insertion, not after the last. */
			if (m->table.growths != growths || inserted == ADMIT_EXCLUSIVE_PIECE)
			{
				regain_exclusive(m, env);
				growths = m->table.growths;
				inserted = 0;
			}
			ck_insert_exclusive(&m->table, env, table_key(m, ex, k), now, &init,
								&work->entries[k]);
			inserted++;
		}
		/* Shared next: whoever waited shares it at once, so no pause for them. */
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
		paused = true;
	}
	if (paused)
		find_entries(m, env, ex, work, NULL);
}

static inline float *
entry_floats(CuckooEntry *entry)
{
	return (float *) CK_VALUE(entry);
}

/* Four floats, added and multiplied lane by lane (GCC and Clang vectors). */
typedef float FloatLanes __attribute__((vector_size(4 * sizeof(float))));

/* The sum of a vector's four lanes. */
static inline float
lanes_total(FloatLanes x)
{
	return (x[0] + x[1]) + (x[2] + x[3]);
}

/*
 * Inner product in four independent sums, a vector register's lanes: one
 * running sum would wait on each addition in turn.
 */
static inline float
dot(const float *a, const float *b, uint32_t n)
{
	FloatLanes	sums = {0, 0, 0, 0};
	uint32_t	i = 0;
	float		s;

	/* Unrolled: at the usual widths, n is a constant where this is inlined. */
#pragma GCC unroll 16
	for (; i + 4 <= n; i += 4)
	{
		FloatLanes	x,
					y;

		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		sums += x * y;
	}
	s = lanes_total(sums);
	for (; i < n; i++)
		s += a[i] * b[i];
	return s;
}

/* a += b, n floats, four lanes at a time. */
static inline void
add_into(float *restrict a, const float *restrict b, uint32_t n)
{
	uint32_t	i = 0;

#pragma GCC unroll 16
	for (; i + 4 <= n; i += 4)
	{
		FloatLanes	x,
					y;

		memcpy(&x, a + i, sizeof(x));
		memcpy(&y, b + i, sizeof(y));
		x += y;
		memcpy(a + i, &x, sizeof(x));
	}
	for (; i < n; i++)
		a[i] += b[i];
}

/* The tower's output for input; leaves each layer's activations in acts. */
static double
tower_forward(const ModelConfig *c, const float *dense, const float *input, float *acts)
{
	uint64_t	at[MODEL_MAX_LAYERS + 1];
	uint32_t	fan_in[MODEL_MAX_LAYERS + 1];
	const float *in = input;
	const float *out_unit;

	tower_layout(c, at, fan_in);
	for (uint32_t l = 0; l < c->n_layers; l++)
	{
		const float *w = dense + at[l];
		const float *bias = w + (size_t) c->width[l] * fan_in[l];

		for (uint32_t u = 0; u < c->width[l]; u++)
		{
			float		z = bias[u] + dot(w + (size_t) u * fan_in[l], in, fan_in[l]);

			acts[u] = z > 0 ? z : 0;
		}
		in = acts;
		acts += c->width[l];
	}
	out_unit = dense + at[c->n_layers];
	return out_unit[fan_in[c->n_layers]] + dot(out_unit, in, fan_in[c->n_layers]);
}

/*
 * Gradients of the tower's output, times g, into dense_grad (its share of it)
 * and grad_input, from the weights and activations of the forward pass.
 */
static void
tower_backward(const ModelConfig *c, const float *dense, const float *input,
			   const float *acts, float g, float *dense_grad, float *delta,
			   float *grad_input)
{
	uint64_t	at[MODEL_MAX_LAYERS + 1];
	uint32_t	fan_in[MODEL_MAX_LAYERS + 1];
	const float *layer_input[MODEL_MAX_LAYERS + 1];
	uint32_t	mw = max_width(c);
	float	   *cur = delta;
	float	   *prev = delta + mw;

	tower_layout(c, at, fan_in);
	layer_input[0] = input;
	for (uint32_t l = 0; l < c->n_layers; l++)
		layer_input[l + 1] = l == 0 ? acts : layer_input[l] + fan_in[l];

	/* The output unit: one weight per last-layer activation and a bias. */
	cur[0] = g;
	for (int l = (int) c->n_layers; l >= 0; l--)
	{
		uint32_t	units = layer_units(c, l);
		uint32_t	n_in = fan_in[l];
		const float *w = dense + at[l];
		const float *in = layer_input[l];
		float	   *gw = dense_grad + at[l];
		float	   *out = l == 0 ? grad_input : prev;

		for (uint32_t u = 0; u < units; u++)
		{
			for (uint32_t i = 0; i < n_in; i++)
				gw[(size_t) u * n_in + i] = cur[u] * in[i];
			gw[(size_t) units * n_in + u] = cur[u];
		}
		memset(out, 0, n_in * sizeof(float));
		for (uint32_t u = 0; u < units; u++)
		{
			if (cur[u] == 0)
				continue;
			for (uint32_t i = 0; i < n_in; i++)
				out[i] += w[(size_t) u * n_in + i] * cur[u];
		}
		if (l == 0)
			break;
		/* Through the ReLU of the layer below. */
		for (uint32_t i = 0; i < n_in; i++)
			if (in[i] <= 0)
				out[i] = 0;
		prev = cur;
		cur = out;
	}
}

/* Inlined into each caller, where a constant dim lets the lane loops unroll. */
#define MODEL_INLINE static inline __attribute__((always_inline))

/*
 * The pooled embedding of slot s: its one ID's embedding where it lies, or
 * the mean of its IDs, written to ps; NULL when none of its IDs has an entry.
 * Sets *weight to the slot's pooled first-order weight and *found to the
 * number of its IDs that have entries.
 */
MODEL_INLINE const float *
pool_slot(const Model *m, const Example *ex, CuckooEntry *const *entries, uint32_t s,
		  uint32_t dim, float *restrict ps, float *weight, uint32_t *found)
{
	uint32_t	begin = slot_begin(ex, s);
	const float *first = NULL;
	float		w = 0;
	uint32_t	n = 0;

	/* The usual slot, one ID: no loop, no averaging. */
	if (ex->slot_end[s] - begin == 1)
	{
		const float *v = entries[begin] == NULL ? NULL : entry_floats(entries[begin]);

		*found = v != NULL;
		*weight = v == NULL ? 0 : v[0];
		return v == NULL ? NULL : v + m->embedding_at;
	}
	for (uint32_t k = begin; k < ex->slot_end[s]; k++)
	{
		const float *v;

		if (entries[k] == NULL)
			continue;
		v = entry_floats(entries[k]);
		w += v[0];
		if (n == 0)
			first = v + m->embedding_at;
		else
		{
			if (n == 1)
				memcpy(ps, first, dim * sizeof(float));
			add_into(ps, v + m->embedding_at, dim);
		}
		n++;
	}
	*found = n;
	*weight = n > 1 ? w / n : w;
	if (n <= 1)
		return first;
	for (uint32_t j = 0; j < dim; j++)
		ps[j] /= n;
	return ps;
}

/* What an absent slot's embedding reads as. */
static const float zero_embedding[MODEL_MAX_DIM];

/*
 * The FM's part of the logit: the bias, the slots' pooled first-order
 * weights and the pairwise inner products of their pooled embeddings, which
 * have dim floats.  Leaves each slot's count in the scratch and, with
 * keep_input, each slot's pooled embedding and their sum; otherwise a slot's
 * one embedding is read where it lies, not copied.
 *
 * The sum over slot pairs of <v_s, v_t> is taken as the sum over slots of
 * <v_t, v_1 + ... + v_(t-1)>, four lanes at a time with the slots innermost:
 * the running sum stays in a register, the lanes' chains of operations run
 * side by side, and with two slots a lane waits on one multiplication.
 */
MODEL_INLINE double
fm_logit(const Model *m, double bias, const Example *ex, ModelWork *work, bool keep_input,
		 uint32_t dim)
{
	const ScratchLayout *sl = &m->scratch;
	uint32_t	n_slots = m->config.n_slots;
	/* Separate parts of the scratch: restrict lets the loops over them vectorize. */
	float	   *restrict input = work->floats + sl->input;
	float	   *restrict sum = work->floats + sl->sum;
	float	   *restrict count = work->floats + sl->count;
	const float *vectors[MODEL_MAX_SLOTS];
	FloatLanes	pairs[2] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
	float		interaction;	/* the sum of the pairwise products */
	double		logit = bias;
	uint32_t	i = 0;

	vectors[0] = zero_embedding;	/* every model has a slot; this tells the compiler */
	for (uint32_t s = 0; s < n_slots; s++)
	{
		float	   *restrict ps = input + (size_t) s * dim;
		float		weight;
		uint32_t	found;
		const float *v = pool_slot(m, ex, work->entries, s, dim, ps, &weight, &found);

		count[s] = found;
		logit += weight;
		if (v == NULL)
			v = zero_embedding;
		if (keep_input && v != ps)
		{
			/* One read of the shared embedding, which other steps may move. */
			memcpy(ps, v, dim * sizeof(float));
			v = ps;
		}
		vectors[s] = v;
	}
#pragma GCC unroll 16
	for (; i + 4 <= dim; i += 4)
	{
		FloatLanes	before;		/* the sum of the slots before s */
		FloatLanes	products = {0, 0, 0, 0};

		memcpy(&before, vectors[0] + i, sizeof(before));
		for (uint32_t s = 1; s < n_slots; s++)
		{
			FloatLanes	x;

			memcpy(&x, vectors[s] + i, sizeof(x));
			/* The first product starts the sum: adding it to zero would lengthen the chain. */
			products = s == 1 ? x * before : products + x * before;
			before += x;
		}
		/* Alternate groups of lanes go to two sums, which the first two groups start. */
		pairs[i / 4 % 2] = i < 8 ? products : pairs[i / 4 % 2] + products;
		if (keep_input)
			memcpy(sum + i, &before, sizeof(before));
	}
	interaction = lanes_total(pairs[0] + pairs[1]);
	for (; i < dim; i++)
	{
		float		before = vectors[0][i];

		for (uint32_t s = 1; s < n_slots; s++)
		{
			interaction += vectors[s][i] * before;
			before += vectors[s][i];
		}
		if (keep_input)
			sum[i] = before;
	}
	return logit + interaction;
}

/*
 * Logit of the example from its resolved entries, m giving the model's sizes
 * and configuration, with its bias and dense weights as given.  For training,
 * it leaves in work what the backward pass needs; a prediction of a plain FM
 * copies only the embeddings it must average.
 */
static double
forward(const Model *m, double bias, const float *dense, const Example *ex, ModelWork *work,
		bool training)
{
	const ModelConfig *c = &m->config;
	/* The tower and the backward pass read the pooled inputs side by side. */
	bool		keep_input = training || c->n_layers > 0;
	float	   *input = work->floats + m->scratch.input;
	double		logit;

	/* The usual widths get loops unrolled for them; any other, generic ones. */
#define FM_AT_WIDTH(w) \
	case w: \
		logit = keep_input ? fm_logit(m, bias, ex, work, true, w) \
			: fm_logit(m, bias, ex, work, false, w); \
		break;
	switch (c->dim)
	{
			FM_AT_WIDTH(8)
			FM_AT_WIDTH(16)
			FM_AT_WIDTH(32)
			FM_AT_WIDTH(64)
		default:
			logit = fm_logit(m, bias, ex, work, keep_input, c->dim);
			break;
	}
#undef FM_AT_WIDTH
	if (m->dense_params > 0)
	{
		logit += dot(dense, ex->numeric, c->n_numeric);
		if (keep_input)
			memcpy(input + (size_t) c->n_slots * c->dim, ex->numeric, c->n_numeric * sizeof(float));
		if (c->n_layers > 0)
			logit += tower_forward(c, dense, input, work->floats + m->scratch.acts);
	}
	return logit;
}

/*
 * 1 / (1 + e^-x) for a finite x, to about a float's precision (relative
 * error under 1e-8), which is more than that of the parameters the logit
 * comes from.  Inline and without a branch on x: scores wait on it, and a
 * call to exp() made it half again as slow.  e^-x = 2^u with u = -x log2(e),
 * and 2^u = 2^k 2^f with k the integer nearest u, so |f| <= 1/2, where the
 * Taylor series of 2^f to the 7th power is off by under 6e-9; its terms are
 * summed pairwise (Estrin's scheme), so they need not wait on each other.
 * u is clamped to +-1000, where 2^k stays a normal double: the result is
 * then 1, or 1e-301 for a probability smaller still.  (The clamps also turn
 * a NaN into -1000, which keeps k's conversion defined.)
 */
static inline double
sigmoid(double x)
{
	const double shift = 0x1.8p52;	/* adding it rounds to an integer */
	double		u = x * -0x1.71547652b82fep0;
	double		k,
				f,
				f2,
				two_f,
				two_k;
	uint64_t	bits;

	u = u > -1000.0 ? u : -1000.0;
	u = u < 1000.0 ? u : 1000.0;
	/* Stored, the sum is rounded to a double even where arithmetic is wider (x87). */
	k = u + shift;
	k -= shift;
	f = u - k;
	f2 = f * f;
	/* (ln 2)^n / n!, n = 0 to 7 */
	two_f = ((1.0 + f * 0x1.62e42fefa39efp-1) + (0x1.ebfbdff82c58fp-3 + f * 0x1.c6b08d704a0c0p-5) * f2) +
		((0x1.3b2ab6fba4e77p-7 + f * 0x1.5d87fe78a6731p-10) +
		 (0x1.430912f86c787p-13 + f * 0x1.ffcbfc588b0c7p-17) * f2) * (f2 * f2);
	bits = (uint64_t) ((int64_t) k + 1023) << 52;
	memcpy(&two_k, &bits, sizeof(two_k));
	return 1.0 / (1.0 + two_f * two_k);
}

/*
 * One step of log loss, g being d loss / d logit, on the bias and its
 * optimizer's state at bias[0..3].  The gradient of a slot's
 * pooled embedding is g (sum - v_s) from the FM plus the tower's; its IDs
 * share it evenly.  Dense gradients are all taken before any weight moves.
 */
static void
backward(Model *m, const CoreEnv *env, const Example *ex, ModelWork *work, float g,
		 uint32_t now, float *bias)
{
	const ModelConfig *c = &m->config;
	const ScratchLayout sl = m->scratch;
	uint32_t	dim = c->dim;
	const float *pooled = work->floats + sl.input;
	const float *sum = work->floats + sl.sum;
	const float *count = work->floats + sl.count;
	float	   *grad_input = work->floats + sl.grad_input;
	float	   *grad_embedding = work->floats + sl.grad_embedding;
	/* The bias steps as first-order weights do, but is not regularised. */
	Optimizer	bias_optimizer = {c->weight_optimizer.kind, c->weight_optimizer.learning_rate, 0, 0};

	if (c->n_layers == 0)
		memset(grad_input, 0, (size_t) c->n_slots * dim * sizeof(float));
	if (m->dense_params > 0)
	{
		float	   *dense = env_address(env, m->dense);
		float	   *dense_grad = work->floats + sl.dense_grad;
		const float *numeric = pooled + (size_t) c->n_slots * dim;

		for (uint32_t i = 0; i < c->n_numeric; i++)
			dense_grad[i] = g * numeric[i];
		if (c->n_layers > 0)
			tower_backward(c, dense, pooled, work->floats + sl.acts, g, dense_grad,
						   work->floats + sl.delta, grad_input);
		optim_step(&c->dense_optimizer, dense, dense + m->dense_params, dense_grad,
				   m->dense_params);
	}

	optim_step(&bias_optimizer, &bias[0], &bias[1], &g, 1);
	for (uint32_t s = 0; s < c->n_slots; s++)
	{
		const float *ps = pooled + (size_t) s * dim;
		const float *gs = grad_input + (size_t) s * dim;
		float		share;

		if (count[s] == 0)
			continue;
		share = g / count[s];
		for (uint32_t j = 0; j < dim; j++)
			grad_embedding[j] = (g * (sum[j] - ps[j]) + gs[j]) / count[s];
		for (uint32_t k = slot_begin(ex, s); k < ex->slot_end[s]; k++)
		{
			float	   *v;

			if (work->entries[k] == NULL)
				continue;
			v = entry_floats(work->entries[k]);
			optim_step(&c->weight_optimizer, &v[0], &v[1], &share, 1);
			optim_step(&c->embedding_optimizer, &v[m->embedding_at],
					   &v[m->embedding_state_at], grad_embedding, dim);
			ck_touch(&m->table, env, work->entries[k], now);
		}
	}
}

/* Whether to train on an example: every positive, a sampled share of negatives. */
static bool
sampled_in(Model *m, double label)
{
	uint64_t	draw;

	if (label != 0 || m->config.negative_rate >= 1)
		return true;
	draw = __atomic_fetch_add(&m->negatives_offered, 1, __ATOMIC_RELAXED);
	return (seeded_uniform(m->config.seed ^ 0x6e65676174697665ull, draw) + 1) / 2 <
		m->config.negative_rate;
}

/*
 * The served probability: the logit with the log-odds correction applied;
 * NaN for a non-finite logit, which only a diverged model gives.
 */
static double
corrected(const Model *m, double logit)
{
	if (!isfinite(logit))
		return NAN;
	if (m->config.negative_rate >= 1)
		return sigmoid(logit);
	return sigmoid(logit + log(m->config.negative_rate));
}

/*
 * Predicts the example, then, unless it is a negative the sampler drops or
 * its logit is not finite, takes one step on it; table lock held shared.
 * The bias and its optimizer's state are at bias[0..3], entries that repeat in a batch in shadows (or
 * NULL).  Returns the logit; *stepped says whether it stepped.
 */
static double
train_locked(Model *m, const CoreEnv *env, const Example *ex, double label, uint32_t now,
			 ModelWork *work, float *bias, ShadowSet *shadows, bool *stepped)
{
	bool		step = sampled_in(m, label);
	double		logit;

	if (step)
		admit_entries(m, env, ex, now, work, shadows);
	else
		find_entries(m, env, ex, work, shadows);
	shadows_substitute(shadows, m, ex, work);
	logit = forward(m, bias[0], model_dense(m, env), ex, work, step);
	step = step && isfinite(logit);
	if (step)
		backward(m, env, ex, work, (float) (sigmoid(logit) - label), now, bias);
	*stepped = step;
	return logit;
}

/*
 * Predicts the example, then, unless it is a negative the sampler drops,
 * takes one step on it; returns the prediction.  The model is read only under
 * the table lock, whose taking checks that it still exists.  A non-finite
 * logit (a model driven to diverge) takes no step and predicts NaN, so one
 * bad example cannot spread NaN through the shared weights.
 */
double
model_train(Model *m, const CoreEnv *env, const Example *ex, double label,
			uint32_t now, ModelWork *work)
{
	bool		step;
	double		logit;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	logit = train_locked(m, env, ex, label, now, work, m->bias, NULL, &step);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	if (step)
		__atomic_add_fetch(&m->examples, 1, __ATOMIC_RELAXED);
	return corrected(m, logit);
}

/*
 * Trains on examples exs[0..n) in order, exactly as n calls of model_train
 * would, under one hold of the table lock, counting their steps at once, on
 * a copy of the bias and of the entries that repeat among them and the
 * batches before (ShadowSet): taking the lock, counting and stepping on
 * those are writes to memory that every trainer writes, which a step a call
 * would send from core to core each time.  The copies of entries are
 * merged when their round of batches ends, at the latest in
 * model_train_flush, which the caller calls after its last batch.  Sets
 * predictions[i]; stops after the first that is NaN (see model_train) and
 * returns how many it went through.  work must hold entries for the most
 * keys of any of the examples; scratch is model_batch_scratch_bytes()
 * bytes, zeroed before its first use, and the same for every batch of a
 * caller's run.
 */
uint32_t
model_train_batch(Model *m, const CoreEnv *env, const Example *exs, const double *labels,
				  uint32_t n, uint32_t now, ModelWork *work, void *scratch,
				  double *predictions)
{
	ShadowSet  *shadows = scratch;
	float		bias[MODEL_BIAS_FLOATS];
	float		bias_as_copied[MODEL_BIAS_FLOATS];
	uint64_t	steps = 0;
	uint32_t	i = 0;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	shadows_begin(shadows, m, env, exs, n);
	memcpy(bias, m->bias, sizeof(bias));
	memcpy(bias_as_copied, bias, sizeof(bias));
	while (i < n)
	{
		bool		step;
		double		logit = train_locked(m, env, &exs[i], labels[i], now, work, bias,
										 shadows, &step);

		steps += step;
		predictions[i++] = corrected(m, logit);
		if (isnan(predictions[i - 1]))
			break;
	}
	if (shadows->batches >= SHADOW_ROUND_BATCHES || shadows->n == SHADOW_MAX)
		shadows_end(shadows, m, env);
	for (int j = 0; j < MODEL_BIAS_FLOATS; j++)
		merge_float(&m->bias[j], bias_as_copied[j], bias[j]);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	__atomic_add_fetch(&m->examples, steps, __ATOMIC_RELAXED);
	return i;
}

/*
 * Ends the round of batches that model_train_batch left open in scratch:
 * merges its copies of entries into the table.
 */
void
model_train_flush(Model *m, const CoreEnv *env, void *scratch)
{
	ShadowSet  *shadows = scratch;

	if (shadows->batches == 0)
		return;
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	shadows_refind(shadows, m, env);
	shadows_end(shadows, m, env);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
}

/*
 * Looks up every key of the example without the table lock, through the
 * env's view (see ck_find_unlocked); false if any lookup needs the lock.
 */
MODEL_INLINE bool
find_entries_unlocked(const Model *m, const Model *shape, const CoreEnv *env,
					  const Example *ex, ModelWork *work)
{
	uint32_t	n_keys = ex->slot_end[shape->config.n_slots - 1];
	uint64_t	shared_rows[64];	/* table keys of hashed IDs, a batch at a time */
	const uint32_t batch = sizeof(shared_rows) / sizeof(shared_rows[0]);
	uint32_t	n;

	if (shape->config.hash_rows == 0)
		return ck_find_unlocked(&m->table, &shape->table, env, ex->keys, n_keys, work->entries);
	for (uint32_t k = 0; k < n_keys; k += n)
	{
		n = n_keys - k < batch ? n_keys - k : batch;
		for (uint32_t i = 0; i < n; i++)
			shared_rows[i] = table_key(shape, ex, k + i);
		if (!ck_find_unlocked(&m->table, &shape->table, env, shared_rows, n, work->entries + k))
			return false;
	}
	return true;
}

/* Copies what an unlocked prediction needs; m must be kept from being freed meanwhile. */
void
model_snapshot(ModelSnapshot *snap, const Model *m, const CoreEnv *env)
{
	snap->shape = *m;
	snap->dense = model_dense(m, env);
}

/*
 * Probability of a positive label, without touching the model; NaN if
 * diverged.  Given a snapshot and an env that offers unlocked reads, it reads
 * the model without the table lock, whose two atomic operations would cost a
 * served row more than the lookups: sizes and addresses from the snapshot
 * and the view, parameters from shared memory, and the answer only if no
 * writer came meanwhile.  Otherwise, or if the view cannot answer, it reads
 * under the lock, whose taking checks that the model still exists.
 */
double
model_predict(Model *m, const ModelSnapshot *snap, const CoreEnv *env, const Example *ex,
			  ModelWork *work)
{
	double		logit;
	uint64_t	token;

	if (snap != NULL && env->read_begin != NULL && env->read_begin(env->lock_ctx, &token) &&
		find_entries_unlocked(m, &snap->shape, env, ex, work))
	{
		logit = forward(&snap->shape, m->bias[0], snap->dense, ex, work, false);
		if (env->read_end(env->lock_ctx, token))
			return corrected(&snap->shape, logit);
	}
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	find_entries(m, env, ex, work, NULL);
	logit = forward(m, m->bias[0], model_dense(m, env), ex, work, false);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return corrected(m, logit);
}
