// Vision-language composites added for issue 16 (helper "vlm2") on the qwen2_vl builder, each
// tower and language model resolved through its own template (pieces vision_tower, text_model):
// Qwen2.5-VL, GLM-4V, GLM-4.6V, GLM-OCR. Counts are checked against HF's (catalog_truth.json's
// base model plus the LM head worked out by hand), weight names against HF's state dicts.

#include <cstdint>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/hf_config.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/template_builds.h"

namespace ipfs_accel::models {
namespace vlm2_templates_test {

using nlohmann::json;
using Built = testing::BuiltGraph;

Built Build(const json& config) { return testing::BuildRegistered(config); }

bool HasWeight(const Built& b, const std::string& name) {
  for (const auto& t : b.proto.graph().initializer())
    if (t.name() == name) return true;
  return false;
}

struct DefaultCount {
  const char* model_type;
  int64_t base_params;  // catalog_truth.json: HF's *Model at the config class's defaults
  int64_t head;         // the LM head our graph adds: vocab_size x hidden_size
};

TEST(Vlm2Templates, CountEveryParameterHfCountsAtTheDefaultConfigPlusTheLmHead) {
  const DefaultCount cases[] = {
      {"qwen2_5_vl", 74543520512, int64_t{152064} * 8192},
      {"glm4v", 9672020480, int64_t{151552} * 4096},
      {"glm46v", 9672020480, int64_t{151552} * 4096},
      {"glm_ocr", 746662400, int64_t{59392} * 1024},
  };
  for (const DefaultCount& c : cases)
    EXPECT_EQ(Build({{"model_type", c.model_type}}).parameters, c.base_params + c.head)
        << c.model_type;
}

json TinyGlmText(const std::string& model_type) {
  return {{"model_type", model_type},
          {"vocab_size", 256},
          {"hidden_size", 64},
          {"intermediate_size", 128},
          {"num_hidden_layers", 1},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"rope_parameters",
           {{"rope_type", "default"},
            {"rope_theta", 10000.0},
            {"partial_rotary_factor", 0.5},
            {"mrope_section", {2, 1, 1}}}}};
}

json TinyGlmVision(const std::string& model_type) {
  return {{"model_type", model_type}, {"depth", 1},       {"hidden_size", 32},
          {"num_heads", 2},           {"image_size", 56}, {"out_hidden_size", 64},
          {"intermediate_size", 64}};
}

TEST(Vlm2Templates, Glm4vNamesItsWeightsAsGlm4vModelDoes) {
  const Built b = Build({{"model_type", "glm4v"},
                         {"image_token_id", 250},
                         {"image_start_token_id", 248},
                         {"image_end_token_id", 249},
                         {"video_token_id", 251},
                         {"text_config", TinyGlmText("glm4v_text")},
                         {"vision_config", TinyGlmVision("glm4v_vision")}});
  // Glm4vVisionModel's embeddings and merger, Glm4vTextDecoderLayer's extra norms.
  for (const char* name :
       {"visual.post_conv_layernorm.weight", "visual.embeddings.position_embedding.weight",
        "visual.downsample.weight", "visual.merger.gate_proj.weight",
        "layers.0.post_self_attn_layernorm.weight", "layers.0.post_mlp_layernorm.weight",
        "layers.0.mlp.gate_up_proj.weight", "layers.0.self_attn.q_proj.bias"})
    EXPECT_TRUE(HasWeight(b, name)) << name;
}

TEST(Vlm2Templates, GlmOcrTakesItsTowerAndLanguageModelFromGlmOcrsTemplates) {
  const Built b = Build({{"model_type", "glm_ocr"},
                         {"image_token_id", 250},
                         {"image_start_token_id", 248},
                         {"image_end_token_id", 249},
                         {"video_token_id", 251},
                         {"text_config", TinyGlmText("glm_ocr_text")},
                         {"vision_config", TinyGlmVision("glm_ocr_vision")}});
  // GlmOcrVisionAttention's q_norm / k_norm; GlmOcrTextAttention has no q/k/v biases.
  EXPECT_TRUE(HasWeight(b, "visual.blocks.0.attn.q_norm.weight"));
  EXPECT_FALSE(HasWeight(b, "visual.embeddings.position_embedding.weight"));
  EXPECT_FALSE(HasWeight(b, "layers.0.self_attn.q_proj.bias"));
}

TEST(Vlm2Templates, Qwen25VlSeesItsVisionConfigThroughTheQwen25Tower) {
  // HF's Qwen2_5_VLVisionConfig says model_type "qwen2_5_vl": the template's piece picks the tower.
  const Built b = Build({{"model_type", "qwen2_5_vl"},
                         {"vocab_size", 256},
                         {"hidden_size", 64},
                         {"intermediate_size", 128},
                         {"num_hidden_layers", 1},
                         {"num_attention_heads", 4},
                         {"num_key_value_heads", 2},
                         {"image_token_id", 250},
                         {"video_token_id", 251},
                         {"vision_start_token_id", 248},
                         {"vision_end_token_id", 249},
                         {"vision_config",
                          {{"model_type", "qwen2_5_vl"},
                           {"depth", 1},
                           {"hidden_size", 32},
                           {"num_heads", 2},
                           {"intermediate_size", 48},
                           {"out_hidden_size", 64},
                           {"window_size", 56}}}});
  // Qwen2_5_VLMLP's gate/up/down_proj and the merger's RMS ln_q (Qwen2-VL's tower has fc1/fc2).
  EXPECT_TRUE(HasWeight(b, "visual.blocks.0.mlp.gate_proj.weight"));
  EXPECT_TRUE(HasWeight(b, "visual.merger.ln_q.weight"));
  EXPECT_FALSE(HasWeight(b, "visual.blocks.0.mlp.fc1.weight"));
}

}  // namespace vlm2_templates_test
}  // namespace ipfs_accel::models
