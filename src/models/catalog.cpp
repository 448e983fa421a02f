#include "ipfs_accel/models/catalog.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>

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

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// Levenshtein distance: insertions, deletions and substitutions of one character.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// How far `typed` is from something known by `names`: the nearest of them; a name the typed
// text begins counts as near (a prefix is a common way to half-remember a name).
size_t DistanceTo(const std::string& typed, const std::vector<std::string>& names) {
  size_t best = std::numeric_limits<size_t>::max();
  for (const auto& n : names) {
    const std::string name = Lower(n);
    best = std::min(best, name.rfind(typed, 0) == 0 ? 1 : EditDistance(typed, name));
  }
  return best;
}

// The first name of each of `known` (its other names are aliases) closest to `name`.
std::vector<std::string> Closest(const std::string& name,
                                 const std::vector<std::vector<std::string>>& known, size_t limit) {
  const std::string typed = Lower(name);
  const size_t threshold = std::clamp<size_t>(typed.size() / 3, 1, 3);
  std::vector<std::pair<size_t, std::string>> near;
  for (const auto& names : known)
    if (const size_t d = DistanceTo(typed, names); d <= threshold)
      near.emplace_back(d, names.front());
  std::stable_sort(near.begin(), near.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (size_t i = 0; i < near.size() && i < limit; ++i) out.push_back(near[i].second);
  return out;
}

}  // namespace

std::vector<std::string> ClosestCatalogNames(const std::string& name, size_t limit) {
  std::vector<std::vector<std::string>> known;
  for (const auto& e : Catalog()) {
    known.push_back({e.name});
    known.back().insert(known.back().end(), e.aliases.begin(), e.aliases.end());
  }
  return Closest(name, known, limit);
}

std::vector<std::string> ClosestNames(const std::string& name,
                                      const std::vector<std::string>& candidates, size_t limit) {
  std::vector<std::vector<std::string>> known;
  for (const auto& c : candidates) known.push_back({c});
  return Closest(name, known, limit);
}

std::string DidYouMean(const std::vector<std::string>& names) {
  if (names.empty()) return "";
  std::string list = names.front();
  for (size_t i = 1; i < names.size(); ++i)
    list += (i + 1 == names.size() ? " or " : ", ") + names[i];
  return ", did you mean " + list + "?";
}

}  // namespace ipfs_accel::models
