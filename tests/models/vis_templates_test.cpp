// Vision templates added for issue 16 (helper "vis"): DINOv3's ViT, Qianfan-OCR's vision tower,
// SigLIP 2's NaFlex tower at one grid, Pixtral's vision encoder. Each test builds a tiny config
// and checks it against numbers worked out by hand from HF's modeling code: parameter counts,
// weight names, input and output shapes, rope angles.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/template_builds.h"

namespace ipfs_accel::models {
namespace vis_templates_test {

using ipfs_accel::testing::CatchError;
using nlohmann::json;
using Built = testing::BuiltGraph;

Built Build(const json& config) { return testing::BuildRegistered(config); }
using ::testing::ElementsAre;

std::set<std::string> WeightNames(const Built& b) {
  std::set<std::string> names;
  for (const auto& t : b.proto.graph().initializer()) names.insert(t.name());
  return names;
}

// Dimensions of a graph input or output: ints as text, symbols by name.
std::vector<std::string> Dims(const Built& b, const std::string& name, bool input = false) {
  const auto& values = input ? b.proto.graph().input() : b.proto.graph().output();
  for (const auto& v : values)
    if (v.name() == name) {
      std::vector<std::string> out;
      for (const auto& d : v.type().tensor_type().shape().dim())
        out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
      return out;
    }
  ADD_FAILURE() << "no graph value " << name;
  return {};
}

// A float initializer's values (the rope angle tables are constants of the graph).
std::vector<float> FloatInitializer(const Built& b, const std::string& name) {
  for (const auto& t : b.proto.graph().initializer())
    if (t.name() == name) {
      if (t.float_data_size() > 0) return {t.float_data().begin(), t.float_data().end()};
      std::vector<float> out(t.raw_data().size() / sizeof(float));
      std::memcpy(out.data(), t.raw_data().data(), out.size() * sizeof(float));
      return out;
    }
  ADD_FAILURE() << "no initializer " << name;
  return {};
}

json Tiny(const std::string& model_type) {
  return {{"model_type", model_type}, {"hidden_size", 32},       {"num_hidden_layers", 2},
          {"num_attention_heads", 2}, {"intermediate_size", 64}, {"image_size", 32},
          {"patch_size", 8},          {"num_channels", 3}};
}

TEST(Dinov3VitTemplate, CountsTokensLayersAndScalesAsHfBuildsThemAtATinySize) {
  json c = Tiny("dinov3_vit");
  c["num_register_tokens"] = 2;
  const Built b = Build(c);
  // cls, mask [1, 1, 32]; registers [1, 2, 32]; patch conv 3*8*8*32 + 32; no position table.
  // Per layer: norm1/norm2 4*32, q and v 32*32 + 32, k 32*32 (key_bias false), o 32*32 + 32,
  // layer scales 2*32, up 32*64 + 64, down 64*32 + 32; then the final norm 2*32.
  const int64_t layer = 128 + 3 * 1056 + 1024 + 64 + 2112 + 2080;
  EXPECT_EQ(b.parameters, 32 + 32 + 64 + 6176 + 2 * layer + 64);
  const auto names = WeightNames(b);
  for (const char* name : {"embeddings.patch_embeddings.weight", "embeddings.register_tokens",
                           "layer.1.attention.o_proj.bias", "layer.1.layer_scale2.lambda1",
                           "layer.1.mlp.up_proj.weight", "norm.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("layer.1.attention.k_proj.bias"), 0u);
  // CLS, 2 registers, 4x4 patches.
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "19", "32"));
  EXPECT_THAT(Dims(b, "pooler_output"), ElementsAre("batch", "32"));
  c["use_gated_mlp"] = true;  // + gate_proj 32*64 + 64 per layer
  c["key_bias"] = true;       // + 32 per layer
  EXPECT_EQ(Build(c).parameters, b.parameters + 2 * (2112 + 32));
}

TEST(Dinov3VitTemplate, RotatesOnlyThePatchesByTheirCentresCoordinates) {
  json c = Tiny("dinov3_vit");
  c["num_register_tokens"] = 1;
  const std::vector<float> angles = FloatInitializer(Build(c), "vit.rope_angles");
  const int64_t head_dim = 16;
  ASSERT_EQ(angles.size(), static_cast<size_t>((2 + 16) * head_dim));
  for (int64_t i = 0; i < 2 * head_dim; ++i) EXPECT_EQ(angles[i], 0.0f) << i;  // CLS, register
  // The last patch (row 3, column 3 of 4): centre (3.5 / 4) * 2 - 1 = 0.75 on both axes; the
  // first frequency is 1, the second 100^(-4/16); rows then columns, repeated (tile(2)).
  const float* last = &angles[(2 + 15) * head_dim];
  const double two_pi = 2 * M_PI;
  EXPECT_NEAR(last[0], two_pi * 0.75, 1e-5);
  EXPECT_NEAR(last[1], two_pi * 0.75 * std::pow(100.0, -0.25), 1e-5);
  EXPECT_NEAR(last[4], two_pi * 0.75, 1e-5);
  EXPECT_NEAR(last[8], two_pi * 0.75, 1e-5);
  // The first patch: -0.75 on both axes.
  EXPECT_NEAR(angles[2 * head_dim], -two_pi * 0.75, 1e-5);
}

TEST(QianfanOcrVisionTemplate, IsInternVlsTowerWithBiasedAttentionAndLayersNamedLayersN) {
  const Built b = Build(Tiny("qianfan_ocr_vision"));
  // cls 32, patch conv 6176, positions 17*32; per layer: norms 128, q/k/v 3*(32*32 + 32),
  // projection_layer 1056, fc1 2112, fc2 2080, lambda_1/2 64; the final norm is an Identity
  // (use_mean_pooling).
  EXPECT_EQ(b.parameters, 32 + 6176 + 544 + 2 * (128 + 3168 + 1056 + 2112 + 2080 + 64));
  const auto names = WeightNames(b);
  EXPECT_EQ(names.count("layers.1.attention.k_proj.bias"), 1u);
  EXPECT_EQ(names.count("layers.1.lambda_2"), 1u);
  for (const auto& name : names) EXPECT_EQ(name.rfind("encoder.", 0), std::string::npos) << name;
}

TEST(Siglip2VisionTemplate, EmbedsPatchedPixelsWithALinearAtTheSquareGridOfNumPatches) {
  json c = {{"model_type", "siglip2_vision_model"},
            {"hidden_size", 32},
            {"intermediate_size", 64},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_patches", 16},
            {"patch_size", 4}};
  const Built b = Build(c);
  // patch_embedding 48*32 + 32, positions 16*32; per layer: norms 128, q/k/v/out 4*1056, fc1
  // 2112, fc2 2080; post_layernorm 64; head: probe 32, in_proj 3*32*32 + 96, out_proj 1056,
  // layernorm 64, fc1 2112, fc2 2080.
  const int64_t head = 32 + 3168 + 1056 + 64 + 2112 + 2080;
  EXPECT_EQ(b.parameters, 1568 + 512 + 2 * (128 + 4224 + 2112 + 2080) + 64 + head);
  EXPECT_THAT(Dims(b, "pixel_values", true), ElementsAre("batch", "16", "48"));
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "16", "32"));
  EXPECT_EQ(WeightNames(b).count("vision_model.embeddings.patch_embedding.weight"), 1u);
  c["num_patches"] = 15;
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), core::ErrorKind::kCorrupt);
}

TEST(VitMaeTemplate, KeepsAQuarterOfThePatchesChosenByTheNoiseInput) {
  json c = Tiny("vit_mae");
  const Built b = Build(c);
  // cls 32, positions (16 + 1)*32, patch conv 6176; per layer: norms 128, q/k/v/output 4*1056,
  // intermediate 2112, output 2080; final layernorm 64; no pooler.
  EXPECT_EQ(b.parameters, 32 + 544 + 6176 + 2 * (128 + 4224 + 2112 + 2080) + 64);
  EXPECT_THAT(Dims(b, "noise", true), ElementsAre("batch", "16"));
  // int(16 * (1 - 0.75)) = 4 patches kept, after the class token.
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "5", "32"));
  EXPECT_THAT(Dims(b, "mask"), ElementsAre("batch", "16"));
  EXPECT_THAT(Dims(b, "ids_restore"), ElementsAre("batch", "16"));
  c["mask_ratio"] = 0.5;  // int(16 * 0.5) = 8
  EXPECT_THAT(Dims(Build(c), "last_hidden_state"), ElementsAre("batch", "9", "32"));
}

json TinySam(const std::string& model_type) {
  return {{"model_type", model_type},
          {"hidden_size", 32},
          {"output_channels", 16},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"image_size", 32},
          {"patch_size", 4},
          {"window_size", 3},
          {"global_attn_indexes", {1}},
          {"mlp_dim", 64}};
}

TEST(SamVisionTemplate, WindowedAndGlobalLayersHaveRelativeTablesOfTheirOwnSpan) {
  const Built b = Build(TinySam("sam_vision_model"));
  // Patch conv 3*4*4*32 + 32; positions 8*8*32. Layer 0 (3x3 windows): norms 128, qkv 32*96 + 96,
  // proj 1056, rel_pos_h/w 2*(2*3 - 1)*16, lin1 32*64 + 64, lin2 64*32 + 32. Layer 1 (global, an
  // 8x8 grid): the same with rel_pos 2*(2*8 - 1)*16. Neck: conv1 32*16, norm 32, conv2 16*16*9,
  // norm 32.
  const int64_t common = 128 + 3168 + 1056 + 2112 + 2080;
  EXPECT_EQ(b.parameters, 1568 + 2048 + (common + 160) + (common + 480) + 512 + 32 + 2304 + 32);
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "16", "8", "8"));
  const auto names = WeightNames(b);
  for (const char* name :
       {"vision_encoder.pos_embed", "vision_encoder.layers.0.attn.rel_pos_h",
        "vision_encoder.layers.1.mlp.lin2.bias", "vision_encoder.neck.layer_norm2.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  for (const auto& o : b.proto.graph().output())
    EXPECT_EQ(o.name().rfind("intermediate_embeddings", 0), std::string::npos);
}

TEST(SamHqVisionTemplate, AlsoReturnsEachGlobalLayersOutput) {
  json c = TinySam("sam_hq_vision_model");
  c["num_hidden_layers"] = 3;
  c["global_attn_indexes"] = {0, 2};
  const Built b = Build(c);
  EXPECT_THAT(Dims(b, "intermediate_embeddings.0"), ElementsAre("batch", "8", "8", "32"));
  EXPECT_THAT(Dims(b, "intermediate_embeddings.1"), ElementsAre("batch", "8", "8", "32"));
  EXPECT_EQ(b.proto.graph().output_size(), 3);
}

TEST(TimesformerTemplate, DividedSpaceTimeLayersOverPatchMajorFrameMinorTokens) {
  json c = Tiny("timesformer");
  c["num_frames"] = 2;
  const Built b = Build(c);
  // Patch conv 6176, cls 32, positions 17*32, time 2*32. Per layer: layernorm_before/after and
  // temporal_layernorm 3*64, two attentions of qkv 32*96 + 96 and output.dense 1056,
  // temporal_dense 1056, intermediate 2112, output 2080; final layernorm 64.
  const int64_t layer = 192 + 2 * (3168 + 1056) + 1056 + 2112 + 2080;
  EXPECT_EQ(b.parameters, 6176 + 32 + 544 + 64 + 2 * layer + 64);
  EXPECT_THAT(Dims(b, "pixel_values", true), ElementsAre("batch", "2", "3", "32", "32"));
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "33", "32"));  // 1 + 16 * 2
  const auto names = WeightNames(b);
  for (const char* name : {"embeddings.time_embeddings", "encoder.layer.1.temporal_dense.weight",
                           "encoder.layer.1.temporal_attention.attention.qkv.bias",
                           "encoder.layer.1.attention.output.dense.weight", "layernorm.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  c["attention_type"] = "space_only";
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), core::ErrorKind::kUnsupported);
}

TEST(VideoMaeTemplate, TubeletsWithAFixedSinusoidTableAndBiasesOnQueryKeyAndValue) {
  json c = Tiny("videomae");
  c["num_frames"] = 4;
  const Built b = Build(c);
  // Conv3d 32*3*2*8*8 + 32; no class token, the position table a buffer. Per layer: norms 128,
  // query/key/value/output 4*(32*32 + 32), intermediate 2112, output 2080; no final layernorm
  // (use_mean_pooling).
  EXPECT_EQ(b.parameters, 12320 + 2 * (128 + 4224 + 2112 + 2080));
  // (4 / 2) * 4 * 4 tubelets.
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "32", "32"));
  EXPECT_EQ(WeightNames(b).count("encoder.layer.0.attention.attention.key.bias"), 1u);
  // get_sinusoid_encoding_table: row 1, column 2 is sin(1 / 10000^(2/32)), column 3 its cos.
  const std::vector<float> table = FloatInitializer(b, "vit.position_sinusoids");
  ASSERT_EQ(table.size(), 32u * 32u);
  EXPECT_NEAR(table[32 + 2], std::sin(1 / std::pow(10000.0, 2.0 / 32)), 1e-6);
  EXPECT_NEAR(table[32 + 3], std::cos(1 / std::pow(10000.0, 2.0 / 32)), 1e-6);
  c["use_mean_pooling"] = false;
  EXPECT_EQ(Build(c).parameters, b.parameters + 64);
}

TEST(Qwen25VlVisionTemplate, CountsHfsDefaultTowerWorkedOutByHand) {
  // Qwen2_5_VLVisionConfig's defaults: patch_embed 3584 * 3*2*14*14 (no bias); per block RMS
  // norm1/norm2 2*3584, qkv 3584*10752 + 10752, proj 3584*3584 + 3584, gate/up 2*(3584*3420 +
  // 3420), down 3420*3584 + 3584; merger ln_q 3584, mlp.0 14336*14336 + 14336, mlp.2
  // 14336*3584 + 3584.
  const int64_t block = 7168 + 38545920 + 12848640 + 24521400 + 12260864;
  EXPECT_EQ(Build({{"model_type", "qwen2_5_vl_vision"}}).parameters,
            4214784 + 32 * block + 3584 + 205535232 + 51383808);
  EXPECT_EQ(int64_t{3083025152}, 4214784 + 32 * block + 3584 + 205535232 + 51383808);
}

TEST(Qwen25VlVisionTemplate, RestoresTheMergedFeaturesFromWindowOrder) {
  json c = {{"model_type", "qwen2_5_vl_vision"},
            {"depth", 2},
            {"hidden_size", 32},
            {"num_heads", 2},
            {"intermediate_size", 48},
            {"out_hidden_size", 64},
            {"window_size", 56},
            {"fullatt_block_indexes", {1}}};
  const Built b = Build(c);
  // A 224 x 224 image: 16 x 16 patches of 14, 8 x 8 merged units, windows of 56 / 2 / 14 = 2.
  EXPECT_THAT(Dims(b, "pixel_values", true), ElementsAre("batch", "256", "1176"));
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "256", "32"));
  EXPECT_THAT(Dims(b, "pooler_output"), ElementsAre("batch", "64", "64"));
  // The window mask: patch 0 (unit 0, window 0) sees unit 1 (its row neighbour, patches 4..7)
  // but not window 1's first unit (units in window order: 0, 1, 8, 9, then 2, 3, 10, 11, ...).
  const std::vector<float> mask = FloatInitializer(b, "window_mask");
  ASSERT_EQ(mask.size(), 256u * 256u);
  EXPECT_EQ(mask[4], 0.0f);
  EXPECT_EQ(mask[15], 0.0f);   // the fourth unit of window 0 (unit 9)
  EXPECT_LT(mask[16], -1e30);  // window 1 begins
}

json TinyGlm(const std::string& model_type) {
  return {{"model_type", model_type}, {"depth", 2},       {"hidden_size", 32},
          {"num_heads", 2},           {"image_size", 56}, {"out_hidden_size", 48},
          {"intermediate_size", 64}};
}

TEST(Glm4vVisionTemplate, PositionsPostConvNormDownsampleConvAndGatedMerger) {
  const Built b = Build(TinyGlm("glm4v_vision"));
  // A 56-pixel image: 4 x 4 patches of 14. Positions 16*32; patch Conv3d 32*3*2*14*14 + 32;
  // post_conv_layernorm 32; per block norms 64, qkv 32*96 (no bias), proj 32*32, gate/up/down
  // 3*32*48 (out_hidden_size wide, no bias); post_layernorm 32; downsample 48*32*2*2 + 48;
  // merger proj 48*48, LayerNorm 96, gate/up 2*48*64, down 64*48.
  EXPECT_EQ(b.parameters,
            512 + 37664 + 32 + 2 * (64 + 3072 + 1024 + 4608) + 32 + 6192 + 2304 + 96 + 6144 + 3072);
  EXPECT_THAT(Dims(b, "pixel_values", true), ElementsAre("batch", "16", "1176"));
  EXPECT_THAT(Dims(b, "pooler_output"), ElementsAre("batch", "4", "48"));
  json c = TinyGlm("glm4v_vision");
  c["graph_image_grid_thw"] = {1, 2, 2};  // the 4 x 4 table would need resampling
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), core::ErrorKind::kUnsupported);
}

TEST(GlmOcrVisionTemplate, BiasedBlocksWithHeadNormsAndAWiderMerger) {
  const Built b = Build(TinyGlm("glm_ocr_vision"));
  // No positions or post_conv_layernorm. Per block norms 64, qkv 32*96 + 96, proj 32*32 + 32,
  // q_norm/k_norm 2*16, gate/up 2*(32*64 + 64), down 64*32 + 32; merger 3*48 = 144 wide.
  EXPECT_EQ(b.parameters, 37664 + 2 * (64 + 3168 + 1056 + 32 + 4224 + 2080) + 32 + 6192 + 2304 +
                              96 + 2 * 48 * 144 + 144 * 48);
  EXPECT_EQ(WeightNames(b).count("blocks.1.attn.q_norm.weight"), 1u);
}

TEST(Qwen3VlVisionTemplate, ResamplesItsPositionTableBilinearlyAndAddsDeepstackMergers) {
  json c = {{"model_type", "qwen3_vl_vision"},
            {"depth", 2},
            {"hidden_size", 32},
            {"num_heads", 2},
            {"intermediate_size", 64},
            {"out_hidden_size", 48},
            {"num_position_embeddings", 16},
            {"deepstack_visual_indexes", {0}}};
  const Built b = Build(c);
  // A 224 x 224 image: 14 x 14 patches of 16. Patch Conv3d 32*3*2*16*16 + 32; positions 16*32;
  // per block norms 128, qkv 3168, proj 1056, linear_fc1 2112, linear_fc2 2080; merger norm 64,
  // linear_fc1 128*128 + 128, linear_fc2 128*48 + 48; the deepstack merger's norm is 2*128.
  const int64_t fc = 16512 + 6192;
  EXPECT_EQ(b.parameters,
            49184 + 512 + 2 * (128 + 3168 + 1056 + 2112 + 2080) + (64 + fc) + (256 + fc));
  EXPECT_THAT(Dims(b, "deepstack_features.0"), ElementsAre("batch", "49", "48"));
  // linspace(0, 3, 14): patch 1 (row 0, column 1) lies 3/13 of the way from column 0 to 1.
  EXPECT_NEAR(FloatInitializer(b, "pos_embed_weights.1")[1], 3.0 / 13, 1e-6);
  EXPECT_NEAR(FloatInitializer(b, "pos_embed_weights.0")[1], 10.0 / 13, 1e-6);
  EXPECT_EQ(FloatInitializer(b, "pos_embed_weights.0")[0], 1.0f);
  c["model_type"] = "qwen3_5_vision";  // no deepstack mergers, whatever the key says
  EXPECT_EQ(Build(c).parameters, b.parameters - 256 - fc);
}

TEST(VideoLlama3VisionTemplate, SiglipLayersOnPatchedPixelsRotatedInsteadOfPositioned) {
  json c = Tiny("video_llama_3_vision");
  const Built b = Build(c);
  // Patch Conv2d 32*3*8*8 + 32 (no position table); per layer norms 128, q/k/v/out 4*1056, fc1
  // 2112, fc2 2080; post_layernorm 64; no head.
  EXPECT_EQ(b.parameters, 6176 + 2 * (128 + 4224 + 2112 + 2080) + 64);
  EXPECT_THAT(Dims(b, "pixel_values", true), ElementsAre("batch", "16", "192"));
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "16", "32"));
  // Patch 6 is row 1, column 2 of 4; head_dim 16: frequencies 10000^(-k/4), k < 4.
  const std::vector<float> angles = FloatInitializer(b, "vision_rope_angles");
  ASSERT_EQ(angles.size(), 16u * 16u);
  EXPECT_NEAR(angles[6 * 16 + 1], std::pow(10000.0, -0.25), 1e-6);
  EXPECT_NEAR(angles[6 * 16 + 4 + 1], 2 * std::pow(10000.0, -0.25), 1e-6);
  EXPECT_NEAR(angles[6 * 16 + 8 + 4], 2.0, 1e-6);
}

TEST(Llama4VisionTemplate, CountsHfsDefaultEncoderAndAdapterWorkedOutByHand) {
  // Llama4VisionConfig's defaults: patch Linear 768 * 3*14*14, class embedding 768, positions
  // (32*32 + 1)*768, layernorm_pre/post 2*1536; per layer norms 3072, q/k/v/o 4*(768*768 + 768),
  // fc1 768*5632 + 5632, fc2 5632*768 + 768; adapter fc1 5632*4096, fc2 4096*4096.
  const int64_t layer = 3072 + 2362368 + 4331008 + 4326144;
  const int64_t expected = 451584 + 768 + 787200 + 3072 + 34 * layer + 23068672 + 16777216;
  EXPECT_EQ(Build({{"model_type", "llama4_vision_model"}}).parameters, expected);
  EXPECT_EQ(expected, int64_t{415856640});
}

TEST(Llama4VisionTemplate, RotatesPairsByColumnThenRowAndShufflesThePatches) {
  json c = {{"model_type", "llama4_vision_model"},
            {"hidden_size", 32},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"intermediate_size", 128},
            {"image_size", 32},
            {"patch_size", 8},
            {"projector_input_dim", 48},
            {"projector_output_dim", 48}};
  const Built b = Build(c);
  EXPECT_EQ(b.parameters, 6144 + 32 + 544 + 128 + 2 * (128 + 4224 + 4224 + 4128) + 6144 + 2304);
  // 4 x 4 patches shuffled by 2: 4 tokens.
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "4", "48"));
  // Patch 6 (row 1, column 2), head_dim 16: pair 0 turns by (2 + 1) * 1, pair 4 by (1 + 1) * 1,
  // pair 1 by 3 * 10000^(-1/4); the class token (row 16) by nothing.
  const std::vector<float> angles = FloatInitializer(b, "llama4.rope_angles");
  ASSERT_EQ(angles.size(), 17u * 16u);
  EXPECT_NEAR(angles[6 * 16 + 0], 3.0, 1e-6);
  EXPECT_NEAR(angles[6 * 16 + 1], 3.0, 1e-6);
  EXPECT_NEAR(angles[6 * 16 + 2], 3 * std::pow(10000.0, -0.25), 1e-6);
  EXPECT_NEAR(angles[6 * 16 + 8], 2.0, 1e-6);
  EXPECT_EQ(angles[16 * 16 + 3], 0.0f);
}

TEST(PixtralTemplate, RmsNormedGatedLayersWithoutBiasesAndPixtrals2dRope) {
  json c = Tiny("pixtral");
  const Built b = Build(c);
  // patch_conv 3*8*8*32 (no bias), ln_pre 32; per layer: 2 norms 64, q/k/v/o 4*32*32,
  // gate/up/down 3*32*64.
  EXPECT_EQ(b.parameters, 6144 + 32 + 2 * (64 + 4096 + 6144));
  EXPECT_THAT(Dims(b, "last_hidden_state"), ElementsAre("batch", "16", "32"));
  const auto names = WeightNames(b);
  for (const char* name :
       {"patch_conv.weight", "ln_pre.weight", "transformer.layers.1.attention_norm.weight",
        "transformer.layers.1.feed_forward.gate_proj.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  // Patch 6 is row 1, column 2 of 4. head_dim 16: frequencies f_i = 10000^(-2i/16); the row
  // takes f_0, f_2, f_4, f_6, the column f_1, f_3, f_5, f_7; the whole repeated twice.
  const std::vector<float> angles = FloatInitializer(b, "pixtral.rope_angles");
  ASSERT_EQ(angles.size(), 16u * 16u);
  const float* p6 = &angles[6 * 16];
  EXPECT_NEAR(p6[0], 1.0, 1e-6);
  EXPECT_NEAR(p6[1], std::pow(10000.0, -4.0 / 16), 1e-6);
  EXPECT_NEAR(p6[4], 2 * std::pow(10000.0, -2.0 / 16), 1e-6);
  EXPECT_NEAR(p6[8 + 4], 2 * std::pow(10000.0, -2.0 / 16), 1e-6);
  c["head_dim"] = 8;
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), core::ErrorKind::kUnsupported);
}

}  // namespace vis_templates_test
}  // namespace ipfs_accel::models
