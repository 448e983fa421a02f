#pragma once
// The CPU's memory bandwidth for a benchmark run: what the database already holds for this
// host's CPU row, else this machine's figure cached under $XDG_CACHE_HOME (or ~/.cache)
// /ipfs-accelerate, else measured now (under a second) and cached. Once per machine, not once
// per run: the figure is a property of the machine, and CI runs the benchmark hundreds of times.

#include <string>
#include <vector>

#include "cli/commands.h"
#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::cli {

// Sets hardware.cpu.memory_bandwidth when `platforms` has cpu or wasm (where host memory is the
// one used); a probe that cannot allocate leaves it unset.
void RecallOrMeasureMemoryBandwidth(const DatabaseOption& db,
                                    const std::vector<std::string>& platforms,
                                    hw::HardwareReport& hardware);

}  // namespace ipfs_accel::cli
