#!/usr/bin/env bash
# Online training under load: 8 pgbench clients insert small batches of
# events (10 rows a transaction, a share of the transactions rolled back on
# purpose) while 8 clients score, first with the events table's
# monolith.train_trigger disabled (the baseline), then enabled, in alternating
# rounds of the same run.  Prints inserts/s, scores/s and the p50/p99
# latencies of both, the trigger's cost against the baseline, and checks that
# the model trained on exactly the rows that committed during the trigger's
# rounds, and on none that rolled back.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

seconds=${MONOLITH_LOAD_SECONDS:-60}       # per configuration, over all its rounds
rounds=${MONOLITH_LOAD_ROUNDS:-2}
rollback_percent=${MONOLITH_LOAD_ROLLBACK_PERCENT:-10}
round_seconds=$((seconds / rounds))

start_throwaway_cluster "max_connections = 40" "shared_buffers = '256MB'"
cluster_psql <<'SQL'
CREATE EXTENSION monolith;
SELECT monolith.create_model('live', ARRAY['user_id', 'movie_id', 'genres'], dim => 16,
       learning_rate => 0.05, min_count => 1, admit_probability => 1.0);
-- every row takes a sequence number, which a rollback does not return
CREATE SEQUENCE events_seq CACHE 1;
CREATE TABLE events (seq bigint PRIMARY KEY DEFAULT nextval('events_seq'),
                     user_id int, movie_id int, genres text[], rating real,
                     liked boolean GENERATED ALWAYS AS (rating >= 4) STORED,
                     at timestamptz DEFAULT now());
CREATE TRIGGER events_train AFTER INSERT ON events
  REFERENCING NEW TABLE AS new FOR EACH STATEMENT
  EXECUTE FUNCTION monolith.train_trigger('live', 'liked');
-- the scorers read a model that already holds the IDs they ask for
SELECT examples FROM monolith.train_query('live',
       $$SELECT u AS user_id, u % 20000 AS movie_id, ARRAY['g' || u % 18] AS genres,
                u % 3 = 0 AS liked FROM generate_series(1, 100000) u$$, label => 'liked');
SQL

cat > "$work/insert.sql" <<'SQL'
\set u random(1, 100000)
\set m random(1, 20000)
\set r random(1, 100)
BEGIN;
INSERT INTO events (user_id, movie_id, genres, rating)
SELECT :u + g, (:m + 7 * g) % 20000, ARRAY['g' || (:m + g) % 18, 'g' || g], (:u + g) % 6
  FROM generate_series(1, 10) g;
\if :r <= :rollback_percent
ROLLBACK;
\else
COMMIT;
\endif
SQL
cat > "$work/score.sql" <<'SQL'
\set u random(1, 100000)
\set m random(1, 20000)
SELECT monolith.score('live', :u, :m, ARRAY['g' || :m % 18]);
SQL
[ "$(id -u)" -eq 0 ] && chown "$RUN_USER" "$work/insert.sql" "$work/score.sql"

pgbench_run() {
	as_run_user pgbench -n -h "$work" -p "$port" -c 8 -j 2 -T "$round_seconds" \
		-l --log-prefix="$work/logs/$1" -f "$work/$2" -D rollback_percent="$rollback_percent" \
		postgres >/dev/null
}
# Rows present and sequence numbers taken.
table_counts() { cluster_psql -At -c "SELECT count(*), (SELECT last_value FROM events_seq) FROM events"; }

mkdir -p "$work/logs"
[ "$(id -u)" -eq 0 ] && chown "$RUN_USER" "$work/logs"
expected_committed=0
expected_rolled_back=0
for round in $(seq 1 "$rounds"); do
	for config in baseline trigger; do
		if [ "$config" = baseline ]; then
			cluster_psql -c "ALTER TABLE events DISABLE TRIGGER events_train"
		else
			cluster_psql -c "ALTER TABLE events ENABLE TRIGGER events_train"
		fi
		IFS='|' read -r rows_before seq_before < <(table_counts)
		echo "== round $round, $config: ${round_seconds} s" >&2
		pgbench_run "insert_${config}_$round" insert.sql &
		inserters=$!
		pgbench_run "score_${config}_$round" score.sql
		wait "$inserters"
		IFS='|' read -r rows_after seq_after < <(table_counts)
		if [ "$config" = trigger ]; then
			expected_committed=$((expected_committed + rows_after - rows_before))
			expected_rolled_back=$((expected_rolled_back + (seq_after - seq_before) - (rows_after - rows_before)))
		fi
	done
done

# pgbench's per-transaction log: the third field is the latency in
# microseconds.  Prints the throughput (per transaction, rows_per of them)
# and latencies of the logs named $1, and keeps the mean in $work/mean_$1.
summary() {
	cat "$work"/logs/"$1"_*.* | sort -n -k3,3 | awk -v secs="$seconds" -v what="$2" \
		-v rows_per="$3" -v mean_file="$work/mean_$1" '
		{ lat[n++] = $3; sum += $3 }
		END {
			printf "  %-7s %8.0f/s   p50 %7.3f ms   p99 %7.3f ms   mean %7.3f ms\n", what,
				n * rows_per / secs, lat[int(n * 0.5)] / 1000, lat[int(n * 0.99)] / 1000,
				sum / n / 1000
			printf "%.6f\n", sum / n / 1000 > mean_file
		}'
}
echo
echo "8 inserting clients (10 rows a transaction, ${rollback_percent}% rolled back) beside 8 scoring clients,"
echo "${seconds} s each configuration, in ${rounds} alternating rounds: rows inserted/s (rolled back ones too) and"
echo "latency per inserting transaction; scores/s and latency per call:"
for config in baseline trigger; do
	echo "$config:"
	summary "insert_$config" rows 10
	summary "score_$config" scores 1
done
base=$(cat "$work/mean_insert_baseline")
trig=$(cat "$work/mean_insert_trigger")
awk -v b="$base" -v t="$trig" 'BEGIN {
	printf "mean insert transaction: baseline %.3f ms, with the trigger %.3f ms: %.2fx the baseline (target: at most 1.5x)\n", b, t, t / b }'

echo
echo "trained = committed check (rows inserted while the trigger was enabled):"
cluster_psql -At -F ' ' -c "SELECT examples_committed, examples_rolled_back, examples_failed, examples_trained
                              FROM monolith.models WHERE name = 'live'" |
while read -r committed rolled_back failed trained; do
	printf "  committed rows %d, examples trained at commit %d; rolled-back rows %d, examples rolled back %d; failed %d\n" \
		"$expected_committed" "$committed" "$expected_rolled_back" "$rolled_back" "$failed"
	if [ "$committed" -eq "$expected_committed" ] && [ "$rolled_back" -eq "$expected_rolled_back" ] && [ "$failed" -eq 0 ]; then
		echo "  exact: every committed row trained once, no rolled-back row trained"
	else
		echo "  MISMATCH" && exit 1
	fi
	echo "  (examples_trained $trained = 100000 pre-trained + $((trained - 100000)))"
done
