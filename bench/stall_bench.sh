#!/usr/bin/env bash
# Stalls: how long a concurrent scorer waits while one statement trains ten
# million new IDs into a model (arrays of 100,000 IDs, the most an example
# may hold), and while that model, the cap lowered, gives a third of its
# memory back; against the same scorer on an idle server in the same run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

# CPU time the hypervisor gave others meanwhile (steal), in ticks of 1/100 s.
steal_ticks() { awk '/^cpu /{print $9}' /proc/stat; }

run_phase() { cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase="$1"; }

# Holds of 5 ms or more are logged, with the time their holder was on the CPU.
start_throwaway_cluster "monolith.max_memory = '8GB'" "shared_buffers = '256MB'" \
	"monolith.log_long_holds = 5" ${MONOLITH_STALL_CONF:-}
steal_before=$(steal_ticks)
run_phase setup
run_phase idle
# The same statement with nothing beside it: what its holds cost in work alone.
run_phase alone
# Each statement in a session of its own, beside a scorer; it marks its end in a table.
run_phase train &
trainer=$!
run_phase beside
wait "$trainer"
run_phase lower_cap
run_phase shrink &
shrinker=$!
run_phase beside_shrink
wait "$shrinker"
run_phase report
echo "CPU time the hypervisor took from this machine during the run (steal): $(( ($(steal_ticks) - steal_before) * 10 )) ms"
echo "Exclusive holds of 5 ms or more, of any model (monolith.log_long_holds), and how long their"
echo "holders were on the CPU: a hold longer than its time on the CPU waited for the machine."
awk '/exclusive hold of the lock of model/ { held = $(NF - 1) }
     /was on the CPU for/ {
	n++; cpu = $(NF - 8); preempted += $(NF - 1) > 0
	if (held > longest) { longest = held; longest_cpu = cpu }
	if (cpu > most_cpu) { most_cpu = cpu; most_cpu_held = held }
     }
     END {
	printf "  holds: %d, of which preempted: %d\n", n, preempted
	if (n > 0) {
		printf "  longest: %.2f ms, on the CPU %.2f ms of it\n", longest, longest_cpu
		printf "  longest on the CPU: %.2f ms (of a hold of %.2f ms)\n", most_cpu, most_cpu_held
	}
     }' "$work/data.log"
