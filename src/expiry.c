/*
 * expiry.c
 *		Expiry by age: the cutoffs of a model's ttl and slot_ttl, and the
 *		worker's passes that remove the IDs past them.
 *
 * A pass begins every monolith.expire_interval over the database's live
 * models; each of the worker's turns takes at most EXPIRE_PIECES pieces of
 * it (ck_remove_pieces: each under the exclusive table lock, let go
 * between them), so that a pass over a big model never keeps the worker
 * from its sync rounds for long.  Cutoffs are those of the pass's start.
 * A model dropped during a pass is passed over; one made again is taken
 * from where the cursor is, and the next pass sees what that missed.  The
 * removals go to replicas with the sync's next round, as any removal does.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "expiry.h"
#include "shmem.h"

int			monolith_expire_interval_ms = 60000;

/* Pieces of a pass the worker takes a turn. */
#define EXPIRE_PIECES 8

/* The worker's pass under way. */
static struct
{
	int64	   *ids;			/* the models it goes over, in TopMemoryContext */
	int			n;
	int			at;				/* the one it is at */
	uint32		ref;			/* and where in it; 1 to begin */
	TimestampTz started;
}			pass;

/* Unix seconds of now less age, within the clock of an ID's last_seen. */
uint32
expiry_cutoff(TimestampTz now, const Interval *age)
{
	TimestampTz cutoff = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
																 TimestampTzGetDatum(now),
																 IntervalPGetDatum(age)));
	int64		secs = timestamptz_to_time_t(cutoff);

	return (uint32) Min(Max(secs, 0), (int64) UINT32_MAX);
}

/*
 * The expiry that def's ttl and slot_ttl make at now; false if they make
 * none.  A hashed model's rows are of no slot: its one ttl is every key's.
 */
static bool
expiry_of(const ModelDef *def, TimestampTz now, ModelExpiry *expiry)
{
	bool		any = false;

	for (int s = 0; s < MODEL_MAX_SLOTS; s++)
	{
		const Interval *ttl = s < def->n_slot_ttl && modeldef_interval_seconds(&def->slot_ttl[s]) > 0 ?
			&def->slot_ttl[s] : &def->ttl;
		bool		expires = (s < def->n_slots || def->hash_rows > 0) && modeldef_interval_seconds(ttl) > 0;

		expiry->cutoff[s] = expires ? expiry_cutoff(now, ttl) : 0;
		any |= expires;
	}
	return any;
}

/* Begins a pass over n models. */
void
expiry_begin(const int64 *ids, int n)
{
	if (pass.ids == NULL)
		pass.ids = MemoryContextAlloc(TopMemoryContext, sizeof(int64) * monolith_max_models);
	memcpy(pass.ids, ids, sizeof(int64) * Min(n, monolith_max_models));
	pass.n = Min(n, monolith_max_models);
	pass.at = 0;
	pass.ref = 1;
	pass.started = GetCurrentTimestamp();
}

/*
 * In a transaction: the next EXPIRE_PIECES pieces of the pass under way, at
 * most, of one model.  Whether the pass goes on.
 */
bool
expiry_step(void)
{
	int64		id;
	ModelDef	def;
	ModelHandle h;
	ModelExpiry expiry;

	if (pass.at >= pass.n)
		return false;
	id = pass.ids[pass.at];
	if (!catalog_model_exists(id))
		pass.ref = 0;
	else
	{
		catalog_lookup_id(id, &def);
		if (!expiry_of(&def, pass.started, &expiry))
			pass.ref = 0;
		else
		{
			shmem_open_model(&h, &def);
			model_expire(h.model, &h.env, &expiry, &pass.ref, EXPIRE_PIECES);
		}
	}
	if (pass.ref == 0)
	{
		pass.at++;
		pass.ref = 1;
	}
	return pass.at < pass.n;
}
