#pragma once
// A key-by-key difference of two JSON documents (`templates diff`): objects are walked key by
// key, anything else (a list, a scalar) is compared whole, as template inheritance merges them.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ipfs_accel::cli {

struct JsonDifference {
  std::string key;                     // dotted path, e.g. "pieces.sliding_window"
  std::optional<nlohmann::json> a, b;  // unset where that side lacks the key
};

// The leaves by dotted path (an empty object is a leaf too).
std::map<std::string, nlohmann::json> FlattenJson(const nlohmann::json& j);

// Every key whose value differs, sorted by key.
std::vector<JsonDifference> DiffJson(const nlohmann::json& a, const nlohmann::json& b);

}  // namespace ipfs_accel::cli
