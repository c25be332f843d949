#!/usr/bin/env bash
# Instructions the server spends on the measured query of loadbench, counted by callgrind
# (repeatable within about 1% for the same binary and data on an idle machine; under other
# load the server wakes up less often and the counts drop, so profile alone): a release
# server under valgrind, one HTTP worker, warmed up with 20 requests, then counted over
# REQUESTS more (default 40). Needs the database of a previous loadbench run on PostgreSQL
# (`loadbench --backend postgres` seeds it) and valgrind.
#
#   bash tests/profile-read-path.sh            # prints the total, per request, and the top functions
#   REQUESTS=80 TOP=60 bash tests/profile-read-path.sh
#   KEEP=/tmp/read-path.callgrind bash tests/profile-read-path.sh   # keeps the profile, for
#                                     # callgrind_annotate --inclusive=yes or kcachegrind
#   BIN=/tmp/loadbench-before bash tests/profile-read-path.sh   # another build of loadbench
#                                     # (say, a copy from before a change), not rebuilt
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${REQUESTS:-40}
top=${TOP:-30}
url=${PROFILE_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/interlib_bench?sslmode=disable}
if [ -z "${BIN:-}" ]; then
  cargo build --quiet --release -p interlib-tests --bin loadbench
fi
bin=${BIN:-target/release/loadbench}
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/out" \
  "$bin" --serve "$url" --http-workers=1 > "$work/port" 2> "$work/valgrind.log" &
server=$!
for _ in $(seq 1 300); do [ -s "$work/port" ] && break; sleep 0.2; done
port=$(head -1 "$work/port")
"$bin" --send 20 --port "$port"
callgrind_control -i on "$server" > /dev/null
"$bin" --send "$requests" --port "$port"
callgrind_control -d "$server" > /dev/null
kill "$server"
wait "$server" 2>/dev/null || true
dump=$(ls "$work"/out.* | tail -1)
if [ -n "${KEEP:-}" ]; then cp "$dump" "$KEEP"; fi
total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "server instructions for $requests requests: $total ($((total / requests)) per request)"
callgrind_annotate "$dump" | grep -E '^ *[0-9,]+ \(' | grep -v 'PROGRAM TOTALS' | head -"$top" | cut -c1-160
