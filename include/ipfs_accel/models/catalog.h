#pragma once
// The architecture catalog: named real sizes (data/catalog/*.json, compiled in) that
// a user can benchmark without weights. Each entry holds the config.json keys of
// the checkpoint it names.

#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct CatalogEntry {
  std::string name;  // canonical, e.g. "bert-base-uncased"
  std::vector<std::string> aliases;
  std::string architecture;  // HF model_type
  std::string modality;
  std::string hf_id;  // the checkpoint whose shape this is
  HfConfig config;
};

const std::vector<CatalogEntry>& Catalog();
// By name or alias (case-sensitive); nullopt when unknown.
std::optional<CatalogEntry> FindInCatalog(const std::string& name);

}  // namespace ipfs_accel::models
