// Encoder-only text architectures: the builder "encoder" that every BERT-like template
// (data/templates/encoder/*.json) instantiates, its pieces naming the variant BuildEncoder builds.

#include "architectures.h"
#include "convbert_builder.h"
#include "deberta_builder.h"
#include "encoder_builder.h"
#include "llama_encoder_builder.h"
#include "mobilebert_builder.h"
#include "modernbert_builder.h"
#include "nystromformer_builder.h"
#include "qformer_builder.h"
#include "vilt_builder.h"

namespace ipfs_accel::models {

namespace {

// Generated inputs as a tokenizer would make them; for the inputs HF fills itself when they are
// left out (bbox), HF's default.
std::map<std::string, InputHint> EncoderHints(const HfConfig& c) {
  const EncoderVariant v = EncoderVariantOf(c);
  const EncoderShape s = ReadEncoderShape(c, v);
  auto range = [](int64_t high) { return InputHint{InputHint::Kind::kIndexRange, 0, high}; };
  const InputHint zeros{InputHint::Kind::kZeros, 0, 0};
  std::map<std::string, InputHint> out = {{"input_ids", range(s.vocab)},
                                          {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
  if (v.token_types) out["token_type_ids"] = v.segment_token_types ? range(s.type_vocab) : zeros;
  if (v.box_positions) out["bbox"] = zeros;  // LayoutLMModel's bbox when none is given
  if (v.xpath_embeddings) {
    out["xpath_tags_seq"] = range(s.xpath_tags);
    out["xpath_subs_seq"] = range(s.xpath_subs);
  }
  if (v.language_adapters) out["lang_ids"] = range(static_cast<int64_t>(s.languages.size()));
  if (v.longformer_attention) out["global_attention_mask"] = zeros;  // HF's default: all local
  if (v.visual_embeds) {  // HF's defaults: every visual token attended, of token type 1
    out["visual_attention_mask"] = {InputHint::Kind::kOnes, 0, 0};
    out["visual_token_type_ids"] = {InputHint::Kind::kOnes, 0, 0};
  }
  if (v.shape_pronunciation) {
    out["input_shape_ids"] = range(s.shape_vocab);
    out["input_pronunciation_ids"] = range(s.pronunciation_vocab);
  }
  return out;
}

DimRoles EncoderDimRoles(const HfConfig& c) {
  return DimRoles{.batch = "batch",
                  .sequence = "sequence",
                  .max_sequence = ReadEncoderShape(c, EncoderVariantOf(c)).max_sequence};
}

}  // namespace

void AddEncoderArchitectures(std::vector<Architecture>& out) {
  // Checkpoint prefixes are each template's (BertForMaskedLM.bert, ...).
  out.push_back(
      {"encoder",
       "text",
       {},
       [](const HfConfig& c, GraphBuilder& g) { BuildEncoder(c, EncoderVariantOf(c), g); },
       EncoderHints,
       EncoderDimRoles});
  out.push_back({"deberta",
                 "text",
                 {},
                 BuildDeberta,
                 [](const HfConfig& c) {
                   const DebertaShape s = ReadDebertaShapeOf(c);
                   std::map<std::string, InputHint> hints = {
                       {"input_ids", {InputHint::Kind::kIndexRange, 0, s.vocab}},
                       {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
                   if (s.type_vocab > 0)
                     hints["token_type_ids"] = {InputHint::Kind::kIndexRange, 0, s.type_vocab};
                   return hints;
                 },
                 [](const HfConfig& c) {
                   const DebertaShape s = ReadDebertaShapeOf(c);
                   // Relative positions reach any length; absolute ones end with their table.
                   return DimRoles{.batch = "batch",
                                   .sequence = "sequence",
                                   .max_sequence = s.position_biased_input ? s.max_positions : 0};
                 }});
  out.push_back(
      {"qformer",
       "multimodal",
       {},
       BuildQFormer,
       [](const HfConfig&) { return std::map<std::string, InputHint>{}; },
       [](const HfConfig&) { return DimRoles{.batch = "batch", .sequence = "sequence"}; }});
  out.push_back(
      {"mobilebert",
       "text",
       {},
       BuildMobileBert,
       [](const HfConfig& c) {
         return std::map<std::string, InputHint>{
             {"input_ids", {InputHint::Kind::kIndexRange, 0, MobileBertVocab(c)}},
             {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
             {"token_type_ids", {InputHint::Kind::kIndexRange, 0, MobileBertTypeVocab(c)}}};
       },
       [](const HfConfig& c) {
         return DimRoles{.batch = "batch",
                         .sequence = "sequence",
                         .max_sequence = c.Int("max_position_embeddings", 512)};
       }});
  out.push_back({"convbert",
                 "text",
                 {},
                 BuildConvBert,
                 [](const HfConfig& c) {
                   return std::map<std::string, InputHint>{
                       {"input_ids", {InputHint::Kind::kIndexRange, 0, ConvBertVocab(c)}},
                       {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
                       {"token_type_ids", {InputHint::Kind::kIndexRange, 0, ConvBertTypeVocab(c)}}};
                 },
                 [](const HfConfig& c) {
                   return DimRoles{.batch = "batch",
                                   .sequence = "sequence",
                                   .max_sequence = c.Int("max_position_embeddings", 512)};
                 }});
  out.push_back(
      {"nystromformer",
       "text",
       {},
       BuildNystromformer,
       [](const HfConfig& c) {
         return std::map<std::string, InputHint>{
             {"input_ids", {InputHint::Kind::kIndexRange, 0, NystromformerVocab(c)}},
             {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
             {"token_type_ids", {InputHint::Kind::kIndexRange, 0, NystromformerTypeVocab(c)}}};
       },
       [](const HfConfig& c) {
         const int64_t fixed = NystromformerFixedSequence(c);
         return DimRoles{.batch = "batch",
                         .sequence = fixed > 0 ? "" : "sequence",
                         .max_sequence = fixed > 0 ? fixed : c.Int("max_position_embeddings", 510)};
       }});
  out.push_back({"vilt",
                 "multimodal",
                 {},
                 BuildVilt,
                 [](const HfConfig& c) {
                   return std::map<std::string, InputHint>{
                       {"input_ids", {InputHint::Kind::kIndexRange, 0, ViltVocab(c)}},
                       {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
                       {"token_type_ids", {InputHint::Kind::kIndexRange, 0, ViltTypeVocab(c)}}};
                 },
                 [](const HfConfig& c) {
                   return DimRoles{.batch = "batch",
                                   .sequence = "sequence",
                                   .max_sequence = c.Int("max_position_embeddings", 40)};
                 }});
  out.push_back({"modernbert",
                 "text",
                 {},
                 BuildModernBert,
                 [](const HfConfig& c) {
                   const ModernBertShape s = ReadModernBertShape(c);
                   return std::map<std::string, InputHint>{
                       {"input_ids", {InputHint::Kind::kIndexRange, 0, s.vocab}},
                       {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
                 },
                 [](const HfConfig& c) {
                   return DimRoles{.batch = "batch",
                                   .sequence = "sequence",
                                   .max_sequence = ReadModernBertShape(c).max_positions};
                 }});
  out.push_back(
      {"llama_encoder",
       "text",
       {},
       BuildLlamaEncoder,
       [](const HfConfig& c) {
         return std::map<std::string, InputHint>{
             {"input_ids", {InputHint::Kind::kIndexRange, 0, ReadLlamaEncoderShape(c).vocab}},
             {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
       },
       [](const HfConfig& c) {
         return DimRoles{.batch = "batch",
                         .sequence = "sequence",
                         .max_sequence = ReadLlamaEncoderShape(c).max_positions};
       }});
}

}  // namespace ipfs_accel::models
