// Tests for the LLaVA and LLaVA-NeXT graphs (llava_builder) that need no runtime: parameter counts
// against Hugging Face's (default LlavaConfig / LlavaNextConfig from the catalog ground truth, the
// catalog entries by module), LLaVA-NeXT's any-resolution arithmetic against hand-worked examples
// of HF's select_best_resolution / get_anyres_image_grid_shape / unpad_image, the graph's inputs,
// the configs refused, and the hints the harness gets. Runs against transformers' outputs and the
// packing order of a tiny LLaVA-NeXT checkpoint are in tests/harness/llava_verify_test.cpp.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/llava_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace llava_graph_test {

namespace fs = std::filesystem;
using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::TempDir;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

int64_t CountForConfig(const json& config) {
  TempDir dir;
  std::ofstream(dir.File("config.json")) << config.dump();
  return CountParameters(dir.path().string());
}

int64_t TruthBaseParams(const std::string& model_type) {
  std::ifstream in(fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-catalog/catalog_truth.json");
  return json::parse(in).at("models").at(model_type).at("base_params").get<int64_t>();
}

// ---- Parameter counts ----

// HF's ground truth counts LlavaModel / LlavaNextModel (no LM head); the registered architecture is
// *ForConditionalGeneration, whose untied lm_head adds LlamaConfig's vocab x hidden.
constexpr int64_t kDefaultLmHead = int64_t{32000} * 4096;

TEST(LlavaCountTest, HfDefaultConfigs) {
  EXPECT_EQ(TruthBaseParams("llava"), 6931830784);
  EXPECT_EQ(TruthBaseParams("llava_next"), 6931834880);
  EXPECT_EQ(CountForConfig({{"model_type", "llava"}}), 6931830784 + kDefaultLmHead);
  // LLaVA-NeXT adds image_newline [4096].
  EXPECT_EQ(CountForConfig({{"model_type", "llava_next"}}), 6931834880 + kDefaultLmHead);
}

// The catalog entries, module by module (transformers counts every tower layer and norm, the
// unused CLIP post_layernorm included).
TEST(LlavaCountTest, CatalogEntries) {
  // CLIP ViT-L/14-336: embeddings (class 1024, patch 3*14*14*1024, positions 577*1024), two
  // LayerNorms, 24 layers of 12,596,224.
  const int64_t clip_l = 1024 + 602112 + 590848 + 2048 + 24 * int64_t{12596224} + 2048;
  EXPECT_EQ(clip_l, 303507456);
  const int64_t projector_7b = (1024 * 4096 + 4096) + (4096 * 4096 + 4096);
  // LLaMA-2-7B at vocab 32064: embeddings and head 32064*4096 each, 32 layers of 202,383,360.
  const int64_t vicuna = 2 * int64_t{32064} * 4096 + 32 * int64_t{202383360} + 4096;
  EXPECT_EQ(CountParameters("llava-1.5-7b"), clip_l + projector_7b + vicuna);
  EXPECT_EQ(CountParameters("llava-1.5-7b"), 7063427072);
  EXPECT_EQ(CountParameters("llava"), 7063427072);

  // Mistral-7B at vocab 32064 (8 KV heads, intermediate 14336: 218,112,000 per layer), plus
  // image_newline.
  const int64_t mistral = 2 * int64_t{32064} * 4096 + 32 * int64_t{218112000} + 4096;
  EXPECT_EQ(CountParameters("llava-v1.6-mistral-7b"), clip_l + projector_7b + mistral + 4096);
  EXPECT_EQ(CountParameters("llava-next"), 7566747648);

  // SigLIP so400m-like tower without its head: patch conv with bias, 729 positions, 26 layers of
  // 15,239,504, post_layernorm; Qwen1.5-0.5B with a tied head; projector 1152 -> 1024 -> 1024.
  const int64_t siglip = (3 * 14 * 14 * 1152 + 1152) + 729 * 1152 + 26 * int64_t{15239504} + 2304;
  const int64_t qwen = int64_t{152000} * 1024 + 24 * int64_t{12850176} + 1024;
  const int64_t projector_small = (1152 * 1024 + 1024) + (1024 * 1024 + 1024);
  EXPECT_EQ(CountParameters("llava-interleave-qwen-0.5b"), siglip + qwen + projector_small);
  EXPECT_EQ(CountParameters("llava-interleave-qwen-0.5b"), 864031264);
  EXPECT_EQ(CountParameters("llava-next-qwen2-0.5b-shaped"), 864031264 + 1024);
}

TEST(LlavaCountTest, ProjectorWidthFollowsTheFeatureLayers) {
  json one = {{"model_type", "llava"},
              {"vision_config",
               {{"hidden_size", 32},
                {"num_hidden_layers", 3},
                {"num_attention_heads", 2},
                {"intermediate_size", 64},
                {"image_size", 16},
                {"patch_size", 8}}},
              {"text_config",
               {{"model_type", "llama"},
                {"hidden_size", 48},
                {"num_hidden_layers", 1},
                {"num_attention_heads", 4},
                {"intermediate_size", 64},
                {"vocab_size", 100}}},
              {"image_token_index", 99}};
  json two = one;
  two["vision_feature_layer"] = {-2, 0};
  // linear_1 reads 2 x 32 features instead of 32.
  EXPECT_EQ(CountForConfig(two) - CountForConfig(one), 32 * 48);
  json no_bias = one;
  no_bias["multimodal_projector_bias"] = false;
  EXPECT_EQ(CountForConfig(one) - CountForConfig(no_bias), 48 + 48);
  // LlavaConfig ties the head when either level says so.
  json tied_top = one;
  tied_top["tie_word_embeddings"] = true;
  json tied_text = one;
  tied_text["text_config"]["tie_word_embeddings"] = true;
  EXPECT_EQ(CountForConfig(one) - CountForConfig(tied_top), 100 * 48);
  EXPECT_EQ(CountForConfig(tied_text), CountForConfig(tied_top));
  // LlavaNextConfig does not pass text_config's tying on; only its own counts.
  tied_text["model_type"] = "llava_next";
  tied_top["model_type"] = "llava_next";
  EXPECT_EQ(CountForConfig(tied_text) - CountForConfig(tied_top), 100 * 48);
}

// ---- LLaVA-NeXT's any-resolution arithmetic ----

const Resolutions kNextPinpoints = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};

TEST(LlavaNextLayoutTest, BestResolution) {
  // An image that is a pinpoint keeps all of itself with nothing wasted.
  EXPECT_EQ(SelectBestResolution(336, 672, kNextPinpoints),
            std::make_pair(int64_t{336}, int64_t{672}));
  // 480x640 (h x w): scales 0.7, 0.525, 1.05, 0.525, 0.7 keep 150528, 84672, 307200 (all of it,
  // 672x504 capped at the original), 84672, 150528 pixels: 672x672 wins.
  EXPECT_EQ(SelectBestResolution(480, 640, kNextPinpoints),
            std::make_pair(int64_t{672}, int64_t{672}));
  // 1000x300: 1008x336 keeps all 300,000 pixels (scale 1.008); 672x336 keeps 201x672.
  EXPECT_EQ(SelectBestResolution(1000, 300, kNextPinpoints),
            std::make_pair(int64_t{1008}, int64_t{336}));
  // 336x336: 336x672, 672x336 and 672x672 all keep everything; the first two waste 112,896, the
  // third 338,688; on the full tie the first listed wins.
  EXPECT_EQ(SelectBestResolution(336, 336, kNextPinpoints),
            std::make_pair(int64_t{336}, int64_t{672}));
}

struct LayoutCase {
  int64_t height, width;
  int64_t grid_rows, grid_cols, num_patches, row_begin, rows, col_begin, cols, image_tokens;
};

class LlavaNextLayoutCases : public ::testing::TestWithParam<LayoutCase> {};

TEST_P(LlavaNextLayoutCases, MatchesHandWorkedHf) {
  const LayoutCase c = GetParam();
  const LlavaNextLayout l = ComputeLlavaNextLayout(c.height, c.width, kNextPinpoints, 336, 24);
  EXPECT_EQ(l.grid_rows, c.grid_rows);
  EXPECT_EQ(l.grid_cols, c.grid_cols);
  EXPECT_EQ(l.num_patches, c.num_patches);
  EXPECT_EQ(l.row_begin, c.row_begin);
  EXPECT_EQ(l.rows, c.rows);
  EXPECT_EQ(l.col_begin, c.col_begin);
  EXPECT_EQ(l.cols, c.cols);
  EXPECT_EQ(l.base_tokens, 576);
  EXPECT_EQ(l.image_tokens, c.image_tokens);
}

INSTANTIATE_TEST_SUITE_P(
    HandWorked, LlavaNextLayoutCases,
    ::testing::Values(
        // 336 high, 672 wide: 1x2 tiles, a 24x48 map of the same aspect: nothing unpadded;
        // 576 + 24 rows of 48 + newline.
        LayoutCase{336, 672, 1, 2, 3, 0, 24, 0, 48, 1752},
        // 672 high, 336 wide: 2x1 tiles, 48x24: 576 + 48 * 25.
        LayoutCase{672, 336, 2, 1, 3, 0, 48, 0, 24, 1776},
        // 480x640 in 672x672: 48x48 map; wider than it: height 480 * 48/640 = 36 rows kept,
        // padding (48 - 36) / 2 = 6 above and below: 576 + 36 * 49.
        LayoutCase{480, 640, 2, 2, 5, 6, 36, 0, 48, 2340},
        // 1000x300 in 1008x336: 72x24 map; narrower: width 300 * 72/1000 = 21.6 -> 21, padding
        // (24 - 21) / 2 = 1 each side keeps 22 columns (HF slices [1:23]): 576 + 72 * 23.
        LayoutCase{1000, 300, 3, 1, 4, 0, 72, 1, 22, 2232},
        // 336x336 in 336x672: 24x48 map; width 336 * 24/336 = 24, padding 12 each side.
        LayoutCase{336, 336, 1, 2, 3, 0, 24, 12, 24, 1176},
        // 110x352: 110 * 48/352 is 14.999999999999998 in floats; HF's round(x, 7) makes it 15,
        // padding (24 - 15) / 2 = 4 each side keeps 16 rows (int() alone would keep 14).
        LayoutCase{110, 352, 1, 2, 3, 4, 16, 0, 48, 1360}));

TEST(LlavaNextLayoutTest, Refusals) {
  // A pinpoint that is not a whole number of tiles.
  EXPECT_EQ(CatchError([] {
              ComputeLlavaNextLayout(300, 500, {{300, 500}}, 336, 24);
            }).kind(),
            ErrorKind::kUnsupported);
  EXPECT_EQ(CatchError([] { ComputeLlavaNextLayout(0, 500, kNextPinpoints, 336, 24); }).kind(),
            ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([] {
              LlavaNextPinpoints(HfConfig(json{{"image_grid_pinpoints", {{336}}}}, "cfg"));
            }).kind(),
            ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([] {
              LlavaNextGraphImageSize(HfConfig(json{{"graph_image_size", {10, -1}}}, "cfg"));
            }).kind(),
            ErrorKind::kCorrupt);
}

TEST(LlavaNextLayoutTest, GraphImageSize) {
  EXPECT_EQ(LlavaNextGraphImageSize(HfConfig(json::object(), "cfg")),
            std::make_pair(int64_t{336}, int64_t{672}));
  EXPECT_EQ(LlavaNextGraphImageSize(HfConfig(json{{"graph_image_size", {480, 640}}}, "cfg")),
            std::make_pair(int64_t{480}, int64_t{640}));
}

// ---- Graph inputs, refusals, hints ----

struct Built {
  onnx::GraphProto graph;
  int64_t parameters = 0;
};

Built Build(const json& config) {
  Built b;
  ShapeOnlyWeights weights;
  GraphBuilder g(&b.graph, &weights);
  const HfConfig c(config, "test");
  FindArchitecture(c.ModelType(), "test").build(c, g);
  b.parameters = weights.parameter_count();
  return b;
}

std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
  return out;
}

const onnx::ValueInfoProto& Input(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& v : g.input())
    if (v.name() == name) return v;
  ADD_FAILURE() << "no input " << name;
  return g.input(0);
}

json TinyNext() {
  return {{"model_type", "llava_next"},
          {"image_token_index", 99},
          {"image_grid_pinpoints", {{16, 32}, {32, 16}, {32, 32}}},
          {"graph_image_size", {30, 40}},
          {"vision_config",
           {{"model_type", "clip_vision_model"},
            {"hidden_size", 32},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"intermediate_size", 64},
            {"image_size", 16},
            {"patch_size", 4}}},
          {"text_config",
           {{"model_type", "llama"},
            {"hidden_size", 48},
            {"num_hidden_layers", 1},
            {"num_attention_heads", 4},
            {"intermediate_size", 64},
            {"vocab_size", 100}}}};
}

TEST(LlavaGraphTest, Inputs) {
  json llava = TinyNext();
  llava["model_type"] = "llava";
  const Built a = Build(llava);
  EXPECT_THAT(Dims(Input(a.graph, "input_ids")), ElementsAre("batch", "sequence"));
  EXPECT_THAT(Dims(Input(a.graph, "pixel_values")), ElementsAre("batch", "3", "16", "16"));
  EXPECT_THAT(Dims(Input(a.graph, "attention_mask")), ElementsAre("batch", "total_sequence"));
  // 30x40 in 32x32: 2x2 tiles and the base image.
  const Built n = Build(TinyNext());
  EXPECT_THAT(Dims(Input(n.graph, "pixel_values")), ElementsAre("batch", "5", "3", "16", "16"));
  EXPECT_EQ(n.parameters - a.parameters, 48);  // image_newline
  std::vector<std::string> outputs;
  for (const auto& o : n.graph.output()) outputs.push_back(o.name());
  EXPECT_THAT(outputs, ::testing::Contains("logits"));
  EXPECT_THAT(outputs, ::testing::Contains("present.0.key"));
}

TEST(VipLlavaProjector, LayerNormsTheConcatenatedFeaturesOfEveryListedLayer) {
  json llava = TinyNext();
  llava["model_type"] = "llava";
  json vip = llava;
  vip["model_type"] = "vipllava";
  vip.erase("image_grid_pinpoints");
  vip.erase("graph_image_size");
  vip["vision_feature_layers"] = {-2, 0};
  const Built a = Build(llava), v = Build(vip);
  // linear_1 reads 2 x 32 features, after projector_layernorm's weight and bias over them.
  EXPECT_EQ(v.parameters - a.parameters, 32 * 48 + 2 * 64);
  bool norm = false;
  for (const auto& t : v.graph.initializer())
    norm = norm || t.name() == "multi_modal_projector.projector_layernorm.weight";
  EXPECT_TRUE(norm);
  EXPECT_THAT(Dims(Input(v.graph, "pixel_values")), ElementsAre("batch", "3", "16", "16"));
}

TEST(LlavaNextVideoImages, TilesAsLlavaNextAndRefusesAConvResampler) {
  json video = TinyNext();
  video["model_type"] = "llava_next_video";
  EXPECT_EQ(LlavaImageTokens(HfConfig(video, "t")), LlavaImageTokens(HfConfig(TinyNext(), "t")));
  EXPECT_THAT(Dims(Input(Build(video).graph, "pixel_values")),
              ElementsAre("batch", "5", "3", "16", "16"));
  video["spatial_pool_mode"] = "conv";
  EXPECT_THAT(CatchError([&] { Build(video); }).what(), HasSubstr("spatial_pool_mode"));
}

TEST(LlavaGraphTest, Refusals) {
  json clip_full = TinyNext();
  clip_full["vision_feature_select_strategy"] = "full";  // 17 tokens per tile: no 4x4 grid
  EXPECT_THAT(CatchError([&] { Build(clip_full); }).what(), HasSubstr("pack_image_features"));

  json full_model = TinyNext();
  full_model["vision_config"]["model_type"] = "clip";
  EXPECT_EQ(CatchError([&] { Build(full_model); }).kind(), ErrorKind::kUnsupported);

  json gpt2 = TinyNext();
  gpt2["text_config"]["model_type"] = "gpt2";
  EXPECT_THAT(CatchError([&] { Build(gpt2); }).what(), HasSubstr("text_config.model_type"));

  json layer = TinyNext();
  layer["vision_feature_layer"] = -4;  // 3 hidden states
  EXPECT_EQ(CatchError([&] { Build(layer); }).kind(), ErrorKind::kCorrupt);
  layer["vision_feature_layer"] = {1, "x"};
  EXPECT_EQ(CatchError([&] { Build(layer); }).kind(), ErrorKind::kCorrupt);

  json strategy = TinyNext();
  strategy["vision_feature_select_strategy"] = "cls";
  EXPECT_THAT(CatchError([&] { Build(strategy); }).what(), HasSubstr("cls"));

  json act = TinyNext();
  act["projector_hidden_act"] = "swiglu_magic";
  EXPECT_EQ(CatchError([&] { Build(act); }).kind(), ErrorKind::kUnsupported);
}

TEST(LlavaHintsTest, CatalogEntries) {
  struct Expect {
    std::string name;
    int64_t tokens, image_token, bos, vocab, max_positions;
  };
  for (const Expect& e :
       std::vector<Expect>{{"llava-1.5-7b", 576, 32000, 1, 32064, 4096},
                           {"llava-interleave-qwen-0.5b", 729, 151646, 151643, 152000, 32768},
                           {"llava-v1.6-mistral-7b", 1752, 32000, 1, 32064, 32768},
                           {"llava-next-qwen2-0.5b-shaped", 2214, 151646, 151643, 152000, 32768}}) {
    const auto entry = FindInCatalog(e.name);
    ASSERT_TRUE(entry) << e.name;
    EXPECT_EQ(entry->modality, "multimodal");
    EXPECT_EQ(LlavaImageTokens(entry->config), e.tokens) << e.name;
    const Architecture& a = FindArchitecture(entry->architecture, e.name);
    const auto hints = a.input_hints(entry->config);
    const InputHint ids = hints.at("input_ids");
    EXPECT_EQ(ids.kind, InputHint::Kind::kIndexRangeWithRun) << e.name;
    EXPECT_EQ(ids.high, e.vocab);
    EXPECT_EQ(ids.run_value, e.image_token);
    EXPECT_EQ(ids.run_length, e.tokens);
    EXPECT_EQ(ids.first, e.bos);
    EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
    const DimRoles roles = a.dim_roles(entry->config);
    EXPECT_EQ(roles.min_sequence, e.tokens + 1) << e.name;
    EXPECT_EQ(roles.max_sequence, e.max_positions) << e.name;
    EXPECT_EQ(roles.past_sequence, "past_sequence");
  }
}

TEST(LlavaCheckpointTest, PrefixesCoverEveryLayout) {
  const auto prefixes = LlavaCheckpointPrefixes();
  for (const char* p : {"model.language_model.", "language_model.model.", "language_model.",
                        "model.vision_tower.", "vision_tower.", "vision_tower.vision_model.",
                        "model.vision_tower.vision_model.", "model."})
    EXPECT_THAT(prefixes, ::testing::Contains(p));
  EXPECT_EQ(FindArchitecture("llava", "t").checkpoint_prefixes, prefixes);
  EXPECT_EQ(FindArchitecture("llava_next", "t").checkpoint_prefixes, prefixes);
}

}  // namespace llava_graph_test
}  // namespace ipfs_accel::models
