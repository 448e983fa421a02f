#!/usr/bin/env bash
# Quick start (b): set everything up, build, and run the whole test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${IPFS_ACCEL_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" "$@"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
# A short run of every fuzz target (clang, libFuzzer, ASan/UBSan): seconds each.
"$root/scripts/fuzz.sh" --seconds 10
