/*
 * fuzz_cuckoo.c
 *		libFuzzer target: sequences of table operations (insert, delete,
 *		find, find without the lock, expire, shrink), from the fuzzer's bytes,
 *		checked against a reference set after every one.
 *
 * The first byte picks the setting: a view or direct handles, a memory cap
 * or none, small segments or default ones.  Then each operation takes four
 * bytes: what, and a key number of a small space (so that keys come back).
 * A table may drop keys only where it says it did (evictions, expiry,
 * shrinking); it may never invent a key, give one two entries, or hand back
 * another key's value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cuckoo.h"
#include "heap_env.h"

#define KEYS 4096
#define VALUE_WORDS 3

/* Each entry's value is a function of its key, so a wrong entry shows. */
static void
value_init(const void *arg, uint64_t key, void *value)
{
	uint64_t   *v = value;

	for (int i = 0; i < VALUE_WORDS; i++)
		v[i] = key * 31 + (uint64_t) i;
}

static const CuckooValueInit init = {value_init, NULL};

static uint64_t
key_of(uint32_t i)
{
	/* Half spread out, half small integers, as feature keys of one slot are. */
	return (i & 1) ? ck_mix64(i) : i / 2 + 1;
}

static void
fail(const char *what, uint32_t i)
{
	fprintf(stderr, "fuzz_cuckoo: %s (key number %u)\n", what, i);
	abort();
}

static void
check_entry(const CuckooEntry *e, uint64_t key, uint32_t i)
{
	const uint64_t *v = CK_VALUE(e);

	if (e->key != key)
		fail("an entry of another key", i);
	for (int w = 0; w < VALUE_WORDS; w++)
		if (v[w] != key * 31 + (uint64_t) w)
			fail("a value not the key's", i);
}

/* What the reference says of every key: in the table, or maybe dropped. */
static uint8_t present[KEYS];
static uint32_t seen_at[KEYS];

/* Counts entries a scan visits, and checks each is a key the reference has. */
static void
count_visit(void *arg, const CuckooEntry *e)
{
	(*(uint64_t *) arg)++;
	(void) e;
}

/* Brings the reference up to a table that may have dropped keys, and checks it. */
static void
reconcile(CuckooTable *t, const CoreEnv *env, bool may_drop)
{
	uint64_t	live = 0;
	uint64_t	scanned = 0;

	env->lock(env->lock_ctx, CK_LOCK_TABLE, false);
	for (uint32_t i = 0; i < KEYS; i++)
	{
		CuckooEntry *e = ck_find(t, env, key_of(i));

		if (e != NULL)
		{
			if (!present[i])
				fail("a key the table should not have", i);
			check_entry(e, key_of(i), i);
			live++;
		}
		else if (present[i])
		{
			if (!may_drop)
				fail("a key lost", i);
			present[i] = 0;
		}
	}
	ck_scan(t, env, count_visit, &scanned);
	env->unlock(env->lock_ctx, CK_LOCK_TABLE);
	if (live != t->live || scanned != t->live)
		fail("live count off", (uint32_t) live);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	HeapEnv		h;
	CuckooTable t;
	CuckooConfig c;
	bool		view,
				capped;
	uint64_t	dropped;

	if (size < 1)
		return 0;
	view = data[0] & 1;
	capped = data[0] & 2;
	ck_default_config(&c, VALUE_WORDS * sizeof(uint64_t));
	c.n_stripes = 4;
	c.segment_log2 = (data[0] & 4) ? 1 : 6;
	c.chunk_log2 = (data[0] & 8) ? 2 : 6;
	heap_env_init(&h, CK_LOCK_STRIPE0 + c.n_stripes, capped ? 48 * 1024 : 0);
	if (view)
	{
		heap_env_use_view(&h);
		heap_env_allow_unlocked_reads(&h);
	}
	if (!ck_init(&t, &h.env, &c))
	{
		heap_env_free(&h);
		return 0;
	}
	memset(present, 0, sizeof(present));
	memset(seen_at, 0, sizeof(seen_at));
	dropped = 0;

	for (size_t at = 1; at + 4 <= size; at += 4)
	{
		uint8_t		op = data[at] % 8;
		uint32_t	i = (uint32_t) (data[at + 1] | data[at + 2] << 8) % KEYS;
		uint32_t	now = data[at + 3];
		uint64_t	key = key_of(i);
		CuckooEntry *e = NULL;
		CuckooResult r;

		switch (op)
		{
			case 0:
			case 1:
			case 2:				/* insert, as a training step does */
				h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, false);
				r = ck_find_or_admit(&t, &h.env, key, now, &init, &e);
				h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
				if (r == CK_NEED_EXCLUSIVE)
				{
					h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, true);
					r = ck_insert_exclusive(&t, &h.env, key, now, &init, &e);
					if (r == CK_INSERTED || r == CK_FOUND)
						check_entry(e, key, i);
					h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
				}
				if (r == CK_FOUND && !present[i])
					fail("found a key never inserted", i);
				if (r == CK_INSERTED)
				{
					present[i] = 1;
					seen_at[i] = now;
				}
				break;
			case 3:				/* delete */
				h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, true);
				if (ck_delete(&t, &h.env, key) != (present[i] != 0))
					fail("delete disagrees", i);
				h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
				present[i] = 0;
				break;
			case 4:				/* find, under the lock and without it */
				{
					uint64_t	token;
					CuckooEntry *unlocked = NULL;
					bool		answered;

					h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, false);
					e = ck_find(&t, &h.env, key);
					h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
					if (e != NULL && !present[i])
						fail("found a key not in the reference", i);
					if (e != NULL)
						check_entry(e, key, i);
					if (view && h.env.read_begin(h.env.lock_ctx, &token))
					{
						answered = ck_find_unlocked(&t, &t, &h.env, &key, 1, &unlocked);
						if (answered && h.env.read_end(h.env.lock_ctx, token) && unlocked != e)
							fail("an unlocked lookup disagrees", i);
					}
				}
				break;
			case 5:				/* expire what was last seen before now */
				{
					uint32_t	ref = 1;

					h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, true);
					while (ref != 0)
						ck_remove_range(&t, &h.env, ck_seen_before, &now, &ref, 1 + data[at + 1] % 64);
					h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
					for (uint32_t k = 0; k < KEYS; k++)
						if (present[k] && seen_at[k] < now)
							present[k] = 0;
					reconcile(&t, &h.env, t.evicted != dropped);
				}
				break;
			case 6:				/* shrink by a piece */
				h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, true);
				ck_shrink(&t, &h.env, (uint64_t) data[at + 1] * 512, 1 + data[at + 2] % 64);
				h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
				reconcile(&t, &h.env, true);
				break;
			case 7:				/* take memory ahead, as trainers do */
				h.env.lock(h.env.lock_ctx, CK_LOCK_TABLE, false);
				ck_prepare_growth(&t, &h.env);
				h.env.unlock(h.env.lock_ctx, CK_LOCK_TABLE);
				break;
		}
		if (t.evicted != dropped)
		{
			reconcile(&t, &h.env, true);
			dropped = t.evicted;
		}
	}
	reconcile(&t, &h.env, false);
	ck_destroy(&t, &h.env);
	if (h.used != 0)
		fail("memory left after destroy", (uint32_t) h.used);
	heap_env_free(&h);
	return 0;
}
