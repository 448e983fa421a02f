#pragma once
// Models: turn one pre-tokenized piece into vocabulary ids. BPE (merges by rank, optional byte
// fallback and unknown token), WordPiece (greedy longest match) and Unigram (Viterbi over piece
// scores), each as the reference implements it.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ipfs_accel/serving/tokenizer.h"

namespace ipfs_accel::serving {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using Vocab = std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>>;

class Model {
 public:
  virtual ~Model() = default;
  // Appends the ids and token strings of `piece` (non-empty) to `out`.
  virtual void Tokenize(std::string_view piece, Encoding& out) const = 0;
  std::optional<uint32_t> TokenToId(std::string_view token) const;
  const std::string* IdToToken(uint32_t id) const;
  virtual size_t VocabSize() const { return vocab_.size(); }
  virtual std::string Describe() const = 0;

 protected:
  // Fills the id -> token table from vocab_ (ids need not be dense).
  void IndexVocab();
  Vocab vocab_;
  std::vector<const std::string*> by_id_;
};

// Throws core::Error kUnsupported / kCorrupt naming the model type and `origin`.
std::unique_ptr<Model> MakeBpe(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Model> MakeWordPiece(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Model> MakeUnigram(const nlohmann::json& j, const std::string& origin);
std::unique_ptr<Model> MakeModel(const nlohmann::json& j, const std::string& origin);

}  // namespace ipfs_accel::serving
