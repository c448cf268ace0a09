#!/usr/bin/env bash
# Fuzzes the core with libFuzzer under AddressSanitizer and UBSan: sequences
# of table operations checked against a reference set (fuzz_cuckoo), the
# feature-key encoding (fuzz_featkey), and the sync's decoder, the
# snapshot reader and a model's snapshot loader on arbitrary bytes
# (fuzz_sync_format, fuzz_snapshot_format, fuzz_model_save), each for
# MONOLITH_FUZZ_SECONDS (600 by default).  Prints each target's runs, coverage and findings; a finding's
# input is kept under build/fuzz-findings/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${MONOLITH_FUZZ_SECONDS:-600}

missing=()
for p in clang libclang-rt-14-dev make; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
make -C "$root" -s fuzz
mkdir -p "$root/build/fuzz-findings"

passed=0
failed=0
for target in fuzz_cuckoo fuzz_featkey fuzz_sync_format fuzz_snapshot_format fuzz_model_save; do
	corpus="$root/build/corpus/$target"
	log="$root/build/$target.log"
	mkdir -p "$corpus"
	# The snapshot readers start from a whole file, which random bytes hardly make.
	case "$target" in
	fuzz_snapshot_format) sampler=test_snapshot_format ;;
	fuzz_model_save) sampler=test_model_save ;;
	*) sampler= ;;
	esac
	if [ -n "$sampler" ]; then
		make -C "$root" -s "build/$sampler"
		"$root/build/$sampler" --sample "$corpus/sample"
	fi
	echo "== $target for $seconds s" >&2
	if "$root/build/$target" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$root/build/fuzz-findings/$target-" "$corpus" > "$log" 2>&1; then
		passed=$((passed + 1))
		finding="none"
	else
		failed=$((failed + 1))
		finding="$(grep -m1 -E 'ERROR|fuzz_[a-z]+:' "$log" || echo 'see the log') (log: $log)"
	fi
	runs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo 0)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
	echo "$target: $runs runs in $seconds s, $cov edges covered, corpus of $(ls "$corpus" | wc -l) inputs; findings: $finding"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
