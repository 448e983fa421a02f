// Counts and token arithmetic of the vision-language models built on the LLaVA frame with the
// pieces of docs/templates.md (PaliGemma, Gemma 3, Idefics3, SmolVLM), worked out module by
// module from HF's modeling code; their pieces run against references in
// tests/harness/vlm_connectors_test.cpp.

#include <cstdint>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/llava_builder.h"
#include "support/catch_error.h"

namespace ipfs_accel::models {
namespace vlm_graph_test {

using nlohmann::json;

int64_t Count(const json& config) { return CountParameters(HfConfig(config, "test")); }

// One image's tokens in input_ids, the config resolved by its template as the builder sees it.
int64_t ImageTokens(const json& config) {
  const std::string type = config.at("model_type");
  return LlavaImageTokens(ApplyTemplate(*FindTemplate(type), HfConfig(config, "test")));
}

// SigLIP's default tower (768 wide, 12 layers, 224 px, patch 16) with its attention-pooling head.
constexpr int64_t kSiglipBase =
    (3 * 16 * 16 * 768 + 768) + 196 * 768 +
    12 * ((4 * (768 * 768 + 768)) + 2 * 768 * 3072 + 3072 + 768 + 4 * 768) + 2 * 768 +
    (768 + 3 * 768 * 768 + 3 * 768 + 768 * 768 + 768 + 2 * 768 + 768 * 3072 + 3072 + 3072 * 768 +
     768);

TEST(VlmCounts, Gemma3AtEveryRunnablePoolingIsHfsCountAtItsDefaults) {
  EXPECT_EQ(kSiglipBase, 92884224);
  // Gemma 3 text (2304 wide, 26 layers of 8 query and 4 KV heads of 256, q/k norms, four norms a
  // layer), its tied table of 262208 rows.
  const int64_t layer =
      2304 * 2048 + 2 * 2304 * 1024 + 2048 * 2304 + 3 * 2304 * 9216 + 4 * 2304 + 2 * 256;
  const int64_t text = int64_t{262208} * 2304 + 26 * layer + 2304;
  const int64_t projector = 768 * 2304 + 768;
  // 14 patches a side pooled to 7 (kernel 2): HF's own default (16 a side) has a kernel of 0.
  EXPECT_EQ(Count({{"model_type", "gemma3"}, {"mm_tokens_per_image", 49}}),
            kSiglipBase + projector + text);
  EXPECT_EQ(kSiglipBase + projector + text, 2723312896);  // catalog_truth.json's Gemma3Model
  EXPECT_EQ(ipfs_accel::testing::CatchError([] {
              Count({{"model_type", "gemma3"}});
            }).kind(),
            core::ErrorKind::kUnsupported);
}

TEST(VlmCounts, Gemma3GemmaStyleImageTokensArePooledPatches) {
  // gemma-3-4b's tower: 896 px, patch 14 -> 64 a side, pooled by 4 to 16 a side.
  const json config = {{"model_type", "gemma3"},
                       {"vision_config",
                        {{"model_type", "siglip_vision_model"},
                         {"image_size", 896},
                         {"patch_size", 14},
                         {"vision_use_head", false}}}};
  EXPECT_EQ(ImageTokens(config), 256);
}

TEST(VlmCounts, PaliGemmaIsItsTowerProjectorAndGemmaAtHfDefaults) {
  // SigLIP So400m-like: 1152 wide, 27 layers, 224 px, patch 14, no head.
  const int64_t tower = (3 * 14 * 14 * 1152 + 1152) + 256 * 1152 +
                        27 * (4 * (1152 * 1152 + 1152) + 2 * 1152 * 4096 + 4096 + 1152 + 4 * 1152) +
                        2 * 1152;
  const int64_t projector = 1152 * 2048 + 2048;
  const int64_t gemma = int64_t{257152} * 2048 +
                        18 * (2 * 2048 * 2048 + 2 * 2048 * 256 + 3 * 2048 * 16384 + 2 * 2048) +
                        2048;
  EXPECT_EQ(Count({{"model_type", "paligemma"}}), tower + projector + gemma);
  EXPECT_EQ(tower + projector + gemma, 2910390528);  // catalog_truth.json's PaliGemmaModel
  EXPECT_EQ(ImageTokens({{"model_type", "paligemma"}}), 256);
}

TEST(VlmCounts, Idefics3PixelShuffleDividesTheImageTokensBySquareOfTheFactor) {
  // SmolVLM-256M-like: 512 px, patch 16 -> 32 a side; scale_factor 4 -> 8 a side, 64 tokens;
  // the connector maps 768 * 16 features to the text width without a bias.
  const json vision = {{"model_type", "smolvlm_vision"},
                       {"hidden_size", 768},
                       {"intermediate_size", 3072},
                       {"image_size", 512},
                       {"patch_size", 16}};
  const json text = {{"model_type", "llama"},     {"hidden_size", 576},
                     {"intermediate_size", 1536}, {"num_hidden_layers", 2},
                     {"num_attention_heads", 9},  {"num_key_value_heads", 3},
                     {"vocab_size", 49280},       {"pad_token_id", 2}};
  const json config = {{"model_type", "smolvlm"}, {"scale_factor", 4},   {"pad_token_id", 2},
                       {"vision_config", vision}, {"text_config", text}, {"image_token_id", 49190}};
  EXPECT_EQ(ImageTokens(config), 64);
  json without_connector = config;
  const int64_t with = Count(config);
  without_connector["scale_factor"] = 2;  // 768 * 4 inputs instead
  EXPECT_EQ(with - Count(without_connector), int64_t{768} * (16 - 4) * 576);
}

TEST(VlmCounts, InternVlIsItsVitTowerPixelShuffledProjectorAndQwen2AtHfDefaults) {
  // InternVL's ViT (448 px, patch 14, CLS, q/k/v without bias, projection_layer, lambda_1/2, no
  // final layernorm at use_mean_pooling).
  const int64_t tower = (1024 + 3 * 14 * 14 * 1024 + 1024 + 1025 * 1024) +
                        24 * (3 * 1024 * 1024 + 1024 * 1024 + 1024 + 1024 * 4096 + 4096 +
                              4096 * 1024 + 1024 + 4 * 1024 + 2 * 1024);
  // The shuffle by 2 makes 4 x 1024 features: layer_norm, linear_1, linear_2 to Qwen2's 4096.
  const int64_t projector = 2 * 4096 + 2 * (4096 * 4096 + 4096);
  const int64_t qwen2 =
      int64_t{151936} * 4096 +
      32 * (3 * (4096 * 4096 + 4096) + 4096 * 4096 + 3 * int64_t{4096} * 22016 + 2 * 4096) + 4096;
  EXPECT_EQ(Count({{"model_type", "internvl"}}), tower + projector + qwen2);
  EXPECT_EQ(tower + projector + qwen2, 11765025792);  // catalog_truth.json's InternVLModel
  // 32 x 32 patches less the CLS token, shuffled by 2: image_seq_length 256.
  EXPECT_EQ(ImageTokens({{"model_type", "internvl"}}), 256);
}

TEST(VlmCounts, LlavaOnevisionBuildsTileMapsUpToAnyResMaxAndRefusesTheShrunkOnes) {
  // 384 px tiles of 27 x 27 features, anyres_max_9: a map of r x r tiles (27 r features a side)
  // is shrunk by HF when sqrt((27 r)^2 / (9 * 27^2)) = r / 3 > 1.1.
  auto tokens_at = [](int64_t size) {
    return ImageTokens({{"model_type", "llava_onevision"}, {"graph_image_size", {size, size}}});
  };
  EXPECT_EQ(tokens_at(768), 729 + 54 * 55);   // 2 x 2 tiles: ratio 2/3
  EXPECT_EQ(tokens_at(1152), 729 + 81 * 82);  // 3 x 3 tiles: ratio 1
  EXPECT_EQ(ipfs_accel::testing::CatchError([&] { tokens_at(1536); }).kind(),  // ratio 4/3
            core::ErrorKind::kUnsupported);
}

TEST(VlmCounts, BlipCountsTheTextPoolerAndCrossAttentionItsForwardNeverRuns) {
  // BlipTextModel at its defaults: 30524 words, 512 positions, 12 BERT layers of 768 (8 heads),
  // each with a crossattention from encoder_hidden_size 768, and the pooler.
  const int64_t attention = 4 * (768 * 768 + 768) + 2 * 768;  // q, k, v, output.dense, LayerNorm
  const int64_t ffn = (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * 768;
  const int64_t embeddings = 30524 * 768 + 512 * 768 + 2 * 768;
  const int64_t pooler = 768 * 768 + 768;
  const int64_t text = embeddings + 12 * (2 * attention + ffn) + pooler;
  EXPECT_EQ(Count({{"model_type", "blip_text_model"}}), text);
  // Without the crossattention modules (12 x 2,363,904) the text tower would be HF's encoder-only.
  EXPECT_EQ(text - 12 * attention, 137849088 - 12 * 2363904);
  // BlipVisionModel (384 px, patch 16, 577 positions), the projections to 512, logit_scale.
  const int64_t vision = 768 + (3 * 16 * 16 * 768 + 768) + 577 * 768 +
                         12 * ((768 * 2304 + 2304) + (768 * 768 + 768) + 4 * 768 +
                               (768 * 3072 + 3072) + (3072 * 768 + 768)) +
                         2 * 768;
  EXPECT_EQ(Count({{"model_type", "blip"}}), text + vision + 2 * 768 * 512 + 1);
  EXPECT_EQ(text + vision + 2 * 768 * 512 + 1, 224726017);  // catalog_truth.json's BlipModel
}

}  // namespace vlm_graph_test
}  // namespace ipfs_accel::models
