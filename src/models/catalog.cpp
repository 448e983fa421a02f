#include "ipfs_accel/models/catalog.h"

#include <algorithm>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {
namespace generated {
extern const char* const kCatalogJson[];
extern const size_t kCatalogJsonCount;
}  // namespace generated

const std::vector<CatalogEntry>& Catalog() {
  static const std::vector<CatalogEntry> catalog = [] {
    std::vector<CatalogEntry> out;
    for (size_t i = 0; i < generated::kCatalogJsonCount; ++i) {
      const auto json = nlohmann::json::parse(generated::kCatalogJson[i]);
      for (const auto& m : json.value("models", nlohmann::json::array())) {
        const std::string name = m.at("name").get<std::string>();
        out.push_back(CatalogEntry{
            name, m.at("aliases").get<std::vector<std::string>>(),
            m.at("architecture").get<std::string>(), m.at("modality").get<std::string>(),
            m.at("hf_id").get<std::string>(), HfConfig(m.at("config"), "catalog:" + name)});
      }
    }
    return out;
  }();
  return catalog;
}

const std::vector<KeyModel>& KeyModels() {
  static const std::vector<KeyModel> keys = [] {
    std::vector<KeyModel> out;
    for (size_t i = 0; i < generated::kCatalogJsonCount; ++i) {
      const auto json = nlohmann::json::parse(generated::kCatalogJson[i]);
      if (!json.contains("key_models")) continue;
      for (const auto& k : json.at("key_models"))
        out.push_back({k.at("class").get<std::string>(), k.at("model").get<std::string>(),
                       k.value("shapes", std::map<std::string, std::vector<int64_t>>{})});
    }
    return out;
  }();
  return keys;
}

std::optional<CatalogEntry> FindInCatalog(const std::string& name) {
  for (const auto& e : Catalog()) {
    if (e.name == name || std::find(e.aliases.begin(), e.aliases.end(), name) != e.aliases.end())
      return e;
  }
  return std::nullopt;
}

}  // namespace ipfs_accel::models
