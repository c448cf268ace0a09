#!/usr/bin/env bash
# Prints the path of the MovieLens ratings stream (user_id, movie_id, rating,
# ts, title, year, genres; sorted by ts), obtaining it if need be the way
# ../shared/data/movielens/README.md describes: from Debian's r-cran-dslabs
# package, exported with R.  The file is never committed.  Exits 1 when it
# cannot be had.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shared="$root/../shared/data/movielens/ratings.csv"
built="$root/build/data/ratings.csv"

if [ -n "${MONOLITH_MOVIELENS:-}" ] && [ -f "$MONOLITH_MOVIELENS" ]; then
	echo "$MONOLITH_MOVIELENS"; exit 0
fi
if [ -z "${MONOLITH_SKIP_SHARED:-}" ] && [ -f "$shared" ]; then
	echo "$(cd "$(dirname "$shared")" && pwd)/ratings.csv"; exit 0
fi
if [ -f "$built" ]; then
	echo "$built"; exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "movielens: not found, and only root can install R to rebuild it" >&2
	exit 1
fi
echo "== rebuilding MovieLens from Debian's r-cran-dslabs" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v Rscript >/dev/null; then
	(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq r-base-core >/dev/null) ||
		{ echo "movielens: could not install r-base-core" >&2; exit 1; }
fi
(cd "$tmp" && apt-get download -qq r-cran-dslabs >/dev/null 2>&1) ||
	{ echo "movielens: could not download r-cran-dslabs" >&2; exit 1; }
dpkg -x "$tmp"/r-cran-dslabs_*.deb "$tmp/pkg"
rdata=$(find "$tmp/pkg" -path '*/dslabs/data/Rdata.rdb' | head -n 1)
[ -n "$rdata" ] || { echo "movielens: no dslabs data in the package" >&2; exit 1; }
mkdir -p "$(dirname "$built")"
Rscript --vanilla - "${rdata%.rdb}" "$built.tmp" >&2 <<'R'
args <- commandArgs(trailingOnly = TRUE)
e <- new.env()
invisible(lazyLoad(args[1], envir = e))
m <- e$movielens
out <- data.frame(user_id = m$userId, movie_id = m$movieId, rating = m$rating,
                  ts = m$timestamp, title = as.character(m$title), year = m$year,
                  genres = as.character(m$genres))
out <- out[order(out$ts, out$user_id, out$movie_id), ]
write.csv(out, args[2], row.names = FALSE, na = "")
R
mv "$built.tmp" "$built"
echo "$built"
