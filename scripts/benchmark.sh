#!/usr/bin/env bash
# Quick start (a): set everything up, benchmark BERT-base on this machine's CPU
# into ./benchmark_db.duckdb (or --db / $BENCHMARK_DB_PATH), then print the report.
# Arguments are passed to `ipfs-accelerate benchmark` (e.g. --model bert-tiny).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${IPFS_ACCEL_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
db_args=()
for ((i = 1; i <= $#; i++)); do
  if [ "${!i}" = "--db" ]; then j=$((i + 1)); db_args=(--db "${!j}"); fi
done
"$build/ipfs-accelerate" detect
"$build/ipfs-accelerate" benchmark --model bert-base-uncased --batch-sizes 1,2,4,8 --seq-len 128 "$@"
"$build/ipfs-accelerate" report performance --run latest "${db_args[@]}"
