#!/usr/bin/env bash
# The online joiner on the real MovieLens stream: a model trained through a
# joiner (actions 1-60 stream seconds late, windows closed on the event
# clock) against train_query over the same stream, and the calibration of
# serving when the joiner keeps 20 % of the negatives.  See joiner_quality.sql.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/setup.sh"

# The replay closes the windows itself; the worker, on the same clock, may too.
start_throwaway_cluster "monolith.joiner_naptime = '1h'"
load_ratings required
cluster_psql -f "$MONOLITH_ROOT/bench/joiner_quality.sql"
