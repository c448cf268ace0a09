/*
 * cuckoo.c
 *		Collisionless embedding table; layout and locking rules in cuckoo.h.
 */
#include "cuckoo.h"

#include <string.h>

#include "sketch.h"

/* Address arithmetic on every lookup's path: never a call. */
#define CK_HOT static inline __attribute__((always_inline))

/* Breadth-first search for a free slot visits at most this many buckets. */
#define CK_BFS_MAX_NODES 512
#define CK_BFS_MAX_DEPTH 5
/* A segment this full splits rather than search a cuckoo path (segment_crowded). */
#define CK_SPLIT_LOAD_NUMERATOR 3
#define CK_SPLIT_LOAD_DENOMINATOR 4
/* Buckets whose load stands for their segment's (a power of 2). */
#define CK_CROWD_WINDOW 128
/* Least-recently-seen eviction compares this many candidate entries... */
#define CK_EVICT_SAMPLE 8
/* ... whose buckets' entries it asks for this many buckets ahead... */
#define CK_SAMPLE_AHEAD 2
/* ... and, giving a chunk back, from no more than this many buckets. */
#define CK_EVICT_SCAN 64
/* The sketch halves after this many sightings per counter of a row. */
#define CK_SKETCH_AGING 8

typedef struct CuckooBucket
{
	uint16_t	tag[CK_SLOTS];
	uint16_t	split[CK_SLOTS];	/* hash bits 16 to 31: what a split reads */
	uint32_t	ref[CK_SLOTS];
} CuckooBucket;

/* Defaults that suit an embedding table of value_size bytes an entry. */
void
ck_default_config(CuckooConfig *config, uint32_t value_size)
{
	memset(config, 0, sizeof(*config));
	config->value_size = value_size;
	config->n_stripes = 64;
	config->segment_log2 = CK_SEGMENT_MAX_LOG2;
	config->chunk_log2 = CK_CHUNK_LOG2_DEFAULT;
	config->admission.min_count = 1;
	config->admission.probability = 1.0;
	config->admission.seed = 0;
	config->admission.sketch_width_log2 = 16;
}

static inline uint16_t
key_tag(uint64_t hash)
{
	return (uint16_t) (hash >> 48);
}

/* The first 16 of a hash's directory bits, kept in its slot for splits. */
static inline uint16_t
key_split_bits(uint64_t hash)
{
	return (uint16_t) (hash >> 16);
}

/* Bucket numbers of an index of 2^bucket_log2 buckets, as a mask. */
static inline uint64_t
bucket_mask(uint32_t bucket_log2)
{
	return ((uint64_t) 1 << bucket_log2) - 1;
}

/* The other bucket a key may live in; alt_bucket(alt_bucket(b)) == b. */
static inline uint64_t
alt_bucket(uint64_t bucket, uint16_t tag, uint64_t mask)
{
	return (bucket ^ (((uint64_t) tag + 1) * 0xc6a4a7935bd1e995ull)) & mask;
}

/* A key's hash and tag, the directory slot of its segment, and its two buckets there. */
typedef struct KeyPlace
{
	uint64_t	hash;
	uint16_t	tag;
	uint16_t	split;			/* its key_split_bits */
	uint32_t	slot;
	uint64_t	b1;				/* its primary bucket */
	uint64_t	b2;				/* and its alternate */
} KeyPlace;

/* The directory slot of a hash: bits 16 and up, apart from bucket and tag. */
static inline uint32_t
directory_slot(uint64_t hash, uint32_t dir_log2)
{
	return (uint32_t) ((hash >> 16) & (((uint64_t) 1 << dir_log2) - 1));
}

/* Where a key sits, in a directory of 2^dir_log2 slots and segments of 2^segment_log2 buckets. */
static inline KeyPlace
key_place(uint64_t key, uint32_t dir_log2, uint32_t segment_log2)
{
	KeyPlace	p;

	p.hash = ck_mix64(key);
	p.tag = key_tag(p.hash);
	p.split = key_split_bits(p.hash);
	p.slot = directory_slot(p.hash, dir_log2);
	p.b1 = p.hash & bucket_mask(segment_log2);
	p.b2 = alt_bucket(p.b1, p.tag, bucket_mask(segment_log2));
	return p;
}

/* Where a key sits in table t. */
static inline KeyPlace
table_place(const CuckooTable *t, uint64_t key)
{
	return key_place(key, t->dir_log2, t->config.segment_log2);
}

/* A segment as one lookup uses it: its buckets' address and its number. */
typedef struct SegmentRef
{
	CuckooBucket *buckets;
	uint32_t	number;
} SegmentRef;

/* The buckets of a table's segments, as a mask. */
static inline uint64_t
segment_mask(const CuckooTable *t)
{
	return bucket_mask(t->config.segment_log2);
}

/* Forgets every address a view holds; for a view about to serve another table. */
void
ck_view_reset(CuckooView *view)
{
	memset(view, 0, sizeof(*view));
}

/*
 * The env's view of t, emptied if t has freed anything since it was filled:
 * a freed handle's value may come back naming other memory, even a segment
 * mapped elsewhere.
 */
CK_HOT CuckooView *
view_of(const CuckooTable *t, const CoreEnv *env)
{
	CuckooView *v = env->view;

	if (env->direct || v == NULL)
		return NULL;
	if (v->frees != t->frees || v->directory != t->directory)
	{
		ck_view_reset(v);
		v->frees = t->frees;
		v->directory = t->directory;
		v->dir_log2 = t->dir_log2;
	}
	return v;
}

static inline const CuckooSegment *
segment_record(const CuckooTable *t, const CoreEnv *env, uint32_t number)
{
	return (const CuckooSegment *) env_address(env, t->segments) + number;
}

/* The segment of a directory slot, through view v (from view_of) where there is one. */
CK_HOT SegmentRef
segment_of(const CuckooTable *t, const CoreEnv *env, CuckooView *v, uint32_t slot)
{
	bool		cacheable = v != NULL && slot < CK_VIEW_SLOTS;
	SegmentRef	ref;

	if (cacheable && v->slot_buckets[slot] != NULL)
		return (SegmentRef) {v->slot_buckets[slot], v->slot_segment[slot]};
	ref.number = ((const uint32_t *) env_address(env, t->directory))[slot];
	ref.buckets = env_address(env, segment_record(t, env, ref.number)->buckets);
	if (cacheable)
	{
		v->slot_buckets[slot] = ref.buckets;
		v->slot_segment[slot] = ref.number;
	}
	return ref;
}

/* Arena chunk c's address as view v holds it; NULL if it holds none. */
CK_HOT char *
chunk_cached(const CuckooView *v, uint32_t c)
{
	return c < CK_VIEW_CHUNKS ? v->chunks[c] : NULL;
}

/* Address of arena chunk c, through view v (from view_of) where there is one. */
CK_HOT char *
chunk_at(const CuckooTable *t, const CoreEnv *env, CuckooView *v, uint32_t c)
{
	char	   *chunk = v == NULL ? NULL : chunk_cached(v, c);

	if (chunk != NULL)
		return chunk;
	chunk = env_address(env, ((const MemHandle *) env_address(env, t->chunk_dir))[c]);
	if (v != NULL && c < CK_VIEW_CHUNKS)
		v->chunks[c] = chunk;
	return chunk;
}

/* Address of the entry named by a 1-based reference, through view v. */
CK_HOT CuckooEntry *
entry_in_view(const CuckooTable *t, const CoreEnv *env, CuckooView *v, uint32_t ref)
{
	uint32_t	i = ref - 1;
	char	   *chunk = chunk_at(t, env, v, i >> t->config.chunk_log2);

	return (CuckooEntry *) (chunk + (size_t) (i & ((1u << t->config.chunk_log2) - 1)) * t->entry_size);
}

/* Address of the entry named by a 1-based reference. */
CK_HOT CuckooEntry *
entry_at(const CuckooTable *t, const CoreEnv *env, uint32_t ref)
{
	return entry_in_view(t, env, view_of(t, env), ref);
}

static inline uint32_t
slot_ref(const CuckooBucket *b, int slot)
{
	return __atomic_load_n(&b->ref[slot], __ATOMIC_ACQUIRE);
}

/*
 * Empties a slot, its tag too, so that no lookup takes it for a candidate;
 * table lock exclusive, so no lookup reads it meanwhile.
 */
static inline void
slot_clear(CuckooBucket *b, int slot)
{
	__atomic_store_n(&b->ref[slot], 0, __ATOMIC_RELEASE);
	b->tag[slot] = 0;
}

/* Publishes a filled entry in an empty slot: tag and split bits first, reference last. */
static inline void
slot_set(CuckooBucket *b, int slot, uint16_t tag, uint16_t split, uint32_t ref)
{
	__atomic_store_n(&b->tag[slot], tag, __ATOMIC_RELAXED);
	b->split[slot] = split;		/* read only under the exclusive lock */
	__atomic_store_n(&b->ref[slot], ref, __ATOMIC_RELEASE);
}

static MemHandle
table_alloc(CuckooTable *t, const CoreEnv *env, size_t size)
{
	MemHandle	h = env->alloc(env->mem_ctx, size);

	if (h != 0)
		__atomic_add_fetch(&t->bytes, size, __ATOMIC_RELAXED);
	return h;
}

static void
table_free(CuckooTable *t, const CoreEnv *env, MemHandle h, size_t size)
{
	if (h == 0)
		return;
	env->free(env->mem_ctx, h, size);
	__atomic_sub_fetch(&t->bytes, size, __ATOMIC_RELAXED);
	t->frees++;
}

/* A spare taken ahead, now the caller's; 0 if there is none. */
static MemHandle
take_spare(MemHandle *spare)
{
	return __atomic_exchange_n(spare, 0, __ATOMIC_ACQ_REL);
}

static size_t
index_bytes(uint32_t bucket_log2)
{
	return ((size_t) 1 << bucket_log2) * sizeof(CuckooBucket);
}

/* Bytes of one segment of the table's index. */
static size_t
segment_bytes(const CuckooTable *t)
{
	return index_bytes(t->config.segment_log2);
}

static size_t
chunk_bytes(const CuckooTable *t)
{
	return ((size_t) 1 << t->config.chunk_log2) * t->entry_size;
}

/* Segment records made room for at a time. */
#define CK_SEGMENTS_FIRST 4
#define CK_CHUNK_DIR_FIRST 16

static uint32_t
entry_size_of(const CuckooConfig *config)
{
	return (uint32_t) ((sizeof(CuckooEntry) + config->value_size + 7) & ~(size_t) 7);
}

/*
 * The memory a table of this configuration takes to hold its first entry:
 * what ck_init allocates, and one chunk of the arena.
 */
uint64_t
ck_min_bytes(const CuckooConfig *config)
{
	return sizeof(uint32_t) + CK_SEGMENTS_FIRST * sizeof(CuckooSegment) +
		index_bytes(config->segment_log2) + CK_CHUNK_DIR_FIRST * sizeof(MemHandle) +
		(config->admission.min_count > 1 ? sketch_bytes(config->admission.sketch_width_log2) : 0) +
		((uint64_t) entry_size_of(config) << config->chunk_log2);
}

/* Sets up an empty table, one segment; false when the memory cap leaves no room. */
bool
ck_init(CuckooTable *t, const CoreEnv *env, const CuckooConfig *config)
{
	MemHandle	buckets;

	memset(t, 0, sizeof(*t));
	t->config = *config;
	if (t->config.segment_log2 < 1 || t->config.segment_log2 > CK_SEGMENT_MAX_LOG2)
		t->config.segment_log2 = CK_SEGMENT_MAX_LOG2;
	t->entry_size = entry_size_of(config);
	t->next_fresh = 1;
	t->round = 1;

	t->directory = table_alloc(t, env, sizeof(uint32_t));
	t->segments_cap = CK_SEGMENTS_FIRST;
	t->segments = table_alloc(t, env, t->segments_cap * sizeof(CuckooSegment));
	buckets = table_alloc(t, env, segment_bytes(t));
	t->chunk_dir_cap = CK_CHUNK_DIR_FIRST;
	t->chunk_dir = table_alloc(t, env, t->chunk_dir_cap * sizeof(MemHandle));
	if (config->admission.min_count > 1)
		t->sketch = table_alloc(t, env, sketch_bytes(config->admission.sketch_width_log2));
	if (t->directory == 0 || t->segments == 0 || buckets == 0 || t->chunk_dir == 0 ||
		(config->admission.min_count > 1 && t->sketch == 0))
	{
		table_free(t, env, buckets, segment_bytes(t));
		ck_destroy(t, env);
		return false;
	}
	/* The directory's one slot names segment 0 (memory comes zeroed). */
	*(CuckooSegment *) env_address(env, t->segments) = (CuckooSegment) {buckets, 0};
	t->n_segments = 1;
	return true;
}

/*
 * Frees the logs of changes that hold no note and no round cut is using
 * (under memory pressure: ck_shrink); one that the round under way then
 * needs overflows at once, and the round is scanned.  Logs grow back when
 * their rounds are released.  Table lock exclusive.
 */
static void
free_idle_log(CuckooTable *t, const CoreEnv *env)
{
	for (int i = 0; i < 2; i++)
	{
		CuckooChanges *c = &t->changes[i];

		if ((t->cutting && i == (int) (t->cut & 1)) || c->changed_n != 0)
			continue;
		table_free(t, env, c->changed, (size_t) c->changed_room * sizeof(uint32_t));
		c->changed = 0;
		c->changed_room = 0;
	}
}

/* Frees the memory taken ahead for growth (see ck_prepare_growth). */
static void
free_spares(CuckooTable *t, const CoreEnv *env)
{
	table_free(t, env, take_spare(&t->spare_chunk), chunk_bytes(t));
	for (int i = 0; i < 2; i++)
		table_free(t, env, take_spare(&t->spare_buckets[i]), segment_bytes(t));
	table_free(t, env, take_spare(&t->spare_directory), 2 * (sizeof(uint32_t) << t->dir_log2));
	table_free(t, env, take_spare(&t->spare_segments), 2 * t->segments_cap * sizeof(CuckooSegment));
}

/* Frees everything the table allocated. */
void
ck_destroy(CuckooTable *t, const CoreEnv *env)
{
	if (t->chunk_dir != 0)
	{
		MemHandle  *dir = env_address(env, t->chunk_dir);

		for (uint32_t c = 0; c < t->n_chunks; c++)
			table_free(t, env, dir[c], chunk_bytes(t));
	}
	for (uint32_t n = 0; n < t->n_segments; n++)
		table_free(t, env, segment_record(t, env, n)->buckets, segment_bytes(t));
	table_free(t, env, t->segments, t->segments_cap * sizeof(CuckooSegment));
	table_free(t, env, t->directory, ((size_t) sizeof(uint32_t)) << t->dir_log2);
	free_spares(t, env);
	table_free(t, env, t->chunk_dir, t->chunk_dir_cap * sizeof(MemHandle));
	table_free(t, env, t->sketch, sketch_bytes(t->config.admission.sketch_width_log2));
	for (int i = 0; i < 2; i++)
	{
		table_free(t, env, t->changes[i].changed, t->changes[i].changed_room * sizeof(uint32_t));
		table_free(t, env, t->changes[i].removed, t->changes[i].removed_room * sizeof(uint64_t));
	}
	memset(t->changes, 0, sizeof(t->changes));
	t->directory = t->segments = t->chunk_dir = t->sketch = 0;
	t->n_segments = t->n_chunks = 0;
	t->live = 0;
}

/* Slots of the index, all segments'. */
uint64_t
ck_index_slots(const CuckooTable *t)
{
	return ((uint64_t) t->n_segments * CK_SLOTS) << t->config.segment_log2;
}

/*
 * The entry of a reference, with the cache lines past its first asked for
 * now: a caller that finds its key goes on to read the value, and the lines
 * then arrive together instead of one miss after another.
 */
CK_HOT CuckooEntry *
entry_fetch(const CuckooTable *t, const CoreEnv *env, CuckooView *v, uint32_t ref)
{
	CuckooEntry *e = entry_in_view(t, env, v, ref);

	for (uint32_t off = 64; off < t->entry_size; off += 64)
		__builtin_prefetch((const char *) e + off);
	return e;
}

/*
 * The slots of b whose tag equals tag, as the top bit of each matching slot's
 * 16-bit lane: all four compared at once in one word, instead of a branch per
 * slot that the processor cannot predict.  The tags are read without
 * atomics: a torn read costs at most a wrong candidate, and every candidate
 * is checked against the entry's full key.
 */
CK_HOT uint64_t
tag_matches(const CuckooBucket *b, uint16_t tag)
{
	const uint64_t lanes = 0x0001000100010001ull;
	uint64_t	word;

	memcpy(&word, b->tag, sizeof(word));
	word ^= tag * lanes;		/* a matching lane is now zero */
	/* Exact zero-lane test: no carry crosses lanes, so no false matches. */
	return ~(((word & ~(0x8000 * lanes)) + (0x7fff * lanes)) | word) & (0x8000 * lanes);
}

/* Slot of key in bucket b, or -1; sets *entry to its entry when found. */
CK_HOT int
bucket_find(const CuckooTable *t, const CoreEnv *env, CuckooView *v,
			const CuckooBucket *b, uint16_t tag, uint64_t key, CuckooEntry **entry)
{
	for (uint64_t matches = tag_matches(b, tag); matches != 0; matches &= matches - 1)
	{
		int			s = __builtin_ctzll(matches) / 16;
		uint32_t	ref = slot_ref(b, s);

		if (ref != 0)
		{
			CuckooEntry *e = entry_fetch(t, env, v, ref);

			if (e->key == key)
			{
				*entry = e;
				return s;
			}
		}
	}
	return -1;
}

static inline int
bucket_free_slot(const CuckooBucket *b)
{
	for (int s = 0; s < CK_SLOTS; s++)
		if (b->ref[s] == 0)
			return s;
	return -1;
}

/*
 * The reference in the slot of a key's two buckets most likely to hold it:
 * the first slot with the key's tag, in the first bucket that has one, or 0
 * if that slot is empty.  False when neither bucket has the key's tag, so
 * that the key is surely absent.  Usually only one slot has the tag, in
 * either bucket alike, so a branch on which would be mispredicted half the
 * time: both buckets' candidates are read, and one kept by a conditional
 * move.
 */
CK_HOT bool
likely_ref(const CuckooBucket *buckets, uint64_t b1, uint64_t b2, uint16_t tag, uint32_t *ref)
{
	/* A bucket with no match names its last slot: a harmless read. */
	const uint64_t last_slot = (uint64_t) 1 << (16 * CK_SLOTS - 1);
	uint64_t	m1;
	uint64_t	m2;
	uint32_t	ref1;
	uint32_t	ref2;

	/* Both buckets are known from the hash: fetch them together. */
	__builtin_prefetch(&buckets[b2]);
	m1 = tag_matches(&buckets[b1], tag);
	m2 = tag_matches(&buckets[b2], tag);
	if (m1 == 0 && m2 == 0)
		return false;
	ref1 = slot_ref(&buckets[b1], __builtin_ctzll(m1 | last_slot) / 16);
	ref2 = slot_ref(&buckets[b2], __builtin_ctzll(m2 | last_slot) / 16);
	*ref = m1 != 0 ? ref1 : ref2;
	return true;
}

/* Finds a key's entry in its segment s; NULL when absent. */
CK_HOT CuckooEntry *
segment_find(const CuckooTable *t, const CoreEnv *env, CuckooView *v, SegmentRef s,
			 KeyPlace p, uint64_t key)
{
	uint32_t	ref;
	CuckooEntry *e;

	if (!likely_ref(s.buckets, p.b1, p.b2, p.tag, &ref))
		return NULL;
	if (ref != 0 && (e = entry_fetch(t, env, v, ref))->key == key)
		return e;
	/* A tag shared by chance: check every candidate. */
	if (bucket_find(t, env, v, &s.buckets[p.b1], p.tag, key, &e) >= 0 ||
		bucket_find(t, env, v, &s.buckets[p.b2], p.tag, key, &e) >= 0)
		return e;
	return NULL;
}

/* Finds a key's entry; NULL when absent. */
CuckooEntry *
ck_find(const CuckooTable *t, const CoreEnv *env, uint64_t key)
{
	KeyPlace	p = table_place(t, key);
	CuckooView *v = view_of(t, env);

	return segment_find(t, env, v, segment_of(t, env, v, p.slot), p, key);
}

/*
 * Starts bringing a key's two buckets into the cache, for a lookup or an
 * insert of it soon after, so that a run of them overlaps its cache
 * misses; under the lock that the lookup needs.
 */
void
ck_prefetch(const CuckooTable *t, const CoreEnv *env, uint64_t key)
{
	KeyPlace	p = table_place(t, key);
	SegmentRef	s = segment_of(t, env, view_of(t, env), p.slot);

	__builtin_prefetch(&s.buckets[p.b1]);
	__builtin_prefetch(&s.buckets[p.b2]);
}

/*
 * Finds n keys' entries without the table lock, between the env's read_begin
 * and read_end, through this process's view alone; NULL for an absent key.
 * False when the view cannot tell (an address not cached yet, or a table
 * changed since it was cached), and the lookups must be made under the lock.
 * t is the table in shared memory, read without the lock: a writer may free
 * what it names meanwhile, and the memory is then still readable but may
 * hold anything.  So every size and address comes from shape, a copy of t
 * taken while t was known to exist, and from the view, and the entries found
 * mean something only if read_end then confirms that no writer came.  Many
 * keys a call: the view is checked once, and the lookups are inline, one
 * after another, so their cache misses overlap.  On false, entries[] holds
 * some keys' answers and not others'.
 */
/*
 * One key of ck_find_unlocked, in the segment at buckets (NULL: not cached);
 * false when the view cannot tell.
 */
CK_HOT bool
find_one_unlocked(const CuckooTable *shape, const CoreEnv *env, CuckooView *v,
				  const CuckooBucket *buckets, KeyPlace p, uint64_t key, CuckooEntry **entry)
{
	uint32_t	ref;
	CuckooEntry *e;

	if (buckets == NULL)
		return false;
	if (!likely_ref(buckets, p.b1, p.b2, p.tag, &ref))
	{
		*entry = NULL;
		return true;
	}
	/* Only the likely candidate, and only at an address cached: any doubt goes to the lock. */
	if (ref == 0 || chunk_cached(v, (ref - 1) >> shape->config.chunk_log2) == NULL)
		return false;
	e = entry_fetch(shape, env, v, ref);
	if (__atomic_load_n(&e->key, __ATOMIC_RELAXED) != key)
		return false;
	*entry = e;
	return true;
}

bool
ck_find_unlocked(const CuckooTable *t, const CuckooTable *shape, const CoreEnv *env,
				 const uint64_t *keys, uint32_t n, CuckooEntry **entries)
{
	CuckooView *v = env->view;
	uint32_t	dir_log2;

	if (v == NULL || v->directory == 0 ||
		__atomic_load_n(&t->frees, __ATOMIC_RELAXED) != v->frees ||
		__atomic_load_n(&t->directory, __ATOMIC_RELAXED) != v->directory ||
		(dir_log2 = v->dir_log2) > CK_VIEW_SLOTS_LOG2)
		return false;
	/* One segment, as in every table of fewer than some 8,000 IDs: no directory load. */
	if (dir_log2 == 0)
	{
		for (uint32_t i = 0; i < n; i++)
			if (!find_one_unlocked(shape, env, v, v->slot_buckets[0],
								   key_place(keys[i], 0, shape->config.segment_log2),
								   keys[i], &entries[i]))
				return false;
		return true;
	}
	for (uint32_t i = 0; i < n; i++)
	{
		KeyPlace	p = key_place(keys[i], dir_log2, shape->config.segment_log2);

		if (!find_one_unlocked(shape, env, v, v->slot_buckets[p.slot], p, keys[i], &entries[i]))
			return false;
	}
	return true;
}

/*
 * Changes.  What the sync ships each round is the entries that changed
 * since the round it collected last, and the keys removed.  Every entry
 * carries the round it last changed in, and its first change in a round
 * notes its reference in that round's log, so that collecting costs what
 * changed, not the table.  A round is cut under the exclusive lock, an O(1)
 * step after which the next round's log takes the notes, then collected
 * under the shared lock, in pieces, while training goes on in the next
 * round; values written before the cut are seen by the collection through
 * the lock, and any written after it are the next round's.  The entry's
 * round is the truth: a noted reference whose entry changed again since (or
 * moved, which notes it anew, or was removed) is passed over, as a later
 * round has it.  A log that overflows loses nothing: its round is collected
 * by a scan of the arena for the entries whose round it is.  Removals are noted under the exclusive lock, and a
 * log of them that overflows says so (removals_lost), for the caller to make
 * up for.  Two trainers may note one entry at once, so a collection may
 * visit an entry twice, never no time.  Logs grow when they are released,
 * the changed one only for the round released, which nobody notes in.
 * Rounds wrap after 2^32 (13 years of a round every 100 ms), where the cut
 * stamps every entry with the round cut, so that no entry's round can be
 * taken for a later one's.  One collector at a
 * time (the caller's rule): cut, collect, release, then the next cut.
 */

/* Logs start this big, in references or keys, and grow to the most a round needed. */
#define CK_CHANGED_LEAST 1024
#define CK_CHANGED_MOST (1u << 22)
#define CK_REMOVED_LEAST 256
#define CK_REMOVED_MOST (1u << 20)

/* Notes that entry ref changed in the current round; the table lock held. */
static void
note_changed(CuckooTable *t, const CoreEnv *env, uint32_t ref)
{
	CuckooChanges *c = &t->changes[t->round & 1];
	uint32_t	i;

	/* Once a log has overflowed, its round is scanned: no more counting. */
	if (__atomic_load_n(&c->changed_n, __ATOMIC_RELAXED) > c->changed_room)
		return;
	i = __atomic_fetch_add(&c->changed_n, 1, __ATOMIC_RELAXED);
	if (i < c->changed_room)
		((uint32_t *) env_address(env, c->changed))[i] = ref;
}

/* Notes a key removed in the current round; table lock exclusive. */
static void
note_removed(CuckooTable *t, const CoreEnv *env, uint64_t key)
{
	CuckooChanges *c = &t->changes[t->round & 1];

	if (c->removed_n < c->removed_room)
		((uint64_t *) env_address(env, c->removed))[c->removed_n] = key;
	if (c->removed_n <= c->removed_room)
		c->removed_n++;
}

/*
 * Notes that an arena entry changed, unless it has in this round already or
 * is a caller's copy (whose changes reach the entry later, noted then).
 */
void
ck_note_change(CuckooTable *t, const CoreEnv *env, CuckooEntry *entry)
{
	if (entry->ref == 0 || __atomic_load_n(&entry->round, __ATOMIC_RELAXED) == t->round)
		return;
	__atomic_store_n(&entry->round, t->round, __ATOMIC_RELAXED);
	note_changed(t, env, entry->ref);
}

/* Records a sighting of an entry, which a training step changed: fresh, counted, due for sync. */
void
ck_touch(CuckooTable *t, const CoreEnv *env, CuckooEntry *entry, uint32_t now)
{
	uint32_t	meta = __atomic_load_n(&entry->meta, __ATOMIC_RELAXED);
	uint32_t	count = meta & CK_META_COUNT;

	if (count < CK_META_COUNT)
		count++;
	__atomic_store_n(&entry->last_seen, now, __ATOMIC_RELAXED);
	__atomic_store_n(&entry->meta, (meta & CK_META_LIVE) | count, __ATOMIC_RELAXED);
	ck_note_change(t, env, entry);
}

/* Whether this sighting of an unknown key earns it an entry. */
static bool
admission_passes(CuckooTable *t, const CoreEnv *env, uint64_t hash)
{
	const CuckooAdmission *adm = &t->config.admission;

	if (adm->min_count > 1)
	{
		uint16_t   *counters = env_address(env, t->sketch);
		uint64_t	n = __atomic_add_fetch(&t->sketch_increments, 1, __ATOMIC_RELAXED);

		if (n % ((uint64_t) CK_SKETCH_AGING << adm->sketch_width_log2) == 0)
			sketch_halve(counters, adm->sketch_width_log2);
		if (sketch_add(counters, adm->sketch_width_log2, hash) < adm->min_count)
			return false;
	}
	if (adm->probability < 1.0)
	{
		uint64_t	draw = __atomic_fetch_add(&t->admission_draws, 1, __ATOMIC_RELAXED);
		double		u = (double) (ck_mix64(adm->seed ^ ck_mix64(draw)) >> 11) * 0x1.0p-53;

		if (u >= adm->probability)
			return false;
	}
	return true;
}

/*
 * Fills a freshly allocated entry, not yet visible to anyone.  It is marked
 * live only once it has a slot, so that an index rebuild meanwhile skips it.
 */
static void
entry_fill(CuckooTable *t, const CoreEnv *env, CuckooEntry *e, uint32_t ref, uint64_t key,
		   uint32_t now, const CuckooValueInit *init)
{
	e->key = key;
	e->last_seen = now;
	e->meta = 1;
	e->ref = ref;
	e->round = t->round;
	memset(CK_VALUE(e), 0, t->entry_size - sizeof(CuckooEntry));
	if (init != NULL && init->fn != NULL)
		init->fn(init->arg, key, CK_VALUE(e));
	note_changed(t, env, ref);
}

/*
 * The free list is doubly linked through free entries, the next reference
 * in key and the previous in last_seen, so that giving a chunk back can take
 * its free entries off the list wherever they are on it.
 */

/* The first reference of the arena's last chunk. */
static inline uint32_t
last_chunk_first(const CuckooTable *t)
{
	return ((t->n_chunks - 1) << t->config.chunk_log2) + 1;
}

/* The end of the references of the last chunk ever taken. */
static inline uint32_t
last_chunk_end(const CuckooTable *t)
{
	uint32_t	end = last_chunk_first(t) + (1u << t->config.chunk_log2);

	return t->next_fresh < end ? t->next_fresh : end;
}

/* Whether a free entry stays off the free list: one of a chunk being given back. */
static inline bool
kept_off_list(const CuckooTable *t, uint32_t ref)
{
	return t->giving_back && ref >= last_chunk_first(t);
}

/* Pops a reference from the free list; 0 if it is empty. */
static uint32_t
arena_pop(CuckooTable *t, const CoreEnv *env)
{
	uint32_t	ref = t->free_head;
	uint32_t	next;

	if (ref == 0)
		return 0;
	next = (uint32_t) entry_at(t, env, ref)->key;
	t->free_head = next;
	if (next != 0)
		entry_at(t, env, next)->last_seen = 0;
	return ref;
}

/*
 * A reference from the free list or else the last chunk's unused ones,
 * unless that chunk is being given back; 0 if none.
 */
static uint32_t
arena_take(CuckooTable *t, const CoreEnv *env)
{
	uint32_t	ref = arena_pop(t, env);

	if (ref != 0)
		return ref;
	if (!t->giving_back && t->next_fresh <= ((uint64_t) t->n_chunks << t->config.chunk_log2))
		return t->next_fresh++;
	return 0;
}

static void
arena_put(CuckooTable *t, const CoreEnv *env, uint32_t ref)
{
	CuckooEntry *e = entry_at(t, env, ref);

	if (e->meta & CK_META_LIVE)
		t->relocations++;
	e->meta = 0;
	if (kept_off_list(t, ref))
		return;
	e->key = t->free_head;
	e->last_seen = 0;
	if (t->free_head != 0)
		entry_at(t, env, t->free_head)->last_seen = ref;
	t->free_head = ref;
}

/* Takes a free entry off the free list, wherever it is on it. */
static void
arena_unlink(CuckooTable *t, const CoreEnv *env, uint32_t ref)
{
	CuckooEntry *e = entry_at(t, env, ref);
	uint32_t	next = (uint32_t) e->key;
	uint32_t	prev = e->last_seen;

	if (prev != 0)
		entry_at(t, env, prev)->key = next;
	else
		t->free_head = next;
	if (next != 0)
		entry_at(t, env, next)->last_seen = prev;
}

/* Takes a free entry for a new key: off the free list, if it is on it. */
static void
arena_claim(CuckooTable *t, const CoreEnv *env, uint32_t ref)
{
	if (!kept_off_list(t, ref))
		arena_unlink(t, env, ref);
}

/*
 * Allocates a spare of size bytes unless there is one; table lock shared.
 * Of two trainers doing so at once, the second frees its own, which nobody
 * ever saw, so no view can hold it and frees need not count it.
 */
static void
offer_spare(CuckooTable *t, const CoreEnv *env, MemHandle *spare, size_t size)
{
	MemHandle	none = 0;
	MemHandle	h;

	if (__atomic_load_n(spare, __ATOMIC_ACQUIRE) != 0 || (h = table_alloc(t, env, size)) == 0)
		return;
	if (!__atomic_compare_exchange_n(spare, &none, h, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
	{
		env->free(env->mem_ctx, h, size);
		__atomic_sub_fetch(&t->bytes, size, __ATOMIC_RELAXED);
	}
}

/*
 * Takes ahead what the next growth will most likely need: a chunk for the
 * arena, and two segments' buckets for a split once the table has split or
 * its one segment is three-quarters full.  Table lock held shared, which
 * keeps scorers and other trainers going while the allocator works; the
 * exclusive holder then only links them in.
 */
void
ck_prepare_growth(CuckooTable *t, const CoreEnv *env)
{
	offer_spare(t, env, &t->spare_chunk, chunk_bytes(t));
	/* Small, but any allocation may be the one that makes a new DSM segment. */
	offer_spare(t, env, &t->spare_directory, 2 * (sizeof(uint32_t) << t->dir_log2));
	offer_spare(t, env, &t->spare_segments, 2 * t->segments_cap * sizeof(CuckooSegment));
	if (__atomic_load_n(&t->n_segments, __ATOMIC_RELAXED) > 1 ||
		4 * __atomic_load_n(&t->live, __ATOMIC_RELAXED) >= 3 * ck_index_slots(t))
		for (int i = 0; i < 2; i++)
			offer_spare(t, env, &t->spare_buckets[i], segment_bytes(t));
}

/* Zeroed buckets for a segment, a spare if there is one; table lock exclusive. */
static MemHandle
alloc_buckets(CuckooTable *t, const CoreEnv *env)
{
	MemHandle	h = 0;

	for (int i = 0; i < 2 && h == 0; i++)
		h = take_spare(&t->spare_buckets[i]);
	return h != 0 ? h : table_alloc(t, env, segment_bytes(t));
}

static void give_back_cancel(CuckooTable *t, const CoreEnv *env);

/* An arena chunk's memory: the spare, or else a new allocation; 0 at the cap. */
static MemHandle
take_chunk(CuckooTable *t, const CoreEnv *env)
{
	MemHandle	chunk = take_spare(&t->spare_chunk);

	return chunk != 0 ? chunk : table_alloc(t, env, chunk_bytes(t));
}

/*
 * Adds one chunk to the arena, the spare if there is one; table lock
 * exclusive.  While the last chunk is being given back, keeps that one
 * instead, if the cap allows a new chunk.
 */
static bool
arena_grow(CuckooTable *t, const CoreEnv *env)
{
	MemHandle	chunk;
	MemHandle  *dir;

	if (t->giving_back)
	{
		/* The cap allows a new chunk: keep the one being given back, and this as the spare. */
		if ((chunk = take_chunk(t, env)) == 0)
			return false;
		__atomic_store_n(&t->spare_chunk, chunk, __ATOMIC_RELEASE);
		give_back_cancel(t, env);
		return true;
	}
	if ((((uint64_t) t->n_chunks + 1) << t->config.chunk_log2) >= UINT32_MAX)
		return false;
	if (t->n_chunks == t->chunk_dir_cap)
	{
		MemHandle	bigger = table_alloc(t, env, 2 * t->chunk_dir_cap * sizeof(MemHandle));

		if (bigger == 0)
			return false;
		memcpy(env_address(env, bigger), env_address(env, t->chunk_dir),
			   t->chunk_dir_cap * sizeof(MemHandle));
		table_free(t, env, t->chunk_dir, t->chunk_dir_cap * sizeof(MemHandle));
		t->chunk_dir = bigger;
		t->chunk_dir_cap *= 2;
	}
	if ((chunk = take_chunk(t, env)) == 0)
		return false;
	dir = env_address(env, t->chunk_dir);
	dir[t->n_chunks++] = chunk;
	return true;
}

/* The stripe lock of bucket b of segment number n. */
static inline uint32_t
stripe_of(const CuckooTable *t, uint32_t n, uint64_t b)
{
	return (uint32_t) ((b + (uint64_t) n * 0x9e3779b1u) & (t->config.n_stripes - 1));
}

static inline void
lock_pair(const CoreEnv *env, uint32_t a, uint32_t b)
{
	uint32_t	lo = a < b ? a : b;
	uint32_t	hi = a < b ? b : a;

	env->lock(env->lock_ctx, CK_LOCK_STRIPE0 + lo, true);
	if (hi != lo)
		env->lock(env->lock_ctx, CK_LOCK_STRIPE0 + hi, true);
}

static inline void
unlock_pair(const CoreEnv *env, uint32_t a, uint32_t b)
{
	env->unlock(env->lock_ctx, CK_LOCK_STRIPE0 + a);
	if (a != b)
		env->unlock(env->lock_ctx, CK_LOCK_STRIPE0 + b);
}

/*
 * Finds a key or, if the admission filters let it in, gives it an entry in an
 * empty slot of one of its buckets.  Table lock held shared.  Anything more
 * (displacement, growth, a new chunk, eviction) is left to
 * ck_insert_exclusive, signalled by CK_NEED_EXCLUSIVE.
 */
CuckooResult
ck_find_or_admit(CuckooTable *t, const CoreEnv *env, uint64_t key, uint32_t now,
				 const CuckooValueInit *init, CuckooEntry **entry)
{
	KeyPlace	p = table_place(t, key);
	CuckooView *v = view_of(t, env);
	SegmentRef	seg = segment_of(t, env, v, p.slot);
	uint32_t	st1 = stripe_of(t, seg.number, p.b1);
	uint32_t	st2 = stripe_of(t, seg.number, p.b2);
	CuckooBucket *target;
	uint32_t	ref;
	int			s;

	*entry = segment_find(t, env, v, seg, p, key);
	if (*entry != NULL)
		return CK_FOUND;
	if (!admission_passes(t, env, p.hash))
		return CK_FILTERED;

	lock_pair(env, st1, st2);
	/* Another inserter may have added it since the lock-free look. */
	*entry = segment_find(t, env, v, seg, p, key);
	if (*entry != NULL)
	{
		unlock_pair(env, st1, st2);
		return CK_FOUND;
	}
	target = &seg.buckets[p.b1];
	s = bucket_free_slot(target);
	if (s < 0)
	{
		target = &seg.buckets[p.b2];
		s = bucket_free_slot(target);
	}
	if (s < 0)
	{
		unlock_pair(env, st1, st2);
		return CK_NEED_EXCLUSIVE;
	}
	env->lock(env->lock_ctx, CK_LOCK_ARENA, true);
	ref = arena_take(t, env);
	env->unlock(env->lock_ctx, CK_LOCK_ARENA);
	if (ref == 0)
	{
		unlock_pair(env, st1, st2);
		return CK_NEED_EXCLUSIVE;
	}
	*entry = entry_at(t, env, ref);
	entry_fill(t, env, *entry, ref, key, now, init);
	(*entry)->meta |= CK_META_LIVE;
	slot_set(target, s, p.tag, p.split, ref);
	__atomic_add_fetch(&t->live, 1, __ATOMIC_RELAXED);
	unlock_pair(env, st1, st2);
	return CK_INSERTED;
}

typedef struct BfsNode
{
	uint64_t	bucket;
	int32_t		parent;			/* index of the node whose slot leads here */
	int8_t		slot;			/* slot in the parent's bucket */
	int8_t		depth;
} BfsNode;

/*
 * Makes a slot free in bucket b1 or b2 by moving entries along the shortest
 * cuckoo path found breadth-first; returns the bucket's address and sets
 * *slot, or NULL when no path short enough exists.  Table lock exclusive.
 */
static CuckooBucket *
cuckoo_make_room(CuckooBucket *buckets, uint64_t mask,
				 uint64_t b1, uint64_t b2, int *slot)
{
	BfsNode		queue[CK_BFS_MAX_NODES];
	int			head = 0,
				tail = 0;

	queue[tail++] = (BfsNode) {b1, -1, -1, 0};
	queue[tail++] = (BfsNode) {b2, -1, -1, 0};
	while (head < tail)
	{
		BfsNode		node = queue[head];
		int			node_index = head++;

		for (int s = 0; s < CK_SLOTS; s++)
		{
			uint64_t	child = alt_bucket(node.bucket, buckets[node.bucket].tag[s], mask);
			int			free_slot = bucket_free_slot(&buckets[child]);

			if (free_slot >= 0)
			{
				/* Walk back to the root, moving each occupant one step on. */
				int			from_index = node_index;
				int			from_slot = s;
				uint64_t	to = child;
				int			to_slot = free_slot;

				for (;;)
				{
					CuckooBucket *src = &buckets[queue[from_index].bucket];

					slot_set(&buckets[to], to_slot, src->tag[from_slot], src->split[from_slot],
							 src->ref[from_slot]);
					slot_clear(src, from_slot);
					if (queue[from_index].parent < 0)
					{
						*slot = from_slot;
						return src;
					}
					to = queue[from_index].bucket;
					to_slot = from_slot;
					from_slot = queue[from_index].slot;
					from_index = queue[from_index].parent;
				}
			}
			if (node.depth + 1 < CK_BFS_MAX_DEPTH && tail < CK_BFS_MAX_NODES)
				queue[tail++] = (BfsNode) {child, node_index, (int8_t) s, (int8_t) (node.depth + 1)};
		}
	}
	return NULL;
}

/* Places a reference in the buckets of its key's hash, moving others if needed. */
static bool
bucket_place(CuckooBucket *buckets, uint32_t bucket_log2, uint64_t hash, uint32_t ref)
{
	uint64_t	mask = bucket_mask(bucket_log2);
	uint16_t	tag = key_tag(hash);
	uint64_t	b1 = hash & mask;
	uint64_t	b2 = alt_bucket(b1, tag, mask);
	CuckooBucket *target = &buckets[b1];
	int			s = bucket_free_slot(target);

	if (s < 0)
	{
		target = &buckets[b2];
		s = bucket_free_slot(target);
	}
	if (s < 0)
		target = cuckoo_make_room(buckets, mask, b1, b2, &s);
	if (target == NULL)
		return false;
	slot_set(target, s, tag, key_split_bits(hash), ref);
	return true;
}

/* Places a key's reference in its segment; table lock exclusive. */
static bool
segment_place(CuckooTable *t, const CoreEnv *env, uint64_t key, uint32_t ref)
{
	KeyPlace	p = table_place(t, key);
	SegmentRef	seg = segment_of(t, env, view_of(t, env), p.slot);

	return bucket_place(seg.buckets, t->config.segment_log2, p.hash, ref);
}

static inline CuckooSegment *
segment_mut(CuckooTable *t, const CoreEnv *env, uint32_t number)
{
	return (CuckooSegment *) env_address(env, t->segments) + number;
}

/*
 * Deals every slot of a segment of the given depth out to two fresh ones,
 * fresh[0] or fresh[1] by hash bit 16 + depth of its key, each to the same
 * bucket and slot: both halves have the old one's buckets, so a slot's
 * bucket is still one of its key's two, and nothing is displaced.  Below
 * depth 16 the bit is in the slot's split bits, so no entry is read: the
 * entries are scattered over the arena, and reading thousands of them, a
 * cache and TLB miss each, made a split the longest exclusive hold.
 */
static void
segment_refill(const CuckooTable *t, const CoreEnv *env, const CuckooSegment *seg,
			   CuckooBucket *fresh[2])
{
	const CuckooBucket *old = env_address(env, seg->buckets);
	uint32_t	depth = seg->depth;

	for (uint64_t b = 0; b <= segment_mask(t); b++)
	{
		for (int s = 0; s < CK_SLOTS; s++)
		{
			uint32_t	ref = old[b].ref[s];
			int			half;

			if (ref == 0)
				continue;
			if (depth < 16)
				half = (old[b].split[s] >> depth) & 1;
			else
				half = (ck_mix64(entry_at(t, env, ref)->key) >> (16 + depth)) & 1;
			fresh[half][b].tag[s] = old[b].tag[s];
			fresh[half][b].split[s] = old[b].split[s];
			fresh[half][b].ref[s] = ref;
		}
	}
}

/* Doubles the directory: new slot i names what old slot i mod 2^dir_log2 did. */
static bool
directory_double(CuckooTable *t, const CoreEnv *env)
{
	size_t		old_bytes = sizeof(uint32_t) << t->dir_log2;
	MemHandle	fresh;
	char	   *to;

	if (t->dir_log2 >= 32)
		return false;			/* hash bits 16 to 47 all in use */
	fresh = take_spare(&t->spare_directory);
	if (fresh == 0)
		fresh = table_alloc(t, env, 2 * old_bytes);
	if (fresh == 0)
		return false;
	to = env_address(env, fresh);
	memcpy(to, env_address(env, t->directory), old_bytes);
	memcpy(to + old_bytes, to, old_bytes);
	table_free(t, env, t->directory, old_bytes);
	t->directory = fresh;
	t->dir_log2++;
	return true;
}

/* Makes room for one more segment record. */
static bool
segments_grow(CuckooTable *t, const CoreEnv *env)
{
	size_t		old_bytes = t->segments_cap * sizeof(CuckooSegment);
	MemHandle	fresh = take_spare(&t->spare_segments);

	if (fresh == 0)
		fresh = table_alloc(t, env, 2 * old_bytes);
	if (fresh == 0)
		return false;
	memcpy(env_address(env, fresh), env_address(env, t->segments), old_bytes);
	table_free(t, env, t->segments, old_bytes);
	t->segments = fresh;
	t->segments_cap *= 2;
	return true;
}

/*
 * Splits the segment of directory slot `slot` in two by the next bit of its
 * keys' directory slots, doubling the directory first if the segment
 * answers for one slot only; false, the table unchanged, if the memory cap
 * forbids it.
 */
static bool
segment_split(CuckooTable *t, const CoreEnv *env, uint32_t slot)
{
	uint32_t	n = ((const uint32_t *) env_address(env, t->directory))[slot];
	uint32_t	depth = segment_mut(t, env, n)->depth;
	uint32_t	pattern;		/* the directory bits its slots share */
	MemHandle	fresh[2];
	CuckooBucket *buckets[2];
	uint32_t   *dir;
	uint32_t	m;

	if (depth == t->dir_log2 && !directory_double(t, env))
		return false;
	if (t->n_segments == t->segments_cap && !segments_grow(t, env))
		return false;
	pattern = slot & ((1u << depth) - 1);
	fresh[0] = alloc_buckets(t, env);
	if (fresh[0] == 0)
		return false;
	fresh[1] = alloc_buckets(t, env);
	if (fresh[1] == 0)
	{
		table_free(t, env, fresh[0], segment_bytes(t));
		return false;
	}
	buckets[0] = env_address(env, fresh[0]);
	buckets[1] = env_address(env, fresh[1]);
	segment_refill(t, env, segment_mut(t, env, n), buckets);
	m = t->n_segments++;
	t->growths++;
	table_free(t, env, segment_mut(t, env, n)->buckets, segment_bytes(t));
	*segment_mut(t, env, n) = (CuckooSegment) {fresh[0], depth + 1};
	*segment_mut(t, env, m) = (CuckooSegment) {fresh[1], depth + 1};
	/* The slots with the pattern and bit `depth` set go to the new segment. */
	dir = env_address(env, t->directory);
	for (uint64_t high = 0; high < ((uint64_t) 1 << (t->dir_log2 - depth - 1)); high++)
		dir[pattern | (1u << depth) | (high << (depth + 1))] = m;
	return true;
}

/*
 * Whether key's two buckets are full and its segment holds more than
 * CK_SPLIT_LOAD of its slots; table lock exclusive.  Left to fill, a segment
 * splits only once no cuckoo path of CK_BFS_MAX_DEPTH frees a slot, near 95%
 * full, and well before that a new key finds both its buckets full so often
 * that inserting takes the table lock exclusive for about one new ID in five,
 * stalling every other trainer and scorer of the model each time.  Splitting
 * at three quarters keeps such keys rare for a few more bytes of index per
 * ID.  The load is that of a window of CK_CROWD_WINDOW buckets around the
 * key's first (keys spread evenly over a segment's buckets, so 512 slots
 * tell its load within a few percent): a read of 4 KiB, not of the whole
 * 64 KiB index, done only when a path would otherwise be searched, which
 * near the threshold is for one new key in a few.
 */
static bool
segment_crowded(const CuckooTable *t, const CoreEnv *env, uint64_t key)
{
	KeyPlace	p = table_place(t, key);
	SegmentRef	seg = segment_of(t, env, view_of(t, env), p.slot);
	uint64_t	window = segment_mask(t) + 1 < CK_CROWD_WINDOW ? segment_mask(t) + 1 : CK_CROWD_WINDOW;
	uint64_t	first = p.b1 & ~(window - 1);
	uint64_t	used = 0;

	if (bucket_free_slot(&seg.buckets[p.b1]) >= 0 || bucket_free_slot(&seg.buckets[p.b2]) >= 0)
		return false;
	for (uint64_t b = first; b < first + window; b++)
		for (int s = 0; s < CK_SLOTS; s++)
			used += seg.buckets[b].ref[s] != 0;
	return used * CK_SPLIT_LOAD_DENOMINATOR > window * CK_SLOTS * CK_SPLIT_LOAD_NUMERATOR;
}

/* Slot holding key in its two buckets, or -1; sets *bucket. */
static int
find_slot(const CuckooTable *t, const CoreEnv *env, uint64_t key, CuckooBucket **bucket)
{
	KeyPlace	p = table_place(t, key);
	CuckooView *v = view_of(t, env);
	SegmentRef	seg = segment_of(t, env, v, p.slot);
	uint64_t	b = p.b1;
	CuckooEntry *e;
	int			s = bucket_find(t, env, v, &seg.buckets[b], p.tag, key, &e);

	if (s < 0)
	{
		b = p.b2;
		s = bucket_find(t, env, v, &seg.buckets[b], p.tag, key, &e);
	}
	*bucket = &seg.buckets[b];
	return s;
}

/* Removes the entry in a slot, noting its key, and returns its reference to the arena. */
static void
slot_remove(CuckooTable *t, const CoreEnv *env, CuckooBucket *b, int slot)
{
	uint32_t	ref = b->ref[slot];

	note_removed(t, env, entry_at(t, env, ref)->key);
	slot_clear(b, slot);
	arena_put(t, env, ref);
	__atomic_sub_fetch(&t->live, 1, __ATOMIC_RELAXED);
}

/* The least recently seen entry of a sample, as it is gathered. */
typedef struct EvictionSample
{
	CuckooBucket *bucket;
	int			slot;
	uint32_t	oldest;
	int			seen;
} EvictionSample;

/*
 * Asks for a bucket's entries ahead of reading them: they are scattered over
 * the arena, a cache and TLB miss each, and misses asked for together overlap.
 */
static inline void
prefetch_entries(const CuckooTable *t, const CoreEnv *env, const CuckooBucket *b)
{
	for (int s = 0; s < CK_SLOTS; s++)
		if (b->ref[s] != 0)
			__builtin_prefetch(entry_at(t, env, b->ref[s]));
}

/* Adds the occupants of a bucket to the sample. */
static void
sample_bucket(const CuckooTable *t, const CoreEnv *env, CuckooBucket *b, EvictionSample *sample)
{
	for (int s = 0; s < CK_SLOTS; s++)
	{
		uint32_t	ref = b->ref[s];
		uint32_t	last_seen;

		if (ref == 0)
			continue;
		sample->seen++;
		last_seen = entry_at(t, env, ref)->last_seen;
		if (sample->bucket == NULL || last_seen < sample->oldest)
			*sample = (EvictionSample) {b, s, last_seen, sample->seen};
	}
}

/*
 * Fills the sample with occupied slots from bucket b of segment n on,
 * through that segment and then the others in turn, looking at max_buckets
 * buckets at most.
 */
static void
sample_from(const CuckooTable *t, const CoreEnv *env, uint32_t n, uint64_t b,
			EvictionSample *sample, uint64_t max_buckets)
{
	for (uint32_t k = 0; k < t->n_segments && sample->seen < CK_EVICT_SAMPLE && max_buckets > 0; k++)
	{
		CuckooBucket *buckets = env_address(env, segment_record(t, env, (n + k) % t->n_segments)->buckets);
		uint64_t	mask = segment_mask(t);

		for (uint64_t i = 0; i < CK_SAMPLE_AHEAD && i <= mask; i++)
			prefetch_entries(t, env, &buckets[(b + i) & mask]);
		for (uint64_t i = 0; i <= mask && sample->seen < CK_EVICT_SAMPLE && max_buckets > 0; i++)
		{
			if (i + CK_SAMPLE_AHEAD <= mask)
				prefetch_entries(t, env, &buckets[(b + i + CK_SAMPLE_AHEAD) & mask]);
			sample_bucket(t, env, &buckets[(b + i) & mask], sample);
			max_buckets--;
		}
		b = 0;
	}
}

/* Evicts the sample's least recently seen entry; its reference, or 0 if it holds none. */
static uint32_t
evict_sampled(CuckooTable *t, const CoreEnv *env, const EvictionSample *sample)
{
	uint32_t	ref;

	if (sample->bucket == NULL)
		return 0;
	ref = sample->bucket->ref[sample->slot];
	slot_remove(t, env, sample->bucket, sample->slot);
	__atomic_add_fetch(&t->evicted, 1, __ATOMIC_RELAXED);
	return ref;
}

/*
 * Evicts the least recently seen of a sample of entries: the occupants of the
 * key's own buckets, which also frees a slot where the key can go, or, when
 * those are not full, the occupied slots found from there on, in its
 * segment and then the others.  Sampled LRU costs O(1) where an exact LRU
 * list would cost a shared write per lookup.  Table lock exclusive.
 */
static uint32_t
evict_one(CuckooTable *t, const CoreEnv *env, uint64_t key)
{
	KeyPlace	p = table_place(t, key);
	SegmentRef	home = segment_of(t, env, view_of(t, env), p.slot);
	EvictionSample sample = {NULL, -1, UINT32_MAX, 0};

	sample_bucket(t, env, &home.buckets[p.b1], &sample);
	sample_bucket(t, env, &home.buckets[p.b2], &sample);
	sample_from(t, env, home.number, p.b1 + 1, &sample, UINT64_MAX);
	return evict_sampled(t, env, &sample);
}

/*
 * Evicts live entry r of the chunk being given back, or an older one of a
 * sample from a random place whose scan looks at CK_EVICT_SCAN buckets at
 * most, so that an index almost emptied costs no more than a full one.
 * Table lock exclusive.
 */
static void
evict_beside(CuckooTable *t, const CoreEnv *env, uint32_t r)
{
	uint64_t	draw = ck_mix64(++t->eviction_draws);
	CuckooEntry *e = entry_at(t, env, r);
	CuckooBucket *b;
	int			s = find_slot(t, env, e->key, &b);
	EvictionSample sample = {b, s, e->last_seen, 1};

	sample_from(t, env, (uint32_t) (draw % t->n_segments), draw >> 32, &sample, CK_EVICT_SCAN);
	evict_sampled(t, env, &sample);
}

/*
 * Moves a live entry to the free reference to, and points its slot there;
 * table lock exclusive.  It is noted as changed, at its new reference, for
 * a collection of an earlier round in pieces would not find it there.
 */
static void
entry_move(CuckooTable *t, const CoreEnv *env, uint32_t from, uint32_t to)
{
	CuckooEntry *e = entry_at(t, env, from);
	CuckooEntry *moved = entry_at(t, env, to);
	CuckooBucket *b;
	int			s = find_slot(t, env, e->key, &b);

	memcpy(moved, e, t->entry_size);
	moved->ref = to;
	moved->round = t->round;
	note_changed(t, env, to);
	__atomic_store_n(&b->ref[s], to, __ATOMIC_RELEASE);
	e->meta = 0;
	t->relocations++;
}

/*
 * Giving back the arena's last chunk, in pieces: its free entries leave the
 * free list, and from the top down, its live ones move to free entries
 * below it, made where there are none by evicting the least recently seen
 * of a sample (which may be of the chunk itself, and then need no move).
 * Between pieces nothing is taken from the chunk: arena_take takes no fresh
 * reference and arena_put keeps the chunk's freed entries off the list.
 */

/* Starts giving back the last chunk: its free entries leave the free list. */
static void
give_back_begin(CuckooTable *t, const CoreEnv *env)
{
	uint32_t	end = last_chunk_end(t);

	for (uint32_t r = last_chunk_first(t); r < end; r++)
		if (!(entry_at(t, env, r)->meta & CK_META_LIVE))
			arena_unlink(t, env, r);
	t->give_back_at = end;
	t->giving_back = true;
}

/*
 * Empties the chunk being given back further down, with at most *work
 * entries moved or evicted (counted down); frees it once it is empty.
 */
static void
give_back_piece(CuckooTable *t, const CoreEnv *env, uint32_t *work)
{
	uint32_t	first = last_chunk_first(t);

	for (; t->give_back_at > first; t->give_back_at--)
	{
		uint32_t	r = t->give_back_at - 1;

		while (entry_at(t, env, r)->meta & CK_META_LIVE)
		{
			uint32_t	to;

			if (*work == 0)
				return;
			(*work)--;
			to = arena_pop(t, env);
			if (to != 0)
				entry_move(t, env, r, to);
			else
				/* r itself, or another, perhaps of this chunk and kept off the list: then on. */
				evict_beside(t, env, r);
		}
	}
	table_free(t, env, ((MemHandle *) env_address(env, t->chunk_dir))[--t->n_chunks],
			   chunk_bytes(t));
	if (t->next_fresh > first)
		t->next_fresh = first;
	t->giving_back = false;
}

/* Keeps the chunk being given back after all: its free entries rejoin the list. */
static void
give_back_cancel(CuckooTable *t, const CoreEnv *env)
{
	uint32_t	end = last_chunk_end(t);

	t->giving_back = false;
	for (uint32_t r = last_chunk_first(t); r < end; r++)
		if (!(entry_at(t, env, r)->meta & CK_META_LIVE))
			arena_put(t, env, r);
}

/*
 * Gives back at least bytes of memory if it can: first the spares, then
 * the last chunks of the arena (see give_back_begin), with at most
 * max_work entries moved or evicted, so that one hold of the lock stays
 * short whatever the table's size; the next call carries on with a chunk
 * begun.  Table lock exclusive; returns the bytes given back.
 */
uint64_t
ck_shrink(CuckooTable *t, const CoreEnv *env, uint64_t bytes, uint32_t max_work)
{
	uint64_t	before = t->bytes;

	free_spares(t, env);
	free_idle_log(t, env);
	while (before - t->bytes < bytes && max_work > 0 && t->n_chunks > 0)
	{
		if (!t->giving_back)
			give_back_begin(t, env);
		give_back_piece(t, env, &max_work);
	}
	return before - t->bytes;
}

/* Bytes of one arena chunk: the least a table grows by. */
uint64_t
ck_chunk_bytes(const CuckooTable *t)
{
	return chunk_bytes(t);
}

/*
 * Gives an admitted key an entry, making room by displacement, growth of its
 * segment or, at the memory cap, eviction of the least recently seen.  Table
 * lock exclusive.  CK_NO_MEMORY only when the table holds nothing to evict
 * and the cap allows not even one chunk.
 */
CuckooResult
ck_insert_exclusive(CuckooTable *t, const CoreEnv *env, uint64_t key, uint32_t now,
					const CuckooValueInit *init, CuckooEntry **entry)
{
	uint32_t	ref;

	*entry = ck_find(t, env, key);
	if (*entry != NULL)
		return CK_FOUND;

	ref = arena_take(t, env);
	if (ref == 0 && arena_grow(t, env))
		ref = arena_take(t, env);
	if (ref == 0)
	{
		/* At the cap: the entry of the least recently seen of a sample. */
		ref = evict_one(t, env, key);
		if (ref == 0)
		{
			__atomic_add_fetch(&t->refused, 1, __ATOMIC_RELAXED);
			return CK_NO_MEMORY;
		}
		arena_claim(t, env, ref);
	}
	*entry = entry_at(t, env, ref);
	entry_fill(t, env, *entry, ref, key, now, init);

	/* A crowded segment splits before paying for a cuckoo path (see segment_crowded). */
	if (segment_crowded(t, env, key))
		(void) segment_split(t, env, table_place(t, key).slot);
	/* Growth may split the key's segment: each round looks its place up anew. */
	while (!segment_place(t, env, key, ref))
		if (!segment_split(t, env, table_place(t, key).slot))
			evict_one(t, env, key);
	(*entry)->meta |= CK_META_LIVE;
	__atomic_add_fetch(&t->live, 1, __ATOMIC_RELAXED);
	return CK_INSERTED;
}

/* Removes a key; false if it had no entry.  Table lock exclusive. */
bool
ck_delete(CuckooTable *t, const CoreEnv *env, uint64_t key)
{
	CuckooBucket *b;
	int			s = find_slot(t, env, key, &b);

	if (s < 0)
		return false;
	slot_remove(t, env, b, s);
	return true;
}

/*
 * Removes the entries that doomed says are among max_refs references from
 * *ref on, and moves *ref past them (to 0 once past the last); table lock
 * exclusive.  Only shrinking moves an entry to another reference, so a scan
 * in pieces sees every entry that lives throughout it, but for one that a
 * shrink between pieces moved below the scan, which the next pass sees.
 */
uint64_t
ck_remove_range(CuckooTable *t, const CoreEnv *env, CuckooDoomed doomed, const void *arg,
				uint32_t *ref, uint32_t max_refs)
{
	uint64_t	removed = 0;
	uint32_t	r = *ref;

	for (; r < t->next_fresh && max_refs > 0; r++, max_refs--)
	{
		CuckooEntry *e = entry_at(t, env, r);

		if ((e->meta & CK_META_LIVE) && doomed(arg, e))
		{
			CuckooBucket *b;
			int			s = find_slot(t, env, e->key, &b);

			if (s >= 0)
			{
				slot_remove(t, env, b, s);
				removed++;
			}
		}
	}
	*ref = r < t->next_fresh ? r : 0;
	return removed;
}

/* CuckooDoomed of the entries last seen before *(const uint32_t *) cutoff. */
bool
ck_seen_before(const void *cutoff, const CuckooEntry *e)
{
	return e->last_seen < *(const uint32_t *) cutoff;
}

/* CuckooDoomed of the entries whose round is before *(const uint32_t *) round, serially. */
bool
ck_round_before(const void *round, const CuckooEntry *e)
{
	return (int32_t) (e->round - *(const uint32_t *) round) < 0;
}

/*
 * Visits every live entry among max_refs references from *cursor (0 at
 * first) on, or with before, those whose round is before *before
 * (serially), and moves *cursor past them; says whether any remain.  Table
 * lock held shared: as in ck_collect_changed, an entry moved between calls
 * is noted as changed in the current round.
 */
bool
ck_scan_range(const CuckooTable *t, const CoreEnv *env, uint32_t *cursor, uint32_t max_refs,
			  const uint32_t *before, CuckooVisit visit, void *arg)
{
	for (; *cursor + 1 < t->next_fresh && max_refs > 0; (*cursor)++, max_refs--)
	{
		CuckooEntry *e = entry_at(t, env, *cursor + 1);

		if ((__atomic_load_n(&e->meta, __ATOMIC_RELAXED) & CK_META_LIVE) &&
			(before == NULL || (int32_t) (__atomic_load_n(&e->round, __ATOMIC_RELAXED) - *before) < 0))
			visit(arg, e);
	}
	return *cursor + 1 < t->next_fresh;
}

/*
 * Visits the live entries among max_refs references below *cursor
 * (UINT32_MAX to begin), from the top down, and moves *cursor past them;
 * says whether any remain.  Table lock held shared.  Going down, a pass in
 * pieces sees every entry that lives throughout it: only shrinking moves an
 * entry, and always from the arena's last chunk to a lower reference (the
 * free list holds none of that chunk), so an entry moved past the cursor
 * was seen above it; it is then seen again below.
 */
bool
ck_scan_down(const CuckooTable *t, const CoreEnv *env, uint32_t *cursor, uint32_t max_refs,
			 CuckooVisit visit, void *arg)
{
	uint32_t	r = *cursor < t->next_fresh ? *cursor : t->next_fresh;

	for (; r > 1 && max_refs > 0; max_refs--)
	{
		CuckooEntry *e = entry_at(t, env, --r);

		if (__atomic_load_n(&e->meta, __ATOMIC_RELAXED) & CK_META_LIVE)
			visit(arg, e);
	}
	*cursor = r;
	return r > 1;
}

/*
 * Goes on with a pass of ck_remove_range from *ref (1 to begin), for at
 * most max_pieces pieces of CK_REMOVE_PIECE references, each under the
 * exclusive table lock, which others may take in between; *ref is 0 once
 * the pass is through.
 */
uint64_t
ck_remove_pieces(CuckooTable *t, const CoreEnv *env, CuckooDoomed doomed, const void *arg,
				 uint32_t *ref, uint32_t max_pieces)
{
	uint64_t	removed = 0;

	for (; *ref != 0 && max_pieces > 0; max_pieces--)
	{
		env->lock(env->lock_ctx, CK_LOCK_TABLE, true);
		removed += ck_remove_range(t, env, doomed, arg, ref, CK_REMOVE_PIECE);
		env->unlock(env->lock_ctx, CK_LOCK_TABLE);
		if (*ref != 0 && max_pieces > 1 && env->between_pieces != NULL)
			env->between_pieces(env->lock_ctx);
	}
	return removed;
}

/* Calls visit on each live entry. */
uint64_t
ck_scan(const CuckooTable *t, const CoreEnv *env, CuckooVisit visit, void *arg)
{
	uint64_t	n = 0;

	for (uint32_t ref = 1; ref < t->next_fresh; ref++)
	{
		CuckooEntry *e = entry_at(t, env, ref);

		if (!(__atomic_load_n(&e->meta, __ATOMIC_RELAXED) & CK_META_LIVE))
			continue;
		visit(arg, e);
		n++;
	}
	return n;
}

/*
 * Ends the current round of changes, if the round cut before it has been
 * released: notes go to the next round's log from now on.  Table lock
 * exclusive.
 */
bool
ck_cut_changes(CuckooTable *t, const CoreEnv *env)
{
	if (t->cutting)
		return false;
	t->cut = t->round;
	t->cutting = true;
	if (++t->round == 0)
		for (uint32_t ref = 1; ref < t->next_fresh; ref++)
			entry_at(t, env, ref)->round = t->cut;
	return true;
}

/* The round cut and not yet released, if there is one. */
bool
ck_cut_round(const CuckooTable *t, CuckooRound *round)
{
	const CuckooChanges *c = &t->changes[t->cut & 1];

	if (!t->cutting)
		return false;
	round->round = t->cut;
	round->scan = c->changed_n > c->changed_room;
	round->n_changed = round->scan ? 0 : c->changed_n;
	round->removals_lost = c->removed_n > c->removed_room;
	round->n_removed = round->removals_lost ? c->removed_room : c->removed_n;
	return true;
}

/*
 * Visits the entries that changed in the round cut, from *cursor on, with at
 * most max_steps references looked at; moves *cursor past them and says
 * whether any remain.  Table lock held shared: between calls, entries may be
 * moved or removed (see Changes).
 */
bool
ck_collect_changed(CuckooTable *t, const CoreEnv *env, uint32_t *cursor, uint32_t max_steps,
				   CuckooVisit visit, void *arg)
{
	CuckooRound round;
	CuckooChanges *c = &t->changes[t->cut & 1];
	const uint32_t *refs = env_address(env, c->changed);
	uint32_t	end;

	if (!ck_cut_round(t, &round))
		return false;
	/* A log holds references, a scan goes through all of them. */
	end = round.scan ? t->next_fresh - 1 : round.n_changed;
	for (; *cursor < end && max_steps > 0; (*cursor)++, max_steps--)
	{
		uint32_t	ref = round.scan ? *cursor + 1 : refs[*cursor];
		CuckooEntry *e;

		/* A reference noted in a chunk given back since is no entry. */
		if (ref >= t->next_fresh)
			continue;
		e = entry_at(t, env, ref);
		if (!(__atomic_load_n(&e->meta, __ATOMIC_RELAXED) & CK_META_LIVE))
			continue;
		if (__atomic_load_n(&e->round, __ATOMIC_RELAXED) != round.round)
			continue;
		visit(arg, e);
		c->collected++;
	}
	return *cursor < end;
}

/* The keys removed in the round cut: CuckooRound.n_removed of them. */
const uint64_t *
ck_removed_keys(const CuckooTable *t, const CoreEnv *env)
{
	return env_address(env, t->changes[t->cut & 1].removed);
}

/* The least power of 2 at or above n and least, at most most. */
static uint32_t
log_room_for(uint64_t n, uint32_t least, uint32_t most)
{
	uint32_t	room = least;

	while (room < n && room < most)
		room *= 2;
	return room;
}

/*
 * Makes a log of size-byte items hold room of them, keeping its first n;
 * keeps it as it is if the memory cannot be had.
 */
static void
log_resize(CuckooTable *t, const CoreEnv *env, MemHandle *log, uint32_t *log_room,
		   uint32_t room, size_t size, uint32_t n)
{
	MemHandle	bigger;

	if (room == *log_room)
		return;
	bigger = table_alloc(t, env, (size_t) room * size);
	if (bigger == 0)
		return;
	if (n > 0)
		memcpy(env_address(env, bigger), env_address(env, *log), (size_t) n * size);
	table_free(t, env, *log, (size_t) *log_room * size);
	*log = bigger;
	*log_room = room;
}

/*
 * After a table was filled from elsewhere (a snapshot, the sync's rows),
 * before anyone else uses it: the round under way becomes next_round, with
 * no round cut and nothing noted, then every live entry whose round is not
 * before next_round (with note_all, every one) is noted changed in it, to
 * be shipped.  Table lock exclusive.
 */
void
ck_restart_rounds(CuckooTable *t, const CoreEnv *env, uint32_t next_round, bool note_all)
{
	for (int i = 0; i < 2; i++)
	{
		t->changes[i].changed_n = 0;
		t->changes[i].removed_n = 0;
		t->changes[i].collected = 0;
	}
	t->cutting = false;
	t->cut = 0;
	t->round = next_round != 0 ? next_round : 1;
	for (uint32_t ref = 1; ref < t->next_fresh; ref++)
	{
		CuckooEntry *e = entry_at(t, env, ref);

		if ((e->meta & CK_META_LIVE) && (note_all || (int32_t) (e->round - t->round) >= 0))
		{
			e->round = t->round;
			note_changed(t, env, ref);
		}
	}
}

/*
 * Ends the collection of the round cut: its logs are emptied, sized to what
 * it needed (a changed log only grows, or shrinks to a sixteenth), and the
 * removal logs of both rounds to the most either has had, since removals
 * are noted only under the exclusive lock.  Table lock held shared.
 */
void
ck_release_changes(CuckooTable *t, const CoreEnv *env)
{
	CuckooChanges *c = &t->changes[t->cut & 1];
	CuckooChanges *live = &t->changes[t->round & 1];
	uint32_t	changed_room = log_room_for((uint64_t) c->collected + c->collected / 2,
											CK_CHANGED_LEAST, CK_CHANGED_MOST);
	uint32_t	removed_room = log_room_for(2 * (uint64_t) (c->removed_n > live->removed_n ?
												 c->removed_n : live->removed_n),
											CK_REMOVED_LEAST, CK_REMOVED_MOST);

	if (!t->cutting)
		return;
	if (changed_room > c->changed_room || 16 * changed_room <= c->changed_room)
		log_resize(t, env, &c->changed, &c->changed_room, changed_room, sizeof(uint32_t), 0);
	for (int i = 0; i < 2; i++)
	{
		CuckooChanges *r = &t->changes[i];

		/* The live round's log, which only the exclusive lock writes, keeps what it holds. */
		if (removed_room > r->removed_room && (r == c || r->removed_n <= r->removed_room))
			log_resize(t, env, &r->removed, &r->removed_room, removed_room, sizeof(uint64_t),
					   r == c ? 0 : r->removed_n);
	}
	c->changed_n = 0;
	c->removed_n = 0;
	c->collected = 0;
	t->cutting = false;
}
