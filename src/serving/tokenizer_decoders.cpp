#include "serving/tokenizer_decoders.h"

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "serving/tokenizer_pattern.h"
#include "serving/tokenizer_pre_tokenizers.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

namespace {

using Tokens = std::vector<std::string>;

class ByteLevelDecoder : public Decoder {
 public:
  Tokens DecodeChain(Tokens tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      std::string mapped;
      bool all = true;
      for (size_t pos = 0; pos < t.size() && all;) {
        int b = SymbolToByte(text::Next(t, pos));
        all = b >= 0;
        if (all) mapped.push_back(static_cast<char>(b));
      }
      bytes += all ? mapped : t;
    }
    return {text::FromUtf8Lossy(bytes)};
  }
};

class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(char32_t replacement, bool prepends)
      : replacement_(replacement), prepends_(prepends) {}
  Tokens DecodeChain(Tokens tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string out;
      for (size_t pos = 0; pos < tokens[i].size();) {
        char32_t c = text::Next(tokens[i], pos);
        if (c != replacement_) {
          text::Append(out, c);
        } else if (i != 0 || !prepends_) {
          out.push_back(' ');
        }
      }
      tokens[i] = std::move(out);
    }
    return tokens;
  }

 private:
  char32_t replacement_;
  bool prepends_;
};

void ReplaceAll(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  size_t last = 0;
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, last)) {
    out.append(s, last, at - last);
    out += to;
    last = at + from.size();
  }
  out.append(s, last);
  s = std::move(out);
}

class WordPieceDecoder : public Decoder {
 public:
  WordPieceDecoder(std::string prefix, bool cleanup)
      : prefix_(std::move(prefix)), cleanup_(cleanup) {}
  Tokens DecodeChain(Tokens tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      std::string& t = tokens[i];
      if (i != 0)
        t = t.compare(0, prefix_.size(), prefix_) == 0 ? t.substr(prefix_.size()) : " " + t;
      if (cleanup_) {
        static const std::pair<const char*, const char*> kRules[] = {
            {" .", "."},   {" ?", "?"},     {" !", "!"},    {" ,", ","},
            {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},  {" do not", " don't"},
            {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
        for (auto [from, to] : kRules) ReplaceAll(t, from, to);
      }
    }
    return tokens;
  }

 private:
  std::string prefix_;
  bool cleanup_;
};

class ByteFallback : public Decoder {
 public:
  Tokens DecodeChain(Tokens tokens) const override;
};

Tokens ByteFallback::DecodeChain(Tokens tokens) const {
  Tokens out;
  std::string pending;
  auto flush = [&] {
    if (pending.empty()) return;
    if (text::IsValidUtf8(pending)) {
      out.push_back(pending);
    } else {
      for (size_t i = 0; i < pending.size(); ++i) out.push_back("\xEF\xBF\xBD");
    }
    pending.clear();
  };
  for (std::string& t : tokens) {
    auto hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>' && hex(t[3]) && hex(t[4])) {
      pending.push_back(static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
      continue;
    }
    flush();
    out.push_back(std::move(t));
  }
  flush();
  return out;
}

class Fuse : public Decoder {
 public:
  Tokens DecodeChain(Tokens tokens) const override {
    std::string all;
    for (const auto& t : tokens) all += t;
    return {all};
  }
};

class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  Tokens DecodeChain(Tokens tokens) const override {
    for (std::string& t : tokens) {
      std::u32string chars;
      for (size_t pos = 0; pos < t.size();) chars.push_back(text::Next(t, pos));
      size_t begin = 0, end = chars.size();
      while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
      for (size_t i = 0; i < stop_ && end > begin && chars[end - 1] == content_; ++i) --end;
      std::string out;
      for (size_t i = begin; i < end; ++i) text::Append(out, chars[i]);
      t = std::move(out);
    }
    return tokens;
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class ReplaceDecoder : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  Tokens DecodeChain(Tokens tokens) const override {
    for (std::string& t : tokens) {
      std::string out;
      for (const Cut& c : pattern_.Find(t)) {
        out += c.is_match ? std::string_view(content_)
                          : std::string_view(t).substr(c.start, c.end - c.start);
      }
      t = std::move(out);
    }
    return tokens;
  }

 private:
  Pattern pattern_;
  std::string content_;
};

class BpeDecoder : public Decoder {
 public:
  explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
  Tokens DecodeChain(Tokens tokens) const override {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (!suffix_.empty()) ReplaceAll(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }
    return tokens;
  }

 private:
  std::string suffix_;
};

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> parts)
      : parts_(std::move(parts)) {}
  Tokens DecodeChain(Tokens tokens) const override {
    for (const auto& p : parts_) tokens = p->DecodeChain(std::move(tokens));
    return tokens;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> parts_;
};

char32_t OneChar(const std::string& s, const std::string& what) {
  size_t pos = 0;
  char32_t c = s.empty() ? 0 : text::Next(s, pos);
  if (s.empty() || pos != s.size())
    throw Error(ErrorKind::kCorrupt, what + ": expected one character, got '" + s + "'");
  return c;
}

std::unique_ptr<Decoder> MakeMetaspaceDecoder(const nlohmann::json& j, const std::string& what) {
  std::string scheme = j.value("prepend_scheme", "always");
  if (!j.contains("prepend_scheme") && j.contains("add_prefix_space") &&
      j["add_prefix_space"].is_boolean()) {
    scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
  }
  return std::make_unique<MetaspaceDecoder>(OneChar(j.value("replacement", "\xE2\x96\x81"), what),
                                            scheme != "never");
}

}  // namespace

std::unique_ptr<Decoder> MakeDecoder(const nlohmann::json& j, const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  const std::string what = origin + ": decoder " + type;
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "Metaspace") return MakeMetaspaceDecoder(j, what);
  if (type == "WordPiece") {
    return std::make_unique<WordPieceDecoder>(j.value("prefix", "##"), j.value("cleanup", true));
  }
  if (type == "ByteFallback") return std::make_unique<ByteFallback>();
  if (type == "Fuse") return std::make_unique<Fuse>();
  if (type == "Strip") {
    return std::make_unique<StripDecoder>(OneChar(j.value("content", " "), what),
                                          j.value("start", size_t{0}), j.value("stop", size_t{0}));
  }
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(Pattern::FromJson(j.at("pattern"), what),
                                            j.value("content", ""));
  }
  if (type == "BPEDecoder") return std::make_unique<BpeDecoder>(j.value("suffix", "</w>"));
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> parts;
    for (const auto& d : j.at("decoders")) {
      if (auto p = MakeDecoder(d, origin)) parts.push_back(std::move(p));
    }
    return std::make_unique<SequenceDecoder>(std::move(parts));
  }
  throw Error(ErrorKind::kUnsupported,
              what +
                  " is not supported by this reader (supported: ByteLevel, Metaspace, WordPiece, "
                  "ByteFallback, Fuse, Strip, Replace, BPEDecoder, Sequence)");
}

}  // namespace ipfs_accel::serving
