#!/usr/bin/env bash
# Quick start (a): set everything up, benchmark BERT-base on this machine's CPU
# into ./benchmark_db.duckdb (or --db / $BENCHMARK_DB_PATH), then print the report.
# Arguments are passed to `ipfs-accelerate benchmark` (e.g. --model bert-tiny).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${IPFS_ACCEL_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
db_args=()
# Defaults the caller's own options replace (instead of adding to them).
model=(--model bert-base-uncased)
batches=(--batch-sizes 1,2,4,8)
seqs=(--seq-lens 128)
for ((i = 1; i <= $#; i++)); do
  case "${!i}" in
    --db) j=$((i + 1)); db_args=(--db "${!j}") ;;
    --db=*) db_args=("${!i}") ;;
    --model | --model=* | -m) model=() ;;
    --key-models) model=() batches=() seqs=() ;;  # each key model at its own sizes
    --batch-sizes | --batch-sizes=* | -b) batches=() ;;
    --seq-lens | --seq-lens=* | --seq-len | --seq-len=* | -s) seqs=() ;;
  esac
done
"$build/ipfs-accelerate" detect
"$build/ipfs-accelerate" benchmark "${model[@]}" "${batches[@]}" "${seqs[@]}" "$@"
"$build/ipfs-accelerate" report performance --run latest "${db_args[@]}"
