#!/usr/bin/env bash
# results_api_every_answer.sh DB [WORKERS=8] [SERVE_ARGS]: `serve` overloaded, every answer
# counted. wrk (results_api_load.sh) reports only the requests that were answered, so a
# connection that waits without an answer is invisible to it, and it retries a 503 at once.
# Here 32 curl processes each send 10 requests on one kept-alive connection with a 2 s limit per
# request (wrk's), against a page of 100 results; printed: the answers by status (000: none
# within 2 s), 200s per second, their p50 and p99, and the server's shed counters.
#   bench/results_api_every_answer.sh /tmp/m1.duckdb 8 "--max-waiting 8"
set -euo pipefail
db="${1:?usage: results_api_every_answer.sh DB [WORKERS] [SERVE_ARGS]}"
workers="${2:-8}"
out="$(mktemp -d)"
source "$(dirname "$0")/serve_on_free_port.sh"
trap 'stop_serve; rm -rf "$out"' EXIT
start_serve "$db" "$workers" "${3:-}"
port="$serve_port"
url="http://127.0.0.1:$port/api/results?limit=100"
requests=()
for _ in $(seq 10); do requests+=(-o /dev/null "$url"); done
start="$(date +%s.%N)"
clients=()
for c in $(seq 32); do
  curl -s --max-time 2 -w '%{http_code} %{time_total}\n' "${requests[@]}" >"$out/$c" &
  clients+=($!)
done
wait "${clients[@]}" || true  # a request past its 2 s is an answer of 000, not a failure
wall="$(echo "$(date +%s.%N) - $start" | bc)"
curl -s "http://127.0.0.1:$port/metrics" | grep '^ipfs_accel_http_shed_total' || true
codes="$(cat "$out"/* | awk '{print $1}' | sort | uniq -c | awk '{printf " %s x%s", $2, $1}')"
ok="$(cat "$out"/* | awk '$1 == 200 {print $2}' | sort -n)"
n="$(grep -c . <<<"$ok" || true)"
p50="$(sed -n "$((n / 2 + 1))p" <<<"$ok")"
p99="$(sed -n "$((n * 99 / 100 + 1))p" <<<"$ok")"
printf 'wall %.1f s; answers (000 = none within 2 s):%s; 200/s %.1f; 200 p50 %s s, p99 %s s\n' \
  "$wall" "$codes" "$(echo "$n / $wall" | bc -l)" "$p50" "$p99"
