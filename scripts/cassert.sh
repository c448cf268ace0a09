#!/usr/bin/env bash
# Builds PostgreSQL 15 with assertions (--enable-cassert, -O0 -g) from
# Debian's source package into a scratch prefix, builds monolith against it,
# and runs the whole pg_regress and TAP suite there.  As root on Debian 12;
# everything is built anew each run and removed after.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

# Debian's sources for the main suite: a deb-src entry beside its deb one,
# with the same URIs, suites and key.
add_source_entry() {
	local list=/etc/apt/sources.list.d/debian.sources
	local src=/etc/apt/sources.list.d/monolith-deb-src.sources
	[ -f "$src" ] && return 0
	awk 'BEGIN { RS = ""; ORS = "\n\n" }
	     /Types: deb/ && /URIs: [^ ]*debian\/?(\n|$)/ && !/security/ { sub(/Types: deb/, "Types: deb-src"); print; exit }' \
		"$list" > "$src"
	if ! grep -q "deb-src" "$src"; then
		echo "no main-suite deb entry found in $list" >&2
		rm -f "$src"
		exit 1
	fi
	apt-get update -qq
}

if [ "$(id -u)" -ne 0 ]; then
	echo "scripts/cassert.sh installs packages and sources: run it as root" >&2
	exit 1
fi
add_source_entry
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev bison flex zlib1g-dev libipc-run-perl >/dev/null

build=$(mktemp -d /var/tmp/monolith-cassert.XXXXXX)
# MONOLITH_KEEP_BUILD=1 keeps it, to look into a failure.
trap '[ -n "${MONOLITH_KEEP_BUILD:-}" ] || rm -rf "$build"' EXIT
chown "$RUN_USER" "$build"
cd "$build"
# The newest source of postgresql-15 that the main suite serves.
version=$(apt-cache showsrc postgresql-15 | awk '/^Version:/ { print $2 }' | sort -V | tail -1)
echo "== fetching the source of postgresql-15 $version" >&2
as_run_user apt-get source -qq --download-only "postgresql-15=$version" >/dev/null
# Upstream as released: Debian's patches fix install paths under /usr.
as_run_user dpkg-source -x --no-check --skip-patches postgresql-15_"$version".dsc src >/dev/null
echo "== building PostgreSQL $version with assertions, -O0 -g (a few minutes)" >&2
log="$build/build.log"
if ! (cd src && as_run_user ./configure --prefix="$build/pg" --enable-cassert --enable-debug \
		--enable-tap-tests --without-icu --without-readline CFLAGS="-O0 -g" &&
	  as_run_user make -s -C . -j"$(nproc)" && as_run_user make -s -C . install) > "$log" 2>&1; then
	tail -40 "$log" >&2
	exit 1
fi
pg_config_cassert="$build/pg/bin/pg_config"
"$pg_config_cassert" --configure | grep -q -- --enable-cassert

echo "== building monolith against it and running every test" >&2
work="$build/monolith"
cp -a "$MONOLITH_ROOT/." "$work/"
rm -rf "$work/build" "$work"/src/*.o "$work"/src/*.bc "$work"/*.so
chown -R "$RUN_USER" "$work"
as_run_user make -s -C "$work" PG_CONFIG="$pg_config_cassert"
as_run_user make -s -C "$work" install PG_CONFIG="$pg_config_cassert" >/dev/null
if ! as_run_user make -C "$work" -s installcheck PG_CONFIG="$pg_config_cassert" 2>&1 | tee "$build/installcheck.log"; then
	show_failures "$work" "$build/installcheck.log"
	exit 1
fi
regress=$(grep -Eo 'All [0-9]+ tests passed' "$build/installcheck.log" | grep -Eo '[0-9]+' || echo 0)
tap=$(grep -Eo 'Tests=[0-9]+' "$build/installcheck.log" | grep -Eo '[0-9]+' || echo 0)
echo "assertion-enabled PostgreSQL $version: pg_regress: $regress tests, TAP: $tap tests"
echo "$((regress + tap)) passed, 0 failed"
