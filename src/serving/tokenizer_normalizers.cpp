#include "serving/tokenizer_normalizers.h"

#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "serving/tokenizer_pattern.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

namespace {

// Rewrites each code point of `s` through `fn`, which appends zero or more code points.
void MapChars(std::string& s, const std::function<void(std::string&, char32_t)>& fn) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) fn(out, text::Next(s, pos));
  s = std::move(out);
}

class UnicodeForm : public Normalizer {
 public:
  explicit UnicodeForm(text::Form form) : form_(form) {}
  void Normalize(std::string& s) const override { s = text::Normalize(s, form_); }

 private:
  text::Form form_;
};

class Lowercase : public Normalizer {
 public:
  void Normalize(std::string& s) const override {
    MapChars(s, [](std::string& out, char32_t c) { text::AppendLowercase(out, c); });
  }
};

class StripAccents : public Normalizer {
 public:
  void Normalize(std::string& s) const override {
    MapChars(s, [](std::string& out, char32_t c) {
      if (!text::IsCombiningMark(c)) text::Append(out, c);
    });
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void Normalize(std::string& s) const override;

 private:
  bool left_, right_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void Normalize(std::string& s) const override {
    std::string out;
    for (const Cut& c : pattern_.Find(s)) {
      out += c.is_match ? std::string_view(content_)
                        : std::string_view(s).substr(c.start, c.end - c.start);
    }
    s = std::move(out);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class Prepend : public Normalizer {
 public:
  explicit Prepend(std::string prefix) : prefix_(std::move(prefix)) {}
  void Normalize(std::string& s) const override {
    if (!s.empty()) s.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> parts)
      : parts_(std::move(parts)) {}
  void Normalize(std::string& s) const override {
    for (const auto& p : parts_) p->Normalize(s);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> parts_;
};

bool IsChineseChar(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BERT's own cleaning, CJK spacing, accent stripping and lowercasing, in that order.
class BertNormalizer : public Normalizer {
 public:
  BertNormalizer(bool clean, bool chinese, bool strip_accents, bool lowercase)
      : clean_(clean), chinese_(chinese), strip_accents_(strip_accents), lowercase_(lowercase) {}
  void Normalize(std::string& s) const override;

 private:
  bool clean_, chinese_, strip_accents_, lowercase_;
};

void BertNormalizer::Normalize(std::string& s) const {
  if (clean_) {
    MapChars(s, [](std::string& out, char32_t c) {
      bool ws = c == '\t' || c == '\n' || c == '\r' || text::IsWhitespace(c);
      if (c == 0 || c == 0xFFFD || (!ws && text::IsOther(c))) return;
      text::Append(out, ws ? U' ' : c);
    });
  }
  if (chinese_) {
    MapChars(s, [](std::string& out, char32_t c) {
      if (!IsChineseChar(c)) return text::Append(out, c);
      out.push_back(' ');
      text::Append(out, c);
      out.push_back(' ');
    });
  }
  if (strip_accents_) {
    s = text::Normalize(s, text::Form::kNfd);
    MapChars(s, [](std::string& out, char32_t c) {
      if (!text::IsMarkNonspacing(c)) text::Append(out, c);
    });
  }
  if (lowercase_) Lowercase().Normalize(s);
}

}  // namespace

void StripNormalizer::Normalize(std::string& s) const {
  size_t begin = 0, end = s.size();
  if (left_) {
    for (size_t pos = 0; pos < s.size() && text::IsWhitespace(text::Next(s, pos));) begin = pos;
  }
  if (right_) {
    std::vector<size_t> starts;
    for (size_t pos = begin; pos < s.size();) {
      starts.push_back(pos);
      text::Next(s, pos);
    }
    for (auto it = starts.rbegin(); it != starts.rend(); ++it) {
      size_t pos = *it;
      if (!text::IsWhitespace(text::Next(s, pos))) break;
      end = *it;
    }
  }
  s = s.substr(begin, end - begin);
}

std::unique_ptr<Normalizer> MakeNormalizer(const nlohmann::json& j, const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  const std::string what = origin + ": normalizer " + type;
  if (type == "NFC") return std::make_unique<UnicodeForm>(text::Form::kNfc);
  if (type == "NFD") return std::make_unique<UnicodeForm>(text::Form::kNfd);
  if (type == "NFKC") return std::make_unique<UnicodeForm>(text::Form::kNfkc);
  if (type == "NFKD") return std::make_unique<UnicodeForm>(text::Form::kNfkd);
  if (type == "Lowercase") return std::make_unique<Lowercase>();
  if (type == "StripAccents") return std::make_unique<StripAccents>();
  if (type == "Strip") {
    return std::make_unique<StripNormalizer>(j.value("strip_left", true),
                                             j.value("strip_right", true));
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(Pattern::FromJson(j.at("pattern"), what),
                                               j.value("content", ""));
  }
  if (type == "Prepend") return std::make_unique<Prepend>(j.value("prepend", ""));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> parts;
    for (const auto& p : j.at("normalizers")) {
      if (auto n = MakeNormalizer(p, origin)) parts.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(parts));
  }
  if (type == "BertNormalizer") {
    bool lowercase = j.value("lowercase", true);
    const auto& sa = j.contains("strip_accents") ? j["strip_accents"] : nlohmann::json();
    return std::make_unique<BertNormalizer>(
        j.value("clean_text", true), j.value("handle_chinese_chars", true),
        sa.is_boolean() ? sa.get<bool>() : lowercase, lowercase);
  }
  throw Error(ErrorKind::kUnsupported,
              what +
                  " is not supported by this reader (supported: NFC, NFD, NFKC, NFKD, Lowercase, "
                  "StripAccents, Strip, Replace, Prepend, Sequence, BertNormalizer)");
}

}  // namespace ipfs_accel::serving
