#include "ipfs_accel/models/hf_config.h"

#include <climits>
#include <filesystem>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/json.h"
#include "model_folder.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

HfConfig HfConfig::Load(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string path = (fs::path(dir) / "config.json").string();
  if (fs::exists(fs::symlink_status(dir, ec)) && !fs::is_directory(dir, ec))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is not a folder; a Hugging Face model folder holds config.json "
                            "and model.safetensors",
                            dir));
  if (!fs::exists(fs::symlink_status(path, ec)))
    throw Error(ErrorKind::kNotFound,
                fmt::format("no config.json in '{}'; a Hugging Face model folder needs config.json "
                            "and model.safetensors",
                            dir));
  nlohmann::json json =
      core::ReadJsonFile(ResolveInModelFolder(dir, "config.json", "the model folder"));
  if (!json.is_object())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' is not a JSON object", path));
  return HfConfig(std::move(json), path);
}

std::string HfConfig::ModelType() const {
  if (!Has("model_type") || !json_["model_type"].is_string())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' has no model_type; it does not look like a Hugging Face config",
                            origin_));
  return json_["model_type"].get<std::string>();
}

int64_t HfConfig::Id(const std::string& key) const {
  if (!Has(key) || !json_[key].is_number_integer() ||
      (json_[key].is_number_unsigned() && json_[key].get<uint64_t>() > INT64_MAX))
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}' lacks the integer '{}' that this architecture needs", origin_, key));
  return json_[key].get<int64_t>();
}

int64_t HfConfig::Id(const std::string& key, int64_t fallback) const {
  return Has(key) ? Id(key) : fallback;
}

int64_t HfConfig::Int(const std::string& key) const {
  const int64_t v = Id(key);
  if (v < 0 || v > kMaxSize)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': '{}' is {}; a size or count is a whole number from 0 to {}",
                            origin_, key, v, kMaxSize));
  return v;
}

int64_t HfConfig::Int(const std::string& key, int64_t fallback) const {
  return Has(key) ? Int(key) : fallback;
}

double HfConfig::Double(const std::string& key, double fallback) const {
  if (!Has(key)) return fallback;
  if (!json_[key].is_number())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': '{}' is not a number", origin_, key));
  return json_[key].get<double>();
}

bool HfConfig::Bool(const std::string& key, bool fallback) const {
  if (!Has(key)) return fallback;
  if (!json_[key].is_boolean())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': '{}' is not true/false", origin_, key));
  return json_[key].get<bool>();
}

std::string HfConfig::String(const std::string& key, const std::string& fallback) const {
  if (!Has(key)) return fallback;
  if (!json_[key].is_string())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': '{}' is not a string", origin_, key));
  return json_[key].get<std::string>();
}

nlohmann::json HfConfig::Piece(const std::string& name) const {
  if (!pieces_.contains(name)) return nullptr;
  const nlohmann::json& v = pieces_[name];
  if (v.is_string() && v.get<std::string>().rfind('$', 0) == 0) {
    // "$key", or "$outer.inner" for a key of a nested object (MPT's attn_config).
    const nlohmann::json* at = &json_;
    std::string path = v.get<std::string>().substr(1);
    for (size_t dot; (dot = path.find('.')) != std::string::npos; path = path.substr(dot + 1)) {
      const std::string outer = path.substr(0, dot);
      if (!at->is_object() || !at->contains(outer)) return nullptr;
      at = &(*at)[outer];
    }
    return at->is_object() && at->contains(path) ? (*at)[path] : nlohmann::json();
  }
  return v;
}

namespace {

template <typename T>
T TypedPiece(const HfConfig& c, const std::string& name, T fallback, const char* type,
             bool (nlohmann::json::*is_type)() const noexcept) {
  const nlohmann::json v = c.Piece(name);
  if (v.is_null()) return fallback;
  if (!(v.*is_type)())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': piece '{}' of template '{}' is {}, not a {}", c.origin(), name,
                            c.template_name(), v.dump(), type));
  return v.get<T>();
}

}  // namespace

std::string HfConfig::PieceString(const std::string& name, const std::string& fallback) const {
  return TypedPiece<std::string>(*this, name, fallback, "string", &nlohmann::json::is_string);
}

bool HfConfig::PieceBool(const std::string& name, bool fallback) const {
  return TypedPiece<bool>(*this, name, fallback, "boolean", &nlohmann::json::is_boolean);
}

double HfConfig::PieceDouble(const std::string& name, double fallback) const {
  return TypedPiece<double>(*this, name, fallback, "number", &nlohmann::json::is_number);
}

void RequirePositive(const HfConfig& c,
                     std::initializer_list<std::pair<const char*, int64_t>> sizes) {
  for (const auto& [key, value] : sizes)
    if (value <= 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': {} is {}; it must be positive", c.origin(), key, value));
}

}  // namespace ipfs_accel::models
