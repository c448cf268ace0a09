/*
 * cuckoo.h
 *		Collisionless embedding table: a bucketized cuckoo hash map from 64-bit
 *		feature keys to fixed-size entries, with admission filters, expiry and
 *		least-recently-seen eviction under a memory cap.
 *
 * Layout.  Entries live in an arena of equal-sized chunks and are named by a
 * 32-bit reference (1-based; 0 means "no entry").  The index is a set of
 * segments, each an array of buckets of CK_SLOTS slots; a slot holds a
 * 16-bit tag of the key's hash, 16 more of its bits for splitting, and the
 * entry reference, so the index costs 8 bytes a slot and a lookup reads the
 * tags of a key's two buckets, then the one entry whose tag matches to
 * confirm the full key.  A key may sit in its
 * primary bucket or in the alternate bucket derived from the primary and the
 * tag (partial-key cuckoo hashing), so entries can be moved along eviction
 * paths without reading them.
 *
 * Growth.  A directory of 2^dir_log2 slots names a key's segment by bits 16
 * and up of its hash (extendible hashing; the bucket takes the low bits and
 * the tag the top 16).  Every segment of a table has 2^segment_log2 buckets
 * (at most 2^CK_SEGMENT_MAX_LOG2), so a lookup's buckets follow from the
 * hash alone once the segment's address is known.  A segment that fills
 * splits in two by one more bit of the hash, doubling the directory if need
 * be, and its slots keep their places in one half or the other.  So growing
 * copies one segment's slots, some 8,000, without reading their entries
 * (until a segment's depth passes the 16 split bits a slot keeps), whatever
 * the table's size, and no hold of the exclusive lock grows with the table.
 *
 * Shrinking.  The arena gives back its last chunk, a few entries a call
 * (see ck_shrink), for the same reason.
 *
 * Locking rules (lock ids as in CK_LOCK_*):
 *	- CK_LOCK_TABLE shared: lookups, in-place updates of entry values, and the
 *	  fast insert into an empty slot.  Nothing moves or frees an entry while
 *	  anyone holds it shared, so an entry pointer found under it stays valid
 *	  until it is released.
 *	- CK_LOCK_TABLE exclusive: everything that moves, removes or reallocates:
 *	  cuckoo displacement, index growth, new arena chunks, eviction, expiry,
 *	  cutting a round of changes (an O(1) step), destruction.
 *	- CK_LOCK_STRIPE0 + (bucket % n_stripes) exclusive, under the shared table
 *	  lock: fast inserters lock the stripes of both candidate buckets (lower
 *	  number first) so that two of them never fill one slot or add one key
 *	  twice.  Readers take no stripe lock: an inserter fills the entry first
 *	  and publishes its reference last (release/acquire).
 *	- CK_LOCK_ARENA, innermost: the free list and the arena's bump pointer.
 *	- No lock, for ck_find_unlocked: a lookup between the env's read_begin and
 *	  read_end, whose answer holds only if read_end confirms that nobody took
 *	  CK_LOCK_TABLE exclusive meanwhile.  It works from a process's copies of
 *	  addresses and sizes, never from ones read then, since the exclusive
 *	  holders are the only ones who move, remove or free anything.
 *	Values themselves are updated without locks (Hogwild): two training steps
 *	may race on a float, never on which key an entry belongs to.
 */
#ifndef MONOLITH_CUCKOO_H
#define MONOLITH_CUCKOO_H

#include "env.h"

#define CK_SLOTS 4
/* Entries of an arena chunk as a power of 2, unless configured otherwise. */
#define CK_CHUNK_LOG2_DEFAULT 10

#define CK_LOCK_TABLE 0
#define CK_LOCK_ARENA 1
#define CK_LOCK_STRIPE0 2

/* Entry header; the value (value_size bytes, 8-byte aligned) follows it. */
typedef struct CuckooEntry
{
	uint64_t	key;
	uint32_t	last_seen;		/* caller's clock, e.g. Unix seconds */
	uint32_t	meta;			/* CK_META_* flags and occurrence count */
	uint32_t	round;			/* the round of changes it last changed in */
	uint32_t	ref;			/* its own reference; 0 in a caller's copy */
} CuckooEntry;

#define CK_META_LIVE	 0x80000000u
#define CK_META_COUNT	 0x3fffffffu

#define CK_VALUE(entry) ((void *) ((char *) (entry) + sizeof(CuckooEntry)))

/*
 * One round's log of changes (see "Changes" in cuckoo.c): the references of
 * entries that changed and the keys removed.  A count past its log's room
 * means the log overflowed.
 */
typedef struct CuckooChanges
{
	MemHandle	changed;		/* uint32_t[changed_room] */
	uint32_t	changed_room;
	uint32_t	changed_n;		/* atomic: notes taken, past the room once full */
	MemHandle	removed;		/* uint64_t[removed_room] */
	uint32_t	removed_room;
	uint32_t	removed_n;		/* under the exclusive lock; may pass the room */
	uint32_t	collected;		/* entries a collection of the round visited */
} CuckooChanges;

/* How a table decides to give a never-seen key an entry. */
typedef struct CuckooAdmission
{
	uint32_t	min_count;		/* sightings before admission; 1 = at once */
	double		probability;	/* chance a sighting admits; 1 = always */
	uint64_t	seed;			/* for the probabilistic filter's draws */
	uint32_t	sketch_width_log2;	/* counters per sketch row, as a power of 2 */
} CuckooAdmission;

typedef struct CuckooConfig
{
	uint32_t	value_size;		/* bytes of payload per entry */
	uint32_t	n_stripes;		/* power of two; the caller provides the locks */
	uint32_t	segment_log2;	/* buckets of each index segment, as a power of 2 */
	uint32_t	chunk_log2;		/* entries per arena chunk, as a power of 2 */
	CuckooAdmission admission;
} CuckooConfig;

/* Fills a new entry's value before the entry becomes visible. */
typedef struct CuckooValueInit
{
	void		(*fn) (const void *arg, uint64_t key, void *value);
	const void *arg;
} CuckooValueInit;

/* Bytes of a cache line, for keeping data that processes write apart. */
#define CK_CACHE_LINE 64

/* Buckets of a segment at most, as a power of 2: 64 KiB of index. */
#define CK_SEGMENT_MAX_LOG2 11

/* One segment of the index, for the keys whose directory bits it answers to. */
typedef struct CuckooSegment
{
	MemHandle	buckets;
	uint32_t	depth;			/* the directory bits its keys share */
} CuckooSegment;

/* The table's shared state: plain data and handles, no pointers. */
typedef struct CuckooTable
{
	CuckooConfig config;
	uint32_t	entry_size;

	MemHandle	directory;		/* uint32_t[2^dir_log2]: a segment number a slot */
	uint32_t	dir_log2;
	MemHandle	segments;		/* CuckooSegment[segments_cap] */
	uint32_t	n_segments;
	uint32_t	segments_cap;

	MemHandle	chunk_dir;		/* MemHandle[chunk_dir_cap] */
	uint32_t	chunk_dir_cap;
	uint32_t	n_chunks;
	/* While the last chunk is given back, in pieces (see ck_shrink): */
	bool		giving_back;
	uint32_t	give_back_at;	/* its references from here on hold nothing */

	/*
	 * Memory taken ahead under the shared lock (ck_prepare_growth), so that
	 * whoever grows the table under the exclusive lock need not wait for
	 * the allocator, which may have to make a new shared memory segment;
	 * atomic, 0 when none.
	 */
	MemHandle	spare_chunk;
	MemHandle	spare_buckets[2];	/* of a segment each */
	MemHandle	spare_directory;	/* of twice the directory's size */
	MemHandle	spare_segments;		/* of twice the segment records' room */

	MemHandle	sketch;			/* uint16_t[4][width], or 0 */
	uint64_t	frees;			/* allocations freed; see CuckooView */
	uint64_t	growths;		/* segments doubled or split */
	/* Entries freed or moved: an entry found while it stays the same is still there. */
	uint64_t	relocations;
	/* The round of changes being logged, from 1; moves on only exclusive (ck_cut_changes). */
	uint32_t	round;

	/*
	 * What concurrent inserters write, the arena's state and counters, a
	 * cache line clear of what every lookup reads above: sharing a line
	 * with those, each write would send it from core to core and make every
	 * other process's next lookup miss.  The padding holds whatever the
	 * table's alignment.
	 */
	char		counters_begin[CK_CACHE_LINE];
	/* The arena's, taken from by every new key (CK_LOCK_ARENA): */
	uint32_t	next_fresh;		/* first never-used reference */
	uint32_t	free_head;		/* free list through CuckooEntry.key */
	uint64_t	sketch_increments;	/* atomic; halves the sketch periodically */
	uint64_t	admission_draws;	/* atomic; probabilistic filter's counter */
	uint64_t	live;			/* atomic: entries in the table */
	uint64_t	bytes;			/* atomic: bytes allocated by the table */
	uint64_t	evicted;		/* atomic: entries removed for lack of room */
	uint64_t	expired;		/* atomic: entries removed for their age (model_expire) */
	uint64_t	refused;		/* atomic: admitted keys that found no memory */
	uint64_t	eviction_draws;	/* where evictions without a key sample */
	/* Changes, written by every first change of an entry in a round: */
	CuckooChanges changes[2];	/* the rounds', by their parity */
	bool		cutting;		/* a round was cut and is not yet released */
	uint32_t	cut;			/* that round */
	char		counters_end[CK_CACHE_LINE];
} CuckooTable;

/*
 * A process's cache of one table's addresses, for an env whose handles are
 * not addresses, where translating one costs a call for every bucket and
 * entry touched.  Used under the table lock, like the addresses themselves.
 * Everything in it holds until the table frees an allocation (a freed
 * handle's value may come back naming other memory, even in a segment mapped
 * elsewhere): every change of the directory or a segment frees one.
 */
#define CK_VIEW_CHUNKS 4096
#define CK_VIEW_SLOTS_LOG2 12
#define CK_VIEW_SLOTS (1 << CK_VIEW_SLOTS_LOG2)

typedef struct CuckooView
{
	MemHandle	directory;		/* the table's when this was filled */
	uint32_t	dir_log2;
	uint64_t	frees;			/* the table's frees when this was filled */
	void	   *slot_buckets[CK_VIEW_SLOTS];	/* a slot's segment's; NULL until used */
	uint32_t	slot_segment[CK_VIEW_SLOTS];	/* its number */
	void	   *chunks[CK_VIEW_CHUNKS];	/* NULL until first used */
} CuckooView;

typedef enum CuckooResult
{
	CK_FOUND,					/* the key already had an entry */
	CK_INSERTED,				/* a new entry was made */
	CK_FILTERED,				/* the key is not admitted (yet) */
	CK_NEED_EXCLUSIVE,			/* admitted, but inserting needs the table
								 * lock exclusive: call ck_insert_exclusive */
	CK_NO_MEMORY				/* not even one entry fits under the cap */
} CuckooResult;

/* A 64-bit finalizer (from MurmurHash3's fmix64 constants): spreads any key. */
static inline uint64_t
ck_mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

extern bool ck_init(CuckooTable *t, const CoreEnv *env, const CuckooConfig *config);
extern void ck_destroy(CuckooTable *t, const CoreEnv *env);

/* Table lock held shared or exclusive. */
extern CuckooEntry *ck_find(const CuckooTable *t, const CoreEnv *env, uint64_t key);
extern void ck_prefetch(const CuckooTable *t, const CoreEnv *env, uint64_t key);
extern CuckooResult ck_find_or_admit(CuckooTable *t, const CoreEnv *env, uint64_t key,
									 uint32_t now, const CuckooValueInit *init,
									 CuckooEntry **entry);
extern void ck_touch(CuckooTable *t, const CoreEnv *env, CuckooEntry *entry, uint32_t now);
extern void ck_note_change(CuckooTable *t, const CoreEnv *env, CuckooEntry *entry);

/*
 * Without the table lock, between the env's read_begin and read_end: see
 * ck_find_unlocked in cuckoo.c.
 */
extern bool ck_find_unlocked(const CuckooTable *t, const CuckooTable *shape,
							 const CoreEnv *env, const uint64_t *keys, uint32_t n,
							 CuckooEntry **entries);

/* Table lock held shared, before taking it exclusive to insert. */
extern void ck_prepare_growth(CuckooTable *t, const CoreEnv *env);

/* Table lock held exclusive. */
extern CuckooResult ck_insert_exclusive(CuckooTable *t, const CoreEnv *env, uint64_t key,
										uint32_t now, const CuckooValueInit *init,
										CuckooEntry **entry);
extern bool ck_delete(CuckooTable *t, const CoreEnv *env, uint64_t key);
extern uint64_t ck_shrink(CuckooTable *t, const CoreEnv *env, uint64_t bytes, uint32_t max_work);

/* Whether a removal takes an entry; arg is the removal's own. */
typedef bool (*CuckooDoomed) (const void *arg, const CuckooEntry *entry);
extern bool ck_seen_before(const void *cutoff, const CuckooEntry *entry);
extern bool ck_round_before(const void *round, const CuckooEntry *entry);

/* Table lock held exclusive. */
extern uint64_t ck_remove_range(CuckooTable *t, const CoreEnv *env, CuckooDoomed doomed,
								const void *arg, uint32_t *ref, uint32_t max_refs);

/* References a removal looks at under one hold of the exclusive lock. */
#define CK_REMOVE_PIECE 16384

/* Takes and releases the table lock itself, exclusive a piece at a time. */
extern uint64_t ck_remove_pieces(CuckooTable *t, const CoreEnv *env, CuckooDoomed doomed,
								 const void *arg, uint32_t *ref, uint32_t max_pieces);

typedef void (*CuckooVisit) (void *arg, const CuckooEntry *entry);

/* A round of changes cut for collection (see "Changes" in cuckoo.c). */
typedef struct CuckooRound
{
	uint32_t	round;
	bool		scan;			/* its log overflowed: collected by a scan */
	uint32_t	n_changed;		/* references in its log (when not scanned) */
	uint32_t	n_removed;		/* keys in its log of removals */
	bool		removals_lost;	/* that log overflowed: more were removed */
} CuckooRound;

/* Table lock held exclusive: O(1) but once in 2^32.  False while a round cut is not yet released. */
extern bool ck_cut_changes(CuckooTable *t, const CoreEnv *env);

/* Table lock held shared or exclusive. */
extern bool ck_cut_round(const CuckooTable *t, CuckooRound *round);
extern bool ck_collect_changed(CuckooTable *t, const CoreEnv *env, uint32_t *cursor,
							   uint32_t max_steps, CuckooVisit visit, void *arg);
extern const uint64_t *ck_removed_keys(const CuckooTable *t, const CoreEnv *env);

/* Table lock held shared (it may allocate, or free). */
extern void ck_release_changes(CuckooTable *t, const CoreEnv *env);

/* Table lock exclusive, before anyone else uses a table filled from elsewhere. */
extern void ck_restart_rounds(CuckooTable *t, const CoreEnv *env, uint32_t next_round, bool note_all);

/* Visit every live entry (the second in pieces); table lock held shared or exclusive. */
extern uint64_t ck_scan(const CuckooTable *t, const CoreEnv *env,
						CuckooVisit visit, void *arg);
extern bool ck_scan_range(const CuckooTable *t, const CoreEnv *env, uint32_t *cursor,
						  uint32_t max_refs, const uint32_t *before, CuckooVisit visit, void *arg);
extern bool ck_scan_down(const CuckooTable *t, const CoreEnv *env, uint32_t *cursor,
						 uint32_t max_refs, CuckooVisit visit, void *arg);

extern uint64_t ck_chunk_bytes(const CuckooTable *t);
extern uint64_t ck_min_bytes(const CuckooConfig *config);

/* Slots of the index, all segments': a measure of its load. */
extern uint64_t ck_index_slots(const CuckooTable *t);

extern void ck_default_config(CuckooConfig *config, uint32_t value_size);
extern void ck_view_reset(CuckooView *view);

#endif							/* MONOLITH_CUCKOO_H */
