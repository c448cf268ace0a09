#!/usr/bin/env bash
# Training speed and quality of monolith.train on the MovieLens stream, with
# its baselines measured in the same run on the same server: the PL/pgSQL
# logistic matrix factorisation of DESIGN.md, and the trivial-C-function
# floor (count(int4pl(a, b))).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

start_throwaway_cluster
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/plpgsql_reference.sql" -f "$MONOLITH_ROOT/bench/train_bench.sql"
