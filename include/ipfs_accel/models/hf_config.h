#pragma once
// A Hugging Face config.json, with typed look-ups that name the file and key in
// their errors. Defaults are the caller's (each architecture's config class has
// its own), so a missing optional key never surprises.

#include <climits>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

namespace ipfs_accel::models {

class HfConfig {
 public:
  HfConfig(nlohmann::json json, std::string origin)
      : json_(std::move(json)), origin_(std::move(origin)) {}

  // Reads DIR/config.json. Throws core::Error: kNotFound, kCorrupt (not JSON / not an object).
  static HfConfig Load(const std::string& dir);

  const nlohmann::json& json() const { return json_; }
  const std::string& origin() const { return origin_; }  // file path or "catalog:<name>"

  // model_type, e.g. "bert". Throws kCorrupt when absent.
  std::string ModelType() const;

  bool Has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }
  // Required keys throw kCorrupt naming the file and key when absent or of the wrong type.
  // Int: a size or a count (hidden_size, num_hidden_layers, ...), from 0 to kMaxSize; a value
  // outside is kCorrupt too, before any builder sizes a tensor or a loop from it.
  static constexpr int64_t kMaxSize = INT32_MAX;
  int64_t Int(const std::string& key) const;
  int64_t Int(const std::string& key, int64_t fallback) const;
  // Id: an integer that names rather than counts (a token id, which may be negative).
  int64_t Id(const std::string& key) const;
  int64_t Id(const std::string& key, int64_t fallback) const;
  double Double(const std::string& key, double fallback) const;
  bool Bool(const std::string& key, bool fallback) const;
  std::string String(const std::string& key, const std::string& fallback) const;

  // A copy with `key` set to `value` (e.g. the size a graph is built for, set from its inputs).
  HfConfig With(const std::string& key, nlohmann::json value) const {
    HfConfig copy = *this;
    copy.json_[key] = std::move(value);
    return copy;
  }
  // ---- The template the config was resolved with (models::ApplyTemplate) ----
  // Its model_type and version; "" and 0 for a config no template resolved.
  const std::string& template_name() const { return template_name_; }
  int64_t template_version() const { return template_version_; }
  void SetTemplate(std::string name, int64_t version, nlohmann::json pieces) {
    template_name_ = std::move(name);
    template_version_ = version;
    pieces_ = std::move(pieces);
  }
  // A builder piece (docs/templates.md): the literal, or for "$key" this config's value of key
  // ("$outer.inner": of a nested object's key); null when the template does not set it or the
  // key is absent or null.
  nlohmann::json Piece(const std::string& name) const;
  // Whether the template sets the piece at all (a "$key" reference to a null key included).
  bool HasPiece(const std::string& name) const { return pieces_.contains(name); }
  // Typed pieces: `fallback` for null; kCorrupt naming the template for another type.
  std::string PieceString(const std::string& name, const std::string& fallback) const;
  bool PieceBool(const std::string& name, bool fallback) const;
  double PieceDouble(const std::string& name, double fallback) const;

 private:
  nlohmann::json json_;
  std::string origin_;
  std::string template_name_;
  int64_t template_version_ = 0;
  nlohmann::json pieces_ = nlohmann::json::object();
};

// Every size read from `c` positive: throws kCorrupt naming the first (key, value) pair that is
// not ("'<origin>': <key> is <value>; it must be positive").
void RequirePositive(const HfConfig& c,
                     std::initializer_list<std::pair<const char*, int64_t>> sizes);

}  // namespace ipfs_accel::models
