#!/usr/bin/env bash
# Model quality on the real MovieLens stream (label rating >= 4, time order,
# progressive validation), as in the Monolith paper: collisionless tables
# against the same models with IDs hashed into 2^12 and 2^10 shared rows
# (Figure 7), and training online on the last 20% against freezing the
# model trained on the first 80% (Table 2); and the calibration of a model
# trained on sampled negatives, against one trained on all of them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

start_throwaway_cluster
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/stream.sql" -f "$MONOLITH_ROOT/bench/quality_bench.sql"
