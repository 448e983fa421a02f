#!/usr/bin/env bash
# results_api_load.sh DB [SECONDS=10] [PATH]: `serve`'s read API under load from Debian's wrk.
# Serves DB on a free loopback port (40 workers), then runs wrk for SECONDS at 1, 8 and 32
# connections against PATH (default: a page of 100 results filtered by model and platform) and
# prints requests/s with wrk's p50 and p99 latency, and wrk's count of non-2xx answers and of
# socket errors (timeouts: no answer within wrk's 2 s).
#   bench/results_api_load.sh /tmp/m1.duckdb 10
# Overload, with and without the bound on connections waiting for a worker:
#   WORKERS=2 CONNECTIONS=32 SERVE_ARGS="--max-waiting 0" bench/results_api_load.sh DB 10
# A database of a million results: build/bench/store_ingest 1000000 10 1000 100 /tmp/m1.duckdb
set -euo pipefail
db="${1:?usage: results_api_load.sh DB [SECONDS] [PATH]}"
seconds="${2:-10}"
path="${3:-/api/results?limit=100&model=bert-tiny&platform=cpu}"
source "$(dirname "$0")/serve_on_free_port.sh"
trap stop_serve EXIT
start_serve "$db" "${WORKERS:-40}" "${SERVE_ARGS:-}"
port="$serve_port"
url="http://127.0.0.1:$port$path"
curl -sf "$url" >/dev/null || { echo "GET $url failed" >&2; exit 1; }
printf '%s\n%-12s %12s %10s %10s\n' "GET $path ($seconds s each)" connections requests/s p50 p99
for c in ${CONNECTIONS:-1 8 32}; do
  out="$(wrk -t "$((c < 2 ? c : 2))" -c "$c" -d "${seconds}s" --latency "$url")"
  rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
  p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
  errors="$(awk '/Non-2xx|Socket errors/' <<<"$out")"
  printf '%-12s %12s %10s %10s %s\n' "$c" "$rps" "$p50" "$p99" "$errors"
done
