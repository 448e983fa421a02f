// Decoder-only language models with a KV cache (decoder_builder.h has the graph's inputs and
// outputs): one builder, "decoder"; each model type is a template (data/templates/decoder/).
// State-space models (mamba_builder.h: a whole-sequence graph without a cache): "mamba".

#include "architectures.h"
#include "decoder_builder.h"
#include "mamba_builder.h"

namespace ipfs_accel::models {

void AddDecoderArchitectures(std::vector<Architecture>& out) {
  out.push_back({
      .model_type = "decoder",
      .modality = "text",
      .checkpoint_prefixes = {"model."},
      .build = BuildDecoder,
      .input_hints =
          [](const HfConfig& c) {
            return std::map<std::string, InputHint>{
                {"input_ids", {InputHint::Kind::kIndexRange, 0, DecoderVocabSize(c)}},
                {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
            };
          },
      .dim_roles = [](const HfConfig& c) { return DecoderDimRoles(DecoderMaxPositions(c)); },
  });
  out.push_back({
      .model_type = "mamba",
      .modality = "text",
      .checkpoint_prefixes = {"backbone."},
      .build = BuildMamba,
      .input_hints =
          [](const HfConfig& c) {
            return std::map<std::string, InputHint>{
                {"input_ids", {InputHint::Kind::kIndexRange, 0, c.Int("vocab_size")}},
                {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
            };
          },
      .dim_roles =
          [](const HfConfig&) { return DimRoles{.batch = "batch", .sequence = "sequence"}; },
  });
}

}  // namespace ipfs_accel::models
