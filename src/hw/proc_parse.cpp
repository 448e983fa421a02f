#include "hw/proc_parse.h"

#include <cctype>
#include <charconv>
#include <fstream>
#include <iterator>
#include <limits>

namespace ipfs_accel::hw::detail {
namespace {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A non-negative decimal that spans all of `text`.
std::optional<int64_t> ParseCount(std::string_view text) {
  if (text.empty() || !IsDigit(text.front())) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<int64_t> Scale(int64_t value, int64_t unit) {
  if (value > std::numeric_limits<int64_t>::max() / unit) return std::nullopt;
  return value * unit;
}

}  // namespace

std::optional<std::string> ReadTextFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSpace(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsSpace(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::optional<int64_t> ParseCacheSize(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  int64_t unit = 1;
  switch (std::toupper(static_cast<unsigned char>(text.back()))) {
    case 'K':
      unit = int64_t{1} << 10;
      break;
    case 'M':
      unit = int64_t{1} << 20;
      break;
    case 'G':
      unit = int64_t{1} << 30;
      break;
  }
  if (unit != 1) text.remove_suffix(1);
  std::optional<int64_t> count = ParseCount(text);
  if (!count) return std::nullopt;
  return Scale(*count, unit);
}

std::vector<CpuinfoBlock> ParseCpuinfo(std::string_view text) {
  std::vector<CpuinfoBlock> blocks;
  bool in_block = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (Trim(line).empty()) {
      in_block = false;
      continue;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;  // e.g. a stray header line
    if (!in_block) {
      blocks.emplace_back();
      in_block = true;
    }
    blocks.back()[std::string(Trim(line.substr(0, colon)))] =
        std::string(Trim(line.substr(colon + 1)));
  }
  return blocks;
}

std::optional<int64_t> ParseMeminfoBytes(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || line.substr(0, colon) != key) continue;
    std::vector<std::string> words = SplitWords(line.substr(colon + 1));
    if (words.empty()) return std::nullopt;
    std::optional<int64_t> count = ParseCount(words[0]);
    if (!count) return std::nullopt;
    if (words.size() == 1) return count;  // a bare count (HugePages_Total) has no unit
    if (words.size() == 2 && words[1] == "kB") return Scale(*count, 1024);
    return std::nullopt;
  }
  return std::nullopt;
}

std::string ParseOsReleaseValue(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = Trim(text.substr(0, eol));
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || line.substr(0, eq) != key) continue;
    std::string_view raw = line.substr(eq + 1);
    // os-release values follow shell quoting: "..." (with \ escapes), '...', or bare.
    std::string value;
    char quote = 0;
    for (size_t i = 0; i < raw.size(); ++i) {
      char c = raw[i];
      if (quote == 0 && (c == '"' || c == '\'')) {
        quote = c;
      } else if (c == quote) {
        quote = 0;
      } else if (c == '\\' && quote != '\'' && i + 1 < raw.size()) {
        value += raw[++i];
      } else {
        value += c;
      }
    }
    return value;
  }
  return "";
}

std::string ParseChromiumVersion(std::string_view output) {
  // The first word made of digits and dots with at least one dot.
  for (const std::string& word : SplitWords(output)) {
    bool dotted = word.find('.') != std::string::npos && IsDigit(word.front()) &&
                  IsDigit(word.back()) && word.find("..") == std::string::npos;
    for (char c : word) dotted = dotted && (IsDigit(c) || c == '.');
    if (dotted) return word;
  }
  return "";
}

}  // namespace ipfs_accel::hw::detail
