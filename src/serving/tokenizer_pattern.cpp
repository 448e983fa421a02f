#include "serving/tokenizer_pattern.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

Pattern Pattern::FromJson(const nlohmann::json& j, const std::string& what) {
  Pattern p;
  if (j.is_object() && j.contains("String") && j["String"].is_string()) {
    p.literal_ = j["String"].get<std::string>();
  } else if (j.is_object() && j.contains("Regex") && j["Regex"].is_string()) {
    p.regex_.emplace(j["Regex"].get<std::string>(), what);
  } else {
    throw Error(ErrorKind::kCorrupt, what + ": pattern is neither {\"String\"} nor {\"Regex\"}");
  }
  return p;
}

std::vector<Cut> Pattern::Find(std::string_view s) const {
  std::vector<Cut> cuts;
  if (s.empty()) return {{0, 0, false}};
  std::vector<std::pair<size_t, size_t>> matches;
  if (regex_) {
    matches = regex_->FindAll(s);
  } else if (!literal_.empty()) {
    for (size_t at = s.find(literal_); at != std::string_view::npos;
         at = s.find(literal_, at + literal_.size())) {
      matches.emplace_back(at, at + literal_.size());
    }
  }
  size_t prev = 0;
  for (auto [start, end] : matches) {
    if (prev != start) cuts.push_back({prev, start, false});
    cuts.push_back({start, end, true});
    prev = end;
  }
  if (prev != s.size()) cuts.push_back({prev, s.size(), false});
  return cuts;
}

std::vector<Cut> FindChars(std::string_view s, const std::function<bool(char32_t)>& pred) {
  if (s.empty()) return {{0, 0, false}};
  std::vector<Cut> cuts;
  size_t last = 0;
  for (size_t pos = 0; pos < s.size();) {
    size_t start = pos;
    char32_t c = text::Next(s, pos);
    if (!pred(c)) continue;
    if (last < start) cuts.push_back({last, start, false});
    cuts.push_back({start, pos, true});
    last = pos;
  }
  if (last < s.size()) cuts.push_back({last, s.size(), false});
  return cuts;
}

SplitBehavior ParseSplitBehavior(const std::string& name, const std::string& what) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  throw Error(ErrorKind::kUnsupported, what + ": split behavior '" + name + "' is not known");
}

namespace {

using Range = std::pair<size_t, size_t>;

// MergedWithPrevious over `cuts` in order; MergedWithNext is the same run backwards.
std::vector<Range> MergeMatches(const std::vector<Cut>& cuts, bool backwards) {
  std::vector<Range> out;
  bool previous_match = false;
  auto visit = [&](const Cut& c) {
    if (c.is_match && !previous_match && !out.empty()) {
      (backwards ? out.back().first : out.back().second) = backwards ? c.start : c.end;
    } else {
      out.emplace_back(c.start, c.end);
    }
    previous_match = c.is_match;
  };
  if (backwards) {
    std::for_each(cuts.rbegin(), cuts.rend(), visit);
    std::reverse(out.begin(), out.end());
  } else {
    std::for_each(cuts.begin(), cuts.end(), visit);
  }
  return out;
}

}  // namespace

std::vector<Range> ApplyBehavior(std::vector<Cut> cuts, SplitBehavior behavior) {
  std::vector<Range> out;
  switch (behavior) {
    case SplitBehavior::kIsolated:
      for (const Cut& c : cuts) out.emplace_back(c.start, c.end);
      return out;
    case SplitBehavior::kRemoved:
      for (const Cut& c : cuts) {
        if (!c.is_match) out.emplace_back(c.start, c.end);
      }
      return out;
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Cut& c : cuts) {
        if (c.is_match == previous_match && !out.empty()) {
          out.back().second = c.end;
        } else {
          out.emplace_back(c.start, c.end);
        }
        previous_match = c.is_match;
      }
      return out;
    }
    case SplitBehavior::kMergedWithPrevious:
      return MergeMatches(cuts, false);
    case SplitBehavior::kMergedWithNext:
      return MergeMatches(cuts, true);
  }
  return out;
}

}  // namespace ipfs_accel::serving
