#pragma once
// UTF-8 and Unicode helpers for the tokenizer, with the character classes of Rust's standard
// library (which the reference implementation uses) answered by ICU, and regular expressions
// by PCRE2 (the reference uses Oniguruma; both support the Unicode properties its patterns use).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ipfs_accel::serving::text {

// Decodes the code point at `pos` (valid UTF-8 assumed) and advances `pos` past it.
char32_t Next(std::string_view s, size_t& pos);
void Append(std::string& out, char32_t c);
size_t CharCount(std::string_view s);
bool IsValidUtf8(std::string_view s);
// As Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one U+FFFD.
std::string FromUtf8Lossy(std::string_view bytes);

bool IsWhitespace(char32_t c);    // Rust char::is_whitespace (White_Space)
bool IsAlphanumeric(char32_t c);  // Rust char::is_alphanumeric
bool IsNumeric(char32_t c);       // Rust char::is_numeric (Nd, Nl, No)
bool IsPunctuation(char32_t c);   // ASCII punctuation or a P* category
bool IsWordChar(char32_t c);      // the regex crate's \w
bool IsOther(char32_t c);         // categories Cc, Cf, Cn, Co, Cs
bool IsMarkNonspacing(char32_t c);
bool IsCombiningMark(char32_t c);  // Mn, Mc, Me
// Rust char::to_lowercase, appended to `out`.
void AppendLowercase(std::string& out, char32_t c);

enum class Form { kNfc, kNfd, kNfkc, kNfkd };
std::string Normalize(std::string_view s, Form form);

// A compiled regular expression (UTF-8, Unicode properties). Immutable after construction.
class Regex {
 public:
  // Throws core::Error kUnsupported naming `what` when the pattern does not compile.
  Regex(const std::string& pattern, const std::string& what);
  Regex(Regex&&) noexcept;
  ~Regex();
  // Non-overlapping matches [start, end) left to right; an empty match right after the previous
  // match is skipped by one character, as Oniguruma's and Rust's iterators do.
  std::vector<std::pair<size_t, size_t>> FindAll(std::string_view s) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipfs_accel::serving::text
