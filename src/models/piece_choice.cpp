#include "piece_choice.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

size_t PieceChoice(const HfConfig& c, const std::string& piece, const std::string& builder,
                   std::initializer_list<const char*> values) {
  const nlohmann::json value = c.Piece(piece);
  if (value.is_null()) return 0;
  size_t index = 0;
  for (const char* v : values) {
    if (value.is_string() && value.get<std::string>() == v) return index;
    ++index;
  }
  throw core::Error(
      core::ErrorKind::kUnsupported,
      fmt::format("'{}': piece '{}' of template '{}' is {}, which the {} builder does not know "
                  "(it knows {})",
                  c.origin(), piece, c.template_name(), value.dump(), builder,
                  fmt::join(values, ", ")));
}

int64_t PieceInt(const HfConfig& c, const std::string& piece, int64_t fallback) {
  const nlohmann::json value = c.Piece(piece);
  if (value.is_null()) return fallback;
  if (!value.is_number_integer())
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("'{}': piece '{}' of template '{}' is {}, not an integer",
                                  c.origin(), piece, c.template_name(), value.dump()));
  return value.get<int64_t>();
}

}  // namespace ipfs_accel::models
