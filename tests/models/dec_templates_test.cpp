// Decoder-family templates added for issue 16 (ministral, hunyuan_v1_dense, nemotron, aria_text,
// axk1, glm_image_text): each count at HF's default config against Hugging Face's own number
// (catalog_truth.json) or, where transformers 5.17 cannot build the default config, against a
// count worked out by hand from the HF module's shapes; and the weight names and layer patterns
// HF's modeling code gives, at the tiny size.

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "support/template_builds.h"

namespace ipfs_accel::models {
namespace dec_templates_test {

using nlohmann::json;
using testing::CatalogTruth;
using testing::DefaultCount;
using testing::TinyGraph;

TEST(DecTemplates, CountsWhatHfCountsWhereTransformersBuildsTheDefaultConfig) {
  ASSERT_GT(CatalogTruth("aria_text", "causal_lm_params"), 0) << "catalog_truth.json is missing";
  EXPECT_EQ(DefaultCount("aria_text"), CatalogTruth("aria_text", "causal_lm_params"));
  EXPECT_EQ(DefaultCount("axk1"), CatalogTruth("axk1", "causal_lm_params"));
  // GlmImageTextModel plus GlmImageForConditionalGeneration's head: vision_vocab_size x hidden.
  EXPECT_EQ(DefaultCount("glm_image_text"),
            CatalogTruth("glm_image_text", "base_params") + 16512 * 4096);
}

// MinistralConfig's defaults are MistralConfig's blocks and sizes (32000 x 4096, 32 layers of 32
// heads over 8 KV heads, 14336 wide): HF counts MistralForCausalLM at 7,241,732,096.
TEST(DecTemplates, MinistralCountsWhatHfCountsForMistralsIdenticalBlocks) {
  EXPECT_EQ(DefaultCount("ministral"), 7'241'732'096);
  const int64_t mistral = CatalogTruth("mistral", "causal_lm_params");
  if (mistral > 0) {
    EXPECT_EQ(DefaultCount("ministral"), mistral);
  }
}

// HunYuanDenseV1ForCausalLM at its defaults, from HF's module shapes: per layer q/k/v/o 4096^2,
// query_layernorm and key_layernorm over head_dim 128, gate/up/down 4096 x 11008, two norms;
// the embedding and the untied head 290943 x 4096; the final norm.
TEST(DecTemplates, HunYuanDenseCountsItsHfModulesByHand) {
  const int64_t h = 4096, layer = 4 * h * h + 2 * 128 + 3 * h * 11008 + 2 * h;
  EXPECT_EQ(DefaultCount("hunyuan_v1_dense"), 32 * layer + 2 * 290943 * h + h);
}

// NemotronForCausalLM with num_key_value_heads = num_attention_heads (HF's default None cannot
// build): per layer q/k/v/o 6144^2, up/down 6144 x 24576, two LayerNorm1P with weight and bias;
// embedding and head 256000 x 6144; the final LayerNorm1P.
TEST(DecTemplates, NemotronCountsItsHfModulesByHand) {
  const int64_t h = 6144, layer = 4 * h * h + 2 * h * 24576 + 2 * 2 * h;
  EXPECT_EQ(DefaultCount("nemotron"), 32 * layer + 2 * 256000 * h + 2 * h);
}

// MinistralConfig: layer_types null means every layer slides (sliding_window, null: none).
TEST(DecTemplates, MinistralSlidesEveryLayerWhenLayerTypesIsNull) {
  const std::string implicit = TinyGraph("ministral");
  const json sliding = {{"layer_types", {"sliding_attention", "sliding_attention"}}};
  EXPECT_EQ(implicit, TinyGraph("ministral", sliding));
  EXPECT_NE(implicit, TinyGraph("ministral", {{"sliding_window", nullptr}}));
  const json full = {{"layer_types", {"full_attention", "full_attention"}}};
  EXPECT_EQ(TinyGraph("ministral", {{"sliding_window", nullptr}}), TinyGraph("ministral", full));
}

// The weight names in HF's modeling code.
TEST(DecTemplates, TinyGraphsHaveHfsWeightNames) {
  const std::string hunyuan = TinyGraph("hunyuan_v1_dense");
  EXPECT_NE(hunyuan.find("layers.1.self_attn.query_layernorm.weight"), std::string::npos);
  EXPECT_NE(hunyuan.find("layers.1.self_attn.key_layernorm.weight"), std::string::npos);
  const std::string nemotron = TinyGraph("nemotron");
  EXPECT_NE(nemotron.find("layers.0.input_layernorm.bias"), std::string::npos);
  EXPECT_NE(nemotron.find("layers.0.mlp.up_proj.weight"), std::string::npos);
  EXPECT_EQ(nemotron.find("mlp.gate_proj"), std::string::npos);
  const std::string aria = TinyGraph("aria_text");
  EXPECT_NE(aria.find("layers.0.mlp.router.weight"), std::string::npos);
  EXPECT_NE(aria.find("layers.0.mlp.experts.fc1.weight"), std::string::npos);
  EXPECT_NE(aria.find("layers.0.mlp.shared_experts.up_proj.weight"), std::string::npos);
  // A.X-K1: post_mlp_layernorm on the MoE layers only (layer 0 is dense at the tiny size).
  const std::string axk1 = TinyGraph("axk1");
  EXPECT_NE(axk1.find("layers.1.post_mlp_layernorm.weight"), std::string::npos);
  EXPECT_EQ(axk1.find("layers.0.post_mlp_layernorm"), std::string::npos);
}

}  // namespace dec_templates_test
}  // namespace ipfs_accel::models
