// Tests for the CLAP graph (clap_builder, htsat_builder) that need no runtime: parameter counts
// against Hugging Face's (default ClapConfig, the catalog entry, a module-by-module formula for the
// fused audio tower), HF parameter names against the fixture's checkpoint, inputs and outputs,
// where shifted windows and the resize appear, the configs refused, and the hints the harness gets.
// Runs against transformers' outputs and the shifted-window properties are in
// tests/harness/clap_verify_test.cpp.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
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
#include "ipfs_accel/models/safetensors.h"
#include "models/architectures.h"
#include "models/clap_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/op_counts.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace clap_graph_test {

namespace fs = std::filesystem;
using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::CountOps;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/clap";
constexpr int64_t kHfDefaultParameters = 153492890;  // ClapModel(ClapConfig()), transformers 5.17

json FixtureConfig() {
  std::ifstream in(kFixture / "config.json");
  return json::parse(in);
}

struct Built {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

// The graph of `config` with shape-only weights (structure and count), time axis as registered
// unless given.
Built Build(const json& config, const Dim* time = nullptr) {
  Built b;
  b.proto.set_ir_version(onnx::IR_VERSION);
  auto* opset = b.proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  ShapeOnlyWeights weights;
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  const HfConfig c(config, "test-config");
  BuildClap(c, builder, time ? *time : Dim{ClapInputFrames(ReadClapShape(c))});
  b.parameters = weights.parameter_count();
  return b;
}

std::set<std::string> WeightNames(const onnx::GraphProto& g) {
  std::set<std::string> names;
  for (const auto& t : g.initializer())
    if (t.name().rfind("const_", 0) != 0 &&
        t.name().find("shifted_window_mask") == std::string::npos)
      names.insert(t.name());
  return names;
}

std::set<std::string> MaskNames(const onnx::GraphProto& g) {
  std::set<std::string> names;
  for (const auto& t : g.initializer())
    if (t.name().find("shifted_window_mask") != std::string::npos) names.insert(t.name());
  return names;
}

std::vector<int64_t> Dims(const onnx::ValueInfoProto& v) {
  std::vector<int64_t> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_value() ? d.dim_value() : -1);
  return out;
}

const onnx::ValueInfoProto& Input(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& v : g.input())
    if (v.name() == name) return v;
  ADD_FAILURE() << "no input " << name;
  return g.input(0);
}

// ----- Parameter counts -----------------------------------------------------------------------

TEST(ClapCountTest, DefaultConfigMatchesHf) {
  ipfs_accel::testing::TempDir dir;
  std::ofstream(dir.File("config.json")) << R"({"model_type": "clap"})";
  EXPECT_EQ(CountParameters(dir.path().string()), kHfDefaultParameters);
}

TEST(ClapCountTest, CatalogEntryIsTheDefaultSize) {
  const auto entry = FindInCatalog("clap");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->name, "clap-htsat-unfused");
  EXPECT_EQ(entry->architecture, "clap");
  EXPECT_EQ(entry->modality, "multimodal");
  EXPECT_EQ(entry->hf_id, "laion/clap-htsat-unfused");
  EXPECT_EQ(CountParameters("clap-htsat-unfused"), kHfDefaultParameters);
}

TEST(ClapCountTest, FixtureMatchesItsCheckpoint) {
  std::ifstream in(kFixture / "fixture.json");
  EXPECT_EQ(CountParameters(kFixture.string()), json::parse(in).at("params").get<int64_t>());
}

// The fused checkpoints add mel_conv2d and the AFF block (two branches of conv-BN-ReLU-conv-BN;
// the BatchNorms' running statistics are buffers, not parameters).
TEST(ClapCountTest, FusionAddsItsModules) {
  const int64_t c = 96, inner = 96 / 4;
  const int64_t mel_conv = c * 1 * 4 * 12 + c;
  const int64_t branch = (c * inner + inner) + 2 * inner + (inner * c + c) + 2 * c;
  const Built fused = Build({{"model_type", "clap"}, {"audio_config", {{"enable_fusion", true}}}});
  EXPECT_EQ(fused.parameters, kHfDefaultParameters + mel_conv + 2 * branch);
}

// ----- Names, inputs, outputs -----------------------------------------------------------------

TEST(ClapGraphTest, WeightNamesAreTheCheckpointsParameters) {
  const Built b = Build(FixtureConfig());
  const auto file = SafetensorsFile::Open((kFixture / "model.safetensors").string());
  std::set<std::string> expected;
  for (const auto& [name, entry] : file->entries()) {
    // Buffers the graph recomputes (position ids, token types, relative position indices).
    const bool recomputed = name.find("position_ids") != std::string::npos ||
                            name.find("token_type_ids") != std::string::npos ||
                            name.find("relative_position_index") != std::string::npos ||
                            name.find("num_batches_tracked") != std::string::npos;
    if (!recomputed) expected.insert(name);
  }
  EXPECT_EQ(WeightNames(b.proto.graph()), expected);
}

TEST(ClapGraphTest, InputsAndOutputs) {
  const Built b = Build(FixtureConfig());
  const auto& g = b.proto.graph();
  std::vector<std::string> inputs, outputs;
  for (const auto& v : g.input()) inputs.push_back(v.name());
  for (const auto& v : g.output()) outputs.push_back(v.name());
  EXPECT_THAT(inputs, ::testing::ElementsAre("input_ids", "attention_mask", "input_features"));
  EXPECT_THAT(outputs, ::testing::ElementsAre("logits_per_audio", "logits_per_text", "text_embeds",
                                              "audio_embeds"));
  // [batch, 1, spec_size, num_mel_bins]: the fixture's 64 frames of 16 bins.
  EXPECT_EQ(Dims(Input(g, "input_features")), (std::vector<int64_t>{-1, 1, 64, 16}));
  EXPECT_EQ(Dims(g.output(2)), (std::vector<int64_t>{-1, 32}));
}

TEST(ClapGraphTest, FusionTakesFourChannelsAndIsLonger) {
  json config = FixtureConfig();
  config["audio_config"]["enable_fusion"] = true;
  const Built b = Build(config);
  const auto& g = b.proto.graph();
  EXPECT_EQ(Dims(Input(g, "input_features")), (std::vector<int64_t>{-1, 4, 64, 16}));
  EXPECT_EQ(Input(g, "is_longer").type().tensor_type().elem_type(), onnx::TensorProto::BOOL);
  const std::set<std::string> names = WeightNames(g);
  const std::string p = "audio_model.audio_encoder.patch_embed.";
  for (const std::string& n :
       {p + "mel_conv2d.weight", p + "fusion_model.local_att.0.weight",
        p + "fusion_model.local_att.4.running_var", p + "fusion_model.global_att.1.weight",
        p + "fusion_model.global_att.5.bias"})
    EXPECT_TRUE(names.count(n)) << n;
}

// The graph passes ONNX's checker and strict shape inference, as LoadModel requires.
TEST(ClapGraphTest, ValidOnnxPlainAndFused) {
  for (bool fusion : {false, true}) {
    SCOPED_TRACE(fusion);
    json config = FixtureConfig();
    config["audio_config"]["enable_fusion"] = fusion;
    config["audio_config"]["depths"] = {2, 2};
    onnx::ModelProto proto;
    proto.set_ir_version(onnx::IR_VERSION);
    proto.mutable_graph()->set_name("test");
    auto* opset = proto.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOpsetVersion);
    SeededRandomWeights weights(3, 0.02);
    GraphBuilder builder(proto.mutable_graph(), &weights);
    BuildClap(HfConfig(config, "test-config"), builder, Dim{int64_t{64}});
    EXPECT_NO_THROW({
      onnx::checker::check_model(proto);
      onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(true, 1, false));
    });
  }
}

// ----- Shifted windows and the resize ---------------------------------------------------------

// Every other block of a stage is shifted, except in a stage no larger than one window
// (set_shift_and_window_size): the default's last stage is 8x8 with window 8.
TEST(ClapGraphTest, ShiftedBlocksWhereHfShifts) {
  const Built defaults = Build({{"model_type", "clap"}});
  const std::string p = "audio_model.audio_encoder.layers.";
  EXPECT_EQ(MaskNames(defaults.proto.graph()),
            (std::set<std::string>{
                p + "0.blocks.1.shifted_window_mask", p + "1.blocks.1.shifted_window_mask",
                p + "2.blocks.1.shifted_window_mask", p + "2.blocks.3.shifted_window_mask",
                p + "2.blocks.5.shifted_window_mask"}));
  // The fixture's depths [1, 1] have no second block: nothing in it is shifted, which is why
  // tests/harness/clap_verify_test.cpp checks shifted blocks on their own.
  EXPECT_TRUE(MaskNames(Build(FixtureConfig()).proto.graph()).empty());
}

TEST(ClapGraphTest, MaskSeparatesTheWrappedRegions) {
  // Fixture stage 0 with two blocks: 16x16 patches, window 4, shift 2 -> 16 windows of 16 tokens.
  json config = FixtureConfig();
  config["audio_config"]["depths"] = {2, 1};
  const Built b = Build(config);
  const onnx::TensorProto* mask = nullptr;
  for (const auto& t : b.proto.graph().initializer())
    if (t.name().find("layers.0.blocks.1.shifted_window_mask") != std::string::npos) mask = &t;
  ASSERT_NE(mask, nullptr);
  ASSERT_EQ(std::vector<int64_t>(mask->dims().begin(), mask->dims().end()),
            (std::vector<int64_t>{16, 1, 16, 16}));
  const auto* v = reinterpret_cast<const float*>(mask->raw_data().data());
  auto at = [&](int w, int i, int j) { return v[(w * 16 + i) * 16 + j]; };
  // Window 0 lies inside one region: nothing masked.
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) ASSERT_EQ(at(0, i, j), 0.0f);
  // The last window (bottom right) mixes four regions: rows 0-1 / 2-3 and columns 0-1 / 2-3 of
  // the window. Token 0 (row 0, col 0) and token 15 (row 3, col 3) differ; 0 and 5 share one.
  EXPECT_EQ(at(15, 0, 15), -100.0f);
  EXPECT_EQ(at(15, 0, 2), -100.0f);
  EXPECT_EQ(at(15, 0, 8), -100.0f);
  EXPECT_EQ(at(15, 0, 5), 0.0f);
  EXPECT_EQ(at(15, 15, 10), 0.0f);
}

TEST(ClapGraphTest, ResizeOnlyWhenTheSpectrogramIsShort) {
  // The fixture: 64 frames, folded at spec_size * freq_ratio = 256, so bicubic resize first.
  EXPECT_EQ(CountOps(Build(FixtureConfig()).proto.graph(), "Resize"), 1);
  const Dim full{int64_t{256}};
  EXPECT_EQ(CountOps(Build(FixtureConfig(), &full).proto.graph(), "Resize"), 0);
  const Dim symbolic{std::string("time")};
  EXPECT_EQ(CountOps(Build(FixtureConfig(), &symbolic).proto.graph(), "Resize"), 1);
}

// ----- Configs refused ------------------------------------------------------------------------

TEST(ClapGraphTest, RefusesWhatHfCannotRun) {
  struct Case {
    const char* key;
    json value;
    ErrorKind kind;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"fusion_type", "channel_map", ErrorKind::kUnsupported, "fusion_type=channel_map"},
      {"flatten_patch_embeds", false, ErrorKind::kUnsupported, "flatten_patch_embeds"},
      {"window_size", 16, ErrorKind::kUnsupported, "window_size 16"},
      {"hidden_size", 48, ErrorKind::kCorrupt, "hidden_size 48"},
      {"num_mel_bins", 20, ErrorKind::kUnsupported, "spec_size 64"},
      {"num_attention_heads", json::array({3, 4}), ErrorKind::kCorrupt, "heads"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    json config = FixtureConfig();
    config["audio_config"][c.key] = c.value;
    if (std::string(c.key) == "fusion_type") config["audio_config"]["enable_fusion"] = true;
    const core::Error e = CatchError([&] { Build(config); });
    EXPECT_EQ(e.kind(), c.kind);
    EXPECT_THAT(e.what(), HasSubstr(c.says));
    EXPECT_THAT(e.what(), HasSubstr("audio_config"));
  }
  json relative = FixtureConfig();
  relative["text_config"]["position_embedding_type"] = "relative_key";
  const core::Error e = CatchError([&] { Build(relative); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("text_config"));
}

TEST(ClapGraphTest, RefusesFramesHfRejects) {
  const Dim too_long{int64_t{257}};  // more than spec_size * freq_ratio
  EXPECT_EQ(CatchError([&] { Build(FixtureConfig(), &too_long); }).kind(), ErrorKind::kUnsupported);
}

// ----- What the harness gets ------------------------------------------------------------------

TEST(ClapGraphTest, HintsAndRoles) {
  const Architecture& arch = FindArchitecture("clap", "test");
  EXPECT_EQ(arch.modality, "multimodal");
  const HfConfig fixture(FixtureConfig(), "fixture");
  const auto hints = arch.input_hints(fixture);
  EXPECT_EQ(hints.at("input_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(hints.at("input_ids").high, 1000);
  EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  EXPECT_EQ(hints.count("is_longer"), 0u);
  const DimRoles roles = arch.dim_roles(HfConfig({{"model_type", "clap"}}, "defaults"));
  EXPECT_EQ(roles.batch, "batch");
  EXPECT_EQ(roles.sequence, "sequence");
  EXPECT_EQ(roles.max_sequence, 512);  // 514 positions past the padding row
  json fused = FixtureConfig();
  fused["audio_config"]["enable_fusion"] = true;
  const auto fused_hints = arch.input_hints(HfConfig(fused, "fused"));
  EXPECT_EQ(fused_hints.at("is_longer").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(fused_hints.at("is_longer").high, 2);
}

}  // namespace clap_graph_test
}  // namespace ipfs_accel::models
