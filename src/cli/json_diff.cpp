#include "cli/json_diff.h"

namespace ipfs_accel::cli {
namespace {

// Leaves by dotted path; an empty object is a leaf, so that adding one shows.
void Flatten(const nlohmann::json& j, const std::string& prefix,
             std::map<std::string, nlohmann::json>& out) {
  if (!j.is_object() || j.empty()) {
    out[prefix] = j;
    return;
  }
  for (const auto& [key, value] : j.items())
    Flatten(value, prefix.empty() ? key : prefix + "." + key, out);
}

std::optional<nlohmann::json> Find(const std::map<std::string, nlohmann::json>& leaves,
                                   const std::string& key) {
  const auto it = leaves.find(key);
  return it == leaves.end() ? std::nullopt : std::optional(it->second);
}

}  // namespace

std::map<std::string, nlohmann::json> FlattenJson(const nlohmann::json& j) {
  std::map<std::string, nlohmann::json> out;
  Flatten(j, "", out);
  return out;
}

std::vector<JsonDifference> DiffJson(const nlohmann::json& a, const nlohmann::json& b) {
  const auto left = FlattenJson(a), right = FlattenJson(b);
  std::map<std::string, JsonDifference> out;
  for (const auto* side : {&left, &right})
    for (const auto& [key, value] : *side) {
      JsonDifference d{key, Find(left, key), Find(right, key)};
      if (d.a != d.b) out.emplace(key, std::move(d));
    }
  std::vector<JsonDifference> sorted;
  for (auto& [key, d] : out) sorted.push_back(std::move(d));
  return sorted;
}

}  // namespace ipfs_accel::cli
