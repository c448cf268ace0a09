#!/usr/bin/env bash
# Collecting a round of changes at 10 M IDs (MONOLITH_BENCH_IDS): the cut's
# exclusive hold and the shared collection of 10,000 changed keys, against a
# walk of every entry under the exclusive lock (the drain it replaced), in
# the same run; then a piece of an expiry pass under the exclusive lock;
# the core alone, optimized as the extension is built.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
make -C "$root" -s build/sync_drain
"$root/build/sync_drain"
