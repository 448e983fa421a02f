// Tests for Wav2Vec2Model and HubertModel built by BuildWav2Vec2, without running them: parameter
// counts against Hugging Face's (catalog_truth.json at the config classes' defaults, a
// module-by-module formula for every option and for the catalog's checkpoints), parameter names
// against the fixture transformers saved, inputs and outputs per option, the frame arithmetic of
// the conv stack, and the config values each refuses. Numerical checks are in
// tests/harness/wav2vec2_verify_test.cpp.

#include <cstdint>
#include <fstream>
#include <map>
#include <random>
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
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/wav2vec2_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/op_counts.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace wav2vec2_graph_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::CountOps;
using ipfs_accel::testing::InputNames;
using ipfs_accel::testing::OutputNames;
using ipfs_accel::testing::TempDir;
using ipfs_accel::testing::WeightInitializerNames;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

const std::string kFixture = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/wav2vec2";

struct Built {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

// The graph of `config` with shape-only weights: structure and parameter count.
Built Build(const json& config) {
  Built b;
  ShapeOnlyWeights weights;
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  const HfConfig c(config, "test-config");
  BuildWav2Vec2(c, FindWav2Vec2Variant(c.ModelType()), builder);
  b.parameters = weights.parameter_count();
  return b;
}

// Seeded weights, then ONNX's checker and strict shape inference, as LoadModel does.
void ExpectValidOnnx(const json& config) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  SeededRandomWeights weights(3, 0.02);
  GraphBuilder builder(proto.mutable_graph(), &weights);
  const HfConfig c(config, "test-config");
  BuildWav2Vec2(c, FindWav2Vec2Variant(c.ModelType()), builder);
  EXPECT_NO_THROW({
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  }) << config.dump();
}

// A small config with every size spelled out.
json Tiny(const std::string& model_type) {
  return {{"model_type", model_type},     {"hidden_size", 16},
          {"num_hidden_layers", 2},       {"num_attention_heads", 2},
          {"intermediate_size", 24},      {"conv_dim", {16, 16, 12}},
          {"conv_kernel", {10, 3, 3}},    {"conv_stride", {5, 2, 2}},
          {"num_conv_pos_embeddings", 8}, {"num_conv_pos_embedding_groups", 2}};
}

// ----- Parameter counts ------------------------------------------------------------------------

// The sizes of a config, for counting as PyTorch holds the parameters.
struct Sizes {
  std::vector<int64_t> conv_dim = {512, 512, 512, 512, 512, 512, 512};
  std::vector<int64_t> conv_kernel = {10, 3, 3, 3, 3, 2, 2};
  bool conv_bias = false, layer_norm_convs = false, projection_norm = true, masked = true;
  int64_t hidden = 768, layers = 12, intermediate = 3072, pos_kernel = 128, pos_groups = 16;
  bool adapter = false;
  int64_t output_hidden = 768, adapter_kernel = 3, adapter_layers = 3;
  int64_t attn_adapter = 0;
};

int64_t Linear(int64_t in, int64_t out) { return in * out + out; }

int64_t ExpectedParameters(const Sizes& s) {
  int64_t n = 0;
  for (size_t i = 0; i < s.conv_dim.size(); ++i) {
    const int64_t in = i == 0 ? 1 : s.conv_dim[i - 1], out = s.conv_dim[i];
    n += in * out * s.conv_kernel[i] + (s.conv_bias ? out : 0);
    if (s.layer_norm_convs || i == 0) n += 2 * out;  // LayerNorm each layer, or GroupNorm first
  }
  const int64_t c = s.conv_dim.back(), h = s.hidden;
  n += (s.projection_norm ? 2 * c : 0) + Linear(c, h);
  n += s.masked ? h : 0;
  n += s.pos_kernel + h * (h / s.pos_groups) * s.pos_kernel + h;  // weight_g, weight_v, bias
  n += 2 * h;                                                     // encoder.layer_norm
  int64_t layer =
      4 * Linear(h, h) + 2 * h + Linear(h, s.intermediate) + Linear(s.intermediate, h) + 2 * h;
  if (s.attn_adapter > 0) layer += 2 * h + Linear(h, s.attn_adapter) + Linear(s.attn_adapter, h);
  n += s.layers * layer;
  if (s.adapter) {
    const int64_t o = s.output_hidden;
    if (o != h) n += Linear(h, o) + 2 * o;
    n += s.adapter_layers * (o * 2 * o * s.adapter_kernel + 2 * o);
  }
  return n;
}

json CatalogTruth() {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  EXPECT_TRUE(in.good()) << "catalog_truth.json is missing";
  return in.good() ? json::parse(in) : json::object();
}

TEST(Wav2Vec2CountTest, HfDefaultConfigsMatchCatalogTruth) {
  const json truth = CatalogTruth();
  for (const std::string type : {"wav2vec2", "hubert"}) {
    SCOPED_TRACE(type);
    ASSERT_TRUE(truth["models"].contains(type));
    EXPECT_EQ(truth["models"][type]["base_params"].get<int64_t>(), 94371712);
    // A config.json naming only model_type takes every size from the config class's defaults,
    // counted from the folder as the CLI counts it.
    TempDir dir;
    std::ofstream(dir.File("config.json")) << json{{"model_type", type}}.dump();
    EXPECT_EQ(CountParameters(dir.path().string()), 94371712);
  }
  EXPECT_EQ(ExpectedParameters({}), 94371712);
}

TEST(Wav2Vec2CountTest, CatalogEntries) {
  EXPECT_EQ(CountParameters("wav2vec2-base"), 94371712);
  EXPECT_EQ(CountParameters("wav2vec2"), 94371712);
  EXPECT_EQ(CountParameters("hubert-base-ls960"), 94371712);
  EXPECT_EQ(CountParameters("hubert"), 94371712);
  Sizes large;
  large.conv_bias = true;
  large.layer_norm_convs = true;
  large.hidden = 1024;
  large.layers = 24;
  large.intermediate = 4096;
  EXPECT_EQ(ExpectedParameters(large), 315438720);
  EXPECT_EQ(CountParameters("wav2vec2-large-lv60"), 315438720);
  for (const std::string name : {"wav2vec2-base", "hubert-base-ls960", "wav2vec2-large-lv60"}) {
    const auto entry = FindInCatalog(name);
    ASSERT_TRUE(entry.has_value()) << name;
    EXPECT_EQ(entry->modality, "audio");
  }
}

TEST(Wav2Vec2CountTest, FixtureCountsAsTransformersSaved) {
  std::ifstream in(kFixture + "/fixture.json");
  const int64_t params = json::parse(in).at("params").get<int64_t>();
  EXPECT_EQ(CountParameters(kFixture), params);
  Sizes s;
  s.conv_dim = {32, 32, 32};
  s.conv_kernel = {10, 3, 3};
  s.hidden = 64;
  s.layers = 2;
  s.intermediate = 128;
  s.pos_kernel = 16;
  s.pos_groups = 4;
  EXPECT_EQ(ExpectedParameters(s), params);
}

TEST(Wav2Vec2CountTest, EveryOptionCountsAsHfBuildsIt) {
  struct Case {
    std::string type;
    json changes;
    Sizes sizes;
  };
  Sizes base;
  base.conv_dim = {16, 16, 12};
  base.conv_kernel = {10, 3, 3};
  base.hidden = 16;
  base.layers = 2;
  base.intermediate = 24;
  base.pos_kernel = 8;
  base.pos_groups = 2;
  std::vector<Case> cases;
  cases.push_back({"wav2vec2", json::object(), base});
  Sizes s = base;
  s.conv_bias = true;
  s.layer_norm_convs = true;
  cases.push_back({"wav2vec2", {{"conv_bias", true}, {"feat_extract_norm", "layer"}}, s});
  s = base;
  s.masked = false;
  cases.push_back({"wav2vec2", {{"mask_time_prob", 0.0}}, s});
  s = base;  // either probability above zero makes the masking vector
  cases.push_back({"wav2vec2", {{"mask_time_prob", 0.0}, {"mask_feature_prob", 0.1}}, s});
  s = base;
  s.projection_norm = false;
  cases.push_back({"hubert", {{"feat_proj_layer_norm", false}}, s});
  // Wav2Vec2's projection always has its LayerNorm; HuBERT's adapter does not exist.
  cases.push_back({"wav2vec2", {{"feat_proj_layer_norm", false}}, base});
  cases.push_back({"hubert", {{"add_adapter", true}}, base});
  s = base;
  s.adapter = true;
  s.output_hidden = 8;
  s.adapter_layers = 2;
  cases.push_back({"wav2vec2",
                   {{"add_adapter", true}, {"output_hidden_size", 8}, {"num_adapter_layers", 2}},
                   s});
  s = base;
  s.adapter = true;
  s.output_hidden = 16;
  cases.push_back({"wav2vec2", {{"add_adapter", true}}, s});  // no proj when sizes agree
  s = base;
  s.attn_adapter = 4;
  cases.push_back({"wav2vec2", {{"do_stable_layer_norm", true}, {"adapter_attn_dim", 4}}, s});
  // The attention adapter lives only in the pre-norm layer.
  cases.push_back({"wav2vec2", {{"adapter_attn_dim", 4}}, base});
  cases.push_back({"wav2vec2", {{"do_stable_layer_norm", true}}, base});
  for (const auto& c : cases) {
    json config = Tiny(c.type);
    config.update(c.changes);
    SCOPED_TRACE(config.dump());
    EXPECT_EQ(Build(config).parameters, ExpectedParameters(c.sizes));
  }
}

// ----- Names -----------------------------------------------------------------------------------

TEST(Wav2Vec2NamesTest, GraphAsksForExactlyTheFixturesParameters) {
  const auto file = SafetensorsFile::Open(kFixture + "/model.safetensors");
  std::set<std::string> saved;
  for (const auto& [name, entry] : file->entries()) saved.insert(name);
  const Built b = Build(HfConfig::Load(kFixture).json());
  EXPECT_EQ(WeightInitializerNames(b.proto.graph()), saved);
}

TEST(Wav2Vec2NamesTest, LayerNormConvsAndAdapters) {
  json config = Tiny("wav2vec2");
  config.update({{"feat_extract_norm", "layer"},
                 {"conv_bias", true},
                 {"do_stable_layer_norm", true},
                 {"adapter_attn_dim", 4},
                 {"add_adapter", true},
                 {"output_hidden_size", 8},
                 {"num_adapter_layers", 1}});
  const std::set<std::string> names = WeightInitializerNames(Build(config).proto.graph());
  for (const std::string expected : {
           "feature_extractor.conv_layers.2.conv.bias",
           "feature_extractor.conv_layers.2.layer_norm.weight",
           "encoder.layers.1.adapter_layer.norm.weight",
           "encoder.layers.1.adapter_layer.linear_1.weight",
           "encoder.layers.1.adapter_layer.linear_2.bias",
           "adapter.proj.weight",
           "adapter.proj_layer_norm.bias",
           "adapter.layers.0.conv.weight",
           "adapter.layers.0.conv.bias",
       })
    EXPECT_TRUE(names.count(expected)) << expected;
  // HuBERT without feat_proj_layer_norm has no projection LayerNorm.
  json hubert = Tiny("hubert");
  hubert["feat_proj_layer_norm"] = false;
  const std::set<std::string> hubert_names = WeightInitializerNames(Build(hubert).proto.graph());
  EXPECT_FALSE(hubert_names.count("feature_projection.layer_norm.weight"));
  EXPECT_TRUE(hubert_names.count("feature_projection.projection.weight"));
  EXPECT_TRUE(hubert_names.count("feature_extractor.conv_layers.0.layer_norm.weight"));
  EXPECT_FALSE(hubert_names.count("feature_extractor.conv_layers.1.layer_norm.weight"));
}

// ----- Inputs, outputs, structure ----------------------------------------------------------------

TEST(Wav2Vec2IoTest, InputsAndOutputsPerOption) {
  const Built group = Build(Tiny("wav2vec2"));
  EXPECT_THAT(InputNames(group.proto.graph()), ElementsAre("input_values"));
  EXPECT_THAT(OutputNames(group.proto.graph()),
              ElementsAre("last_hidden_state", "extract_features"));
  json layer = Tiny("wav2vec2");
  layer["feat_extract_norm"] = "layer";
  EXPECT_THAT(InputNames(Build(layer).proto.graph()),
              ElementsAre("input_values", "attention_mask"));
  // HubertModel returns a BaseModelOutput: no extract_features.
  EXPECT_THAT(OutputNames(Build(Tiny("hubert")).proto.graph()), ElementsAre("last_hidden_state"));
  const auto& in = group.proto.graph().input(0).type().tensor_type();
  EXPECT_EQ(in.elem_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(in.shape().dim_size(), 2);
  EXPECT_EQ(in.shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(in.shape().dim(1).dim_param(), "samples");
}

TEST(Wav2Vec2IoTest, NormsPerFeatExtractNorm) {
  // "group": one GroupNorm (InstanceNormalization) on the first conv; "layer": a LayerNorm on
  // every conv. The rest: projection norm, encoder norm, two per layer.
  const Built group = Build(Tiny("wav2vec2"));
  EXPECT_EQ(CountOps(group.proto.graph(), "InstanceNormalization"), 1);
  EXPECT_EQ(CountOps(group.proto.graph(), "LayerNormalization"), 1 + 1 + 2 * 2);
  json layer = Tiny("wav2vec2");
  layer["feat_extract_norm"] = "layer";
  const Built l = Build(layer);
  EXPECT_EQ(CountOps(l.proto.graph(), "InstanceNormalization"), 0);
  EXPECT_EQ(CountOps(l.proto.graph(), "LayerNormalization"), 3 + 1 + 1 + 2 * 2);
}

TEST(Wav2Vec2IoTest, EveryOptionPassesOnnxChecks) {
  std::vector<json> configs = {Tiny("wav2vec2"), Tiny("hubert")};
  json stable = Tiny("wav2vec2");
  stable.update({{"feat_extract_norm", "layer"},
                 {"do_stable_layer_norm", true},
                 {"conv_bias", true},
                 {"num_conv_pos_embeddings", 7},
                 {"adapter_attn_dim", 4},
                 {"add_adapter", true},
                 {"output_hidden_size", 8}});
  configs.push_back(stable);
  json hubert = Tiny("hubert");
  hubert.update({{"feat_proj_layer_norm", false}, {"feat_extract_activation", "relu"}});
  configs.push_back(hubert);
  for (const auto& c : configs) ExpectValidOnnx(c);
  ExpectValidOnnx(HfConfig::Load(kFixture).json());
}

// ----- Frames ------------------------------------------------------------------------------------

TEST(Wav2Vec2FramesTest, StandardStack) {
  const Wav2Vec2Shape s = ReadWav2Vec2Shape(HfConfig(json{{"model_type", "wav2vec2"}}, "t"),
                                            FindWav2Vec2Variant("wav2vec2"));
  EXPECT_EQ(Wav2Vec2MinSamples(s), 400);  // 25 ms at 16 kHz
  EXPECT_EQ(Wav2Vec2Frames(s, 399), 0);
  EXPECT_EQ(Wav2Vec2Frames(s, 400), 1);
  EXPECT_EQ(Wav2Vec2Frames(s, 16000), 49);  // one second: 20 ms frames
  EXPECT_EQ(Wav2Vec2Frames(s, 1600), 4);
}

TEST(Wav2Vec2FramesTest, MinSamplesIsTheShortestInputWithAFrame) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 50; ++trial) {
    const int layers = 1 + static_cast<int>(rng() % 5);
    std::vector<int64_t> dim, kernel, stride;
    for (int i = 0; i < layers; ++i) {
      dim.push_back(4);
      kernel.push_back(1 + static_cast<int64_t>(rng() % 6));
      stride.push_back(1 + static_cast<int64_t>(rng() % 4));
    }
    json config = {{"model_type", "wav2vec2"},
                   {"conv_dim", dim},
                   {"conv_kernel", kernel},
                   {"conv_stride", stride}};
    const Wav2Vec2Shape s =
        ReadWav2Vec2Shape(HfConfig(config, "t"), FindWav2Vec2Variant("wav2vec2"));
    const int64_t min = Wav2Vec2MinSamples(s);
    SCOPED_TRACE(config.dump());
    EXPECT_EQ(Wav2Vec2Frames(s, min), 1);
    EXPECT_LE(Wav2Vec2Frames(s, min - 1), 0);
  }
}

// ----- Config values
// ------------------------------------------------------------------------------

TEST(Wav2Vec2ConfigTest, RefusedValuesNameThemselves) {
  json norm = Tiny("wav2vec2");
  norm["feat_extract_norm"] = "batch";
  auto e = CatchError([&] { Build(norm); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("feat_extract_norm"));

  json lists = Tiny("wav2vec2");
  lists["conv_stride"] = {5, 2};
  e = CatchError([&] { Build(lists); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("conv_stride"));

  json groups = Tiny("wav2vec2");
  groups["num_conv_pos_embedding_groups"] = 3;
  e = CatchError([&] { Build(groups); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("num_conv_pos_embedding_groups"));

  json heads = Tiny("hubert");
  heads["num_attention_heads"] = 3;
  EXPECT_EQ(CatchError([&] { Build(heads); }).kind(), ErrorKind::kCorrupt);

  json batch_norm = Tiny("hubert");
  batch_norm["conv_pos_batch_norm"] = true;
  e = CatchError([&] { Build(batch_norm); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("conv_pos_batch_norm"));

  json activation = Tiny("wav2vec2");
  activation["feat_extract_activation"] = "mish";
  EXPECT_EQ(CatchError([&] { Build(activation); }).kind(), ErrorKind::kUnsupported);

  json bad_list = Tiny("wav2vec2");
  bad_list["conv_dim"] = {16, 0, 12};
  EXPECT_EQ(CatchError([&] { Build(bad_list); }).kind(), ErrorKind::kCorrupt);
}

// ----- What the harness is told
// --------------------------------------------------------------------

TEST(Wav2Vec2HintsTest, RolesHintsAndPrefixes) {
  for (const std::string type : {"wav2vec2", "hubert"}) {
    const Architecture& arch = FindArchitecture(type, "test");
    EXPECT_EQ(arch.modality, "audio");
    EXPECT_THAT(arch.checkpoint_prefixes, ElementsAre(type + "."));
    const HfConfig group(Tiny(type), "t");
    const DimRoles roles = arch.dim_roles(group);
    EXPECT_EQ(roles.batch, "batch");
    EXPECT_EQ(roles.sequence, "samples");
    auto hints = arch.input_hints(group);
    EXPECT_EQ(hints.size(), 1u);
    EXPECT_EQ(hints.at("input_values").kind, InputHint::Kind::kAny);
    json layer = Tiny(type);
    layer["feat_extract_norm"] = "layer";
    hints = arch.input_hints(HfConfig(layer, "t"));
    ASSERT_EQ(hints.count("attention_mask"), 1u);
    EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  }
}

// ----- Templates of other speech encoders (wav2vec2 builder pieces)
// -------------------------------

// The template's tiny graph with shape-only weights.
Built BuildTemplate(const std::string& model_type) {
  const ArchitectureTemplate* t = FindTemplate(model_type);
  EXPECT_NE(t, nullptr) << model_type;
  Built b;
  ShapeOnlyWeights weights;
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  BuildWav2Vec2(ApplyTemplate(*t, TinyConfig(*t)), FindWav2Vec2Variant("wav2vec2"), builder);
  b.parameters = weights.parameter_count();
  return b;
}

TEST(Wav2Vec2TemplatesTest, WavLMGatesOneBucketedBiasInEveryLayer) {
  const std::set<std::string> names = WeightInitializerNames(BuildTemplate("wavlm").proto.graph());
  EXPECT_TRUE(names.count("encoder.layers.0.attention.rel_attn_embed.weight"));
  EXPECT_FALSE(names.count("encoder.layers.1.attention.rel_attn_embed.weight"));
  for (const char* layer : {"0", "1"}) {
    const std::string p = std::string("encoder.layers.") + layer + ".attention.";
    EXPECT_TRUE(names.count(p + "gru_rel_pos_const")) << layer;
    EXPECT_TRUE(names.count(p + "gru_rel_pos_linear.weight")) << layer;
  }
}

TEST(Wav2Vec2TemplatesTest, Data2VecAudioStacksPlainPositionalConvs) {
  const Built b = BuildTemplate("data2vec-audio");
  const std::set<std::string> names = WeightInitializerNames(b.proto.graph());
  EXPECT_TRUE(names.count("encoder.pos_conv_embed.layers.1.conv.weight"));
  EXPECT_FALSE(names.count("encoder.pos_conv_embed.layers.2.conv.weight"));  // tiny: 2 layers
  EXPECT_FALSE(names.count("encoder.pos_conv_embed.conv.bias"));
  // Every feature conv has its LayerNorm, so the feature extractor's mask is an input.
  EXPECT_TRUE(names.count("feature_extractor.conv_layers.2.layer_norm.weight"));
  EXPECT_THAT(InputNames(b.proto.graph()), ElementsAre("input_values", "attention_mask"));
}

TEST(Wav2Vec2TemplatesTest, ConformerCountsItsBatchNormButNotItsStatistics) {
  const Built b = BuildTemplate("wav2vec2-conformer");
  const std::set<std::string> names = WeightInitializerNames(b.proto.graph());
  for (const char* name :
       {"encoder.layers.0.self_attn.linear_pos.weight", "encoder.layers.0.self_attn.pos_bias_u",
        "encoder.layers.1.conv_module.depthwise_conv.weight",
        "encoder.layers.1.conv_module.batch_norm.running_var",
        "encoder.layers.1.ffn2.output_dense.bias", "encoder.pos_conv_embed.conv.bias"})
    EXPECT_TRUE(names.count(name)) << name;
  EXPECT_EQ(CountOps(b.proto.graph(), "BatchNormalization"), 2);
  // The positional conv's weights are counted but unused, as in Wav2Vec2ConformerEncoder.
  EXPECT_EQ(CountOps(b.proto.graph(), "ReduceL2"), 0);
}

TEST(Wav2Vec2TemplatesTest, SewSqueezesTheEncoderAndReturnsOnlyTheHiddenStates) {
  const Built b = BuildTemplate("sew");
  const std::set<std::string> names = WeightInitializerNames(b.proto.graph());
  EXPECT_TRUE(names.count("layer_norm.weight"));
  EXPECT_TRUE(names.count("encoder.upsample.projection.weight"));
  EXPECT_FALSE(names.count("feature_projection.layer_norm.weight"));
  EXPECT_EQ(CountOps(b.proto.graph(), "AveragePool"), 1);
  EXPECT_THAT(OutputNames(b.proto.graph()), ElementsAre("last_hidden_state"));
}

TEST(Wav2Vec2TemplatesTest, UniSpeechHasNoAdapterEvenWhenAsked) {
  const ArchitectureTemplate& t = *FindTemplate("unispeech");
  json config = TinyConfig(t).json();
  config["add_adapter"] = true;
  ShapeOnlyWeights weights;
  onnx::ModelProto proto;
  GraphBuilder builder(proto.mutable_graph(), &weights);
  BuildWav2Vec2(ApplyTemplate(t, HfConfig(config, "c.json")), FindWav2Vec2Variant("wav2vec2"),
                builder);
  EXPECT_FALSE(WeightInitializerNames(proto.graph()).count("adapter.layers.0.conv.weight"));
  EXPECT_THAT(OutputNames(proto.graph()), ElementsAre("last_hidden_state", "extract_features"));
}

}  // namespace wav2vec2_graph_test
}  // namespace ipfs_accel::models
