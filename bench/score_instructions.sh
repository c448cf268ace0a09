#!/usr/bin/env bash
# Scoring cost in instructions, which valgrind counts the same whatever else
# this shared machine is doing: a single-user server under callgrind trains
# an FM on 100,000 rows, then runs passes over 200,000 (user, movie) pairs of
# count(monolith.score(...)) and of the floor, count(int4pl(a, b)); the
# difference between runs of one and three passes gives each per row.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"
command -v valgrind >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null

work=$(scratch_copy)
trap 'rm -rf "$work"' EXIT
as_run_user initdb -D "$work/data" -A trust >/dev/null
printf '%s\n' "shared_preload_libraries = 'monolith'" "max_parallel_workers_per_gather = 0" \
	>> "$work/data/postgresql.conf"
as_run_user postgres --single -D "$work/data" postgres > /dev/null <<'SQL'
CREATE EXTENSION monolith;
CREATE TABLE events AS SELECT (i * 7) % 610 AS u, (i * 7919) % 9000 AS m, i % 2 = 0 AS y FROM generate_series(1, 100000) i;
CREATE TABLE pairs AS SELECT (k % 610)::int AS a, ((k / 1000) % 9000)::int AS b FROM (SELECT (i::bigint * 2654435761) % 4294967296 AS k FROM generate_series(1, 200000) i) t;
SELECT monolith.create_model('m', ARRAY['u', 'm'], dim => 16);
SQL

# Instructions of a single-user session that trains, then runs the query passes times.
instructions() {
	local query=$1 passes=$2
	{
		echo "SELECT count(monolith.train('m', y, u, m)) FROM events;"
		for _ in $(seq "$passes"); do echo "$query"; done
	} > "$work/session.sql"
	chmod a+r "$work/session.sql"
	as_run_user valgrind --tool=callgrind --callgrind-out-file=/dev/null \
		postgres --single -D "$work/data" postgres < "$work/session.sql" 2>&1 >/dev/null |
		awk '/I *refs/ {gsub(",", "", $4); print $4}'
}
per_row() {
	local one three
	one=$(instructions "$1" 1)
	three=$(instructions "$1" 3)
	echo $(( (three - one) / 400000 ))
}
floor=$(per_row "SELECT count(int4pl(a, b)) FROM pairs;")
score=$(per_row "SELECT count(monolith.score('m', a, b)) FROM pairs;")
echo "instructions per row, 200,000 (user, movie) pairs, FM dim 16:"
echo "  floor: count(int4pl(a, b))            $floor"
echo "  count(monolith.score('m', a, b))      $score"
awk -v s="$score" -v f="$floor" 'BEGIN { printf "  score / floor                         %.2fx\n", s / f }'
