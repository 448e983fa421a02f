#pragma once
// Process memory as the kernel counts it.

#include <cstdint>

namespace ipfs_accel::harness {

// Peak resident set size of this process (VmHWM), in bytes; 0 if unreadable.
int64_t PeakRssBytes();
// Current resident set size (VmRSS), in bytes; 0 if unreadable.
int64_t CurrentRssBytes();
// Resets the peak to the current RSS (Linux >= 4.0, /proc/self/clear_refs "5"), so
// each configuration's peak is its own. Returns false where the kernel refuses.
bool ResetPeakRss();

}  // namespace ipfs_accel::harness
