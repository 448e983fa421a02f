#pragma once
// Typed reads of a preprocessor_config.json object whose errors name the file and key. (The
// models layer has HfConfig for config.json; preprocess depends on core only, hence this.)

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ipfs_accel::preprocess::detail {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& json, const std::string& origin);

  // Present and not null.
  bool Has(const std::string& key) const;
  const nlohmann::json& Get(const std::string& key) const { return json_.at(key); }
  const std::string& origin() const { return origin_; }

  // Absent or null -> fallback; present with another type -> kCorrupt.
  bool Bool(const std::string& key, bool fallback) const;
  int64_t Int(const std::string& key, int64_t fallback) const;
  double Double(const std::string& key, double fallback) const;
  std::string String(const std::string& key, const std::string& fallback) const;
  std::optional<std::string> OptionalString(const std::string& key) const;

  // kCorrupt naming the file and key: "'<origin>': '<key>' <what>".
  [[noreturn]] void Fail(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json& json_;
  std::string origin_;
};

// Reads a JSON object from `path`. Throws kNotFound, kCorrupt (not JSON, not an object), kIo.
nlohmann::json ReadJsonObject(const std::string& path);

// For a folder: <dir>/preprocessor_config.json if present; for a file: the file. Sets
// `model_type` from <dir>/config.json when that exists (empty otherwise). Throws kNotFound when
// `path` does not exist or a folder has neither file.
struct PreprocessorFiles {
  std::string preprocessor_config;  // empty when the folder has none
  std::string model_type;
  nlohmann::json model_config;  // config.json's object; null when there is none
};
PreprocessorFiles FindPreprocessorFiles(const std::string& path);

}  // namespace ipfs_accel::preprocess::detail
