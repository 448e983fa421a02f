#pragma once
// Text in, text out: a Hugging Face `tokenizer.json` read in C++. Encode() and Decode() follow
// the Hugging Face tokenizers library (v0.22) step by step: added tokens are split off first,
// the rest is normalized, pre-tokenized, cut by the model, then the post-processor adds the
// special tokens. The tests hold the ids equal to that library's own for the packaged files.
//
// Supported: models BPE (byte-level and SentencePiece-style with byte fallback), Unigram,
// WordPiece; the common normalizers, pre-tokenizers, post-processors and decoders (see
// docs/design.md). Anything else in a file is refused at load time with a core::Error that
// names the component and the file; nothing is silently skipped.
//
// Thread safety: a loaded Tokenizer is immutable; Encode and Decode may run concurrently.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ipfs_accel::serving {

struct Encoding {
  std::vector<uint32_t> ids;
  std::vector<std::string> tokens;  // the model's string for each id, as the reference gives it
};

// How a batch of encodings is padded to its longest: the "padding" of tokenizer.json (pad_id,
// direction), else the vocabulary's "[PAD]" or "<pad>" on the right.
struct Padding {
  uint32_t id = 0;
  bool left = false;
};

class Tokenizer {
 public:
  // Reads a tokenizer.json. Throws core::Error: kNotFound (no file), kCorrupt (not JSON or a
  // malformed part), kUnsupported (a component this reader does not implement).
  static Tokenizer FromFile(const std::string& path);
  // `origin` names the text in error messages (a path, or "<json>").
  static Tokenizer FromJson(std::string_view json_text, const std::string& origin = "<json>");

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // REQUIRES: `text` is valid UTF-8 (else core::Error kInvalidArgument).
  Encoding Encode(std::string_view text, bool add_special_tokens = true) const;
  // Ids the vocabulary does not know are dropped, as the reference does.
  std::string Decode(std::span<const uint32_t> ids, bool skip_special_tokens = false) const;

  // nullopt when tokenizer.json configures no padding and the vocabulary has no pad token.
  std::optional<Padding> BatchPadding() const;

  std::optional<uint32_t> TokenToId(std::string_view token) const;
  std::optional<std::string> IdToToken(uint32_t id) const;
  // The model's vocabulary plus the added tokens.
  size_t VocabSize() const;
  // What the file holds, e.g. "BPE (byte-level), 128256 tokens".
  std::string Describe() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipfs_accel::serving
