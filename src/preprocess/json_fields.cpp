#include "preprocess/json_fields.h"

#include <filesystem>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/json.h"

namespace ipfs_accel::preprocess::detail {

using core::Error;
using core::ErrorKind;

JsonFields::JsonFields(const nlohmann::json& json, const std::string& origin)
    : json_(json), origin_(origin) {
  if (!json_.is_object())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' is not a JSON object", origin_));
}

bool JsonFields::Has(const std::string& key) const {
  return json_.contains(key) && !json_.at(key).is_null();
}

void JsonFields::Fail(const std::string& key, const std::string& what) const {
  throw Error(ErrorKind::kCorrupt, fmt::format("'{}': '{}' {}", origin_, key, what));
}

bool JsonFields::Bool(const std::string& key, bool fallback) const {
  if (!Has(key)) return fallback;
  if (!Get(key).is_boolean()) Fail(key, "is not true/false");
  return Get(key).get<bool>();
}

int64_t JsonFields::Int(const std::string& key, int64_t fallback) const {
  if (!Has(key)) return fallback;
  const auto& v = Get(key);
  if (v.is_number_integer()) return v.get<int64_t>();
  // Python writes 30.0 for some int settings; accept whole floats.
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d == static_cast<double>(static_cast<int64_t>(d))) return static_cast<int64_t>(d);
  }
  Fail(key, "is not an integer");
}

double JsonFields::Double(const std::string& key, double fallback) const {
  if (!Has(key)) return fallback;
  if (!Get(key).is_number()) Fail(key, "is not a number");
  return Get(key).get<double>();
}

std::string JsonFields::String(const std::string& key, const std::string& fallback) const {
  return OptionalString(key).value_or(fallback);
}

std::optional<std::string> JsonFields::OptionalString(const std::string& key) const {
  if (!Has(key)) return std::nullopt;
  if (!Get(key).is_string()) Fail(key, "is not a string");
  return Get(key).get<std::string>();
}

nlohmann::json ReadJsonObject(const std::string& path) {
  nlohmann::json json = core::ReadJsonFile(path);
  if (!json.is_object())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}' is not a JSON object", path));
  return json;
}

PreprocessorFiles FindPreprocessorFiles(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec))
    throw Error(ErrorKind::kNotFound, fmt::format("'{}' does not exist", path));
  PreprocessorFiles files;
  fs::path dir;
  if (fs::is_directory(path, ec)) {
    dir = path;
    const fs::path pre = dir / "preprocessor_config.json";
    if (fs::is_regular_file(pre, ec)) files.preprocessor_config = pre.string();
  } else {
    files.preprocessor_config = path;
    dir = fs::path(path).parent_path();
  }
  const fs::path config = dir / "config.json";
  if (fs::is_regular_file(config, ec)) {
    files.model_config = ReadJsonObject(config.string());
    if (files.model_config.contains("model_type") && files.model_config["model_type"].is_string())
      files.model_type = files.model_config["model_type"].get<std::string>();
  }
  if (files.preprocessor_config.empty() && files.model_type.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("'{}' has neither preprocessor_config.json nor a config.json with a "
                            "model_type; point at a Hugging Face model folder or its "
                            "preprocessor_config.json",
                            path));
  return files;
}

}  // namespace ipfs_accel::preprocess::detail
