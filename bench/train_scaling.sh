#!/usr/bin/env bash
# Training on two cores: two sessions, each running train_query over half
# of the MovieLens stream x20 (replays 0-9 and 10-19, IDs renumbered per
# replay, so the halves share only genres and the model's dense weights),
# into one model, against one session over all of it, read from the same
# two tables (this machine's last-level cache holds most of what one run
# reads, so one session reading other pages than the two would be measured
# with another share of its reads missing the cache); and, as the machine's
# own figures, the same two sessions each training a model of its own (what
# two cores give this memory-bound work when the sessions share nothing) and
# two sessions of a CPU-bound loop against one.  Runs interleave, so each
# run's figures are taken minutes apart at most; this machine's speed drifts
# by tens of percent from second to second, so besides the ratio of the
# medians it prints the median of each run's own ratio.  MONOLITH_BENCH_RUNS
# runs (9).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

runs=${MONOLITH_BENCH_RUNS:-9}
start_throwaway_cluster "shared_buffers = '1GB'"
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/stream.sql"
cluster_psql <<'SQL'
CREATE EXTENSION monolith;
CREATE TABLE stream20_a AS SELECT * FROM stream20 WHERE n < 10000000 ORDER BY n;
CREATE TABLE stream20_b AS SELECT * FROM stream20 WHERE n >= 10000000 ORDER BY n;
VACUUM ANALYZE stream20_a, stream20_b;
-- read once, so that every run finds them in shared buffers
SELECT count(*) FROM stream20_a, stream20_b WHERE false;
SELECT count(*) FROM stream20_a; SELECT count(*) FROM stream20_b;
CREATE TABLE runs (what text, run int, seconds float8, examples bigint, auc float8);
SQL

# All of the stream, in order: one half, then the other.
whole='(SELECT * FROM stream20_a UNION ALL SELECT * FROM stream20_b) whole'

# Seconds, examples and AUC of train_query over $2 (a table, or a subquery
# with an alias) into model $1.
train() {
	cluster_psql -At -F ' ' -c "SET monolith.progress_interval = 0" -c \
		"SELECT seconds, examples, auc FROM monolith.train_query('$1', 'SELECT user_id, movie_id, genres, liked FROM $2', 'liked')"
}
fresh_model() {
	cluster_psql -c "SELECT monolith.drop_model(name) FROM monolith.models WHERE name = '$1'" \
		-c "SELECT monolith.create_model('$1', ARRAY['user_id', 'movie_id', 'genres'], dim => 16)" >/dev/null
}
record() { cluster_psql -c "INSERT INTO runs VALUES ('$1', $2, $3, $4, ${5:-NULL})"; }
# Seconds of a CPU-bound loop of $1 steps, and the steps.
loop() {
	echo "$(cluster_psql -At -c "SELECT extract(epoch FROM clock_timestamp()) - extract(epoch FROM now()) FROM (SELECT sum(g) FROM generate_series(1, $1) g) s") $1"
}

# Runs the command lines $1 and $2 (split into words) at once, each printing
# its seconds and what it counted (examples or steps); prints the later
# one's seconds (both start together) and the two counts' sum.
pair() {
	local first=$1 second=$2 secs_a count_a secs_b count_b
	$first > "$work/pair_a" &
	local pid=$!
	read -r secs_b count_b _ < <($second)
	wait "$pid"
	read -r secs_a count_a _ < "$work/pair_a"
	echo "$(echo "if ($secs_a > $secs_b) $secs_a else $secs_b" | bc -l) $((count_a + count_b))"
}

for r in $(seq 1 "$runs"); do
	echo "== run $r of $runs" >&2
	fresh_model one
	read -r secs examples auc < <(train one "$whole")
	record "one session" "$r" "$secs" "$examples" "$auc"
	fresh_model two
	record "two sessions" "$r" $(pair "train two stream20_a" "train two stream20_b")
	fresh_model own_a
	fresh_model own_b
	record "two sessions, a model each" "$r" $(pair "train own_a stream20_a" "train own_b stream20_b")
	record "CPU loop, one session" "$r" $(loop 20000000)
	record "CPU loop, two sessions" "$r" $(pair "loop 10000000" "loop 10000000")
done

cluster_psql <<'SQL'
\pset footer off
CREATE VIEW medians AS
SELECT what, percentile_cont(0.5) WITHIN GROUP (ORDER BY examples / seconds) AS per_second,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY auc) AS auc, count(*) AS runs
  FROM runs GROUP BY what;
-- each two-session figure and the one-session figure it is set against
CREATE VIEW against AS
SELECT DISTINCT what, CASE WHEN what LIKE 'CPU loop%' THEN 'CPU loop, one session' ELSE 'one session' END AS one
  FROM runs WHERE what LIKE '%two sessions%';
-- the median of each run's two-session rate over its own one-session rate
CREATE VIEW paired AS
SELECT a.what, a.one,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY (two.examples / two.seconds) / (one.examples / one.seconds)) AS ratio
  FROM against a JOIN runs two USING (what) JOIN runs one ON one.what = a.one AND one.run = two.run
 GROUP BY a.what, a.one;
\echo 'train_query over the MovieLens stream x20 (2,000,080 examples), FM dim 16; medians:'
SELECT what, round(per_second) AS "examples (or loop steps)/s", round(auc::numeric, 4) AS progressive_auc, runs
  FROM medians ORDER BY what;
\echo 'Two sessions against one (target for two sessions training one model: >= 1.7):'
SELECT p.what, round((two.per_second / one.per_second)::numeric, 2) AS "ratio of the medians",
       round(p.ratio::numeric, 2) AS "median of each run's ratio"
  FROM paired p JOIN medians two ON two.what = p.what JOIN medians one ON one.what = p.one
 ORDER BY p.what DESC;
SQL
