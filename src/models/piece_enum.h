#pragma once
// A template piece whose value must be one of a fixed set of names (docs/templates.md).

#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The value of `piece` (`fallback` when the template leaves it out) mapped through `names`.
// Throws core::Error(kCorrupt) naming the template and value for a name not in the list.
template <typename E>
E PieceEnum(const HfConfig& c, const std::string& piece, const std::string& fallback,
            const std::vector<std::pair<std::string, E>>& names) {
  const std::string value = c.PieceString(piece, fallback);
  for (const auto& [name, e] : names)
    if (name == value) return e;
  throw core::Error(core::ErrorKind::kCorrupt,
                    fmt::format("'{}': template '{}' has {} '{}', which the decoder builder does "
                                "not know",
                                c.origin(), c.template_name(), piece, value));
}

}  // namespace ipfs_accel::models
