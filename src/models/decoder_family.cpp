// Decoder-only language models with a KV cache (decoder_builder.h has the graph's
// inputs and outputs).

#include "architectures.h"
#include "decoder_builder.h"

namespace ipfs_accel::models {

namespace {

Architecture DecoderArchitecture(const std::string& model_type, DecoderKind kind) {
  return {
      .model_type = model_type,
      .modality = "text",
      .checkpoint_prefixes = {DecoderCheckpointPrefix(kind)},
      .build = [kind](const HfConfig& c, GraphBuilder& g) { BuildDecoder(kind, c, g); },
      .input_hints =
          [kind](const HfConfig& c) {
            return std::map<std::string, InputHint>{
                {"input_ids", {InputHint::Kind::kIndexRange, 0, DecoderVocabSize(kind, c)}},
                {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
            };
          },
      .dim_roles =
          [kind](const HfConfig& c) {
            return DimRoles{.batch = "batch",
                            .sequence = "sequence",
                            .max_sequence = DecoderMaxPositions(kind, c),
                            .past_sequence = "past_sequence",
                            .total_sequence = "total_sequence"};
          },
  };
}

}  // namespace

void AddDecoderArchitectures(std::vector<Architecture>& out) {
  out.push_back(DecoderArchitecture("gpt2", DecoderKind::kGpt2));
  out.push_back(DecoderArchitecture("opt", DecoderKind::kOpt));
  out.push_back(DecoderArchitecture("llama", DecoderKind::kLlama));
  out.push_back(DecoderArchitecture("mistral", DecoderKind::kMistral));
  out.push_back(DecoderArchitecture("qwen2", DecoderKind::kQwen2));
  out.push_back(DecoderArchitecture("qwen3", DecoderKind::kQwen3));
  out.push_back(DecoderArchitecture("gemma", DecoderKind::kGemma));
  out.push_back(DecoderArchitecture("phi", DecoderKind::kPhi));
  out.push_back(DecoderArchitecture("gpt_neox", DecoderKind::kGptNeox));
}

}  // namespace ipfs_accel::models
