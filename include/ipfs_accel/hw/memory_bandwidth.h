#pragma once
// Main-memory bandwidth measured the way STREAM measures it (McCalpin): copy (a = b) and triad
// (a = b + s·c) over double arrays well past the last-level cache, one slice per thread, each
// slice first touched by its own thread; the best of a few repetitions, counting the bytes
// STREAM counts (16 per element for copy, 24 for triad; write-allocate traffic is not counted).
// A predictor feature: what a memory-bound operator can get on this machine. Takes well under
// a second; allocates 3 arrays of array_bytes each.

#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::hw {

// Arrays of 4x the last-level cache (at least 32 MiB, at most 256 MiB and an eighth of the
// available memory each), as many threads as logical cores. Throws core::Error(kUnavailable) if
// the arrays cannot be allocated.
MemoryBandwidth MeasureMemoryBandwidth(const CpuInfo& cpu);

}  // namespace ipfs_accel::hw
