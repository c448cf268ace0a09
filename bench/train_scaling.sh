#!/usr/bin/env bash
# Training on two cores: two sessions, each running train_query over half
# of the MovieLens stream x20 (replays 0-9 and 10-19, IDs renumbered per
# replay, so the halves share only genres and the model's dense weights),
# into one model, against one session over all of it; and, as the machine's
# own figure, two sessions of a CPU-bound loop against one.  Runs
# interleave; medians of MONOLITH_BENCH_RUNS (5).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

runs=${MONOLITH_BENCH_RUNS:-5}
start_throwaway_cluster "shared_buffers = '1GB'"
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/stream.sql"
cluster_psql <<'SQL'
CREATE EXTENSION monolith;
CREATE TABLE stream20_a AS SELECT * FROM stream20 WHERE n < 10000000 ORDER BY n;
CREATE TABLE stream20_b AS SELECT * FROM stream20 WHERE n >= 10000000 ORDER BY n;
VACUUM ANALYZE stream20_a, stream20_b;
-- read once, so that every run finds them in shared buffers
SELECT count(*) FROM stream20, stream20_a, stream20_b WHERE false;
SELECT count(*) FROM stream20; SELECT count(*) FROM stream20_a; SELECT count(*) FROM stream20_b;
CREATE TABLE runs (what text, run int, seconds float8, examples bigint, auc float8);
SQL

# Seconds, examples and AUC of train_query over table $2 into model $1.
train() {
	cluster_psql -At -F ' ' -c "SET monolith.progress_interval = 0" -c \
		"SELECT seconds, examples, auc FROM monolith.train_query('$1', 'SELECT user_id, movie_id, genres, liked FROM $2', 'liked')"
}
fresh_model() {
	cluster_psql -c "SELECT monolith.drop_model(name) FROM monolith.models WHERE name = '$1'" \
		-c "SELECT monolith.create_model('$1', ARRAY['user_id', 'movie_id', 'genres'], dim => 16)" >/dev/null
}
record() { cluster_psql -c "INSERT INTO runs VALUES ('$1', $2, $3, $4, ${5:-NULL})"; }
# Seconds of a CPU-bound loop of $1 steps.
loop() { cluster_psql -At -c "SELECT extract(epoch FROM clock_timestamp()) - extract(epoch FROM now()) FROM (SELECT sum(g) FROM generate_series(1, $1) g) s"; }

for r in $(seq 1 "$runs"); do
	echo "== run $r of $runs" >&2
	fresh_model one
	read -r secs examples auc < <(train one stream20)
	record "one session" "$r" "$secs" "$examples" "$auc"
	fresh_model two
	train two stream20_a > "$work/half_a" &
	half_a=$!
	read -r secs_b examples_b _ < <(train two stream20_b)
	wait "$half_a"
	read -r secs_a examples_a _ < "$work/half_a"
	# The pair's time is the later of the two to finish: both start together.
	record "two sessions" "$r" "$(echo "if ($secs_a > $secs_b) $secs_a else $secs_b" | bc -l)" "$((examples_a + examples_b))"
	record "CPU loop, one session" "$r" "$(loop 20000000)" 20000000
	loop 10000000 > "$work/loop_a" &
	loop_a=$!
	secs_b=$(loop 10000000)
	wait "$loop_a"
	secs_a=$(cat "$work/loop_a")
	record "CPU loop, two sessions" "$r" "$(echo "if ($secs_a > $secs_b) $secs_a else $secs_b" | bc -l)" 20000000
done

cluster_psql <<'SQL'
\pset footer off
CREATE VIEW medians AS
SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY examples / seconds) AS per_second,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY auc) AS auc, count(*) AS runs
  FROM runs GROUP BY what;
\echo 'train_query over the MovieLens stream x20 (2,000,080 examples), FM dim 16; medians:'
SELECT what, round(per_second) AS "examples (or loop steps)/s", round(auc::numeric, 4) AS progressive_auc, runs
  FROM medians ORDER BY what;
SELECT round(((SELECT per_second FROM medians WHERE what = 'two sessions') /
             (SELECT per_second FROM medians WHERE what = 'one session'))::numeric, 2) AS "two sessions / one (target >= 1.7)",
       round(((SELECT per_second FROM medians WHERE what = 'CPU loop, two sessions') /
             (SELECT per_second FROM medians WHERE what = 'CPU loop, one session'))::numeric, 2) AS "CPU loop: two / one";
SQL
