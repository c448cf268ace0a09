/*
 * test_cuckoo.c
 *		Unit tests of the collisionless embedding table, outside PostgreSQL.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cuckoo.h"
#include "heap_env.h"
#include "unit.h"

#define STRIPES 16
#define VALUE_WORDS 4

static void
init_value(const void *arg, uint64_t key, void *value)
{
	uint64_t   *v = value;

	(void) arg;
	for (int i = 0; i < VALUE_WORDS; i++)
		v[i] = key * 31 + i;
}

static const CuckooValueInit value_init = {init_value, NULL};

static bool
value_ok(const CuckooEntry *e)
{
	const uint64_t *v = CK_VALUE(e);

	for (int i = 0; i < VALUE_WORDS; i++)
		if (v[i] != e->key * 31 + i)
			return false;
	return true;
}

static void
small_config(CuckooConfig *c)
{
	ck_default_config(c, VALUE_WORDS * sizeof(uint64_t));
	c->n_stripes = STRIPES;
	c->segment_log2 = 2;
	c->chunk_log2 = 2;
}

/* Whether tables are opened on an env that translates through a view. */
static bool use_view;

/* A table on a heap env with cap bytes (0: no cap). */
static void
open_table(HeapEnv *h, CuckooTable *t, const CuckooConfig *c, size_t cap)
{
	heap_env_init(h, CK_LOCK_STRIPE0 + c->n_stripes, cap);
	if (use_view)
		heap_env_use_view(h);
	CHECK(ck_init(t, &h->env, c), "init");
}

static void
close_table(HeapEnv *h, CuckooTable *t)
{
	ck_destroy(t, &h->env);
	heap_env_free(h);
}

/* Inserts as a training backend does: shared lock first, exclusive if needed. */
static CuckooResult
put(CuckooTable *t, const CoreEnv *env, uint64_t key, uint32_t now)
{
	CuckooEntry *e;
	CuckooResult r;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	r = ck_find_or_admit(t, env, key, now, &value_init, &e);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	if (r == CK_NEED_EXCLUSIVE)
	{
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		r = ck_insert_exclusive(t, env, key, now, &value_init, &e);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	}
	return r;
}

/* Removes every entry last seen before cutoff, in pieces as the server does. */
static uint64_t
expire_all(CuckooTable *t, const CoreEnv *env, uint32_t cutoff)
{
	uint32_t	ref = 1;

	return ck_remove_pieces(t, env, ck_seen_before, &cutoff, &ref, UINT32_MAX);
}

static uint64_t
key_of(uint64_t i)
{
	return ck_mix64(i + 0x1234567);
}

/*
 * The index grew by splitting segments, and the directory names each
 * segment from exactly the 2^(dir_log2 - depth) slots whose low depth bits
 * it answers to.
 */
static void
check_directory(const CuckooTable *t, const CoreEnv *env)
{
	const uint32_t *dir = env_address(env, t->directory);
	const CuckooSegment *segs = env_address(env, t->segments);
	uint64_t	slots = (uint64_t) 1 << t->dir_log2;
	uint64_t   *named = calloc(t->n_segments, sizeof(uint64_t));
	uint64_t   *first = calloc(t->n_segments, sizeof(uint64_t));
	uint64_t	bad = 0;

	CHECK(t->n_segments > 4 && t->dir_log2 >= 2, "%u segments, directory of 2^%u slots",
		  t->n_segments, t->dir_log2);
	for (uint64_t i = 0; i < slots; i++)
	{
		uint32_t	n = dir[i];
		uint64_t	low = ((uint64_t) 1 << segs[n].depth) - 1;

		if (n >= t->n_segments)
		{
			bad++;
			continue;
		}
		if (named[n]++ == 0)
			first[n] = i;
		bad += (i & low) != (first[n] & low);
	}
	for (uint32_t n = 0; n < t->n_segments; n++)
		bad += segs[n].depth > t->dir_log2 || named[n] != (slots >> segs[n].depth);
	CHECK(bad == 0, "%lu faults in the directory", (unsigned long) bad);
	free(named);
	free(first);
}

/* Inserts keys 0..n-1 (key_of); how many did not go in as new. */
static uint64_t
insert_keys(CuckooTable *t, const CoreEnv *env, uint64_t n)
{
	uint64_t	failed = 0;

	for (uint64_t i = 0; i < n; i++)
		failed += put(t, env, key_of(i), 1) != CK_INSERTED;
	return failed;
}

/* Of keys 0..n-1, how many are missing or have a wrong entry. */
static uint64_t
keys_wrong(const CuckooTable *t, const CoreEnv *env, uint64_t n)
{
	uint64_t	wrong = 0;

	for (uint64_t i = 0; i < n; i++)
	{
		CuckooEntry *e = ck_find(t, env, key_of(i));

		wrong += e == NULL || e->key != key_of(i) || !value_ok(e);
	}
	return wrong;
}

/* Inserted keys are found with their values; absent keys are not. */
static void
test_insert_lookup_and_growth(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	const uint64_t n = 200000;
	uint64_t	bad = 0;

	small_config(&c);
	open_table(&h, &t, &c, 0);
	bad = insert_keys(&t, &h.env, n);
	CHECK(bad == 0, "%lu inserts did not insert", (unsigned long) bad);
	CHECK(t.live == n, "live %lu", (unsigned long) t.live);
	CHECK(ck_index_slots(&t) > ((uint64_t) CK_SLOTS << c.segment_log2),
		  "index grew to %lu slots", (unsigned long) ck_index_slots(&t));
	CHECK(t.n_chunks > 1000, "arena grew to %u chunks", t.n_chunks);
	bad = keys_wrong(&t, &h.env, n);
	CHECK(bad == 0, "%lu keys lost or wrong after growth", (unsigned long) bad);
	bad = 0;
	for (uint64_t i = n; i < 2 * n; i++)
		if (ck_find(&t, &h.env, key_of(i)) != NULL)
			bad++;
	CHECK(bad == 0, "%lu absent keys found", (unsigned long) bad);
	CHECK(put(&t, &h.env, key_of(7), 2) == CK_FOUND, "a present key is found, not inserted");
	CHECK(t.live == n, "no duplicate after re-insert");
	/* Growth doubles only when a key finds no place: the index stays well filled. */
	CHECK((double) t.live / ck_index_slots(&t) > 0.4,
		  "load factor %.2f", (double) t.live / ck_index_slots(&t));
	check_directory(&t, &h.env);
	ck_destroy(&t, &h.env);
	CHECK(h.used == 0, "destroy frees everything (%zu bytes left)", h.used);
	heap_env_free(&h);
}

/*
 * Past depth 16 a split reads its keys' hashes from the entries, as the
 * slots keep only 16 directory bits: segments of two buckets get there.
 */
static void
test_deep_splits(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	const uint64_t n = 700000;
	uint64_t	bad;
	uint32_t	deepest = 0;
	const CuckooSegment *segs;

	small_config(&c);
	c.segment_log2 = 1;
	c.chunk_log2 = 10;
	open_table(&h, &t, &c, 0);
	bad = insert_keys(&t, &h.env, n);
	CHECK(bad == 0, "%lu inserts did not insert", (unsigned long) bad);
	segs = env_address(&h.env, t.segments);
	for (uint32_t s = 0; s < t.n_segments; s++)
		deepest = segs[s].depth > deepest ? segs[s].depth : deepest;
	CHECK(deepest > 17, "segments split to depth %u", deepest);
	bad = keys_wrong(&t, &h.env, n);
	CHECK(bad == 0, "%lu keys lost or wrong after deep splits", (unsigned long) bad);
	check_directory(&t, &h.env);
	close_table(&h, &t);
}

/* Deleting while the table grows never loses or revives a key. */
static void
test_delete_during_growth(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	uint64_t	bad = 0;
	uint64_t	failed_deletes = 0;
	const uint64_t n = 100000;

	small_config(&c);
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < n; i++)
	{
		put(&t, &h.env, key_of(i), 1);
		/* Delete every third key shortly after it went in, while growing. */
		if (i >= 10 && (i - 10) % 3 == 0 && !ck_delete(&t, &h.env, key_of(i - 10)))
			failed_deletes++;
	}
	CHECK(failed_deletes == 0, "%lu deletes missed their key", (unsigned long) failed_deletes);
	CHECK(!ck_delete(&t, &h.env, key_of(n + 5)), "deleting an absent key reports false");
	for (uint64_t i = 0; i < n; i++)
	{
		bool		deleted = i + 10 < n && i % 3 == 0;
		CuckooEntry *e = ck_find(&t, &h.env, key_of(i));

		if (deleted ? e != NULL : (e == NULL || !value_ok(e)))
			bad++;
	}
	CHECK(bad == 0, "%lu keys wrong after deletes during growth", (unsigned long) bad);
	close_table(&h, &t);
}

/* Expiry removes exactly the entries last seen before the cutoff. */
static void
test_expire(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	uint64_t	removed;
	uint64_t	bad = 0;

	small_config(&c);
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < 10000; i++)
		put(&t, &h.env, key_of(i), (uint32_t) (100 + i % 10));
	removed = expire_all(&t, &h.env, 105);
	/* In pieces, each its own hold of the lock: the table is whole between them. */
	{
		uint32_t	ref = 1;
		uint64_t	in_pieces = 0;

		do
			in_pieces += ck_remove_range(&t, &h.env, ck_seen_before, &(uint32_t) {105}, &ref, 777);
		while (ref != 0);
		CHECK(in_pieces == 0, "a second expiry found %lu more", (unsigned long) in_pieces);
	}
	CHECK(removed == 5000, "expire removed %lu", (unsigned long) removed);
	CHECK(t.live == 5000, "live %lu", (unsigned long) t.live);
	for (uint64_t i = 0; i < 10000; i++)
	{
		CuckooEntry *e = ck_find(&t, &h.env, key_of(i));

		if ((i % 10 < 5) != (e == NULL) || (e != NULL && !value_ok(e)))
			bad++;
	}
	CHECK(bad == 0, "%lu keys wrong after expiry", (unsigned long) bad);
	/* Freed entries are reused before the arena grows. */
	{
		uint32_t	chunks = t.n_chunks;

		for (uint64_t i = 20000; i < 25000; i++)
			put(&t, &h.env, key_of(i), 200);
		CHECK(t.n_chunks == chunks, "arena grew from %u to %u chunks", chunks, t.n_chunks);
	}
	CHECK(expire_all(&t, &h.env, 0) == 0, "nothing is older than time 0");
	CHECK(expire_all(&t, &h.env, UINT32_MAX) == 10000, "everything is older than the end of time");
	CHECK(t.live == 0, "empty after expiring all");
	close_table(&h, &t);
}

/*
 * Shrinking gives whole chunks back: the entries of the last chunks move
 * down, or the least recently seen go, every key left is found with its
 * value, and the table grows again from there.
 */
static void
test_shrink(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	const uint64_t n = 60000;
	uint64_t	bad = 0,
				live_old = 0,
				live_new = 0,
				found = 0;
	uint64_t	before,
				freed;
	uint32_t	chunks;

	small_config(&c);
	c.chunk_log2 = 8;
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < n; i++)
		put(&t, &h.env, key_of(i), (uint32_t) (1 + i / 100));
	/* Holes all over the arena, as expiry leaves them. */
	for (uint64_t i = 0; i < n; i += 3)
		ck_delete(&t, &h.env, key_of(i));
	before = t.bytes;
	chunks = t.n_chunks;
	freed = ck_shrink(&t, &h.env, before / 2, UINT32_MAX);
	CHECK(freed >= before / 2 && t.bytes == before - freed, "freed %lu of %lu bytes",
		  (unsigned long) freed, (unsigned long) before);
	CHECK(t.n_chunks < chunks, "chunks %u, were %u", t.n_chunks, chunks);
	CHECK(t.live <= (uint64_t) t.n_chunks << c.chunk_log2, "%lu live in %u chunks",
		  (unsigned long) t.live, t.n_chunks);
	for (uint64_t i = 0; i < n; i++)
	{
		CuckooEntry *e = ck_find(&t, &h.env, key_of(i));

		if (e == NULL)
			continue;
		found++;
		bad += i % 3 == 0 || e->key != key_of(i) || !value_ok(e);
		live_old += i < n / 4;
		live_new += i >= 3 * n / 4;
	}
	CHECK(bad == 0, "%lu keys wrong after shrinking", (unsigned long) bad);
	CHECK(found == t.live, "%lu keys found, %lu live", (unsigned long) found, (unsigned long) t.live);
	CHECK(live_new > 2 * live_old, "kept %lu of the newest quarter, %lu of the oldest",
		  (unsigned long) live_new, (unsigned long) live_old);
	/* The free list holds only what remains, and the table grows again. */
	for (uint64_t i = n; i < 2 * n; i++)
		bad += put(&t, &h.env, key_of(i), 1000) != CK_INSERTED;
	for (uint64_t i = n; i < 2 * n; i++)
	{
		CuckooEntry *e = ck_find(&t, &h.env, key_of(i));

		bad += e == NULL || !value_ok(e);
	}
	CHECK(bad == 0, "%lu keys wrong after growing again", (unsigned long) bad);
	CHECK(t.live == found + n, "live %lu", (unsigned long) t.live);
	/* Down to nothing, and destroy frees what is left. */
	ck_shrink(&t, &h.env, UINT64_MAX, UINT32_MAX);
	CHECK(t.n_chunks == 0 && t.live == 0, "%u chunks, %lu live", t.n_chunks, (unsigned long) t.live);
	close_table(&h, &t);
}

/*
 * Every entry freed or moved counts in relocations (which copies of entries
 * held between lock holds rely on), and nothing else does: inserting and
 * growing count nothing, a deletion one, and giving back a chunk whose
 * entries all find free places below it one a move.
 */
static void
test_relocations_counted(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;

	small_config(&c);
	c.chunk_log2 = 4;
	open_table(&h, &t, &c, 0);
	CHECK(insert_keys(&t, &h.env, 32) == 0 && t.n_chunks == 2, "32 keys in two chunks");
	CHECK(t.relocations == 0, "inserting and growing relocated %lu", (unsigned long) t.relocations);
	for (uint64_t i = 0; i < 16; i++)
		ck_delete(&t, &h.env, key_of(i));
	CHECK(t.relocations == 16, "16 deletions counted %lu", (unsigned long) t.relocations);
	ck_shrink(&t, &h.env, ck_chunk_bytes(&t), UINT32_MAX);
	CHECK(t.n_chunks == 1 && t.live == 16 && t.evicted == 0, "the last chunk moved into the first");
	CHECK(t.relocations == 32, "and its 16 moves counted %lu", (unsigned long) t.relocations - 16);
	CHECK(keys_wrong(&t, &h.env, 32) == 16, "the moved keys are found");
	close_table(&h, &t);
}

/* A tiny reference map: open addressing with linear probing. */
typedef struct RefMap
{
	uint64_t   *keys;
	uint8_t    *state;			/* 0 empty, 1 present, 2 deleted */
	uint64_t	mask;
} RefMap;

static uint64_t ref_slot(const RefMap *m, uint64_t key, bool for_insert);

/* Whether the reference holds key; *slot is where it is or would be looked for. */
static bool
ref_contains(const RefMap *m, uint64_t key, uint64_t *slot)
{
	*slot = ref_slot(m, key, false);
	return m->state[*slot] == 1 && m->keys[*slot] == key;
}

static uint64_t
ref_slot(const RefMap *m, uint64_t key, bool for_insert)
{
	uint64_t	i = ck_mix64(key ^ 0xabcdef) & m->mask;
	uint64_t	tomb = UINT64_MAX;

	for (;; i = (i + 1) & m->mask)
	{
		if (m->state[i] == 0)
			return for_insert && tomb != UINT64_MAX ? tomb : i;
		if (m->state[i] == 2 && tomb == UINT64_MAX)
			tomb = i;
		if (m->state[i] == 1 && m->keys[i] == key)
			return i;
	}
}

/* A million random inserts, deletes and lookups agree with a reference map. */
/* The entry of a 1-based reference, from the table's chunk directory. */
static CuckooEntry *
entry_of(const CuckooTable *t, const CoreEnv *env, uint32_t ref)
{
	const MemHandle *chunks = env_address(env, t->chunk_dir);
	char	   *chunk = env_address(env, chunks[(ref - 1) >> t->config.chunk_log2]);

	return (CuckooEntry *) (chunk + (size_t) ((ref - 1) & ((1u << t->config.chunk_log2) - 1)) * t->entry_size);
}

/*
 * Faults of a table whose last chunk may be half given back: a free-list
 * entry that is live or of that chunk, a live entry in its emptied top, or
 * keys[0..n) (those not removed) not found as often as t->live says.
 */
static uint64_t
give_back_faults(const CuckooTable *t, const CoreEnv *env, const uint64_t *keys, uint64_t n)
{
	uint32_t	first = ((t->n_chunks - 1) << t->config.chunk_log2) + 1;
	uint64_t	faults = 0,
				found = 0;

	for (uint32_t ref = t->free_head, steps = 0; ref != 0 && steps < t->next_fresh;
		 ref = (uint32_t) entry_of(t, env, ref)->key, steps++)
		faults += (entry_of(t, env, ref)->meta & CK_META_LIVE) != 0 ||
			(t->giving_back && ref >= first);
	if (t->giving_back)
		for (uint32_t ref = t->give_back_at; ref < t->next_fresh && ref < first + (1u << t->config.chunk_log2); ref++)
			faults += (entry_of(t, env, ref)->meta & CK_META_LIVE) != 0;
	for (uint64_t i = 0; i < n; i++)
	{
		CuckooEntry *e = ck_find(t, env, keys[i]);

		found += e != NULL;
		faults += e != NULL && (e->key != keys[i] || !value_ok(e));
	}
	return faults + (found != t->live);
}

/* One piece of giving back, under the exclusive lock, as a server's call makes it. */
static uint64_t
shrink_piece(CuckooTable *t, const CoreEnv *env, uint64_t bytes, uint32_t max_work)
{
	uint64_t	freed;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	freed = ck_shrink(t, env, bytes, max_work);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return freed;
}

/*
 * A chunk given back a few IDs a hold, with inserts, deletes and expiry
 * between the holds: nothing is lost or found twice, nothing new lands in
 * the chunk, and it is freed in the end; growth wanted meanwhile keeps the
 * chunk, if the cap allows it, and else evicts.
 */
static void
test_shrink_in_pieces(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	const uint64_t n = 20000;
	uint64_t   *keys = malloc(3 * n * sizeof(uint64_t));
	uint64_t	faults = 0,
				next = 0,
				pieces = 0;
	uint32_t	chunks;

	small_config(&c);
	c.chunk_log2 = 8;
	open_table(&h, &t, &c, 0);
	for (; next < n; next++)
		put(&t, &h.env, keys[next] = key_of(next), 1);
	for (uint64_t i = 0; i < n; i += 5)
		ck_delete(&t, &h.env, keys[i]);
	chunks = t.n_chunks;
	/* Half the chunks back, 16 IDs a hold, the table busy in between. */
	while (t.n_chunks > chunks / 2 && pieces < 100000)
	{
		shrink_piece(&t, &h.env, UINT64_MAX, 16);
		pieces++;
		if (pieces % 3 == 0)
		{
			uint64_t	gone = keys[(pieces * 7919) % next];

			ck_delete(&t, &h.env, gone);
			put(&t, &h.env, keys[next] = key_of(next), 2);
			next++;
		}
		if (pieces % 97 == 0)
			faults += give_back_faults(&t, &h.env, keys, next);
	}
	CHECK(t.n_chunks <= chunks / 2, "%u chunks after %lu pieces, were %u", t.n_chunks,
		  (unsigned long) pieces, chunks);
	CHECK(pieces > chunks, "%lu pieces for %u chunks: a chunk takes several", (unsigned long) pieces,
		  chunks - t.n_chunks);
	CHECK(faults == 0, "%lu faults while giving back in pieces", (unsigned long) faults);
	/* Expiry between pieces: the chunk's freed entries stay off the free list. */
	shrink_piece(&t, &h.env, UINT64_MAX, 16);
	CHECK(t.giving_back, "a chunk half given back");
	expire_all(&t, &h.env, 2);
	faults = give_back_faults(&t, &h.env, keys, next);
	CHECK(faults == 0 && t.live > 0, "%lu faults after expiry, %lu live", (unsigned long) faults,
		  (unsigned long) t.live);
	/* Growth wanted with no free entry left, and no cap: the chunk is kept. */
	chunks = t.n_chunks;
	for (uint64_t k = 0; t.giving_back && k < 3 * n - next; k++)
	{
		put(&t, &h.env, keys[next] = key_of(next), 3);
		next++;
	}
	CHECK(!t.giving_back && t.n_chunks == chunks, "growth keeps the chunk: %u chunks, were %u",
		  t.n_chunks, chunks);
	CHECK(give_back_faults(&t, &h.env, keys, next) == 0, "no faults after keeping the chunk");
	/* At a cap that allows no more, growth evicts instead, and the chunk still goes. */
	h.cap = h.used;
	shrink_piece(&t, &h.env, UINT64_MAX, 16);
	h.cap = h.used;
	chunks = t.n_chunks;
	CHECK(t.giving_back, "a chunk half given back at the cap");
	for (uint64_t k = 0; k < 200 && next < 3 * n; k++)
	{
		faults += put(&t, &h.env, keys[next] = key_of(next), 4) != CK_INSERTED;
		next++;
	}
	CHECK(faults == 0 && t.giving_back && t.evicted > 0,
		  "%lu not inserted at the cap, evicted %lu, still giving back", (unsigned long) faults,
		  (unsigned long) t.evicted);
	while (t.n_chunks == chunks)
		shrink_piece(&t, &h.env, UINT64_MAX, 16);
	CHECK(give_back_faults(&t, &h.env, keys, next) == 0, "no faults after giving back at the cap");
	free(keys);
	close_table(&h, &t);
}

/*
 * Every piece's work is bounded, evictions counted: a table of one chunk,
 * whose evictions all land in the chunk being given back, evicts one ID a
 * unit of work; and an insert at the cap meanwhile evicts one ID and takes
 * its entry, even one of that chunk.
 */
static void
test_shrink_piece_bounds(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	const uint64_t n = 1024;
	uint64_t	keys[1025];
	uint64_t	evicted;

	small_config(&c);
	c.chunk_log2 = 10;
	open_table(&h, &t, &c, 0);
	/* Older first: least-recently-seen eviction would reach the chunk's top last. */
	for (uint64_t i = 0; i < n; i++)
		put(&t, &h.env, key_of(i), (uint32_t) (5000 - i));
	CHECK(t.n_chunks == 1 && t.live == n, "one full chunk: %u chunks, %lu live", t.n_chunks,
		  (unsigned long) t.live);
	shrink_piece(&t, &h.env, UINT64_MAX, 1);
	CHECK(t.evicted == 1 && t.live == n - 1 && t.giving_back,
		  "a piece of one unit evicted %lu, %lu live", (unsigned long) t.evicted, (unsigned long) t.live);
	shrink_piece(&t, &h.env, UINT64_MAX, 100);
	CHECK(t.evicted == 101 && t.giving_back, "a piece of 100 units evicted %lu",
		  (unsigned long) t.evicted);
	h.cap = h.used;
	evicted = t.evicted;
	CHECK(put(&t, &h.env, key_of(n), 6000) == CK_INSERTED && t.evicted == evicted + 1,
		  "an insert at the cap evicts one ID (%lu) and goes in", (unsigned long) (t.evicted - evicted));
	CHECK(ck_find(&t, &h.env, key_of(n)) != NULL && t.live == n - 101,
		  "it is found, %lu live", (unsigned long) t.live);
	for (uint64_t i = 0; i <= n; i++)
		keys[i] = key_of(i);
	CHECK(give_back_faults(&t, &h.env, keys, n + 1) == 0, "no faults after the bounded pieces");
	close_table(&h, &t);
}

static void
test_random_against_reference(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	RefMap		ref;
	uint64_t	rng = 42;
	uint64_t	live = 0;
	uint64_t	mismatches = 0;
	const uint64_t ops = 3000000;
	const uint64_t universe = 1000000;

	ref.mask = (1u << 22) - 1;
	ref.keys = calloc(ref.mask + 1, sizeof(uint64_t));
	ref.state = calloc(ref.mask + 1, 1);
	small_config(&c);
	c.chunk_log2 = 10;
	open_table(&h, &t, &c, 0);
	for (uint64_t op = 0; op < ops; op++)
	{
		uint64_t	r = ck_mix64(rng++);
		uint64_t	key = key_of(r % universe);
		uint64_t	slot;
		bool		present = ref_contains(&ref, key, &slot);
		int			kind = (int) ((r >> 40) % 10);

		if (kind < 6)
		{
			CuckooResult res = put(&t, &h.env, key, 1);

			if (res != (present ? CK_FOUND : CK_INSERTED))
				mismatches++;
			if (!present)
			{
				slot = ref_slot(&ref, key, true);
				ref.keys[slot] = key;
				ref.state[slot] = 1;
				live++;
			}
		}
		else if (kind < 8)
		{
			if (ck_delete(&t, &h.env, key) != present)
				mismatches++;
			if (present)
			{
				ref.state[slot] = 2;
				live--;
			}
		}
		else
		{
			CuckooEntry *e = ck_find(&t, &h.env, key);

			if ((e != NULL) != present || (e != NULL && !value_ok(e)))
				mismatches++;
		}
	}
	CHECK(mismatches == 0, "%lu operations disagreed with the reference", (unsigned long) mismatches);
	CHECK(t.live == live, "live %lu, reference %lu", (unsigned long) t.live, (unsigned long) live);
	CHECK(live > 500000, "the test reached %lu live keys", (unsigned long) live);
	mismatches = 0;
	for (uint64_t i = 0; i < universe; i++)
	{
		uint64_t	slot;

		if ((ck_find(&t, &h.env, key_of(i)) != NULL) != ref_contains(&ref, key_of(i), &slot))
			mismatches++;
	}
	CHECK(mismatches == 0, "%lu of the million keys disagree at the end", (unsigned long) mismatches);
	close_table(&h, &t);
	free(ref.keys);
	free(ref.state);
}

/* min_count 3: a key gets an entry on its third sighting and not before. */
static void
test_frequency_filter(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	uint64_t	early = 0;

	small_config(&c);
	c.admission.min_count = 3;
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < 5000; i++)
	{
		/* Both sightings made, whatever the first gave: a key counts once. */
		bool		first = put(&t, &h.env, key_of(i), 1) != CK_FILTERED;
		bool		second = put(&t, &h.env, key_of(i), 1) != CK_FILTERED;

		early += first || second;
	}
	/* Count-min only overestimates; with 10,000 sightings in 4 x 65,536 counters, rarely. */
	CHECK(early < 50, "%lu keys admitted before their third sighting", (unsigned long) early);
	CHECK(t.live == early, "filtered keys take no entry (live %lu)", (unsigned long) t.live);
	for (uint64_t i = 0; i < 5000; i++)
		put(&t, &h.env, key_of(i), 1);
	CHECK(t.live == 5000, "every key admitted on its third sighting (live %lu)", (unsigned long) t.live);
	close_table(&h, &t);
}

/* admit_probability 0.25 admits about a quarter of keys seen once. */
static void
test_probabilistic_filter(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	uint64_t	admitted = 0;

	small_config(&c);
	c.admission.probability = 0.25;
	c.admission.seed = 9;
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < 40000; i++)
		if (put(&t, &h.env, key_of(i), 1) == CK_INSERTED)
			admitted++;
	CHECK(admitted > 9400 && admitted < 10600, "admitted %lu of 40000", (unsigned long) admitted);
	CHECK(t.live == admitted, "only admitted keys have entries");
	close_table(&h, &t);
}

/* At the memory cap the table evicts the least recently seen and keeps working. */
static void
test_memory_cap_evicts_oldest(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	const uint64_t n = 200000;
	const size_t cap = 2 * 1024 * 1024;
	uint64_t	failed = 0,
				old_live = 0,
				new_live = 0;

	small_config(&c);
	c.chunk_log2 = 8;
	open_table(&h, &t, &c, cap);
	for (uint64_t i = 0; i < n; i++)
		if (put(&t, &h.env, key_of(i), (uint32_t) (1 + i / 1000)) != CK_INSERTED)
			failed++;
	CHECK(failed == 0, "%lu inserts failed at the cap", (unsigned long) failed);
	CHECK(h.used <= cap, "used %zu over cap %zu", h.used, cap);
	CHECK(t.bytes <= cap, "table bytes %lu", (unsigned long) t.bytes);
	CHECK(t.evicted > 0, "evicted %lu", (unsigned long) t.evicted);
	CHECK(t.live + t.evicted == n, "live %lu + evicted %lu", (unsigned long) t.live,
		  (unsigned long) t.evicted);
	for (uint64_t i = 0; i < 1000; i++)
	{
		old_live += ck_find(&t, &h.env, key_of(i)) != NULL;
		new_live += ck_find(&t, &h.env, key_of(n - 1 - i)) != NULL;
	}
	CHECK(new_live > 950, "%lu of the newest 1000 keys live", (unsigned long) new_live);
	CHECK(old_live < 50, "%lu of the oldest 1000 keys live", (unsigned long) old_live);
	close_table(&h, &t);
}

static void
count_visit(void *arg, const CuckooEntry *e)
{
	uint64_t   *counts = arg;

	counts[0]++;
	if (!value_ok(e))
		counts[1]++;
}

/* Scan sees every live entry; a touch counts and dates its entry. */
static void
test_touch_and_scan(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	uint64_t	counts[2] = {0, 0};

	small_config(&c);
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < 3000; i++)
		put(&t, &h.env, key_of(i), 1);
	for (uint64_t i = 0; i < 3000; i += 3)
		ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(i)), 2);
	ck_delete(&t, &h.env, key_of(0));
	CHECK(ck_scan(&t, &h.env, count_visit, counts) == 2999, "scan visits every live entry");
	CHECK(counts[0] == 2999 && counts[1] == 0, "visited %lu", (unsigned long) counts[0]);
	CHECK(ck_find(&t, &h.env, key_of(3))->last_seen == 2, "touch sets last seen");
	CHECK((ck_find(&t, &h.env, key_of(3))->meta & CK_META_COUNT) == 2, "touch counts");
	close_table(&h, &t);
}

/* What one collection of a round visited: a count per key index. */
#define CHANGE_KEYS 4000

typedef struct Visits
{
	uint32_t	times[CHANGE_KEYS];
	uint64_t	total;
	uint64_t	bad;			/* visits of unknown keys or wrong values */
} Visits;

/* The index i of key_of(i) for i < CHANGE_KEYS; keys are looked up linearly once. */
static int
index_of(uint64_t key)
{
	static uint64_t keys[CHANGE_KEYS];
	static bool made;

	if (!made)
	{
		for (int i = 0; i < CHANGE_KEYS; i++)
			keys[i] = key_of(i);
		made = true;
	}
	for (int i = 0; i < CHANGE_KEYS; i++)
		if (keys[i] == key)
			return i;
	return -1;
}

static void
count_change(void *arg, const CuckooEntry *e)
{
	Visits	   *v = arg;
	int			i = index_of(e->key);

	v->total++;
	if (i < 0 || !value_ok(e))
		v->bad++;
	else
		v->times[i]++;
}

/* Cuts a round, collects it in pieces of piece references, releases it. */
static CuckooRound
ship_round(CuckooTable *t, const CoreEnv *env, Visits *v, uint32_t piece)
{
	CuckooRound round;
	uint32_t	cursor = 0;

	memset(v, 0, sizeof(*v));
	env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
	EXPECT(ck_cut_changes(t, env), "cut");
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	EXPECT(ck_cut_round(t, &round), "a round is cut");
	EXPECT(!ck_cut_changes(t, env), "no second cut before the release");
	while (ck_collect_changed(t, env, &cursor, piece, count_change, v))
		;
	ck_release_changes(t, env);
	EXPECT(!ck_cut_round(t, &(CuckooRound) {0}), "released");
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	return round;
}

static uint64_t
visited_keys(const Visits *v)
{
	uint64_t	n = 0;

	for (int i = 0; i < CHANGE_KEYS; i++)
		n += v->times[i] > 0;
	return n;
}

/*
 * Rounds of changes: the first two rounds, whose logs have no room yet, are
 * scanned for just their own changes; then logs hold them; changes after a
 * cut belong to the next round; removals are noted; a round with more
 * changes than its log holds is scanned, and its log grows.
 */
static void
test_change_rounds(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	Visits		v;
	CuckooRound r;
	uint32_t	cursor = 0;

	small_config(&c);
	open_table(&h, &t, &c, 0);
	for (uint64_t i = 0; i < 3000; i++)
		put(&t, &h.env, key_of(i), 1);
	r = ship_round(&t, &h.env, &v, 7);
	CHECK(r.round == 1 && r.scan, "round 1 scanned");
	CHECK(v.total == 3000 && visited_keys(&v) == 3000 && v.bad == 0, "round 1: every new entry once");

	for (uint64_t i = 0; i < 3000; i += 3)
		ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(i)), 2);
	ck_delete(&t, &h.env, key_of(0));
	r = ship_round(&t, &h.env, &v, 100);
	CHECK(r.round == 2 && r.scan, "round 2 scanned");
	CHECK(v.total == 999 && visited_keys(&v) == 999 && v.times[0] == 0, "round 2: the touched live entries only");
	CHECK(r.n_removed == 1 && !r.removals_lost, "round 2 removed one key");

	/* Round 3 has a log: each changed entry once, however often it changed. */
	for (int pass = 0; pass < 3; pass++)
		for (uint64_t i = 1; i < 500; i++)
			ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(i)), 3);
	for (uint64_t i = 3000; i < 3100; i++)
		put(&t, &h.env, key_of(i), 3);
	r = ship_round(&t, &h.env, &v, 13);
	CHECK(!r.scan && r.n_changed == 599, "round 3 logged %u", r.n_changed);
	CHECK(v.total == 599 && v.times[1] == 1 && v.times[3050] == 1 && v.times[600] == 0, "round 3: each once");

	/* An entry changed again after the cut is the next round's. */
	ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(700)), 4);
	ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(701)), 4);
	h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, true);
	ck_cut_changes(&t, &h.env);
	h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
	ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(701)), 5);
	ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(702)), 5);
	memset(&v, 0, sizeof(v));
	while (ck_collect_changed(&t, &h.env, &cursor, 1, count_change, &v))
		;
	ck_release_changes(&t, &h.env);
	CHECK(v.total == 1 && v.times[700] == 1, "round 4: what changed before its cut and not since");
	r = ship_round(&t, &h.env, &v, 5);
	CHECK(v.total == 2 && v.times[701] == 1 && v.times[702] == 1, "round 5: what changed after the cut");

	/* More changes than the log holds: scanned, only this round's, and the log grows. */
	for (uint64_t i = 0; i < 3100; i++)
		if (ck_find(&t, &h.env, key_of(i)) != NULL)
			ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(i)), 6);
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(r.scan, "round 6 overflowed its log");
	CHECK(v.total == 3099 && visited_keys(&v) == 3099, "round 6: every changed entry once");
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(v.total == 0 && !r.scan, "round 7: nothing changed");
	for (uint64_t i = 1; i < 3100; i++)
		ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(i)), 8);
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(!r.scan && v.total == 3099, "round 8: the grown log held them");

	/* Removals past the log's room are said to be lost. */
	for (uint64_t i = 1; i < 2000; i++)
		ck_delete(&t, &h.env, key_of(i));
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(r.removals_lost && r.n_removed > 0, "round 9 lost removals");
	for (uint64_t i = 2000; i < 2100; i++)
		ck_delete(&t, &h.env, key_of(i));
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(!r.removals_lost && r.n_removed == 100, "round 10: the grown removal log held them");

	/*
	 * 2^32 rounds on, the round numbers come round again: key 2500 last
	 * changed in round 11, whose number the round after the wrap takes,
	 * and is still noted when it changes then.
	 */
	ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(2500)), 11);
	ship_round(&t, &h.env, &v, 64);
	t.round = 0xffffffffu;
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(r.round == 0xffffffffu && v.total == 0, "the last round before the wrap");
	for (uint32_t round = 0; round < 11; round++)
		r = ship_round(&t, &h.env, &v, 64);
	CHECK(r.round == 10, "rounds wrapped");
	ck_touch(&t, &h.env, ck_find(&t, &h.env, key_of(2500)), 12);
	r = ship_round(&t, &h.env, &v, 64);
	CHECK(r.round == 11 && v.total == 1 && v.times[2500] == 1, "a change in round 11 again is collected");
	close_table(&h, &t);
}

/* What a replica of the table would know: the cut of the last round that told it each thing. */
typedef struct ShipLog
{
	uint64_t	changed_at[CHANGE_KEYS];	/* step of a key's last insertion or touch */
	uint64_t	shipped_at[CHANGE_KEYS];	/* cut step of the last round visiting it */
	uint64_t	removal_at[CHANGE_KEYS];	/* cut step of the last round removing it */
	uint64_t	removals_lost_at;	/* cut step of the last round that lost removals */
	Visits		v;
	bool		cut;
	uint64_t	cut_step;
	uint32_t	cursor;
} ShipLog;

/* After the last piece of a round's collection: what it told, then the release. */
static void
ship_log_round_end(ShipLog *log, CuckooTable *t, const CoreEnv *env)
{
	CuckooRound r;
	const uint64_t *keys = ck_removed_keys(t, env);

	ck_cut_round(t, &r);
	for (uint32_t k = 0; k < r.n_removed; k++)
	{
		int			j = index_of(keys[k]);

		if (j >= 0)
			log->removal_at[j] = log->cut_step;
	}
	if (r.removals_lost)
		log->removals_lost_at = log->cut_step;
	for (int j = 0; j < CHANGE_KEYS; j++)
		if (log->v.times[j] > 0)
			log->shipped_at[j] = log->cut_step;
	EXPECT(log->v.bad == 0, "collected only real entries");
	ck_release_changes(t, env);
	log->cut = false;
}

/* One more step of shipping: a cut, or a piece of the round's collection. */
static void
ship_log_step(ShipLog *log, CuckooTable *t, const CoreEnv *env, uint64_t step)
{
	if (!log->cut)
	{
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		EXPECT(ck_cut_changes(t, env), "cut");
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		log->cut = true;
		log->cut_step = step;
		log->cursor = 0;
		memset(&log->v, 0, sizeof(log->v));
		return;
	}
	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	if (!ck_collect_changed(t, env, &log->cursor, 20, count_change, &log->v))
		ship_log_round_end(log, t, env);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
}

/*
 * No change is ever lost: random insertions, touches, deletions, expiry,
 * eviction at a memory cap and shrinking, interleaved with rounds cut and
 * collected in pieces.  At the end, every live key was visited by a round
 * cut after its last change, and every key gone was told removed by a
 * round after the last that visited it (or such a round said it lost
 * removals), as a replica applying the rounds in order needs.
 */
static void
test_changes_never_lost(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	static ShipLog log;
	uint64_t	step = 1;
	uint64_t	unshipped = 0;
	uint64_t	unremoved = 0;

	memset(&log, 0, sizeof(log));
	small_config(&c);
	/* Room for some 1,500 entries, so that inserts evict. */
	open_table(&h, &t, &c, 1500 * (sizeof(CuckooEntry) + VALUE_WORDS * sizeof(uint64_t)) + 64 * 1024);
	for (; step < 200000; step++)
	{
		uint64_t	x = ck_mix64(step);
		uint64_t	i = (x >> 8) % CHANGE_KEYS;
		uint32_t	op = x % 100;
		uint32_t	ref = 1;
		CuckooEntry *e;

		if (op < 40)
		{
			if (put(&t, &h.env, key_of(i), (uint32_t) step) == CK_INSERTED)
				log.changed_at[i] = step;
		}
		else if (op < 70)
		{
			if ((e = ck_find(&t, &h.env, key_of(i))) != NULL)
			{
				ck_touch(&t, &h.env, e, (uint32_t) step);
				log.changed_at[i] = step;
			}
		}
		else if (op < 77)
		{
			h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, true);
			if (op < 75)
				ck_delete(&t, &h.env, key_of(i));
			else if (op < 76)
				ck_shrink(&t, &h.env, ck_chunk_bytes(&t), 3);
			else
				ck_remove_range(&t, &h.env, ck_seen_before, &(uint32_t) {step > 3000 ? step - 3000 : 0},
								&ref, 50);
			h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
		}
		else if (op < 80 || log.cut)
			ship_log_step(&log, &t, &h.env, step);
	}
	/* The round under way, and one more for whatever changed during it. */
	for (int rounds = log.cut ? 2 : 1; rounds > 0; step++)
	{
		ship_log_step(&log, &t, &h.env, step);
		rounds -= !log.cut;
	}
	for (int j = 0; j < CHANGE_KEYS; j++)
	{
		if (ck_find(&t, &h.env, key_of(j)) != NULL)
			unshipped += log.shipped_at[j] == 0 || log.shipped_at[j] < log.changed_at[j];
		else if (log.shipped_at[j] > 0)
			unremoved += log.removal_at[j] <= log.shipped_at[j] &&
				log.removals_lost_at <= log.shipped_at[j];
	}
	CHECK(unshipped == 0, "%lu live keys' last changes never collected", (unsigned long) unshipped);
	CHECK(unremoved == 0, "%lu keys gone but not told removed", (unsigned long) unremoved);
	CHECK(t.evicted > 0 && t.relocations > t.evicted, "evictions (%lu) and moves happened",
		  (unsigned long) t.evicted);
	close_table(&h, &t);
}

/*
 * Lookups without the table lock answer as locked ones do once the view
 * holds the table's addresses, never with a wrong entry, and decline, for
 * the lock, once the table has freed anything (here the index it outgrew).
 */
static void
test_find_unlocked(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooTable shape;
	CuckooConfig c;
	CuckooEntry *e;
	const uint64_t n = 4000;
	uint64_t	answered = 0;
	uint64_t	wrong = 0;
	uint64_t	absent_answered = 0;
	uint64_t	batches_answered = 0;

	small_config(&c);
	heap_env_init(&h, CK_LOCK_STRIPE0 + c.n_stripes, 0);
	heap_env_use_view(&h);
	heap_env_allow_unlocked_reads(&h);
	CHECK(ck_init(&t, &h.env, &c), "init");
	for (uint64_t i = 0; i < n; i++)
		put(&t, &h.env, key_of(i), 1);
	/* Locked lookups fill the view. */
	for (uint64_t i = 0; i < n; i++)
		ck_find(&t, &h.env, key_of(i));
	shape = t;
	for (uint64_t i = 0; i < n; i++)
		if (ck_find_unlocked(&t, &shape, &h.env, &(uint64_t) {key_of(i)}, 1, &e))
		{
			answered++;
			wrong += e != ck_find(&t, &h.env, key_of(i));
		}
	for (uint64_t i = n; i < 2 * n; i++)
		if (ck_find_unlocked(&t, &shape, &h.env, &(uint64_t) {key_of(i)}, 1, &e))
		{
			absent_answered++;
			wrong += e != NULL;
		}
	/* Many keys in one call, present and absent mixed, as one at a time. */
	for (uint64_t first = n - 32; first < n + 32; first += 16)
	{
		uint64_t	keys[16];
		CuckooEntry *entries[16];

		for (int i = 0; i < 16; i++)
			keys[i] = key_of(first + i);
		if (ck_find_unlocked(&t, &shape, &h.env, keys, 16, entries))
		{
			batches_answered++;
			for (int i = 0; i < 16; i++)
				wrong += entries[i] != ck_find(&t, &h.env, keys[i]);
		}
	}
	CHECK(wrong == 0, "%lu unlocked lookups gave a wrong entry", (unsigned long) wrong);
	CHECK(batches_answered >= 3, "only %lu of 4 batches of keys answered without the lock",
		  (unsigned long) batches_answered);
	CHECK(answered >= n * 99 / 100, "only %lu of %lu present keys answered without the lock",
		  (unsigned long) answered, (unsigned long) n);
	CHECK(absent_answered >= n * 9 / 10, "only %lu of %lu absent keys answered without the lock",
		  (unsigned long) absent_answered, (unsigned long) n);

	/* Growing the index frees the old one: the view is stale until a locked lookup. */
	for (uint64_t i = n; i < 4 * n; i++)
		put(&t, &h.env, key_of(i), 1);
	CHECK(!ck_find_unlocked(&t, &shape, &h.env, &(uint64_t) {key_of(1)}, 1, &e), "answered from a stale view");
	ck_find(&t, &h.env, key_of(1));
	CHECK(ck_find_unlocked(&t, &shape, &h.env, &(uint64_t) {key_of(1)}, 1, &e) &&
		  e == ck_find(&t, &h.env, key_of(1)), "a refreshed view answers again");
	close_table(&h, &t);
}

typedef struct ThreadArg
{
	CuckooTable *t;
	const CoreEnv *env;
	uint64_t	first;
	uint64_t	count;
	uint64_t	lost;			/* keys not found right after insertion */
} ThreadArg;

static void *
insert_range(void *p)
{
	ThreadArg  *a = p;

	for (uint64_t i = a->first; i < a->first + a->count; i++)
	{
		bool		found;

		put(a->t, a->env, key_of(i), 1);
		/* Readers, taking no stripe lock, run beside the inserters. */
		a->env->lock(a->env->lock_ctx, CK_LOCK_TABLE, false);
		found = ck_find(a->t, a->env, key_of(i)) != NULL;
		a->env->unlock(a->env->lock_ctx, CK_LOCK_TABLE);
		if (!found)
			__atomic_add_fetch(&a->lost, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void
sum_keys(void *arg, const CuckooEntry *e)
{
	uint64_t   *acc = arg;

	acc[0]++;
	acc[1] ^= ck_mix64(e->key);
}

/* Four threads insert overlapping ranges: every key ends up present exactly once. */
static void
test_concurrent_inserts(void)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	pthread_t	threads[4];
	ThreadArg	args[4];
	const uint64_t per_thread = 60000;
	const uint64_t distinct = 3 * per_thread / 2 + per_thread;
	uint64_t	acc[2] = {0, 0};
	uint64_t	expect = 0;
	uint64_t	missing = 0;

	small_config(&c);
	open_table(&h, &t, &c, 0);
	for (int i = 0; i < 4; i++)
	{
		/* Ranges overlap by half with the next thread's. */
		args[i] = (ThreadArg) {&t, &h.env, (uint64_t) i * per_thread / 2, per_thread, 0};
		pthread_create(&threads[i], NULL, insert_range, &args[i]);
	}
	for (int i = 0; i < 4; i++)
	{
		pthread_join(threads[i], NULL);
		CHECK(args[i].lost == 0, "thread %d lost %lu keys", i, (unsigned long) args[i].lost);
	}

	CHECK(t.live == distinct, "live %lu, distinct %lu", (unsigned long) t.live, (unsigned long) distinct);
	ck_scan(&t, &h.env, sum_keys, acc);
	for (uint64_t i = 0; i < distinct; i++)
	{
		expect ^= ck_mix64(key_of(i));
		missing += ck_find(&t, &h.env, key_of(i)) == NULL;
	}
	CHECK(acc[0] == distinct && acc[1] == expect, "entries are exactly the distinct keys");
	CHECK(missing == 0, "%lu keys missing", (unsigned long) missing);
	close_table(&h, &t);
}

int
main(void)
{
	test_insert_lookup_and_growth();
	test_deep_splits();
	test_delete_during_growth();
	test_expire();
	test_random_against_reference();
	test_frequency_filter();
	test_probabilistic_filter();
	test_memory_cap_evicts_oldest();
	test_relocations_counted();
	test_shrink();
	test_shrink_in_pieces();
	test_shrink_piece_bounds();
	test_touch_and_scan();
	test_change_rounds();
	test_changes_never_lost();
	test_concurrent_inserts();
	test_find_unlocked();

	/*
	 * Growth, deletes, eviction and the randomized run again, with handles
	 * translated through a view: a stale cached address would show as a
	 * mismatch or, under AddressSanitizer, a use after free.
	 */
	use_view = true;
	test_insert_lookup_and_growth();
	test_delete_during_growth();
	test_random_against_reference();
	test_memory_cap_evicts_oldest();
	test_shrink();
	test_shrink_in_pieces();
	test_shrink_piece_bounds();
	test_changes_never_lost();
	return unit_finish("test_cuckoo");
}
