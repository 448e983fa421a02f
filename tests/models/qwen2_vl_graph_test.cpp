// Tests for Qwen2-VL without running it: parameter counts at HF's defaults and of the catalog
// entry, get_rope_index on hand-worked examples (HF's docstring among them), the prompts the
// harness generates for a graph's fixed image, the graph's inputs and outputs, and the
// configs the builder must refuse.

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/qwen2_vl_builder.h"
#include "models/qwen2_vl_positions.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/qwen2_vl_checkpoint.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::models {
namespace qwen2_vl_graph_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;

// ---- parameter counts ----

TEST(Qwen2VlCountTest, HuggingFaceDefaults) {
  TempDir dir;
  std::ofstream(dir.File("config.json")) << json{{"model_type", "qwen2_vl"}}.dump();
  // Qwen2VLModel at Qwen2VLConfig() has 72,136,254,464 parameters (catalog_truth.json); the
  // registered graph is Qwen2VLForConditionalGeneration, whose lm_head (152064 x 8192, untied
  // by default) comes on top.
  const int64_t base = 72136254464, lm_head = int64_t{152064} * 8192;
  EXPECT_EQ(CountParameters(dir.path().string()), base + lm_head);
}

TEST(Qwen2VlCountTest, CatalogEntry) {
  // Qwen2-VL-2B-Instruct: tied embeddings, so the head adds nothing. Language model
  // 1,543,714,304 + vision tower 665,271,296.
  EXPECT_EQ(CountParameters("qwen2-vl-2b-instruct"), 2208985600);
  EXPECT_EQ(CountParameters("qwen2-vl"), 2208985600);
  const auto entry = FindInCatalog("qwen2-vl-2b-instruct");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->modality, "multimodal");
  const Qwen2VlGrid grid = Qwen2VlGraphGrid(entry->config);  // a 224 x 224 image
  EXPECT_EQ(grid.t, 1);
  EXPECT_EQ(grid.h, 16);
  EXPECT_EQ(grid.w, 16);
  EXPECT_EQ(Qwen2VlMergedTokens(grid, 2), 64);
}

TEST(Qwen2VlVisionModelTest, CountsTheTowerLayerByLayerAtHuggingFaceDefaults) {
  TempDir dir;
  std::ofstream(dir.File("config.json")) << json{{"model_type", "qwen2_vl_vision"}}.dump();
  // Qwen2VLVisionConfig(): embed 1280, 32 blocks, MLP 4 x 1280, output 3584, 2x2 merge.
  const int64_t e = 1280, mlp = 4 * e, merged = 4 * e, out = 3584;
  const int64_t patch_embed = e * 3 * 2 * 14 * 14;  // Conv3d without bias
  const int64_t block = 2 * 2 * e                   // norm1, norm2
                        + e * 3 * e + 3 * e         // qkv
                        + e * e + e                 // proj
                        + e * mlp + mlp + mlp * e + e;
  const int64_t merger = 2 * e + merged * merged + merged + merged * out + out;
  EXPECT_EQ(CountParameters(dir.path().string()), patch_embed + 32 * block + merger);
  EXPECT_EQ(patch_embed + 32 * block + merger, 675759104);
}

// ---- get_rope_index ----

constexpr int64_t kImage = 250, kVideo = 251, kStart = 248, kEnd = 249;
const Qwen2VlTokens kTokens{
    .image = kImage, .video = kVideo, .vision_start = kStart, .vision_end = kEnd};

std::vector<int64_t> Plane(const core::Tensor& positions, int plane, int64_t row) {
  const int64_t batch = positions.shape[1], seq = positions.shape[2];
  const auto v = positions.values<int64_t>();
  return {v.begin() + (plane * batch + row) * seq, v.begin() + (plane * batch + row + 1) * seq};
}

std::vector<int64_t> Plus(std::vector<int64_t> v, int64_t n) {
  for (auto& x : v) x += n;
  return v;
}

// HF's docstring: a video of 3 x 2 x 2 merged patches, then 5 text tokens. get_rope_index counts
// a video only after <|vision_start|>, which takes position 0, so every docstring value is one
// higher here.
TEST(Qwen2VlRopeIndexTest, DocstringVideoExample) {
  std::vector<int64_t> ids = {kStart};
  for (int i = 0; i < 12; ++i) ids.push_back(kVideo);
  for (int i = 0; i < 5; ++i) ids.push_back(7 + i);
  const auto r =
      ComputeQwen2VlRopeIndex(Int64Tensor({1, 18}, ids), nullptr, {}, {{3, 4, 4}}, kTokens);
  const std::vector<int64_t> t = {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7};
  const std::vector<int64_t> h = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 3, 4, 5, 6, 7};
  const std::vector<int64_t> w = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 3, 4, 5, 6, 7};
  auto with_start = [](const std::vector<int64_t>& docstring) {
    std::vector<int64_t> v = {0};
    for (int64_t x : Plus(docstring, 1)) v.push_back(x);
    return v;
  };
  EXPECT_EQ(Plane(r.position_ids, 0, 0), with_start(t));
  EXPECT_EQ(Plane(r.position_ids, 1, 0), with_start(h));
  EXPECT_EQ(Plane(r.position_ids, 2, 0), with_start(w));
  EXPECT_EQ(r.deltas.values<int64_t>()[0], 8 + 1 - 18);
}

// A left-padded row with a 1 x 4 x 4 image (2 x 2 merged) and a text-only row: the image
// consumes the only grid, padding keeps position 1, the text row counts 0.. as any LLM.
TEST(Qwen2VlRopeIndexTest, PaddedImageRowAndTextRow) {
  const std::vector<int64_t> ids = {0, 0, 5, kStart, kImage, kImage, kImage, kImage, kEnd, 9,
                                    1, 2, 3, 4,      5,      6,      7,      8,      9,    10};
  const std::vector<int64_t> mask = {0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  const core::Tensor m = Int64Tensor({2, 10}, mask);
  const auto r = ComputeQwen2VlRopeIndex(Int64Tensor({2, 10}, ids), &m, {{1, 4, 4}}, {}, kTokens);
  EXPECT_EQ(Plane(r.position_ids, 0, 0), (std::vector<int64_t>{1, 1, 0, 1, 2, 2, 2, 2, 4, 5}));
  EXPECT_EQ(Plane(r.position_ids, 1, 0), (std::vector<int64_t>{1, 1, 0, 1, 2, 2, 3, 3, 4, 5}));
  EXPECT_EQ(Plane(r.position_ids, 2, 0), (std::vector<int64_t>{1, 1, 0, 1, 2, 3, 2, 3, 4, 5}));
  for (int plane = 0; plane < 3; ++plane)
    EXPECT_EQ(Plane(r.position_ids, plane, 1),
              (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(r.deltas.values<int64_t>()[0], 5 + 1 - 10);
  EXPECT_EQ(r.deltas.values<int64_t>()[1], 0);
  // Decode steps go on from the deltas: past 10 + i + delta.
  const core::Tensor next = Qwen2VlCachedPositions(r.deltas, 10, 2);
  EXPECT_EQ(Plane(next, 0, 0), (std::vector<int64_t>{6, 7}));
  EXPECT_EQ(Plane(next, 2, 1), (std::vector<int64_t>{10, 11}));
}

TEST(Qwen2VlRopeIndexTest, TextOnlyBranchCountsTheMask) {
  const core::Tensor mask = Int64Tensor({2, 3}, {0, 1, 1, 1, 1, 1});
  const auto r =
      ComputeQwen2VlRopeIndex(Int64Tensor({2, 3}, {1, 2, 3, 4, 5, 6}), &mask, {}, {}, kTokens);
  EXPECT_EQ(Plane(r.position_ids, 1, 0), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(Plane(r.position_ids, 2, 1), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(r.deltas.values<int64_t>()[0], -1);  // HF's max includes padding's 1
  EXPECT_EQ(r.deltas.values<int64_t>()[1], 0);
  const auto unmasked =
      ComputeQwen2VlRopeIndex(Int64Tensor({1, 3}, {1, 2, 3}), nullptr, {}, {}, kTokens);
  EXPECT_EQ(Plane(unmasked.position_ids, 0, 0), (std::vector<int64_t>{0, 1, 2}));
}

TEST(Qwen2VlRopeIndexTest, RefusesWhatHfCannotIndex) {
  auto run = [](const std::vector<int64_t>& ids, const std::vector<Qwen2VlGrid>& images) {
    return CatchError([&] {
      ComputeQwen2VlRopeIndex(Int64Tensor({1, static_cast<int64_t>(ids.size())}, ids), nullptr,
                              images, {}, kTokens);
    });
  };
  EXPECT_EQ(run({1, kStart}, {{1, 4, 4}}).kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(run({kStart, kImage, kImage, kImage, kImage, kStart, kImage}, {{1, 4, 4}}).what(),
              HasSubstr("more images"));
  EXPECT_THAT(run({kStart, kImage, kImage, 3}, {{1, 4, 4}}).what(), HasSubstr("fill"));
}

// ---- the prompts the harness generates ----

// The tiny config of support/qwen2_vl_checkpoint.h (the same token ids as above).
json TinyConfig(int64_t patch_size) {
  return ipfs_accel::testing::qwen2_vl::TinyConfig(patch_size);
}
static_assert(kImage == ipfs_accel::testing::qwen2_vl::kImage &&
              kStart == ipfs_accel::testing::qwen2_vl::kStart);

TEST(Qwen2VlHintsTest, PromptHoldsTheImageAndItsPositions) {
  const auto entry = FindInCatalog("qwen2-vl-2b-instruct");
  ASSERT_TRUE(entry.has_value());
  const Architecture& arch = FindArchitecture("qwen2_vl", "test");
  const auto hints = arch.input_hints(entry->config);
  ASSERT_EQ(hints.at("input_ids").kind, InputHint::Kind::kComputed);
  EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  const core::Tensor ids = hints.at("input_ids").compute({2, 80}, 5);
  const core::Tensor positions = hints.at("position_ids").compute({3, 2, 80}, 5);
  ASSERT_EQ(ids.shape, (core::Shape{2, 80}));
  ASSERT_EQ(positions.shape, (core::Shape{3, 2, 80}));
  const auto v = ids.values<int64_t>();
  for (int64_t row = 0; row < 2; ++row) {
    const auto begin = v.begin() + row * 80, end = begin + 80;
    EXPECT_EQ(std::count(begin, end, 151655), 64) << "image tokens of row " << row;
    EXPECT_EQ(std::count(begin, end, 151652), 1);
    EXPECT_EQ(std::count(begin, end, 151653), 1);
    EXPECT_TRUE(std::all_of(begin, end, [](int64_t id) { return id >= 0 && id <= 151655; }));
  }
  const Qwen2VlTokens tokens;  // the 2B's ids are HF's defaults
  const auto expected =
      ComputeQwen2VlRopeIndex(ids, nullptr, {{1, 16, 16}, {1, 16, 16}}, {}, tokens);
  EXPECT_EQ(positions.values<int64_t>().size(), expected.position_ids.values<int64_t>().size());
  EXPECT_TRUE(std::equal(positions.values<int64_t>().begin(), positions.values<int64_t>().end(),
                         expected.position_ids.values<int64_t>().begin()));
  // The image's 8 x 8 merged grid spreads the height and width planes.
  EXPECT_NE(Plane(positions, 1, 0), Plane(positions, 2, 0));
  const core::Error short_row = CatchError([&] { hints.at("input_ids").compute({1, 60}, 5); });
  EXPECT_EQ(short_row.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(short_row.what(), HasSubstr("--seq-len 66"));
}

// ---- the graph ----

std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

TEST(Qwen2VlGraphTest, InputsOutputsAndWeights) {
  const HfConfig config(TinyConfig(14), "test:qwen2_vl");
  const Architecture& arch = FindArchitecture("qwen2_vl", "test");
  EXPECT_EQ(arch.modality, "multimodal");
  SeededRandomWeights weights(1, 0.02);
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.add_opset_import()->set_version(kOpsetVersion);
  proto.mutable_graph()->set_name("test");
  GraphBuilder builder(proto.mutable_graph(), &weights);
  arch.build(config, builder);
  onnx::checker::check_model(proto);
  onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(true, 1, false));
  const onnx::GraphProto& g = proto.graph();
  std::map<std::string, std::vector<std::string>> inputs, outputs;
  for (const auto& in : g.input()) inputs[in.name()] = Dims(in);
  for (const auto& out : g.output()) outputs[out.name()] = Dims(out);
  EXPECT_EQ(inputs.size(), 4u + 2 * 2);
  EXPECT_EQ(inputs["input_ids"], (std::vector<std::string>{"batch", "sequence"}));
  EXPECT_EQ(inputs["position_ids"], (std::vector<std::string>{"3", "batch", "sequence"}));
  // 224 x 224 at patch 14: 16 x 16 patches of 3 channels x 2 frames x 14 x 14.
  EXPECT_EQ(inputs["pixel_values"], (std::vector<std::string>{"batch", "256", "1176"}));
  EXPECT_EQ(inputs["attention_mask"], (std::vector<std::string>{"batch", "total_sequence"}));
  EXPECT_EQ(inputs["past_key_values.1.value"],
            (std::vector<std::string>{"batch", "2", "past_sequence", "16"}));
  EXPECT_EQ(outputs["logits"], (std::vector<std::string>{"batch", "sequence", "256"}));
  EXPECT_EQ(outputs["present.0.key"],
            (std::vector<std::string>{"batch", "2", "total_sequence", "16"}));
  // HF's parameters: LM (embeddings, 2 layers with q/k/v biases, norm, untied head) + tower.
  const int64_t layer = 64 * 64 + 64 + 2 * (64 * 32 + 32) + 64 * 64 + 3 * 64 * 128 + 2 * 64;
  const int64_t lm = 256 * 64 + 2 * layer + 64 + 256 * 64;
  const int64_t block = 4 * 16 + 16 * 48 + 48 + 16 * 16 + 16 + 16 * 32 + 32 + 32 * 16 + 16;
  const int64_t merger = 2 * 16 + 64 * 64 + 64 + 64 * 64 + 64;
  EXPECT_EQ(weights.parameter_count(), lm + 1176 * 16 + 2 * block + merger);
  std::set<std::string> names;
  for (const auto& t : g.initializer()) names.insert(t.name());
  for (const char* name : {"embed_tokens.weight", "layers.1.self_attn.k_proj.bias", "norm.weight",
                           "lm_head.weight", "visual.patch_embed.proj.weight",
                           "visual.blocks.1.attn.qkv.weight", "visual.merger.mlp.2.bias"})
    EXPECT_TRUE(names.count(name)) << name;
}

TEST(Qwen2VlGraphTest, HfDefaultsCountButDoNotRun) {
  const Architecture& arch = FindArchitecture("qwen2_vl", "test");
  const core::Error no_section = CatchError([&] {
    arch.input_hints(HfConfig(json{{"model_type", "qwen2_vl"}}, "test"));
  });
  EXPECT_EQ(no_section.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(no_section.what(), HasSubstr("mrope_section"));
  json widths = TinyConfig(14);
  widths["vision_config"]["hidden_size"] = 48;
  const core::Error mismatch = CatchError([&] { arch.input_hints(HfConfig(widths, "test")); });
  EXPECT_EQ(mismatch.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(mismatch.what(), HasSubstr("vision_config.hidden_size 48"));
}

TEST(Qwen2VlGraphTest, RefusesInconsistentConfigs) {
  auto build = [](const json& c) {
    return CatchError([&] {
      SeededRandomWeights weights(1, 0.02);
      onnx::GraphProto graph;
      GraphBuilder g(&graph, &weights);
      BuildQwen2Vl(HfConfig(c, "test"), g, {1, 4, 4});
    });
  };
  json sections = TinyConfig(2);
  sections["rope_scaling"]["mrope_section"] = {2, 3, 4};  // 9 frequencies; head size 16 has 8
  EXPECT_EQ(build(sections).kind(), ErrorKind::kCorrupt);
  json heads = TinyConfig(2);
  heads["vision_config"]["num_heads"] = 8;  // vision head size 2: no room for 2-D rotary
  EXPECT_EQ(build(heads).kind(), ErrorKind::kUnsupported);
  json dynamic = TinyConfig(2);
  dynamic["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}, {"mrope_section", {2, 3, 3}}};
  EXPECT_EQ(build(dynamic).kind(), ErrorKind::kUnsupported);
  const core::Error grid = CatchError([&] {
    SeededRandomWeights weights(1, 0.02);
    onnx::GraphProto graph;
    GraphBuilder g(&graph, &weights);
    BuildQwen2Vl(HfConfig(TinyConfig(2), "test"), g, {1, 3, 4});  // 3 rows: not 2 x 2 blocks
  });
  EXPECT_EQ(grid.kind(), ErrorKind::kInvalidArgument);
}

}  // namespace qwen2_vl_graph_test
}  // namespace ipfs_accel::models
