// The hybrid state-space templates on the mamba builder (Jamba, GraniteMoeHybrid, LFM2) without
// running them: parameter counts at HF's default configs against the counts transformers gives
// (catalog_truth.json), counts of tiny configs worked out by hand from HF's modeling code, and
// the weight names each layer asks for, which say where attention, experts and mixers sit.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/template_builds.h"

namespace ipfs_accel::models {
namespace hyb_templates_test {

using nlohmann::json;
using testing::TemplateConfig;

std::set<std::string> WeightNames(const std::string& type, const json& overrides) {
  return testing::TemplateWeightNames(type, overrides);
}

// AutoModelForCausalLM's parameter count at each config class's defaults (transformers 5.17).
TEST(HybridTemplates, CountEveryParameterHfCountsAtTheDefaultConfig) {
  const std::vector<std::pair<const char*, int64_t>> cases = {
      {"jamba", 51570323328}, {"granitemoehybrid", 38601064448}, {"lfm2", 2705497600}};
  for (const auto& [type, hf] : cases)
    EXPECT_EQ(CountParameters(TemplateConfig(type, json::object())), hf) << type;
}

// Jamba: attention where l % attn_layer_period == attn_layer_offset, experts where
// l % expert_layer_period == expert_layer_offset (JambaConfig.layers_block_type and
// layers_num_experts).
const json kTinyJamba = {{"vocab_size", 96},         {"hidden_size", 32},
                         {"intermediate_size", 64},  {"num_hidden_layers", 4},
                         {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                         {"num_experts", 4},         {"attn_layer_period", 4},
                         {"attn_layer_offset", 2},   {"mamba_d_state", 4}};

TEST(JambaTemplate, CountsAHandWorkedTinyConfig) {
  // Mamba layer (I = 64, N = 4, dt rank ceil(32 / 16) = 2): in_proj 32 x 128, conv1d 64 x 4 +
  // 64, x_proj 64 x (2 + 8), dt_proj 2 x 64 + 64, A_log 64 x 4, D 64, out_proj 64 x 32, the
  // dt/B/C norms 2 + 4 + 4: 7626. Attention (head_dim 8, 2 kv heads): 1024 + 512 + 512 + 1024.
  // MLP 3 x 32 x 64 = 6144; MoE 4 x 6144 + router 32 x 4. Two RMSNorms of 32 per layer.
  const int64_t mamba = 7626, attention = 3072, mlp = 6144, moe = 4 * 6144 + 128;
  const int64_t layers = 3 * mamba + attention + 2 * mlp + 2 * moe + 4 * 64;
  EXPECT_EQ(CountParameters(TemplateConfig("jamba", kTinyJamba)), layers + 96 * 32 + 32 + 96 * 32);
}

TEST(JambaTemplate, PutsAttentionAndExpertsWhereItsPeriodsAndOffsetsSay) {
  const std::set<std::string> names = WeightNames("jamba", kTinyJamba);
  for (const char* present :
       {"layers.0.mamba.dt_layernorm.weight", "layers.0.mamba.b_layernorm.weight",
        "layers.0.mamba.c_layernorm.weight", "layers.0.feed_forward.gate_proj.weight",
        "layers.1.feed_forward.router.weight", "layers.1.feed_forward.experts.gate_up_proj",
        "layers.2.self_attn.q_proj.weight", "layers.2.feed_forward.up_proj.weight",
        "layers.3.feed_forward.experts.down_proj", "final_layernorm.weight"})
    EXPECT_TRUE(names.count(present)) << present;
  for (const char* absent : {"layers.2.mamba.in_proj.weight", "layers.0.self_attn.q_proj.weight",
                             "layers.1.feed_forward.gate_proj.weight"})
    EXPECT_FALSE(names.count(absent)) << absent;
}

TEST(GraniteMoeHybridTemplate, CountsAHandWorkedTinyConfig) {
  const json tiny = {{"vocab_size", 96},
                     {"hidden_size", 32},
                     {"intermediate_size", 48},
                     {"num_hidden_layers", 2},
                     {"num_attention_heads", 4},
                     {"num_key_value_heads", 2},
                     {"num_local_experts", 4},
                     {"shared_intermediate_size", 24},
                     {"mamba_n_heads", 8},
                     {"mamba_n_groups", 2},
                     {"mamba_d_state", 4},
                     {"layer_types", {"mamba", "attention"}},
                     {"position_embedding_type", "rope"}};
  // Mamba-2 (I = 64, conv_dim 64 + 2 x 2 x 4 = 80, 8 heads): in_proj 32 x (64 + 80 + 8), conv1d
  // 80 x 4 + 80, dt_bias, A_log and D 3 x 8, norm 64, out_proj 64 x 32: 7400. Attention 3072.
  // Every layer: router 32 x 4, experts 4 x 3 x 48 x 32, shared_mlp 32 x 48 + 24 x 32.
  const int64_t mamba = 7400, attention = 3072, moe = 128 + 4 * 3 * 48 * 32 + 32 * 48 + 24 * 32;
  const int64_t layers = mamba + attention + 2 * moe + 2 * 64;
  EXPECT_EQ(CountParameters(TemplateConfig("granitemoehybrid", tiny)),
            layers + 96 * 32 + 32 + 96 * 32);
  const std::set<std::string> names = WeightNames("granitemoehybrid", tiny);
  EXPECT_TRUE(names.count("layers.0.mamba.in_proj.weight"));
  EXPECT_TRUE(names.count("layers.1.self_attn.q_proj.weight"));
  EXPECT_TRUE(names.count("layers.1.shared_mlp.input_linear.weight"));
  EXPECT_FALSE(names.count("layers.1.mamba.in_proj.weight"));
}

TEST(Lfm2Template, CountsShortConvolutionLayersAndTheAdjustedFeedForward) {
  const json tiny = {
      {"vocab_size", 96},         {"hidden_size", 32},
      {"intermediate_size", 96},  {"num_hidden_layers", 3},
      {"num_attention_heads", 4}, {"num_key_value_heads", 2},
      {"block_multiple_of", 16},  {"layer_types", {"conv", "full_attention", "conv"}}};
  // Conv layer: in_proj 32 x 96, depthwise conv 32 x 3 (no biases), out_proj 32 x 32: 4192.
  // Attention 3072 plus q/k_layernorm 8 + 8. Feed-forward: int(2 x 96 / 3) = 64, already a
  // multiple of 16: 3 x 32 x 64. Two norms a layer; tied head; final embedding_norm.
  const int64_t layers = 2 * 4192 + 3088 + 3 * 3 * 32 * 64 + 3 * 64;
  EXPECT_EQ(CountParameters(TemplateConfig("lfm2", tiny)), layers + 96 * 32 + 32);
  const std::set<std::string> names = WeightNames("lfm2", tiny);
  for (const char* present :
       {"layers.0.conv.conv.weight", "layers.0.conv.in_proj.weight",
        "layers.1.self_attn.out_proj.weight", "layers.1.self_attn.q_layernorm.weight",
        "layers.2.feed_forward.w3.weight", "embedding_norm.weight"})
    EXPECT_TRUE(names.count(present)) << present;
  EXPECT_FALSE(names.count("layers.1.conv.in_proj.weight"));
}

}  // namespace hyb_templates_test
}  // namespace ipfs_accel::models
