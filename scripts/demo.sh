#!/usr/bin/env bash
# The main job, on a throwaway local cluster: replays a ratings stream through
# monolith.train in time order (online learning with progressive validation),
# then prints the AUC, the training rate and a user's top recommendations; then
# trains online from INSERTs (a trigger) and through the online joiner, whose
# windows the background worker closes; then starts a serving replica beside
# it, subscribed to the trainer's publication, and shows it answering as the
# trainer does, fresh within a moment of new training; then takes a snapshot,
# trains on, crashes the trainer (an immediate stop) and shows the model the
# server restored by itself scoring as it did before the crash.
# Uses the MovieLens stream when it can be had, else a synthetic one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# A serving replica: a second cluster subscribed to the trainer's publication.
replica_demo() {
	replica_cluster "monolith.role = replica"
	cluster_psql -c "SELECT monolith.create_publication()"
	replica_psql -c "CREATE EXTENSION monolith" \
		-c "CREATE SUBSCRIPTION demo CONNECTION 'host=$work port=$port dbname=postgres' PUBLICATION monolith"
	cluster_psql -v trainer_port="$port" -v replica_port=$((port + 1)) -v socket="$work" -f "$MONOLITH_ROOT/scripts/demo_replica.sql"
}

# A snapshot, training after it, a crash and the restore the server does by itself.
recovery_demo() {
	cluster_psql -v before=true -f "$MONOLITH_ROOT/scripts/demo_recovery.sql"
	as_run_user pg_ctl -D "$work/data" -m immediate stop >/dev/null
	as_run_user pg_ctl -D "$work/data" -l "$work/data.log" -w start >/dev/null
	cluster_psql -v before=false -f "$MONOLITH_ROOT/scripts/demo_recovery.sql"
	echo "The server's log:"
	grep -A1 'model "movies" restored' "$work/data.log" | sed 's/^[^]]*] /  /'
}

start_throwaway_cluster "wal_level = logical"
load_ratings
cluster_psql -f "$MONOLITH_ROOT/scripts/demo.sql"
replica_demo
recovery_demo
