#pragma once
// Quantities as people read them in tables and messages.

#include <cstdint>
#include <string>

namespace ipfs_accel::cli {

// 1536 -> "1.5 KiB", 3 * 2^30 -> "3.0 GiB"; below 1 KiB: "512 B".
std::string HumanBytes(uint64_t bytes);
// 4385920 -> "4.4M", 6738415616 -> "6.7B"; below 1000 as is.
std::string HumanCount(int64_t count);

}  // namespace ipfs_accel::cli
