#!/usr/bin/env bash
# Quick start (b): set everything up, build, and run the whole test suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${IPFS_ACCEL_BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" "$@"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
# The fuzz targets' seeds and every input that once crashed them are replayed by CTest above.
# Fuzzing itself (scripts/fuzz.sh: a second, sanitized clang build of the readers) is not run
# here: it took 8.6 of CI's 31 minutes, over the 25-minute budget.
