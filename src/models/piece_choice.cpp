#include "piece_choice.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {
// TEMPORARY until the template loader lands: pieces under the config's "_pieces".
const nlohmann::json* FindPiece(const HfConfig& c, const std::string& piece) {
  if (!c.json().contains("_pieces") || !c.json()["_pieces"].contains(piece)) return nullptr;
  return &c.json()["_pieces"][piece];
}
}  // namespace

size_t PieceChoice(const HfConfig& c, const std::string& piece, const std::string& builder,
                   std::initializer_list<const char*> values) {
  const nlohmann::json* value = FindPiece(c, piece);
  if (value == nullptr) return 0;
  size_t index = 0;
  for (const char* v : values) {
    if (value->is_string() && value->get<std::string>() == v) return index;
    ++index;
  }
  throw core::Error(
      core::ErrorKind::kUnsupported,
      fmt::format("'{}': piece '{}' is {}, which the {} builder does not know "
                  "(it knows {})",
                  c.origin(), piece, value->dump(), builder, fmt::join(values, ", ")));
}

int64_t PieceInt(const HfConfig& c, const std::string& piece, int64_t fallback) {
  const nlohmann::json* value = FindPiece(c, piece);
  if (value == nullptr) return fallback;
  if (!value->is_number_integer())
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("'{}': piece '{}' is {}; it must be an integer", c.origin(),
                                  piece, value->dump()));
  return value->get<int64_t>();
}

}  // namespace ipfs_accel::models
