// WordPiece as the reference's models/wordpiece: greedy longest match from the left, later
// pieces carrying the continuing prefix ("##"); a word with any unmatched rest, or longer than
// max_input_chars_per_word, becomes the unknown token.

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "serving/tokenizer_models.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

namespace {

class WordPiece : public Model {
 public:
  WordPiece(const nlohmann::json& j, const std::string& origin);
  void Tokenize(std::string_view piece, Encoding& out) const override;
  std::string Describe() const override {
    return "WordPiece, " + std::to_string(vocab_.size()) + " tokens";
  }

 private:
  std::string unk_, prefix_;
  size_t max_chars_ = 100;
};

WordPiece::WordPiece(const nlohmann::json& j, const std::string& origin) {
  const std::string what = origin + ": model WordPiece";
  if (!j.contains("vocab") || !j["vocab"].is_object()) {
    throw Error(ErrorKind::kCorrupt, what + ": \"vocab\" is not an object");
  }
  for (const auto& [token, id] : j["vocab"].items()) vocab_[token] = id.get<uint32_t>();
  IndexVocab();
  unk_ = j.value("unk_token", "[UNK]");
  prefix_ = j.value("continuing_subword_prefix", "##");
  max_chars_ = j.value("max_input_chars_per_word", size_t{100});
}

void WordPiece::Tokenize(std::string_view piece, Encoding& out) const {
  auto unknown = [&] {
    auto id = TokenToId(unk_);
    if (!id)
      throw Error(ErrorKind::kCorrupt,
                  "WordPiece: the unknown token " + unk_ + " is not in the vocabulary");
    out.ids.push_back(*id);
    out.tokens.push_back(unk_);
  };
  if (text::CharCount(piece) > max_chars_) return unknown();
  size_t first = out.ids.size();
  std::string candidate;
  for (size_t start = 0; start < piece.size();) {
    size_t end = piece.size();
    bool found = false;
    while (start < end) {
      candidate.assign(start > 0 ? prefix_ : std::string());
      candidate.append(piece.substr(start, end - start));
      if (auto id = TokenToId(candidate)) {
        out.ids.push_back(*id);
        out.tokens.push_back(candidate);
        found = true;
        break;
      }
      do --end;
      while (end > start && (static_cast<unsigned char>(piece[end]) & 0xC0) == 0x80);
    }
    if (!found) {
      out.ids.resize(first);
      out.tokens.resize(first);
      return unknown();
    }
    start = end;
  }
}

}  // namespace

std::unique_ptr<Model> MakeWordPiece(const nlohmann::json& j, const std::string& origin) {
  return std::make_unique<WordPiece>(j, origin);
}

}  // namespace ipfs_accel::serving
