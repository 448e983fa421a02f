#include "ipfs_accel/serving/tokenizer.h"

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"
#include "serving/tokenizer_added.h"
#include "serving/tokenizer_decoders.h"
#include "serving/tokenizer_models.h"
#include "serving/tokenizer_normalizers.h"
#include "serving/tokenizer_post.h"
#include "serving/tokenizer_pre_tokenizers.h"
#include "serving/tokenizer_text.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

struct Tokenizer::Impl {
  std::unique_ptr<Model> model;
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<PostProcessor> post_processor;
  std::unique_ptr<Decoder> decoder;
  std::unique_ptr<AddedVocabulary> added;
  std::optional<size_t> truncate_to;  // "truncation": max_length (single sequence, from the right)
  bool truncate_left = false;
  std::optional<Padding> padding;  // "padding": pad_id and direction, when configured
  size_t vocab_size = 0;

  void ReadTruncation(const nlohmann::json& j, const std::string& origin);
};

namespace {

const nlohmann::json& Part(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  return j.contains(key) ? j[key] : kNull;
}

}  // namespace

void Tokenizer::Impl::ReadTruncation(const nlohmann::json& j, const std::string& origin) {
  const auto& t = Part(j, "truncation");
  if (t.is_object()) {
    truncate_to = t.at("max_length").get<size_t>();
    truncate_left = t.value("direction", "Right") == "Left";
  }
  const auto& p = Part(j, "padding");
  if (p.is_object())
    padding = Padding{.id = p.value("pad_id", uint32_t{0}),
                      .left = p.value("direction", "Right") == "Left"};
  if (p.is_object() && p.contains("strategy") && !(p["strategy"] == "BatchLongest")) {
    throw Error(ErrorKind::kUnsupported,
                origin +
                    ": padding to a fixed length is not supported by this reader (set "
                    "\"padding\" to null; padding belongs to batching)");
  }
}

Tokenizer Tokenizer::FromFile(const std::string& path) {
  return FromJson(core::ReadRegularFile(path), path);
}

Tokenizer Tokenizer::FromJson(std::string_view json_text, const std::string& origin) {
  auto impl = std::make_unique<Impl>();
  try {
    nlohmann::json j = nlohmann::json::parse(json_text);
    if (!j.is_object())
      throw Error(ErrorKind::kCorrupt, origin + ": not a tokenizer.json (not an object)");
    impl->model = MakeModel(Part(j, "model"), origin);
    impl->normalizer = MakeNormalizer(Part(j, "normalizer"), origin);
    impl->pre_tokenizer = MakePreTokenizer(Part(j, "pre_tokenizer"), origin);
    impl->post_processor = MakePostProcessor(Part(j, "post_processor"), origin);
    impl->decoder = MakeDecoder(Part(j, "decoder"), origin);
    const auto& added = Part(j, "added_tokens");
    impl->added =
        std::make_unique<AddedVocabulary>(added.is_array() ? added : nlohmann::json::array(),
                                          *impl->model, impl->normalizer.get(), origin);
    impl->ReadTruncation(j, origin);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kCorrupt, origin + ": not a valid tokenizer.json (" + e.what() + ")");
  }
  impl->vocab_size = impl->model->VocabSize();
  for (uint32_t id = 0; id < impl->vocab_size + impl->added->size(); ++id) {
    if (impl->added->IdToToken(id) && !impl->model->IdToToken(id)) ++impl->vocab_size;
  }
  return Tokenizer(std::move(impl));
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Encoding Tokenizer::Encode(std::string_view text, bool add_special_tokens) const {
  if (!text::IsValidUtf8(text)) {
    throw Error(ErrorKind::kInvalidArgument, "tokenizer: the text is not valid UTF-8");
  }
  std::vector<Piece> pieces = impl_->added->ExtractAndNormalize(text, impl_->normalizer.get());
  if (impl_->pre_tokenizer) impl_->pre_tokenizer->PreTokenize(pieces);
  Encoding e;
  for (const Piece& p : pieces) {
    if (p.added_id) {
      e.ids.push_back(*p.added_id);
      e.tokens.push_back(p.text);
    } else {
      impl_->model->Tokenize(p.text, e);
    }
  }
  if (impl_->truncate_to) {
    size_t added = add_special_tokens && impl_->post_processor ? impl_->post_processor->Added() : 0;
    size_t keep = *impl_->truncate_to > added ? *impl_->truncate_to - added : 0;
    if (e.ids.size() > keep) {
      size_t drop = e.ids.size() - keep;
      size_t from = impl_->truncate_left ? 0 : keep;
      e.ids.erase(e.ids.begin() + from, e.ids.begin() + from + drop);
      e.tokens.erase(e.tokens.begin() + from, e.tokens.begin() + from + drop);
    }
  }
  if (impl_->post_processor) impl_->post_processor->Process(e, add_special_tokens);
  return e;
}

std::string Tokenizer::Decode(std::span<const uint32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (uint32_t id : ids) {
    const std::string* t = impl_->added->IdToToken(id);
    if (!t) t = impl_->model->IdToToken(id);
    if (!t || (skip_special_tokens && impl_->added->IsSpecial(*t))) continue;
    tokens.push_back(*t);
  }
  std::string out;
  if (impl_->decoder) {
    for (const std::string& s : impl_->decoder->DecodeChain(std::move(tokens))) out += s;
    return out;
  }
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  return out;
}

std::optional<Padding> Tokenizer::BatchPadding() const {
  if (impl_->padding) return impl_->padding;
  for (const char* token : {"[PAD]", "<pad>"})
    if (const auto id = TokenToId(token)) return Padding{.id = *id, .left = false};
  return std::nullopt;
}

std::optional<uint32_t> Tokenizer::TokenToId(std::string_view token) const {
  if (auto id = impl_->added->TokenToId(token)) return id;
  return impl_->model->TokenToId(token);
}

std::optional<std::string> Tokenizer::IdToToken(uint32_t id) const {
  const std::string* t = impl_->added->IdToToken(id);
  if (!t) t = impl_->model->IdToToken(id);
  if (!t) return std::nullopt;
  return *t;
}

size_t Tokenizer::VocabSize() const { return impl_->vocab_size; }

std::string Tokenizer::Describe() const {
  return impl_->model->Describe() + ", " + std::to_string(impl_->added->size()) + " added tokens";
}

}  // namespace ipfs_accel::serving
