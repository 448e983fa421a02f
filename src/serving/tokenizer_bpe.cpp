// Byte-pair encoding as the reference's models/bpe: a piece starts as one symbol per character
// (or per byte, with byte fallback) and the lowest-ranked adjacent pair is merged until none is
// left in the merge table; equal ranks merge leftmost first.

#include <array>
#include <cstdio>
#include <mutex>
#include <queue>
#include <shared_mutex>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "serving/tokenizer_models.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

namespace {

struct Symbol {
  uint32_t id;
  int prev;
  int next;
  size_t len;  // bytes of the piece it covers; 0 once merged into its left neighbour
};

struct Merge {
  size_t pos;
  uint32_t rank;
  uint32_t new_id;
  bool operator<(const Merge& o) const {  // the queue's top is the lowest rank, then leftmost
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

uint64_t PairKey(uint32_t a, uint32_t b) { return (uint64_t{a} << 32) | b; }

class Bpe : public Model {
 public:
  Bpe(const nlohmann::json& j, const std::string& origin);
  void Tokenize(std::string_view piece, Encoding& out) const override;
  std::string Describe() const override {
    return std::string("BPE") + (byte_fallback_ ? " (byte fallback)" : "") + ", " +
           std::to_string(vocab_.size()) + " tokens, " + std::to_string(merges_.size()) + " merges";
  }

 private:
  void ReadMerges(const nlohmann::json& merges, const std::string& what);
  std::vector<Symbol> Symbols(std::string_view piece) const;
  void MergeAll(std::vector<Symbol>& symbols) const;
  void Add(std::vector<Symbol>& symbols, uint32_t id, size_t len) const;

  std::unordered_map<uint64_t, std::pair<uint32_t, uint32_t>> merges_;  // -> (rank, new id)
  std::optional<uint32_t> unk_id_;
  std::string prefix_, suffix_;
  bool fuse_unk_ = false, byte_fallback_ = false, ignore_merges_ = false;
  std::array<std::optional<uint32_t>, 256> byte_ids_{};

  // Pieces already cut, as the reference caches them (up to 10000 pieces under 256 bytes).
  static constexpr size_t kCacheEntries = 10000, kCachePieceBytes = 256;
  mutable std::shared_mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<uint32_t>, StringHash, std::equal_to<>>
      cache_;
};

Bpe::Bpe(const nlohmann::json& j, const std::string& origin) {
  const std::string what = origin + ": model BPE";
  if (j.contains("dropout") && j["dropout"].is_number() && j["dropout"].get<double>() != 0.0) {
    throw Error(ErrorKind::kUnsupported, what + ": dropout is random; this reader needs it null");
  }
  if (!j.contains("vocab") || !j["vocab"].is_object()) {
    throw Error(ErrorKind::kCorrupt, what + ": \"vocab\" is not an object");
  }
  for (const auto& [token, id] : j["vocab"].items()) vocab_[token] = id.get<uint32_t>();
  IndexVocab();
  auto str = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  prefix_ = str("continuing_subword_prefix");
  suffix_ = str("end_of_word_suffix");
  fuse_unk_ = j.value("fuse_unk", false);
  byte_fallback_ = j.value("byte_fallback", false);
  ignore_merges_ = j.value("ignore_merges", false);
  if (j.contains("unk_token") && j["unk_token"].is_string()) {
    unk_id_ = TokenToId(j["unk_token"].get<std::string>());
    if (!unk_id_) throw Error(ErrorKind::kCorrupt, what + ": unk_token is not in the vocabulary");
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_ids_[b] = TokenToId(name);
  }
  ReadMerges(j.contains("merges") ? j["merges"] : nlohmann::json::array(), what);
}

void Bpe::ReadMerges(const nlohmann::json& merges, const std::string& what) {
  merges_.reserve(merges.size());
  uint32_t rank = 0;
  for (const auto& m : merges) {
    std::string a, b;
    if (m.is_array() && m.size() == 2) {
      a = m[0].get<std::string>();
      b = m[1].get<std::string>();
    } else if (m.is_string()) {  // the older "a b" form
      const std::string& s = m.get_ref<const std::string&>();
      size_t space = s.find(' ');
      if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos) {
        throw Error(ErrorKind::kCorrupt, what + ": merge '" + s + "' is not two tokens");
      }
      a = s.substr(0, space);
      b = s.substr(space + 1);
    } else {
      throw Error(ErrorKind::kCorrupt, what + ": a merge is neither \"a b\" nor [a, b]");
    }
    auto ia = TokenToId(a), ib = TokenToId(b);
    std::string joined = a + b.substr(std::min(prefix_.size(), b.size()));
    auto in = TokenToId(joined);
    if (!ia || !ib || !in) {
      throw Error(ErrorKind::kCorrupt,
                  what + ": merge '" + a + " " + b + "' uses a token not in the vocabulary");
    }
    merges_[PairKey(*ia, *ib)] = {rank++, *in};
  }
}

void Bpe::Add(std::vector<Symbol>& symbols, uint32_t id, size_t len) const {
  int n = static_cast<int>(symbols.size());
  if (n > 0) symbols.back().next = n;
  symbols.push_back({id, n - 1, -1, len});
}

std::vector<Symbol> Bpe::Symbols(std::string_view piece) const {
  std::vector<Symbol> symbols;
  symbols.reserve(piece.size());
  size_t unk_len = 0;  // bytes of a pending unknown token (0: none)
  std::string s;
  for (size_t pos = 0; pos < piece.size();) {
    size_t start = pos;
    text::Next(piece, pos);
    size_t byte_len = pos - start;
    s.clear();
    if (start > 0) s += prefix_;
    s += piece.substr(start, byte_len);
    if (pos == piece.size()) s += suffix_;
    if (auto id = TokenToId(s)) {
      if (unk_len) Add(symbols, *unk_id_, unk_len);
      unk_len = 0;
      Add(symbols, *id, byte_len);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : s) all = all && byte_ids_[b].has_value();
      if (all) {
        // The reference leaves a pending unknown token pending here; so does this.
        for (unsigned char b : s) Add(symbols, *byte_ids_[b], 1);
        continue;
      }
    }
    if (!unk_id_) continue;
    if (unk_len && !fuse_unk_) {
      Add(symbols, *unk_id_, unk_len);
      unk_len = 0;
    }
    unk_len += byte_len;
  }
  if (unk_len) Add(symbols, *unk_id_, unk_len);
  return symbols;
}

void Bpe::MergeAll(std::vector<Symbol>& symbols) const {
  std::priority_queue<Merge> queue;
  auto rule = [&](uint32_t a, uint32_t b) {
    auto it = merges_.find(PairKey(a, b));
    return it == merges_.end() ? nullptr : &it->second;
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (auto r = rule(symbols[i].id, symbols[i + 1].id)) queue.push({i, r->first, r->second});
  }
  while (!queue.empty()) {
    Merge top = queue.top();
    queue.pop();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;
    Symbol right = symbols[cur.next];
    auto r = rule(cur.id, right.id);
    if (!r || r->second != top.new_id) continue;
    symbols[cur.next].len = 0;
    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = static_cast<int>(top.pos);
    if (cur.prev >= 0) {
      if (auto p = rule(symbols[cur.prev].id, cur.id))
        queue.push({size_t(cur.prev), p->first, p->second});
    }
    if (cur.next >= 0) {
      if (auto n = rule(cur.id, symbols[cur.next].id)) queue.push({top.pos, n->first, n->second});
    }
  }
}

void Bpe::Tokenize(std::string_view piece, Encoding& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (auto id = TokenToId(piece)) {
      out.ids.push_back(*id);
      out.tokens.emplace_back(piece);
      return;
    }
  }
  auto emit = [&](const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) {
      out.ids.push_back(id);
      const std::string* t = IdToToken(id);
      out.tokens.push_back(t ? *t : std::string());
    }
  };
  {
    std::shared_lock lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) return emit(it->second);
  }
  std::vector<Symbol> symbols = Symbols(piece);
  MergeAll(symbols);
  std::vector<uint32_t> ids;
  for (const Symbol& s : symbols) {
    if (s.len != 0) ids.push_back(s.id);
  }
  emit(ids);
  if (piece.size() < kCachePieceBytes) {
    std::unique_lock lock(cache_mutex_, std::try_to_lock);
    if (lock && cache_.size() < kCacheEntries) cache_.emplace(piece, std::move(ids));
  }
}

}  // namespace

std::unique_ptr<Model> MakeBpe(const nlohmann::json& j, const std::string& origin) {
  return std::make_unique<Bpe>(j, origin);
}

}  // namespace ipfs_accel::serving
