#!/usr/bin/env bash
# Stalls: how long a concurrent scorer waits while one statement trains ten
# million new IDs into a model (arrays of 100,000 IDs, the most an example
# may hold), against the same scorer on an idle server in the same run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

start_throwaway_cluster "monolith.max_memory = '8GB'" "shared_buffers = '256MB'" ${MONOLITH_STALL_CONF:-}
cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase=setup
cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase=idle
# The same statement with nothing beside it: what its holds cost in work alone.
cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase=alone
# The training statement, in a session of its own; it marks the end in a table.
cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase=train &
trainer=$!
cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase=beside
wait "$trainer"
cluster_psql -f "$MONOLITH_ROOT/bench/stall_bench.sql" -v phase=report
