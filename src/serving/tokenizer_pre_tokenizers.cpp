#include "serving/tokenizer_pre_tokenizers.h"

#include <array>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "serving/tokenizer_pattern.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

void SplitEach(std::vector<Piece>& pieces, const std::function<std::vector<Piece>(Piece&)>& fn) {
  std::vector<Piece> out;
  out.reserve(pieces.size());
  for (Piece& p : pieces) {
    if (p.added_id) {
      out.push_back(std::move(p));
      continue;
    }
    for (Piece& q : fn(p)) {
      if (!q.text.empty()) out.push_back(std::move(q));
    }
  }
  pieces = std::move(out);
}

namespace {

std::vector<Piece> Slices(const Piece& p, const std::vector<std::pair<size_t, size_t>>& ranges) {
  std::vector<Piece> out;
  out.reserve(ranges.size());
  for (auto [start, end] : ranges) {
    out.push_back({p.text.substr(start, end - start), p.at_origin && start == 0, std::nullopt});
  }
  return out;
}

std::vector<Piece> SplitBy(const Piece& p, std::vector<Cut> cuts, SplitBehavior behavior) {
  return Slices(p, ApplyBehavior(std::move(cuts), behavior));
}

struct ByteAlphabet {
  std::array<std::string, 256> symbol;
  std::array<int, 512> byte_of;
  ByteAlphabet() {
    byte_of.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      char32_t c = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      text::Append(symbol[b], c);
      byte_of[c] = b;
    }
  }
};

const ByteAlphabet& Alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space), use_regex_(use_regex) {}
  void PreTokenize(std::vector<Piece>& pieces) const override;

 private:
  bool add_prefix_space_, use_regex_;
};

void ByteLevelPreTokenizer::PreTokenize(std::vector<Piece>& pieces) const {
  static const Pattern gpt2 = Pattern::FromJson(
      {{"Regex", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}},
      "pre_tokenizer ByteLevel");
  SplitEach(pieces, [&](Piece& p) {
    if (add_prefix_space_ && !p.text.empty() && p.text[0] != ' ') p.text.insert(0, " ");
    if (!use_regex_) return std::vector<Piece>{p};
    return SplitBy(p, gpt2.Find(p.text), SplitBehavior::kIsolated);
  });
  const ByteAlphabet& a = Alphabet();
  for (Piece& p : pieces) {
    if (p.added_id) continue;
    std::string mapped;
    mapped.reserve(p.text.size() * 2);
    for (unsigned char b : p.text) mapped += a.symbol[b];
    p.text = std::move(mapped);
  }
}

class Split : public PreTokenizer {
 public:
  Split(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void PreTokenize(std::vector<Piece>& pieces) const override {
    SplitEach(pieces, [&](Piece& p) {
      std::vector<Cut> cuts = pattern_.Find(p.text);
      if (invert_) {
        for (Cut& c : cuts) c.is_match = !c.is_match;
      }
      return SplitBy(p, std::move(cuts), behavior_);
    });
  }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  enum class Scheme { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(char32_t replacement, Scheme scheme, bool split)
      : replacement_(replacement), scheme_(scheme), split_(split) {
    text::Append(rep_, replacement);
  }
  void PreTokenize(std::vector<Piece>& pieces) const override;

 private:
  char32_t replacement_;
  std::string rep_;
  Scheme scheme_;
  bool split_;
};

void MetaspacePreTokenizer::PreTokenize(std::vector<Piece>& pieces) const {
  SplitEach(pieces, [&](Piece& p) {
    std::string replaced;
    for (char c : p.text) {
      if (c == ' ') {
        replaced += rep_;
      } else {
        replaced.push_back(c);
      }
    }
    bool starts = replaced.compare(0, rep_.size(), rep_) == 0;
    if (!starts && !replaced.empty() &&
        (scheme_ == Scheme::kAlways || (scheme_ == Scheme::kFirst && p.at_origin))) {
      replaced.insert(0, rep_);
    }
    p.text = std::move(replaced);
    if (!split_) return std::vector<Piece>{p};
    char32_t r = replacement_;
    return SplitBy(p, FindChars(p.text, [r](char32_t c) { return c == r; }),
                   SplitBehavior::kMergedWithNext);
  });
}

// Splits at characters `pred` holds for, with `behavior`.
class CharSplit : public PreTokenizer {
 public:
  CharSplit(std::function<bool(char32_t)> pred, SplitBehavior behavior)
      : pred_(std::move(pred)), behavior_(behavior) {}
  void PreTokenize(std::vector<Piece>& pieces) const override {
    SplitEach(pieces, [&](Piece& p) { return SplitBy(p, FindChars(p.text, pred_), behavior_); });
  }

 private:
  std::function<bool(char32_t)> pred_;
  SplitBehavior behavior_;
};

// `\w+|[^\w\s]+`, keeping the matches: runs of word characters and runs of other non-spaces.
class Whitespace : public PreTokenizer {
 public:
  void PreTokenize(std::vector<Piece>& pieces) const override;
};

void Whitespace::PreTokenize(std::vector<Piece>& pieces) const {
  SplitEach(pieces, [](Piece& p) {
    std::vector<std::pair<size_t, size_t>> ranges;
    int run_kind = 0;  // 0 space, 1 word, 2 other
    for (size_t pos = 0; pos < p.text.size();) {
      size_t start = pos;
      char32_t c = text::Next(p.text, pos);
      int kind = text::IsWordChar(c) ? 1 : text::IsWhitespace(c) ? 0 : 2;
      if (kind != 0 && kind == run_kind) {
        ranges.back().second = pos;
      } else if (kind != 0) {
        ranges.emplace_back(start, pos);
      }
      run_kind = kind;
    }
    return Slices(p, ranges);
  });
}

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> parts)
      : parts_(std::move(parts)) {}
  void PreTokenize(std::vector<Piece>& pieces) const override {
    for (const auto& p : parts_) p->PreTokenize(pieces);
  }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> parts_;
};

std::unique_ptr<PreTokenizer> MakeMetaspace(const nlohmann::json& j, const std::string& what) {
  std::string rep = j.value("replacement", "\xE2\x96\x81");
  size_t pos = 0;
  if (rep.empty() || (pos = 0, text::Next(rep, pos), pos != rep.size())) {
    throw Error(ErrorKind::kCorrupt, what + ": replacement must be one character");
  }
  pos = 0;
  char32_t r = text::Next(rep, pos);
  std::string scheme = j.value("prepend_scheme", "always");
  if (j.contains("add_prefix_space") && j["add_prefix_space"].is_boolean() &&
      !j.contains("prepend_scheme")) {
    scheme = j["add_prefix_space"].get<bool>() ? "always" : "never";
  }
  MetaspacePreTokenizer::Scheme s =
      scheme == "always"  ? MetaspacePreTokenizer::Scheme::kAlways
      : scheme == "first" ? MetaspacePreTokenizer::Scheme::kFirst
      : scheme == "never"
          ? MetaspacePreTokenizer::Scheme::kNever
          : throw Error(ErrorKind::kUnsupported, what + ": prepend_scheme '" + scheme + "'");
  return std::make_unique<MetaspacePreTokenizer>(r, s, j.value("split", true));
}

}  // namespace

const std::string& ByteToSymbol(unsigned char b) { return Alphabet().symbol[b]; }

int SymbolToByte(char32_t c) { return c < 512 ? Alphabet().byte_of[c] : -1; }

std::unique_ptr<PreTokenizer> MakePreTokenizer(const nlohmann::json& j, const std::string& origin) {
  if (j.is_null()) return nullptr;
  const std::string type = j.value("type", "");
  const std::string what = origin + ": pre_tokenizer " + type;
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(j.value("add_prefix_space", true),
                                                   j.value("use_regex", true));
  }
  if (type == "Split") {
    return std::make_unique<Split>(Pattern::FromJson(j.at("pattern"), what),
                                   ParseSplitBehavior(j.value("behavior", ""), what),
                                   j.value("invert", false));
  }
  if (type == "Metaspace") return MakeMetaspace(j, what);
  if (type == "Whitespace") return std::make_unique<Whitespace>();
  if (type == "WhitespaceSplit") {
    return std::make_unique<CharSplit>(text::IsWhitespace, SplitBehavior::kRemoved);
  }
  if (type == "Digits") {
    return std::make_unique<CharSplit>(text::IsNumeric, j.value("individual_digits", false)
                                                            ? SplitBehavior::kIsolated
                                                            : SplitBehavior::kContiguous);
  }
  if (type == "Punctuation") {
    return std::make_unique<CharSplit>(text::IsPunctuation,
                                       ParseSplitBehavior(j.value("behavior", "Isolated"), what));
  }
  if (type == "CharDelimiterSplit") {
    std::string d = j.value("delimiter", "");
    size_t pos = 0;
    char32_t c = d.empty() ? 0 : text::Next(d, pos);
    return std::make_unique<CharSplit>([c](char32_t x) { return x == c; }, SplitBehavior::kRemoved);
  }
  if (type == "BertPreTokenizer") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    parts.push_back(std::make_unique<CharSplit>(text::IsWhitespace, SplitBehavior::kRemoved));
    parts.push_back(std::make_unique<CharSplit>(text::IsPunctuation, SplitBehavior::kIsolated));
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    for (const auto& p : j.at("pretokenizers")) {
      if (auto t = MakePreTokenizer(p, origin)) parts.push_back(std::move(t));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(parts));
  }
  throw Error(ErrorKind::kUnsupported,
              what +
                  " is not supported by this reader (supported: ByteLevel, Split, Metaspace, "
                  "Whitespace, WhitespaceSplit, Digits, Punctuation, CharDelimiterSplit, "
                  "BertPreTokenizer, Sequence)");
}

}  // namespace ipfs_accel::serving
