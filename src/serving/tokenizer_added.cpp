#include "serving/tokenizer_added.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

void AddedVocabulary::Trie::Insert(std::string_view s, uint32_t token_id) {
  uint32_t node = 0;
  for (unsigned char c : s) {
    auto it = next[node].find(c);
    if (it == next[node].end()) {
      next.emplace_back();
      id.emplace_back();
      it = next[node].emplace(c, static_cast<uint32_t>(next.size() - 1)).first;
    }
    node = it->second;
  }
  if (!id[node])
    id[node] = token_id;  // the first token with this content wins, as in the reference
}

std::optional<std::pair<uint32_t, size_t>> AddedVocabulary::Trie::Longest(std::string_view s,
                                                                          size_t at) const {
  std::optional<std::pair<uint32_t, size_t>> best;
  uint32_t node = 0;
  for (size_t i = at; i < s.size(); ++i) {
    auto it = next[node].find(static_cast<unsigned char>(s[i]));
    if (it == next[node].end()) break;
    node = it->second;
    if (id[node]) best = std::make_pair(*id[node], i + 1);
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const nlohmann::json& tokens, const Model& model,
                                 const Normalizer* normalizer, const std::string& origin) {
  (void)origin;
  std::vector<std::pair<AddedToken, uint32_t>> special, plain;
  uint32_t next_id = static_cast<uint32_t>(model.VocabSize());
  for (const auto& t : tokens) {
    AddedToken a{t.at("content").get<std::string>(), t.value("single_word", false),
                 t.value("lstrip", false),           t.value("rstrip", false),
                 t.value("normalized", true),        t.value("special", false)};
    if (a.content.empty()) continue;
    if (a.special) special_.insert(a.content);
    std::optional<uint32_t> id = TokenToId(a.content);
    if (!id) id = model.TokenToId(a.content);
    if (!id) id = next_id++;
    // The reference keeps one token per content and per id: a later entry replaces the earlier.
    ids_[a.content] = *id;
    by_id_[*id] = a;
    (a.special ? special : plain).emplace_back(a, *id);
  }
  // Matching order: special tokens first, then the others (leftmost-longest makes it matter
  // only for equal contents).
  for (auto* list : {&special, &plain}) {
    for (const auto& [a, id] : *list) {
      uint32_t current = ids_.at(a.content);
      if (!a.normalized) {
        raw_trie_.Insert(a.content, current);
      } else {
        std::string n = a.content;
        if (normalizer) normalizer->Normalize(n);
        normalized_trie_.Insert(n, current);
      }
    }
  }
}

std::optional<uint32_t> AddedVocabulary::TokenToId(std::string_view token) const {
  auto it = ids_.find(token);
  if (it == ids_.end()) return std::nullopt;
  return it->second;
}

const std::string* AddedVocabulary::IdToToken(uint32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &it->second.content;
}

namespace {

bool EndsWithWord(std::string_view s) {
  if (s.empty()) return false;
  size_t pos = s.size() - 1;
  while (pos > 0 && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  size_t p = pos;
  return text::IsWordChar(text::Next(s, p));
}

bool StartsWithWord(std::string_view s) {
  size_t pos = 0;
  return !s.empty() && text::IsWordChar(text::Next(s, pos));
}

// Start of the run of whitespace that ends `s` (s.size() when none).
size_t TrailingSpaceStart(std::string_view s) {
  size_t start = s.size();
  for (size_t pos = 0; pos < s.size();) {
    size_t at = pos;
    if (!text::IsWhitespace(text::Next(s, pos))) {
      start = s.size();
    } else if (start == s.size()) {
      start = at;
    }
  }
  return start;
}

size_t LeadingSpaceEnd(std::string_view s) {
  size_t end = 0;
  for (size_t pos = 0; pos < s.size() && text::IsWhitespace(text::Next(s, pos));) end = pos;
  return end;
}

}  // namespace

std::vector<Piece> AddedVocabulary::Split(const Piece& piece, const Trie& trie) const {
  const std::string& s = piece.text;
  std::vector<Piece> out;
  if (s.empty()) return {piece};
  size_t start_offset = 0;
  auto push = [&](size_t a, size_t b, std::optional<uint32_t> id) {
    out.push_back({s.substr(a, b - a), piece.at_origin && a == 0, id});
  };
  for (size_t at = 0; at < s.size();) {
    auto m = trie.Longest(s, at);
    if (!m) {
      ++at;
      continue;
    }
    size_t start = at, stop = m->second;
    at = stop;  // matches never overlap, even when this one is then skipped
    const AddedToken& t = by_id_.at(m->first);
    if (t.single_word) {
      bool start_space = start == 0 || !EndsWithWord(std::string_view(s).substr(0, start));
      bool stop_space = stop == s.size() || !StartsWithWord(std::string_view(s).substr(stop));
      if (!start_space || !stop_space) continue;
    }
    if (t.lstrip)
      start = std::max(TrailingSpaceStart(std::string_view(s).substr(0, start)), start_offset);
    if (t.rstrip) stop += LeadingSpaceEnd(std::string_view(s).substr(stop));
    if (start_offset < start) push(start_offset, start, std::nullopt);
    push(start, stop, m->first);
    start_offset = stop;
  }
  if (start_offset != s.size()) push(start_offset, s.size(), std::nullopt);
  return out;
}

std::vector<Piece> AddedVocabulary::ExtractAndNormalize(std::string_view text,
                                                        const Normalizer* normalizer) const {
  std::vector<Piece> pieces{{std::string(text), true, std::nullopt}};
  SplitEach(pieces, [&](Piece& p) { return Split(p, raw_trie_); });
  SplitEach(pieces, [&](Piece& p) {
    if (normalizer) normalizer->Normalize(p.text);
    return Split(p, normalized_trie_);
  });
  return pieces;
}

}  // namespace ipfs_accel::serving
