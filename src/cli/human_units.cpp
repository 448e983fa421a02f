#include "cli/human_units.h"

#include <fmt/format.h>

namespace ipfs_accel::cli {

std::string HumanBytes(uint64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = bytes / 1024.0;
  size_t unit = 0;
  for (; value >= 1024 && unit + 1 < std::size(kUnits); ++unit) value /= 1024;
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

std::string HumanCount(int64_t count) {
  constexpr const char* kUnits[] = {"K", "M", "B", "T"};
  if (count < 1000) return std::to_string(count);
  double value = count / 1000.0;
  size_t unit = 0;
  for (; value >= 1000 && unit + 1 < std::size(kUnits); ++unit) value /= 1000;
  return fmt::format("{:.1f}{}", value, kUnits[unit]);
}

}  // namespace ipfs_accel::cli
