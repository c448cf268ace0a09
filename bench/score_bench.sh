#!/usr/bin/env bash
# Scoring speed: monolith.score over a million (user, movie) pairs against
# the trivial-C-function floor, count(int4pl(a, b)), over the same rows in
# the same run; and top-10 movies for a user over all movies.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

start_throwaway_cluster "shared_buffers = '1GB'"
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/stream.sql"
cluster_psql -v runs="${MONOLITH_BENCH_RUNS:-5}" -f "$MONOLITH_ROOT/bench/score_bench.sql"
