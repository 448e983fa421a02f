#!/usr/bin/env bash
# Installs dependencies (scripts/bootstrap.sh) and builds a Release tree in build/.
# Extra arguments go to CMake's configure step (e.g. -DIPFS_ACCEL_SANITIZE=ON).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${IPFS_ACCEL_BUILD_DIR:-$root/build}"
"$root/scripts/bootstrap.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
