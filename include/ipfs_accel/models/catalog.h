#pragma once
// The architecture catalog: named real sizes (data/catalog/*.json, compiled in) that
// a user can benchmark without weights. Each entry holds the config.json keys of
// the checkpoint it names.

#include <cstdint>
#include <map>
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

// One of the key model classes the project benchmarks as a set (`benchmark --key-models`):
// the class, the catalog name that stands for it at a small real size, and the input
// sizes it is measured at where the defaults do not fit (e.g. audio samples).
struct KeyModel {
  std::string key_class;                               // "BERT", "Whisper", ...
  std::string model;                                   // catalog name
  std::map<std::string, std::vector<int64_t>> shapes;  // as --shape NAME=dims
};
// From the "key_models" lists of the catalog files, in file order.
const std::vector<KeyModel>& KeyModels();
// By name or alias (case-sensitive); nullopt when unknown.
std::optional<CatalogEntry> FindInCatalog(const std::string& name);
// The catalog names closest to a name that is not one (a typo): at most `limit`, nearest
// first, each within a third of the name's length (1 to 3) in edit distance over names and aliases
// (case-insensitive), or starting with the name; empty when nothing is close.
std::vector<std::string> ClosestCatalogNames(const std::string& name, size_t limit = 3);
// The same rule over other names (templates, ...): those of `candidates` closest to `name`.
std::vector<std::string> ClosestNames(const std::string& name,
                                      const std::vector<std::string>& candidates, size_t limit = 3);
// ", did you mean a or b?" for those names, or "" when there are none.
std::string DidYouMean(const std::vector<std::string>& names);

}  // namespace ipfs_accel::models
