#!/usr/bin/env bash
# The main job, on a throwaway local cluster: replays a ratings stream through
# monolith.train in time order (online learning with progressive validation),
# then prints the AUC, the training rate and a user's top recommendations; then
# trains online from INSERTs (a trigger) and through the online joiner, whose
# windows the background worker closes.
# Uses the MovieLens stream when it can be had, else a synthetic one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

start_throwaway_cluster
load_ratings
cluster_psql -f "$MONOLITH_ROOT/scripts/demo.sql"
