// Unigram as the reference's models/unigram (its "optimized" Viterbi): the best-scoring split
// of a piece into vocabulary entries; a character no entry starts with costs the lowest score
// minus 10 and becomes the unknown token, adjacent unknowns fused into one.

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "serving/tokenizer_models.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

namespace {

class Unigram : public Model {
 public:
  Unigram(const nlohmann::json& j, const std::string& origin);
  void Tokenize(std::string_view piece, Encoding& out) const override;
  std::string Describe() const override {
    return "Unigram" + std::string(byte_fallback_ ? " (byte fallback)" : "") + ", " +
           std::to_string(scores_.size()) + " pieces";
  }

 private:
  std::vector<std::string_view> Viterbi(std::string_view piece) const;
  size_t VocabSize() const override { return pieces_.size(); }
  std::vector<std::string> pieces_;  // by id (the reference names ids from its list, not its map)
  std::vector<double> scores_;
  std::optional<uint32_t> unk_id_;
  bool byte_fallback_ = false;
  double min_score_ = INFINITY;
  size_t max_len_ = 0;  // bytes of the longest piece
};

Unigram::Unigram(const nlohmann::json& j, const std::string& origin) {
  const std::string what = origin + ": model Unigram";
  if (!j.contains("vocab") || !j["vocab"].is_array()) {
    throw Error(ErrorKind::kCorrupt, what + ": \"vocab\" is not a list of [piece, score]");
  }
  uint32_t id = 0;
  for (const auto& e : j["vocab"]) {
    std::string piece = e.at(0).get<std::string>();
    double score = e.at(1).get<double>();
    max_len_ = std::max(max_len_, piece.size());
    vocab_[piece] = id++;  // a repeated piece keeps its last id, as the reference's map does
    pieces_.push_back(std::move(piece));
    scores_.push_back(score);
    min_score_ = std::min(min_score_, score);
  }
  for (const std::string& p : pieces_) by_id_.push_back(&p);
  if (j.contains("unk_id") && j["unk_id"].is_number()) {
    unk_id_ = j["unk_id"].get<uint32_t>();
    if (*unk_id_ >= id)
      throw Error(ErrorKind::kCorrupt, what + ": unk_id is outside the vocabulary");
  }
  byte_fallback_ = j.value("byte_fallback", false);
}

std::vector<std::string_view> Unigram::Viterbi(std::string_view piece) const {
  struct Node {
    uint32_t id = 0;
    double score = 0;
    long start = -1;
  };
  const double unk_score = min_score_ - 10.0;
  std::vector<Node> best(piece.size() + 1);
  for (size_t start = 0; start < piece.size();) {
    double here = best[start].score;
    size_t next = start;
    text::Next(piece, next);
    size_t char_len = next - start;
    bool single = false;
    for (size_t len = 1; len <= max_len_ && start + len <= piece.size(); ++len) {
      auto it = vocab_.find(piece.substr(start, len));
      if (it == vocab_.end()) continue;
      Node& target = best[start + len];
      double candidate = scores_[it->second] + here;
      if (target.start < 0 || candidate > target.score)
        target = {it->second, candidate, long(start)};
      single = single || len == char_len;
    }
    if (!single) {
      if (!unk_id_)
        throw Error(ErrorKind::kInvalidArgument,
                    "Unigram: a character is not in the vocabulary and the model has no unk_id");
      Node& target = best[next];
      double candidate = unk_score + here;
      if (target.start < 0 || candidate > target.score) target = {*unk_id_, candidate, long(start)};
    }
    start = next;
  }
  std::vector<std::string_view> pieces;
  size_t fused_end = 0;  // end of a run of unknowns being fused (0: none)
  for (size_t end = piece.size(); end > 0;) {
    const Node& n = best[end];
    size_t start = static_cast<size_t>(n.start);
    if (unk_id_ && n.id == *unk_id_) {
      if (fused_end == 0) fused_end = end;
    } else {
      if (fused_end) {
        pieces.push_back(piece.substr(end, fused_end - end));
        fused_end = 0;
      }
      pieces.push_back(piece.substr(start, end - start));
    }
    end = start;
  }
  if (fused_end) pieces.push_back(piece.substr(0, fused_end));
  return std::vector<std::string_view>(pieces.rbegin(), pieces.rend());
}

void Unigram::Tokenize(std::string_view piece, Encoding& out) const {
  for (std::string_view s : Viterbi(piece)) {
    if (auto id = TokenToId(s)) {
      out.ids.push_back(*id);
      out.tokens.emplace_back(s);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : s) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        all = all && TokenToId(name).has_value();
      }
      if (all) {
        for (unsigned char b : s) {
          char name[8];
          std::snprintf(name, sizeof name, "<0x%02X>", b);
          out.ids.push_back(*TokenToId(name));
          out.tokens.emplace_back(name);
        }
        continue;
      }
    }
    if (!unk_id_)
      throw Error(ErrorKind::kInvalidArgument, "Unigram: no unk_id for an unknown piece");
    out.ids.push_back(*unk_id_);
    out.tokens.emplace_back(s);
  }
}

}  // namespace

std::unique_ptr<Model> MakeUnigram(const nlohmann::json& j, const std::string& origin) {
  return std::make_unique<Unigram>(j, origin);
}

}  // namespace ipfs_accel::serving
