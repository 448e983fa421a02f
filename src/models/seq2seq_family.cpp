// Encoder-decoder text architectures (T5, BART).

#include <algorithm>

#include "architectures.h"
#include "bart_builder.h"
#include "piece_choice.h"
#include "t5_builder.h"

namespace ipfs_accel::models {

namespace {

std::map<std::string, InputHint> Seq2SeqInputHints(const HfConfig& c, int64_t default_vocab) {
  const int64_t vocab = c.Int("vocab_size", default_vocab);
  return {
      {"input_ids", {InputHint::Kind::kIndexRange, 0, vocab}},
      {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
      {"decoder_input_ids", {InputHint::Kind::kIndexRange, 0, vocab}},
  };
}

// T5's relative positions set no bound on the length.
DimRoles T5DimRoles(const HfConfig&) {
  return {.batch = "batch", .sequence = "sequence", .decoder_sequence = "decoder_sequence"};
}

// BartModel.forward without decoder_input_ids: shift_tokens_right(input_ids, pad_token_id,
// decoder_start_token_id): each row starts with the start token and drops its last id.
// With the piece decoder_start "last_token" (FSMT's fairseq shift), each row starts with its last
// non-pad id (usually eos) instead of the start token.
InputHint BartDecoderIds(const HfConfig& c, int64_t vocab) {
  InputHint hint{InputHint::Kind::kIndexRange, 0, vocab};
  const int64_t pad = c.Id("pad_token_id", 1), start = c.Id("decoder_start_token_id", 2);
  const bool wrap = PieceChoice(c, "decoder_start", "bart", {"start_token", "last_token"}) == 1;
  hint.hf_default = [pad, start, wrap](const std::map<std::string, core::Tensor>& inputs,
                                       core::DType dtype) -> std::optional<core::Tensor> {
    const auto ids = inputs.find("input_ids");
    if (ids == inputs.end() || ids->second.shape.size() != 2) return std::nullopt;
    std::vector<double> v = ids->second.ToDoubles();
    const auto row = static_cast<size_t>(ids->second.shape[1]);
    for (size_t r = 0; row > 0 && r < v.size() / row; ++r) {
      const auto first = v.begin() + static_cast<std::ptrdiff_t>(r * row);
      const auto kept = std::count_if(first, first + static_cast<std::ptrdiff_t>(row),
                                      [pad](double x) { return x != static_cast<double>(pad); });
      const double last = kept > 0 ? *(first + kept - 1) : static_cast<double>(pad);
      std::copy_backward(first, first + static_cast<std::ptrdiff_t>(row) - 1,
                         first + static_cast<std::ptrdiff_t>(row));
      *first = wrap ? last : static_cast<double>(start);
    }
    for (double& x : v)
      if (x == -100) x = static_cast<double>(pad);  // HF's ignore index in labels
    return core::Tensor::FromDoubles(dtype, ids->second.shape, v);
  };
  hint.hf_default_name = "input_ids shifted right";
  return hint;
}

// BART and the templates on its builder: FSMT's vocabularies per stack, LED's global tokens
// (HF's default: none).
std::map<std::string, InputHint> BartHints(const HfConfig& c) {
  const int64_t vocab = c.Int("vocab_size", 50265);
  auto hints = Seq2SeqInputHints(c, 50265);
  hints["input_ids"] = {InputHint::Kind::kIndexRange, 0, PieceInt(c, "encoder_vocab", vocab)};
  hints["decoder_input_ids"] = BartDecoderIds(c, PieceInt(c, "decoder_vocab", vocab));
  if (c.PieceString("encoder_attention", "full") == "longformer")
    hints["global_attention_mask"] = {InputHint::Kind::kZeros, 0, 0};
  return hints;
}

DimRoles BartDimRoles(const HfConfig& c) {
  const int64_t positions = PieceInt(c, "max_positions", c.Int("max_position_embeddings", 1024));
  return DimRoles{.batch = "batch",
                  .sequence = "sequence",
                  .max_sequence = PieceInt(c, "encoder_max_positions", positions),
                  .decoder_sequence = "decoder_sequence",
                  .max_decoder_sequence = positions};
}

}  // namespace

void AddSeq2SeqArchitectures(std::vector<Architecture>& out) {
  // T5ForConditionalGeneration checkpoints hold T5Model's names unprefixed.
  out.push_back({"t5",
                 "text",
                 {},
                 BuildT5,
                 [](const HfConfig& c) { return Seq2SeqInputHints(c, 32128); },
                 T5DimRoles});
  // BartFor* checkpoints hold BartModel under "model.".
  out.push_back({"bart", "text", {"model."}, BuildBart, BartHints, BartDimRoles});
  // Speech2TextForConditionalGeneration checkpoints hold Speech2TextModel under "model.".
  out.push_back({"speech_to_text",
                 "audio",
                 {"model."},
                 BuildSpeech2Text,
                 [](const HfConfig& c) {
                   return std::map<std::string, InputHint>{
                       {"input_features", {InputHint::Kind::kAny, 0, 0}},
                       {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
                       {"decoder_input_ids", BartDecoderIds(c, c.Int("vocab_size", 10000))},
                   };
                 },
                 [](const HfConfig& c) {
                   return DimRoles{.batch = "batch",
                                   .sequence = "frames",
                                   .decoder_sequence = "decoder_sequence",
                                   .max_decoder_sequence = c.Int("max_target_positions", 1024)};
                 }});
}

}  // namespace ipfs_accel::models
