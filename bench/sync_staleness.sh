#!/usr/bin/env bash
# AUC against the parameter sync interval on a serving replica (the Monolith
# paper's Table 2): the MovieLens stream (label rating >= 4) is replayed on
# the trainer in time order at a fixed rate of MONOLITH_SYNC_RATE examples
# per stream second (100), MONOLITH_SYNC_SPEEDUP times faster in wall time
# (10), and each example is scored on a replica subscribed to the trainer's
# publication just before the trainer learns it.  A fresh model per sync
# interval of 100 ms, 10 s and 5 min of stream time (monolith.sync_interval
# and dense_sync_interval set to that over the speedup) and with the sync
# off, so that the replica keeps the model as it was made.  Prints the
# replica's progressive AUC over the whole stream and its last 20 % (the
# trainer's beside it), the replay rate achieved, and fails unless both
# fall as the interval grows.  MONOLITH_SYNC_EXAMPLES replays only the
# stream's first so many examples.  See sync_staleness.sql.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

rate=${MONOLITH_SYNC_RATE:-100}
speedup=${MONOLITH_SYNC_SPEEDUP:-10}
examples=${MONOLITH_SYNC_EXAMPLES:-0}

start_throwaway_cluster "wal_level = logical"
replica_cluster "monolith.role = replica"
load_ratings required
cluster_psql -c "CREATE EXTENSION monolith" -c "SELECT monolith.create_publication()" >/dev/null
replica_psql -c "CREATE EXTENSION monolith" \
	-c "CREATE SUBSCRIPTION trainer CONNECTION 'host=$work port=$port dbname=postgres' PUBLICATION monolith"
cluster_psql -v rate="$rate" -v speedup="$speedup" -v examples="$examples" \
	-v replica="host=$work port=$((port + 1)) dbname=postgres" -f "$MONOLITH_ROOT/bench/sync_staleness.sql"
[ "$(cluster_psql -At -c "SELECT holds FROM ordering")" = t ] || { echo "AUC does not fall as the interval grows" >&2; exit 1; }
