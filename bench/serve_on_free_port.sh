# Sourced by the bench scripts: `start_serve DB WORKERS [SERVE_ARGS]` starts `ipfs-accelerate
# serve` on DB on a free loopback port and waits (up to 30 s) until it says its address; it sets
# serve_pid, serve_port and serve_log, or prints serve's output and returns 1. `stop_serve` ends
# it and removes the log (safe to call when start_serve did not run).
start_serve() {
  local cli="${IPFS_ACCEL_CLI:-$(dirname "${BASH_SOURCE[0]}")/../build/ipfs-accelerate}"
  serve_log="$(mktemp)"
  # shellcheck disable=SC2086  # SERVE_ARGS is words
  "$cli" serve --db "$1" --port 0 --workers "$2" ${3:-} >"$serve_log" 2>&1 &
  serve_pid=$!
  serve_port=""
  for _ in $(seq 300); do
    serve_port="$(grep -o 'http://127.0.0.1:[0-9]*' "$serve_log" | head -1 | sed 's/.*://')" || true
    [[ -n "$serve_port" ]] && return 0
    sleep 0.1
  done
  cat "$serve_log" >&2
  return 1
}

stop_serve() {
  [[ -n "${serve_pid:-}" ]] && { kill "$serve_pid" 2>/dev/null; wait "$serve_pid" 2>/dev/null; }
  rm -f "${serve_log:-}"
}
