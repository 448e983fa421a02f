#include "piece_object.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

json ObjectPiece(const HfConfig& c, const json& piece, const std::string& name) {
  if (!piece.contains(name)) return nullptr;
  const json& v = piece[name];
  if (v.is_string() && !v.get<std::string>().empty() && v.get<std::string>()[0] == '$') {
    const std::string key = v.get<std::string>().substr(1);
    return c.Has(key) ? c.json()[key] : json(nullptr);
  }
  return v;
}

namespace {

[[noreturn]] void BadValue(const HfConfig& c, const std::string& name, const json& v) {
  throw Error(ErrorKind::kCorrupt,
              fmt::format("'{}': the template piece member '{}' has the value {}, which the "
                          "decoder builder cannot use; fix the config or the template",
                          c.origin(), name, v.dump()));
}

}  // namespace

int64_t ObjectPieceInt(const HfConfig& c, const json& piece, const std::string& name,
                       int64_t fallback, int64_t min) {
  const json v = ObjectPiece(c, piece, name);
  if (v.is_null()) return fallback;
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > HfConfig::kMaxSize)
    BadValue(c, name, v);
  return v.get<int64_t>();
}

double ObjectPieceDouble(const HfConfig& c, const json& piece, const std::string& name,
                         double fallback) {
  const json v = ObjectPiece(c, piece, name);
  if (v.is_null()) return fallback;
  if (!v.is_number()) BadValue(c, name, v);
  return v.get<double>();
}

bool ObjectPieceBool(const HfConfig& c, const json& piece, const std::string& name, bool fallback) {
  const json v = ObjectPiece(c, piece, name);
  if (v.is_null()) return fallback;
  if (!v.is_boolean()) BadValue(c, name, v);
  return v.get<bool>();
}

std::string ObjectPieceString(const HfConfig& c, const json& piece, const std::string& name,
                              const std::string& fallback) {
  const json v = ObjectPiece(c, piece, name);
  if (v.is_null()) return fallback;
  if (!v.is_string()) BadValue(c, name, v);
  return v.get<std::string>();
}

}  // namespace ipfs_accel::models
