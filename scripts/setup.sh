#!/usr/bin/env bash
# Installs what building and testing monolith needs (Debian 12, as root),
# then builds the extension with -Werror and installs it into PostgreSQL 15.
# Sourced by demo.sh and test.sh.
set -euo pipefail

MONOLITH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_BIN=/usr/lib/postgresql/15/bin
export PATH="$PG_BIN:$PATH"
PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15 postgresql-15-cron
          libipc-run-perl libcuckoo-dev)

install_packages() {
	local missing=()
	for p in "${PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "== installing ${missing[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

build_and_install() {
	echo "== building and installing the extension" >&2
	make -C "$MONOLITH_ROOT" -s PG_CONFIG="$PG_BIN/pg_config"
	make -C "$MONOLITH_ROOT" -s install PG_CONFIG="$PG_BIN/pg_config" >/dev/null
}

# An ordinary user for initdb and the test servers, which refuse root.
RUN_USER=postgres
as_run_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$RUN_USER" -- "$@"
	else
		"$@"
	fi
}

# A private copy of the tree that the run user can write to.
scratch_copy() {
	local dir
	dir=$(mktemp -d /tmp/monolith.XXXXXX)
	cp -a "$MONOLITH_ROOT/." "$dir/"
	[ "$(id -u)" -eq 0 ] && chown -R "$RUN_USER" "$dir"
	echo "$dir"
}

# Starts a throwaway cluster with monolith preloaded in a scratch copy ($work),
# with any configuration lines given as arguments; it and every cluster
# started beside it are stopped and removed on exit.  cluster_psql runs psql
# against it.  replica_cluster then starts a second one beside it
# (replica_psql); extra_cluster N more, on port + N (psql_on_port).
start_throwaway_cluster() {
	work=$(scratch_copy)
	port=${MONOLITH_PORT:-54329}
	started_clusters=()
	trap 'for dir in "${started_clusters[@]}"; do stop_cluster "$dir"; done; rm -rf "$work"' EXIT
	init_cluster "$work/data" "$port" "$@"
}
stop_cluster() {
	[ -d "$1" ] && as_run_user pg_ctl -D "$1" -m fast stop >/dev/null 2>&1 || true
}
# Makes and starts a cluster in directory $1 on port $2, with configuration lines $3...
init_cluster() {
	local dir=$1 on_port=$2
	shift 2
	echo "== starting a throwaway cluster in $dir" >&2
	started_clusters=("$dir" "${started_clusters[@]}")
	as_run_user initdb -D "$dir" -A trust >/dev/null
	cat >> "$dir/postgresql.conf" <<CONF
shared_preload_libraries = 'monolith'
listen_addresses = ''
unix_socket_directories = '$work'
port = $on_port
CONF
	printf '%s\n' "$@" >> "$dir/postgresql.conf"
	as_run_user pg_ctl -D "$dir" -l "$dir.log" -w start >/dev/null
}
replica_cluster() {
	extra_cluster 1 "$@"
}
# Cluster number $1 beside the first, in $work/replica (1) or $work/replicaN.
extra_cluster() {
	local n=$1
	shift
	init_cluster "$work/replica$([ "$n" -eq 1 ] || echo "$n")" $((port + n)) "$@"
}
psql_on_port() {
	local on_port=$1
	shift
	as_run_user psql -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$on_port" -d postgres "$@"
}
replica_psql() {
	psql_on_port $((port + 1)) "$@"
}
cluster_psql() {
	psql_on_port "$port" "$@"
}

# What a failed `make installcheck` in tree $1 (its output in $2) left:
# pg_regress's diffs, assertion failures and crashes in the server logs,
# and the end of each failed TAP test's own log (prove shows only its verdict).
show_failures() {
	local tree=$1 output=$2 test
	cat "$tree/regression.diffs" 2>/dev/null || true
	grep -h -B2 -A2 "TRAP\|PANIC\|terminated by signal" "$tree"/log/*.log "$tree"/tmp_check/log/*.log 2>/dev/null || true
	for test in $(sed -n 's|^t/\([0-9A-Za-z_]*\)\.pl *(Wstat.*|\1|p' "$output" | sort -u); do
		echo "== the end of $tree/tmp_check/log/regress_log_$test" >&2
		tail -40 "$tree/tmp_check/log/regress_log_$test" 2>/dev/null || true
	done
}

# Loads ratings(user_id, movie_id, rating, ts, title, year, genres): the
# MovieLens stream where it can be had; else, unless MovieLens is required,
# a synthetic one.  Sets ratings_source.
load_ratings() {
	local csv
	if csv=$("$MONOLITH_ROOT/scripts/movielens.sh"); then
		echo "== loading MovieLens from $csv" >&2
		cp "$csv" "$work/ratings.csv"
		[ "$(id -u)" -eq 0 ] && chown "$RUN_USER" "$work/ratings.csv"
		cluster_psql -c "CREATE TABLE ratings (user_id int, movie_id int, rating real, ts bigint,
		                                      title text, year int, genres text)" \
		             -c "\\copy ratings FROM '$work/ratings.csv' WITH (FORMAT csv, HEADER)"
		ratings_source=movielens
	elif [ "${1:-}" = required ]; then
		echo "the MovieLens stream is needed and could not be had" >&2
		exit 1
	else
		echo "== MovieLens not available: generating a synthetic stream" >&2
		cluster_psql -f "$MONOLITH_ROOT/scripts/synthetic.sql"
		ratings_source=synthetic
	fi
}

install_packages
build_and_install
