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
# with any configuration lines given as arguments; stopped and removed on
# exit.  cluster_psql runs psql against it.  replica_cluster then starts a
# second one beside it (replica_psql), stopped with it.
start_throwaway_cluster() {
	work=$(scratch_copy)
	port=${MONOLITH_PORT:-54329}
	trap 'stop_cluster "$work/replica"; stop_cluster "$work/data"; rm -rf "$work"' EXIT
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
	init_cluster "$work/replica" $((port + 1)) "$@"
}
replica_psql() {
	as_run_user psql -X -q -v ON_ERROR_STOP=1 -h "$work" -p $((port + 1)) -d postgres "$@"
}
cluster_psql() {
	as_run_user psql -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -d postgres "$@"
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
