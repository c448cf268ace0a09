#!/usr/bin/env bash
# The parameter sync, end to end, on three real clusters and a fourth for the
# floor: a trainer and two replicas subscribed to its publication.
#
# - Freshness: pgbench trains the model load at 10 k touched keys/s for 60 s,
#   first with one replica, then with two (the second subscribed late); a
#   probe meanwhile trains a key of its own model, commits, and times how
#   long each replica takes to give the trainer's new score (p50, p99).
# - Keys/s shipped and applied, and WAL bytes per key against the payload's
#   bytes per key (a key and its 1 + dim floats, as the wire format ships it).
# - The floor, in the same run: a plain table of monolith.sync_batches' row
#   shape, inserted at the rate and with the row size the sync wrote at
#   10 k keys/s, published to a subscriber whose table has a no-op row
#   trigger, probed the same way; and one row a key upserted as fast as it
#   goes to that subscriber (the per-row apply floor).
# - The highest sustained rate: the load at rising rates, one replica, with
#   the probe's latency at each.
# MONOLITH_SYNC_SECONDS sets the freshness phases' length (60), and
# MONOLITH_SYNC_LEVELS the rates of the last part (keys/s).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

seconds=${MONOLITH_SYNC_SECONDS:-60}
levels=${MONOLITH_SYNC_LEVELS:-"25000 50000 100000 200000"}
level_seconds=20
dim=16
# What the wire format ships of a key: the key and its 1 + dim float32s.
payload_bytes=$((8 + 4 * (1 + dim)))
# The load's transactions per second; each trains keys/s / (2 tps) examples
# of a user of 100 M and a movie of 100 k: two keys touched an example, the
# user's almost always new (the model grows by about 4 M keys in all).
load_tps=50

memory="monolith.max_memory = '4GB'"
start_throwaway_cluster "wal_level = logical" "$memory"
replica_cluster "monolith.role = replica" "$memory"
extra_cluster 2 "monolith.role = replica" "$memory"
extra_cluster 3 "monolith.sync_interval = 0"
cluster_psql -f "$MONOLITH_ROOT/bench/sync_bench.sql" >/dev/null
trainer_conninfo="host=$work port=$port dbname=postgres"

subscribe_replica() {
	psql_on_port $((port + $1)) -c "CREATE EXTENSION monolith" \
		-c "CREATE SUBSCRIPTION sync_r$1 CONNECTION '$trainer_conninfo' PUBLICATION monolith"
	cluster_psql -c "INSERT INTO targets VALUES ('r$1', 'host=$work port=$((port + $1)) dbname=postgres')"
}
# Waits until replica $1 has both models ready, then until it answers a probe
# (behind the rounds it has yet to apply).
wait_ready() {
	psql_on_port $((port + $1)) -c "DO \$\$ BEGIN
		FOR i IN 1..3000 LOOP
			EXIT WHEN (SELECT count(*) = 2 AND bool_and(ready) FROM monolith.replica_status);
			PERFORM pg_sleep(0.1);
		END LOOP; END \$\$"
	cluster_psql -c "CALL probe_sync('warm-up', '{r$1}', 1)"
}

subscribe_replica 1
# The floor's subscriber: the same two tables, each with a no-op row trigger.
psql_on_port $((port + 3)) <<SQL
CREATE EXTENSION monolith;
CREATE TABLE floor_batches (LIKE monolith.sync_batches INCLUDING ALL);
CREATE TABLE floor_keys (key int8 PRIMARY KEY, round int8 NOT NULL, params bytea NOT NULL);
CREATE FUNCTION no_op() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN RETURN NULL; END\$\$;
CREATE TRIGGER no_op AFTER INSERT OR UPDATE ON floor_batches FOR EACH ROW EXECUTE FUNCTION no_op();
CREATE TRIGGER no_op AFTER INSERT OR UPDATE ON floor_keys FOR EACH ROW EXECUTE FUNCTION no_op();
ALTER TABLE floor_batches ENABLE ALWAYS TRIGGER no_op;
ALTER TABLE floor_keys ENABLE ALWAYS TRIGGER no_op;
CREATE SUBSCRIPTION floor CONNECTION '$trainer_conninfo' PUBLICATION floor;
SQL
cluster_psql -c "INSERT INTO targets VALUES ('floor', 'host=$work port=$((port + 3)) dbname=postgres')"

# A model of about a million keys before the clock starts.
echo "== training the load model's first 1.1 M keys" >&2
cluster_psql -c "SELECT examples FROM monolith.train_query('load',
	\$\$SELECT u AS user_id, u % 100000 + 1 AS movie_id, ARRAY['g' || u % 18] AS genres, u % 3 = 0 AS label
	   FROM generate_series(1, 1000000) u\$\$)" >/dev/null
wait_ready 1

cat > "$work/load.sql" <<'SQL'
SELECT count(monolith.train('load', random() < 0.5, (random() * 99999999)::int4 + 1,
                            (random() * 99999)::int4 + 1, ARRAY['g' || (random() * 17)::int4]))
  FROM generate_series(1, :examples);
SQL
cat > "$work/floor_batches.sql" <<'SQL'
\set p random(1, 100)
INSERT INTO floor_batches SELECT 0, now(), nextval('floor_round'), 0, now(), :keys, data
  FROM floor_payloads WHERE id = :p;
SQL
[ "$(id -u)" -eq 0 ] && chown "$RUN_USER" "$work"/*.sql

# Counters of phase $1's side $2 (before, after): the load model's keys and
# bytes shipped, rows written to the sync table, the WAL position, and the
# keys replica 1 applied.
read_counters() {
	cluster_psql -c "INSERT INTO counters
		SELECT '$1/$2', clock_timestamp(), s.keys_shipped, s.bytes_shipped,
		       (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'monolith.sync_batches'::regclass)
		       + (SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'floor_batches'::regclass),
		       pg_current_wal_lsn(),
		       (SELECT a FROM dblink((SELECT conninfo FROM targets WHERE label = 'r1'), \$\$SELECT keys_applied FROM monolith.replica_status
		                                     WHERE model = 'load'\$\$) AS t(a int8))
		  FROM monolith.sync_status s WHERE s.model = 'load'"
}
# Phase $1: the load at $2 keys/s for $3 s beside the probe of replicas $4 (an array literal).
sync_phase() {
	local phase=$1 keys_s=$2 secs=$3 targets=$4
	echo "== $phase: $keys_s keys/s for $secs s, probing $targets" >&2
	cluster_psql -c "INSERT INTO phases (phase, target_keys_s) VALUES ('$phase', $keys_s)"
	read_counters "$phase" before
	as_run_user pgbench -n -h "$work" -p "$port" -c 1 -R "$load_tps" -T "$secs" -f "$work/load.sql" \
		-D examples=$((keys_s / (2 * load_tps))) postgres >/dev/null &
	local load=$!
	cluster_psql -c "CALL probe_sync('$phase', '$targets', $secs)"
	wait "$load"
	sleep 1.5	# the worker's table statistics reach the counters
	read_counters "$phase" after
}

sync_phase "one replica" 10000 "$seconds" '{r1}'
subscribe_replica 2
wait_ready 2
sync_phase "two replicas" 10000 "$seconds" '{r1,r2}'

# The floor at the rows/s and row size that the sync wrote with one replica.
IFS='|' read -r floor_rows_s floor_bytes floor_keys < <(cluster_psql -At -c "
	SELECT round((a.rows - b.rows) / extract(epoch FROM a.at - b.at)),
	       (a.bytes - b.bytes) / (a.rows - b.rows), (a.keys - b.keys) / (a.rows - b.rows)
	  FROM counters a, counters b WHERE a.phase = 'one replica/after' AND b.phase = 'one replica/before'")
cluster_psql -c "INSERT INTO floor_payloads SELECT i,
	(SELECT string_agg(gen_random_bytes(1024), ''::bytea) FROM generate_series(1, $floor_bytes / 1024 + 1) WHERE i > 0)
	FROM generate_series(1, 100) i"
cluster_psql -c "UPDATE floor_payloads SET data = substring(data FROM 1 FOR $floor_bytes)"
echo "== floor: $floor_rows_s rows/s of $floor_bytes bytes ($floor_keys keys a row) for $seconds s" >&2
cluster_psql -c "INSERT INTO phases (phase) VALUES ('floor')"
read_counters floor before
as_run_user pgbench -n -h "$work" -p "$port" -c 1 -R "$floor_rows_s" -T "$seconds" -f "$work/floor_batches.sql" \
	-D keys="$floor_keys" postgres >/dev/null &
floor_load=$!
cluster_psql -c "CALL probe('floor', '{floor}', $seconds, 0.1,
	\$\$INSERT INTO floor_batches SELECT -1, now(), %1\$s, 0, now(), 1, data FROM floor_payloads WHERE id = 1\$\$,
	'SELECT ''1''', 'SELECT count(*)::text FROM floor_batches WHERE model_id = -1 AND round = %1\$s')"
wait "$floor_load"
sleep 1.5
read_counters floor after
# floor's keys/s is what its rows carried had they been the sync's
cluster_psql -c "UPDATE counters SET keys = CASE phase WHEN 'floor/before' THEN 0
	ELSE (rows - (SELECT rows FROM counters WHERE phase = 'floor/before')) * $floor_keys END,
	bytes = 0 WHERE phase LIKE 'floor/%'"

# One row a key: 300 k keys inserted, then all updated in transactions of
# 10 k as fast as they go, timed until the subscriber has applied them.
upsert_keys=300000
upsert_pass() {
	for batch in $(seq 0 $((upsert_keys / 10000 - 1))); do
		cluster_psql -c "INSERT INTO floor_keys SELECT k, $1, (SELECT data FROM floor_payloads WHERE id = 1)
			FROM generate_series($((batch * 10000)), $((batch * 10000 + 9999))) k
			ON CONFLICT (key) DO UPDATE SET round = excluded.round, params = excluded.params" >/dev/null
	done
	psql_on_port $((port + 3)) -c "DO \$\$ BEGIN
		WHILE (SELECT count(*) FROM floor_keys WHERE round = $1) < $upsert_keys LOOP
			PERFORM pg_sleep(0.01);
		END LOOP; END \$\$"
}
echo "== floor: one row a key, upserted" >&2
cluster_psql -c "UPDATE floor_payloads SET data = substring(data FROM 1 FOR $payload_bytes)"
upsert_pass 1
upsert_started=$(date +%s.%N)
upsert_pass 2
upserts_applied=$(date +%s.%N)

# The load at rising rates to one replica, the second unsubscribed.
psql_on_port $((port + 2)) -c "DROP SUBSCRIPTION sync_r2"
for level in $levels; do
	sync_phase "$level keys/s" "$level" "$level_seconds" '{r1}'
done

echo
echo "Sync: commit of a training step to the same score on a replica (the probe), keys shipped and WAL"
cluster_psql -P footer=off <<SQL
SELECT m.phase, l.target AS replica, l.probes, l.unanswered,
       round(l.p50::numeric, 1) AS p50_ms, round(l.p99::numeric, 1) AS p99_ms, round(l.max::numeric, 1) AS max_ms,
       round(m.keys / m.secs) AS keys_per_s,
       CASE WHEN m.phase <> 'floor' THEN round(m.applied / m.secs) END AS applied_per_s,
       round(m.rows / m.secs) AS rows_per_s,
       round(m.wal / nullif(m.keys, 0), 1) AS wal_bytes_per_key,
       CASE WHEN m.phase <> 'floor' THEN round(m.bytes / nullif(m.keys, 0), 1) END AS shipped_bytes_per_key
  FROM moved m JOIN probe_latency l USING (phase)
 ORDER BY m.n, l.target;
SQL

cluster_psql -At <<SQL
SELECT format('payload: %s bytes a key (8-byte key, %s float32s); WAL bytes per key at 10 k keys/s: %s (%s× the payload; target ≤ 2×)',
              $payload_bytes, 1 + $dim, round(wal / keys, 1), round(wal / keys / $payload_bytes, 2))
  FROM moved WHERE phase = 'one replica'
UNION ALL
SELECT format('p99 commit to replica at 10 k keys/s: %s ms with one replica, %s ms with two (target ≤ 200 ms)',
              (SELECT round(p99::numeric, 1) FROM probe_latency WHERE phase = 'one replica'),
              (SELECT round(max(p99)::numeric, 1) FROM probe_latency WHERE phase = 'two replicas'))
UNION ALL
SELECT format('highest rate run with p99 ≤ 1 s: %s keys/s shipped (goal ≥ 100 k keys/s)',
              coalesce(max(round(m.keys / m.secs))::text, 'none'))
  FROM moved m JOIN probe_latency l USING (phase) WHERE m.target_keys_s IS NOT NULL AND l.p99 <= 1000
UNION ALL
SELECT format('per-row floor: %s keys updated, one row of %s bytes each, applied by the subscriber at %s keys/s',
              $upsert_keys, $payload_bytes, round($upsert_keys / ($upserts_applied - $upsert_started)));
SQL
