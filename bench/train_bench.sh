#!/usr/bin/env bash
# Training speed and memory on the MovieLens stream replayed 20 times (IDs
# renumbered per replay, so the table grows to ~195k IDs), FM dim 16 on
# user_id, movie_id and genres.  Baselines from the same run: the
# trivial-C-function floor, DESIGN.md's PL/pgSQL reference, and the same
# core loop in a standalone C program (build/train_standalone) over the
# same rows, exported from the table train_query reads.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

RUNS=${MONOLITH_BENCH_RUNS:-3}
make -C "$MONOLITH_ROOT" -s build/train_standalone PG_CONFIG="$PG_BIN/pg_config"
start_throwaway_cluster "shared_buffers = '1GB'"
cp "$MONOLITH_ROOT/build/train_standalone" "$work/"
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/plpgsql_reference.sql" -f "$MONOLITH_ROOT/bench/stream.sql"
cluster_psql -c "\\copy (SELECT liked::int, user_id, movie_id, array_to_string(genres, '|') FROM stream20 ORDER BY n) TO '$work/stream20.tsv'"
echo "== timing $RUNS runs of each" >&2
cluster_psql -v runs="$RUNS" -v standalone="$work/train_standalone" -v standalone_input="$work/stream20.tsv" \
	-f "$MONOLITH_ROOT/bench/train_bench.sql"
