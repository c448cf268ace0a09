#!/usr/bin/env bash
# Snapshots and restores of a model of 1 M and 10 M IDs (dim 16, Adagrad),
# on a throwaway cluster, beside the disk floor measured in the same run:
#
# - Snapshot: monolith.snapshot's time and the file's bytes, beside the raw
#   parameter bytes (every entry's floats) and dd writing as many bytes
#   with conv=fsync to the same file system.
# - Restore: monolith.restore's time, its file first dropped from the page
#   cache (as after a reboot; as root, with /proc/sys/vm/drop_caches),
#   beside dd reading as many bytes with iflag=direct, and beside making as
#   much new shared memory as the model holds (dd into /dev/shm, where the
#   server's dynamic shared memory segments live): a restore reads the file
#   and fills that much fresh memory; then the restore the server does by
#   itself at start, after an immediate stop, from its log.
# - Scoring during a snapshot: score p50 and p99 of a paced pgbench client
#   (MONOLITH_SCORE_RATE calls/s, 2000) for MONOLITH_SNAPSHOT_SECONDS (10)
#   without a snapshot, then while one session takes snapshots one after
#   another, then, as the floor of writing that much, while dd writes files
#   of the snapshot's size with conv=fsync one after another (no monolith
#   in it): three times in turn (the machine is shared and noisy), each
#   round's p99 and the medians.  pgbench logs to /dev/shm, so that the
#   client's own log writes are not held up by the disk's.
#
# MONOLITH_SNAPSHOT_IDS sets the sizes (default "1000000 10000000").
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

sizes=${MONOLITH_SNAPSHOT_IDS:-"1000000 10000000"}
rate=${MONOLITH_SCORE_RATE:-2000}
seconds=${MONOLITH_SNAPSHOT_SECONDS:-10}

# The sync is off: what is timed is the file alone, not the rows after it.
start_throwaway_cluster "monolith.max_memory = '6GB'" "monolith.sync_interval = 0" \
	"shared_buffers = '128MB'"
data="$work/data"
cluster_psql -c "CREATE EXTENSION monolith" >/dev/null

# Milliseconds a statement takes, as the server clocks it.
timed_ms() {
	cluster_psql -At -c "DO \$\$ DECLARE t timestamptz := clock_timestamp(); BEGIN
		PERFORM $1; RAISE NOTICE 'ms=%', round(extract(epoch FROM clock_timestamp() - t) * 1000, 1); END \$\$" 2>&1 |
		sed -n 's/.*ms=\([0-9.]*\).*/\1/p'
}
# MB/s of moving $1 bytes in $2 milliseconds.
mb_per_s() {
	awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.0f", b / 1048576 / (ms / 1000) }'
}
# dd's own MB/s figure, from its last line.
dd_mb_per_s() {
	"$@" 2>&1 | tail -1 | awk '{ v = $(NF - 1); u = $NF;
		if (u ~ /^GB/) v *= 1000; if (u ~ /^kB/) v /= 1000; printf "%.0f", v * 1000000 / 1048576 }'
}
drop_cache() {
	if [ "$(id -u)" -eq 0 ]; then
		sync
		echo 3 > /proc/sys/vm/drop_caches
		echo dropped
	else
		echo "kept (not root)"
	fi
}
# Score latencies (p50 and p99, ms) of a paced pgbench client over $seconds s.
score_latency() {
	local log_prefix="/dev/shm/monolith-latency.$1"
	rm -f "$log_prefix".*
	trap 'rm -f /dev/shm/monolith-latency.*' RETURN
	as_run_user pgbench -n -h "$work" -p "$port" -c 1 -j 1 -R "$rate" -T "$seconds" \
		-f "$work/score.sql" --log --log-prefix="$log_prefix" postgres >/dev/null 2>&1
	cat "$log_prefix".* | awk '{ print $3 / 1000 }' | sort -n |
		awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[int(NR * 0.50)], v[int(NR * 0.99)] }'
}

cat > "$work/score.sql" <<'SQL'
\set u random(1, 500000)
SELECT monolith.score('bench', :u, 100000000 + :u);
SQL
[ "$(id -u)" -eq 0 ] && chown "$RUN_USER" "$work/score.sql"

echo "== dim 16, Adagrad: $(nproc) cores; file system of $data: $(df -h "$data" | tail -1 | awk '{ print $1 }')"
for ids in $sizes; do
	cluster_psql -c "SELECT monolith.drop_model(name) FROM monolith.models" \
		-c "SELECT monolith.create_model('bench', ARRAY['u', 'i'], dim => 16)" >/dev/null
	echo "== filling $ids IDs" >&2
	# Two new IDs an example: a user and an item of its own.
	cluster_psql -c "SELECT count(monolith.train('bench', n % 2 = 0, n, 100000000 + n))
	                   FROM generate_series(1, $ids / 2) n" >/dev/null
	held=$(cluster_psql -At -c "SELECT ids FROM monolith.models WHERE name = 'bench'")
	memory=$(cluster_psql -At -c "SELECT memory_bytes FROM monolith.models WHERE name = 'bench'")
	raw=$((held * (1 + 1 + 16 + 16) * 4))

	snap_ms=$(timed_ms "monolith.snapshot('bench')")
	file=$(cluster_psql -At -c "SELECT file FROM monolith.snapshots WHERE model = 'bench' ORDER BY taken_at DESC LIMIT 1")
	bytes=$(stat -c %s "$data/$file")
	dd_write=$(dd_mb_per_s dd if=/dev/zero of="$data/dd.bench" bs=4M count=$(( (bytes + 4194303) / 4194304 )) conv=fsync)
	drop_cache >/dev/null
	dd_read=$(dd_mb_per_s dd if="$data/dd.bench" of=/dev/null bs=4M iflag=direct)
	rm -f "$data/dd.bench"
	dd_shm=$(dd_mb_per_s dd if=/dev/zero of=/dev/shm/monolith-bench bs=4M count=$(( (memory + 4194303) / 4194304 )))
	rm -f /dev/shm/monolith-bench
	cache=$(drop_cache)
	restore_ms=$(timed_ms "monolith.restore('bench')")
	restored=$(cluster_psql -At -c "SELECT ids FROM monolith.models WHERE name = 'bench'")

	# The restore at start, by itself, after an immediate stop (page cache dropped again).
	as_run_user pg_ctl -D "$data" -m immediate stop >/dev/null
	drop_cache >/dev/null
	as_run_user pg_ctl -D "$data" -l "$data.log" -w start >/dev/null
	cluster_psql -c "DO \$\$ BEGIN FOR i IN 1..600 LOOP
		EXIT WHEN (SELECT count(*) = 1 FROM monolith.models WHERE name = 'bench' AND ids = $held);
		PERFORM pg_sleep(0.1); END LOOP; END \$\$"
	start_s=$(grep 'model "bench" restored with' "$data.log" | tail -1 | sed -n 's/.* in \([0-9.]*\) s$/\1/p')

	echo "$ids IDs ($held held): raw parameters $((raw / 1048576)) MB, snapshot file $((bytes / 1048576)) MB ($(awk -v b="$bytes" -v n="$held" 'BEGIN { printf "%.1f", b / n }') B/ID)"
	echo "  snapshot: $snap_ms ms = $(mb_per_s "$bytes" "$snap_ms") MB/s; dd conv=fsync of the same bytes: $dd_write MB/s ($(awk -v a="$(mb_per_s "$bytes" "$snap_ms")" -v b="$dd_write" 'BEGIN { printf "%.2f", a / b }')x)"
	echo "  restore:  $restore_ms ms = $(mb_per_s "$bytes" "$restore_ms") MB/s, $restored IDs (page cache $cache); dd iflag=direct: $dd_read MB/s ($(awk -v a="$(mb_per_s "$bytes" "$restore_ms")" -v b="$dd_read" 'BEGIN { printf "%.2f", a / b }')x)"
	echo "            the model's $((memory / 1048576)) MB of new shared memory, dd into /dev/shm: $dd_shm MB/s = $(awk -v m="$memory" -v r="$dd_shm" 'BEGIN { printf "%.0f", m / 1048576 / r * 1000 }') ms alone"
	echo "  restore at start, after an immediate stop: ${start_s:-?} s"

	quiet=()
	snapping=()
	writing=()
	for round in 1 2 3; do
		read -r p50 p99 <<<"$(score_latency quiet)"
		quiet+=("$p99")
		# One session, as a pg_cron job is: snapshot after snapshot until its timeout.
		cluster_psql -c "SET statement_timeout = '$((seconds + 1))s'" \
			-c "DO \$\$ BEGIN LOOP PERFORM monolith.snapshot('bench'); END LOOP; END \$\$" >/dev/null 2>&1 &
		snapper=$!
		read -r p50_snap p99_snap <<<"$(score_latency snapping)"
		wait "$snapper" || true
		# The machine settles (a cancelled snapshot's file goes) between rounds.
		sync
		sleep 3
		snapping+=("$p99_snap")
		( end=$((SECONDS + seconds)); while [ $SECONDS -lt $end ]; do
			dd if=/dev/zero of="$data/dd.bench" bs=4M count=$(( (bytes + 4194303) / 4194304 )) conv=fsync 2>/dev/null
			rm -f "$data/dd.bench"; done ) &
		writer=$!
		read -r p50_dd p99_dd <<<"$(score_latency writing)"
		wait "$writer"
		sync
		sleep 3
		writing+=("$p99_dd")
		echo "  score at $rate/s, round $round: p50/p99 $p50/$p99 ms without a snapshot, $p50_snap/$p99_snap ms while snapshots run, $p50_dd/$p99_dd ms while dd writes"
	done
	median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
	q=$(median "${quiet[@]}")
	s=$(median "${snapping[@]}")
	d=$(median "${writing[@]}")
	echo "  score p99, median of 3: $q ms without a snapshot, $s ms while snapshots run ($(awk -v a="$s" -v b="$q" 'BEGIN { printf "%.2f", a / b }')x), $d ms while dd writes ($(awk -v a="$s" -v b="$d" 'BEGIN { printf "%.2f", a / b }')x of it)"
done
