/*
 * monolith.c
 *		Entry point: configuration and start-up of the monolith extension.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "commit_train.h"
#include "expiry.h"
#include "features.h"
#include "lifecycle.h"
#include "replica.h"
#include "shmem.h"
#include "snapshot.h"
#include "sync.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static const struct config_enum_entry role_options[] = {
	{"trainer", MONOLITH_ROLE_TRAINER, false},
	{"replica", MONOLITH_ROLE_REPLICA, false},
	{NULL, 0, false}
};

/*
 * Defines the settings and asks for shared memory.  Loaded any other way than
 * by shared_preload_libraries it does nothing, and every SQL function says so.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;

	DefineCustomIntVariable("monolith.max_memory",
							"Shared memory all models' tables may take together.",
							"When the cap is reached, models evict their least recently seen IDs.",
							&monolith_max_memory_mb,
							1024, 8, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_MB,
							NULL, shmem_assign_max_memory, NULL);
	DefineCustomIntVariable("monolith.max_models",
							"Models that can hold parameters in shared memory at once.",
							NULL,
							&monolith_max_models,
							64, 1, 10000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.log_long_holds",
							"Logs each exclusive hold of a model's lock that lasts at least this long.",
							"-1 turns it off.  The log line says how long of the hold the process was on the CPU, which tells the work done under the lock from time the machine gave to others.",
							&monolith_log_long_holds_ms,
							-1, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.progress_interval",
							"Time between progress notices of monolith.train_query and monolith.evaluate.",
							"0 turns the notices off.",
							&monolith_progress_interval,
							10, 0, INT_MAX / 1000,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.joiner_naptime",
							"Time the background worker waits between rounds of closing joiners' windows.",
							NULL,
							&monolith_joiner_naptime_ms,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.expire_interval",
							"Time between the background worker's passes that expire IDs unseen for their model's ttl.",
							"0 turns expiry by ttl off.",
							&monolith_expire_interval_ms,
							60000, 0, 24 * 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.sync_interval",
							"Time between rounds of the parameter sync, which ships the keys that changed to replicas.",
							"0 turns the sync off.",
							&monolith_sync_interval_ms,
							100, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.dense_sync_interval",
							"Time between shipments of each model's dense weights (bias, numeric weights, tower) to replicas.",
							"They also go with a model's first round.",
							&monolith_dense_sync_interval_ms,
							10000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("monolith.snapshots_kept",
							"Snapshots kept of each model: taking one removes the oldest beyond this many.",
							"Keep two at least: a snapshot damaged on disk is passed over for the one before it.",
							&monolith_snapshots_kept,
							3, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("monolith.role",
							 "What this server does with its models: trains them, or serves a trainer's.",
							 "A replica subscribes to the trainer's publication (monolith.create_publication), refuses to train, and scores from what the trainer's sync ships.",
							 &monolith_role,
							 MONOLITH_ROLE_TRAINER, role_options,
							 PGC_POSTMASTER, 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("monolith");

	lifecycle_install_callbacks();
	commit_train_install_callbacks();
	shmem_install_hooks();
	worker_install_hooks();
	worker_register_launcher();
}
