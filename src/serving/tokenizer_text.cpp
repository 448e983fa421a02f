#include "serving/tokenizer_text.h"

#include <algorithm>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::serving::text {

using core::Error;
using core::ErrorKind;

char32_t Next(std::string_view s, size_t& pos) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = b(pos);
  if (c < 0x80) {
    ++pos;
    return c;
  }
  int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
  char32_t cp = c & (0x7F >> len);
  for (int k = 1; k < len && pos + k < s.size(); ++k) cp = (cp << 6) | (b(pos + k) & 0x3F);
  pos += len;
  return cp;
}

void Append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

size_t CharCount(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

namespace {

// Length of the valid UTF-8 sequence at `i`, or 0 with `bad` set to how many bytes form the
// maximal invalid subpart (Rust's Utf8Chunks rule; at least 1).
size_t ValidSequence(std::string_view s, size_t i, size_t& bad) {
  auto at = [&](size_t k) -> unsigned {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0;
  };
  auto cont = [](unsigned c) { return c >= 0x80 && c <= 0xBF; };
  unsigned c = at(i), n = at(i + 1);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    if (cont(n)) return 2;
    bad = 1;
    return 0;
  }
  bool ok2 = false;
  size_t width = 0;
  if (c >= 0xE0 && c <= 0xEF) {
    width = 3;
    ok2 = (c == 0xE0 && n >= 0xA0 && n <= 0xBF) || (c >= 0xE1 && c <= 0xEC && cont(n)) ||
          (c == 0xED && n >= 0x80 && n <= 0x9F) || (c >= 0xEE && cont(n));
  } else if (c >= 0xF0 && c <= 0xF4) {
    width = 4;
    ok2 = (c == 0xF0 && n >= 0x90 && n <= 0xBF) || (c >= 0xF1 && c <= 0xF3 && cont(n)) ||
          (c == 0xF4 && n >= 0x80 && n <= 0x8F);
  }
  if (!ok2) {
    bad = 1;
    return 0;
  }
  for (size_t k = 2; k < width; ++k) {
    if (!cont(at(i + k))) {
      bad = k;
      return 0;
    }
  }
  return width;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t bad = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = ValidSequence(s, i, bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string FromUtf8Lossy(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    size_t bad = 0;
    size_t n = ValidSequence(bytes, i, bad);
    if (n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      i += std::min(bad, bytes.size() - i);
    }
  }
  return out;
}

bool IsWhitespace(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D);
  return u_isUWhiteSpace(static_cast<UChar32>(c));
}

bool IsNumeric(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_DECIMAL_DIGIT_NUMBER || t == U_LETTER_NUMBER || t == U_OTHER_NUMBER;
}

bool IsAlphanumeric(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC) || IsNumeric(c);
}

bool IsPunctuation(char32_t c) {
  if (c < 0x80) return c > 0x20 && c < 0x7F && !IsAlphanumeric(c);
  int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_CONNECTOR_PUNCTUATION || t == U_DASH_PUNCTUATION || t == U_START_PUNCTUATION ||
         t == U_END_PUNCTUATION || t == U_INITIAL_PUNCTUATION || t == U_FINAL_PUNCTUATION ||
         t == U_OTHER_PUNCTUATION;
}

bool IsWordChar(char32_t c) {
  if (c < 0x80) return IsAlphanumeric(c) || c == '_';
  if (c == 0x200C || c == 0x200D) return true;  // Join_Control
  int8_t t = u_charType(static_cast<UChar32>(c));
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC) ||
         t == U_NON_SPACING_MARK || t == U_COMBINING_SPACING_MARK || t == U_ENCLOSING_MARK ||
         t == U_DECIMAL_DIGIT_NUMBER || t == U_CONNECTOR_PUNCTUATION;
}

bool IsOther(char32_t c) {
  int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR || t == U_UNASSIGNED ||
         t == U_PRIVATE_USE_CHAR || t == U_SURROGATE;
}

bool IsMarkNonspacing(char32_t c) {
  return c >= 0x80 && u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK;
}

bool IsCombiningMark(char32_t c) {
  if (c < 0x80) return false;
  int8_t t = u_charType(static_cast<UChar32>(c));
  return t == U_NON_SPACING_MARK || t == U_COMBINING_SPACING_MARK || t == U_ENCLOSING_MARK;
}

void AppendLowercase(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
  } else if (c == 0x130) {  // the one unconditional multi-character lowercase mapping
    out += "i\xCC\x87";
  } else {
    Append(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
  }
}

std::string Normalize(std::string_view s, Form form) {
  bool ascii = true;
  for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(s);
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (form) {
    case Form::kNfc:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case Form::kNfd:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case Form::kNfkc:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case Form::kNfkd:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  icu::UnicodeString in = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), s.size()));
  icu::UnicodeString result = n ? n->normalize(in, status) : in;
  if (U_FAILURE(status)) {
    throw Error(ErrorKind::kInternal,
                std::string("ICU normalization failed: ") + u_errorName(status));
  }
  std::string out;
  result.toUTF8String(out);
  return out;
}

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() { pcre2_code_free(code); }
};

Regex::Regex(const std::string& pattern, const std::string& what)
    : impl_(std::make_unique<Impl>()) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP, &err, &offset, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw Error(ErrorKind::kUnsupported,
                what + ": regex " + pattern + " does not compile at offset " +
                    std::to_string(offset) + " (" + reinterpret_cast<char*>(msg) + ")");
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
}

Regex::Regex(Regex&&) noexcept = default;
Regex::~Regex() = default;

namespace {

// Per-thread match state: a JIT stack larger than the 32 KiB default, for long whitespace runs.
struct MatchState {
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(context);
  }
};

}  // namespace

std::vector<std::pair<size_t, size_t>> Regex::FindAll(std::string_view s) const {
  thread_local MatchState state;
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
      pcre2_match_data_create_from_pattern(impl_->code, nullptr), pcre2_match_data_free);
  std::vector<std::pair<size_t, size_t>> out;
  size_t from = 0;
  bool have_last = false;
  size_t last_end = 0;
  auto subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  while (from <= s.size()) {
    int rc = pcre2_match(impl_->code, subject, s.size(), from, PCRE2_NO_UTF_CHECK, data.get(),
                         state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      throw Error(ErrorKind::kRuntime,
                  "regex match failed (PCRE2 error " + std::to_string(rc) + ")");
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data.get());
    size_t start = ov[0], end = ov[1];
    if (start == end && have_last && last_end == end) {
      if (from >= s.size()) break;
      Next(s, from);
      continue;
    }
    from = last_end = end;
    have_last = true;
    out.emplace_back(start, end);
  }
  return out;
}

}  // namespace ipfs_accel::serving::text
