// Encoder-decoder text architectures (T5, BART).

#include "architectures.h"
#include "bart_builder.h"
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
  out.push_back({"bart",
                 "text",
                 {"model."},
                 BuildBart,
                 [](const HfConfig& c) { return Seq2SeqInputHints(c, 50265); },
                 [](const HfConfig& c) {
                   const int64_t positions = c.Int("max_position_embeddings", 1024);
                   return DimRoles{.batch = "batch",
                                   .sequence = "sequence",
                                   .max_sequence = positions,
                                   .decoder_sequence = "decoder_sequence",
                                   .max_decoder_sequence = positions};
                 }});
}

}  // namespace ipfs_accel::models
