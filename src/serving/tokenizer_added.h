#pragma once
// Added tokens (special tokens such as "<|im_end|>" and user additions): found in the raw text
// before the model runs, leftmost-longest, with the reference's lstrip / rstrip / single_word
// rules; tokens marked "normalized" are looked for in the normalized text instead.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "serving/tokenizer_models.h"
#include "serving/tokenizer_normalizers.h"
#include "serving/tokenizer_pre_tokenizers.h"

namespace ipfs_accel::serving {

struct AddedToken {
  std::string content;
  bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
};

class AddedVocabulary {
 public:
  // Reads "added_tokens"; ids come from the model's vocabulary or follow it, as the reference
  // assigns them when it loads a file.
  AddedVocabulary(const nlohmann::json& tokens, const Model& model, const Normalizer* normalizer,
                  const std::string& origin);
  // The reference's extract_and_normalize: `text` cut into added tokens and normalized rest.
  std::vector<Piece> ExtractAndNormalize(std::string_view text, const Normalizer* normalizer) const;

  std::optional<uint32_t> TokenToId(std::string_view token) const;
  const std::string* IdToToken(uint32_t id) const;
  bool IsSpecial(const std::string& token) const { return special_.count(token) > 0; }
  size_t size() const { return by_id_.size(); }

 private:
  // A byte trie over token contents for leftmost-longest matching.
  struct Trie {
    std::vector<std::unordered_map<unsigned char, uint32_t>> next =
        std::vector<std::unordered_map<unsigned char, uint32_t>>(1);
    std::vector<std::optional<uint32_t>> id =
        std::vector<std::optional<uint32_t>>(1);  // token id ending at a node
    void Insert(std::string_view s, uint32_t token_id);
    // The longest token starting at `at`: (id, end), or nullopt.
    std::optional<std::pair<uint32_t, size_t>> Longest(std::string_view s, size_t at) const;
  };
  std::vector<Piece> Split(const Piece& piece, const Trie& trie) const;

  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> ids_;
  std::unordered_map<uint32_t, AddedToken> by_id_;
  std::unordered_set<std::string> special_;
  Trie raw_trie_, normalized_trie_;
};

}  // namespace ipfs_accel::serving
