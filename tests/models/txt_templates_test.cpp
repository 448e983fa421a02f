// The text towers added on the CLIP-style builders (AIMv2's and TIPSv2's text models) and the
// bidirectional LLaMA (EuroBERT) without running them: parameter counts at HF's default configs
// against transformers' count (catalog_truth.json) or one worked out by hand from HF's modeling
// code, and the weight names each graph asks for, which are HF's module names.

#include <cstdint>
#include <set>
#include <string>

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
namespace txt_templates_test {

using nlohmann::json;
using testing::TemplateConfig;

std::set<std::string> WeightNames(const std::string& type, const json& overrides) {
  return testing::TemplateWeightNames(type, overrides);
}

const json kTiny = {{"vocab_size", 96},         {"hidden_size", 32},
                    {"intermediate_size", 64},  {"num_hidden_layers", 2},
                    {"num_attention_heads", 4}, {"max_position_embeddings", 16}};

TEST(Tipsv2TextTemplate, CountsEveryParameterHfCountsAtTheDefaultConfig) {
  EXPECT_EQ(CountParameters(TemplateConfig("tipsv2_text_model", json::object())), 109632000);
}

TEST(Aimv2TextTemplate, CountsAHandWorkedDefaultConfig) {
  // Aimv2TextConfig(): vocab 49408, hidden 768, ffn 2048, 12 layers, 77 positions, no biases.
  // Per layer q/k/v/out_proj 4 x 768^2, gate/up/down_proj 3 x 768 x 2048, rms_norm1/2 2 x 768;
  // then the token and position tables and the final rms_norm.
  const int64_t layer = 4 * 768 * 768 + 3 * 768 * 2048 + 2 * 768;
  EXPECT_EQ(CountParameters(TemplateConfig("aimv2_text_model", json::object())),
            49408 * 768 + 77 * 768 + 12 * layer + 768);
}

TEST(Aimv2TextTemplate, CountsTheBiasesQkvBiasAndMlpBiasAdd) {
  // qkv_bias: q/k/v/out_proj biases (4 x 32 per layer); mlp_bias: gate/up 64 each, down 32.
  json biased = kTiny;
  biased["qkv_bias"] = true;
  biased["mlp_bias"] = true;
  EXPECT_EQ(CountParameters(TemplateConfig("aimv2_text_model", biased)) -
                CountParameters(TemplateConfig("aimv2_text_model", kTiny)),
            2 * (4 * 32 + 2 * 64 + 32));
}

TEST(Aimv2TextTemplate, AsksForAimv2TextModelsWeightNames) {
  const std::set<std::string> names = WeightNames("aimv2_text_model", kTiny);
  for (const char* name :
       {"embeddings.token_embedding.weight", "embeddings.position_embedding.weight",
        "encoder.layers.1.rms_norm1.weight", "encoder.layers.1.attention.out_proj.weight",
        "encoder.layers.1.ffn.gate_proj.weight", "encoder.layers.1.rms_norm2.weight",
        "rms_norm.weight"})
    EXPECT_TRUE(names.count(name)) << name;
  EXPECT_FALSE(names.count("encoder.layers.0.attention.q_proj.bias"));
}

TEST(Tipsv2TextTemplate, HasSinusoidalPositionsNoHeadAndTopLevelNames) {
  const std::set<std::string> names = WeightNames("tipsv2_text_model", kTiny);
  for (const char* name :
       {"embeddings.token_embedding.weight", "encoder.layers.1.layer_norm1.weight",
        "encoder.layers.1.self_attn.q_proj.bias", "encoder.layers.1.mlp.fc2.weight",
        "final_layer_norm.bias"})
    EXPECT_TRUE(names.count(name)) << name;
  // Tipsv2SinusoidalPositionalEmbedding has no parameters, Tipsv2TextModel no head.
  EXPECT_FALSE(names.count("embeddings.position_embedding.weight"));
  EXPECT_FALSE(names.count("head.weight"));
}

TEST(EuroBertTemplate, CountsEveryParameterHfCountsAtTheDefaultConfig) {
  EXPECT_EQ(CountParameters(TemplateConfig("eurobert", json::object())), 211766016);
}

TEST(EuroBertTemplate, CountsGroupedKeyValueHeadsByHand) {
  // 4 heads of 8 over 2 kv heads: q_proj and o_proj 32 x 32, k_proj and v_proj 32 x 16; the
  // gated MLP 3 x 32 x 64; two RMSNorms of 32 per layer, the final norm and embed_tokens 96 x 32.
  json grouped = kTiny;
  grouped["num_key_value_heads"] = 2;
  const int64_t layer = 2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64 + 2 * 32;
  EXPECT_EQ(CountParameters(TemplateConfig("eurobert", grouped)), 96 * 32 + 2 * layer + 32);
}

TEST(EuroBertTemplate, AsksForEuroBertModelsWeightNames) {
  const std::set<std::string> names = WeightNames("eurobert", kTiny);
  for (const char* name :
       {"embed_tokens.weight", "layers.1.input_layernorm.weight",
        "layers.1.self_attn.k_proj.weight", "layers.1.self_attn.o_proj.weight",
        "layers.1.post_attention_layernorm.weight", "layers.1.mlp.gate_proj.weight", "norm.weight"})
    EXPECT_TRUE(names.count(name)) << name;
  EXPECT_FALSE(names.count("lm_head.weight"));  // EuroBertModel has no head
}

}  // namespace txt_templates_test
}  // namespace ipfs_accel::models
