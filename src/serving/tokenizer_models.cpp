#include "serving/tokenizer_models.h"

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::serving {

std::optional<uint32_t> Model::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* Model::IdToToken(uint32_t id) const {
  return id < by_id_.size() ? by_id_[id] : nullptr;
}

void Model::IndexVocab() {
  uint32_t max_id = 0;
  for (const auto& [token, id] : vocab_) max_id = std::max(max_id, id);
  by_id_.assign(vocab_.empty() ? 0 : size_t{max_id} + 1, nullptr);
  for (const auto& [token, id] : vocab_) by_id_[id] = &token;
}

std::unique_ptr<Model> MakeModel(const nlohmann::json& j, const std::string& origin) {
  if (!j.is_object()) {
    throw core::Error(core::ErrorKind::kCorrupt,
                      origin + ": \"model\" is missing or not an object");
  }
  std::string type = j.value("type", "");
  // Files written before "type" was stored: BPE has merges, Unigram a vector, WordPiece a map.
  if (type.empty()) {
    type = j.contains("merges")                             ? "BPE"
           : (j.contains("vocab") && j["vocab"].is_array()) ? "Unigram"
           : j.contains("continuing_subword_prefix")        ? "WordPiece"
                                                            : "";
  }
  if (type == "BPE") return MakeBpe(j, origin);
  if (type == "WordPiece") return MakeWordPiece(j, origin);
  if (type == "Unigram") return MakeUnigram(j, origin);
  throw core::Error(core::ErrorKind::kUnsupported,
                    origin + ": model " + (type.empty() ? "(no type)" : type) +
                        " is not supported by this reader (supported: BPE, WordPiece, Unigram)");
}

}  // namespace ipfs_accel::serving
