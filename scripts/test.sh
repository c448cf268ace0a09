#!/usr/bin/env bash
# Runs every test: the core's unit tests under AddressSanitizer and UBSan,
# then pg_regress and the TAP tests on throwaway servers as an ordinary user.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"

echo "== core unit tests" >&2
mkdir -p "$MONOLITH_ROOT/build"
make -C "$MONOLITH_ROOT" -s unittest | tee "$MONOLITH_ROOT/build/unit.log"
unit_passed=$(awk '/ passed, 0 failed$/ {p += $(NF - 3)} END {print p + 0}' "$MONOLITH_ROOT/build/unit.log")

echo "== pg_regress and TAP tests" >&2
work=$(scratch_copy)
trap 'rm -rf "$work"' EXIT
if ! as_run_user make -C "$work" -s installcheck PG_CONFIG="$PG_BIN/pg_config" 2>&1 | tee "$work/installcheck.log"; then
	show_failures "$work" "$work/installcheck.log"
	exit 1
fi
regress_passed=$(grep -Eo 'All [0-9]+ tests passed' "$work/installcheck.log" | grep -Eo '[0-9]+' || echo 0)
tap_passed=$(grep -Eo 'Tests=[0-9]+' "$work/installcheck.log" | grep -Eo '[0-9]+' || echo 0)

echo "core: $unit_passed checks, pg_regress: $regress_passed tests, TAP: $tap_passed tests"
echo "$((unit_passed + regress_passed + tap_passed)) passed, 0 failed"
