#pragma once
// What the reference calls a Pattern: the text a Split pre-tokenizer or a Replace normalizer or
// decoder looks for, as a literal string or a regular expression, and the pieces it cuts a
// string into (every byte of the string lies in exactly one piece, matched or not).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

struct Cut {
  size_t start;
  size_t end;
  bool is_match;
};

class Pattern {
 public:
  // `j` is {"String": "..."} or {"Regex": "..."}; `what` names the component for errors.
  static Pattern FromJson(const nlohmann::json& j, const std::string& what);
  std::vector<Cut> Find(std::string_view s) const;

 private:
  std::string literal_;
  std::optional<text::Regex> regex_;
};

// The pieces cut at every character for which `pred` holds (each such character alone).
std::vector<Cut> FindChars(std::string_view s, const std::function<bool(char32_t)>& pred);

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };
SplitBehavior ParseSplitBehavior(const std::string& name, const std::string& what);
// The reference's NormalizedString::split: the [start, end) ranges kept under `behavior`.
std::vector<std::pair<size_t, size_t>> ApplyBehavior(std::vector<Cut> cuts, SplitBehavior behavior);

}  // namespace ipfs_accel::serving
