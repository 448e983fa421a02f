// Tests for X-CLIP's graph (xclip_builder): the parameter count against Hugging Face's
// (catalog_truth.json at XCLIPConfig's defaults, and the catalog's checkpoint), HF parameter
// names, inputs and outputs, the config options refused, and what the harness gets. The forward
// pass against a double-precision reference is in tests/harness/xclip_test.cpp.

#include <cstdint>
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
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "models/xclip_builder.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace xclip_graph_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::TempDir;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

onnx::ModelProto EmptyModel() {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  return proto;
}

// The registered architecture's graph for `config`; `parameters` gets its count.
onnx::ModelProto Build(const json& config, WeightProvider& weights) {
  onnx::ModelProto proto = EmptyModel();
  GraphBuilder builder(proto.mutable_graph(), &weights);
  const HfConfig c(config, "test-config");
  FindArchitecture(c.ModelType(), c.origin()).build(c, builder);
  return proto;
}

onnx::ModelProto Build(const json& config) {
  ShapeOnlyWeights weights;
  return Build(config, weights);
}

std::set<std::string> WeightNames(const onnx::GraphProto& g) {
  std::set<std::string> names;
  for (const auto& t : g.initializer())
    if (t.name().rfind("const_", 0) != 0) names.insert(t.name());
  return names;
}

std::vector<std::string> Names(const google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>& v) {
  std::vector<std::string> out;
  for (const auto& i : v) out.push_back(i.name());
  return out;
}

// Dimensions of a graph input or output: ints as text, symbols by name.
std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

// Every size spelled out and each distinct, so a size read from the wrong key shows.
json TinyXclip() {
  return {{"model_type", "xclip"},
          {"projection_dim", 8},
          {"prompt_layers", 2},
          {"prompt_num_attention_heads", 2},
          {"text_config",
           {{"hidden_size", 12},
            {"num_hidden_layers", 1},
            {"num_attention_heads", 3},
            {"intermediate_size", 20},
            {"vocab_size", 40},
            {"max_position_embeddings", 10}}},
          {"vision_config",
           {{"hidden_size", 16},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"intermediate_size", 24},
            {"image_size", 8},
            {"patch_size", 4},
            {"num_frames", 3},
            {"mit_hidden_size", 8},
            {"mit_intermediate_size", 14},
            {"mit_num_hidden_layers", 1},
            {"mit_num_attention_heads", 4}}}};
}

// ----- Parameter counts -----------------------------------------------------------------------

int64_t TruthParams(const std::string& model_type) {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  return json::parse(in).at("models").at(model_type).at("base_params").get<int64_t>();
}

TEST(XclipCountTest, HfDefaultConfigMatchesHuggingFace) {
  TempDir dir;
  std::ofstream(dir.File("config.json")) << json{{"model_type", "xclip"}}.dump();
  EXPECT_EQ(CountParameters(dir.path().string()), 196585729);  // XCLIPModel
  EXPECT_EQ(CountParameters(dir.path().string()), TruthParams("xclip"));
}

TEST(XclipCountTest, CatalogEntryCountsAsHuggingFace) {
  EXPECT_EQ(CountParameters("xclip-base-patch32"), 196585729);
  ASSERT_TRUE(FindInCatalog("xclip").has_value());
  EXPECT_EQ(FindInCatalog("xclip")->name, "xclip-base-patch32");
  EXPECT_EQ(FindInCatalog("xclip")->modality, "multimodal");
  EXPECT_EQ(FindInCatalog("xclip")->hf_id, "microsoft/xclip-base-patch32");
}

TEST(XclipCountTest, EachPartCountsAsTheModelingCodeDefinesIt) {
  ShapeOnlyWeights base_weights;
  Build(TinyXclip(), base_weights);
  const int64_t base = base_weights.parameter_count();
  // One more vision layer: CLIP's layer (4 projections, 2 norms, MLP) plus message_fc,
  // message_ln and message_attn, at hidden 16.
  json more = TinyXclip();
  more["vision_config"]["num_hidden_layers"] = 3;
  ShapeOnlyWeights w1;
  Build(more, w1);
  const int64_t attention = 4 * (16 * 16 + 16);
  EXPECT_EQ(w1.parameter_count() - base,
            attention + 2 * 32 + (16 * 24 + 24 + 24 * 16 + 16) + (16 * 16 + 16) + 32 + attention);
  // One more prompt layer at projection_dim 8: q/k/v without bias, proj with, norm1, norm3, MLP 4x.
  more = TinyXclip();
  more["prompt_layers"] = 3;
  ShapeOnlyWeights w2;
  Build(more, w2);
  EXPECT_EQ(w2.parameter_count() - base, 3 * 64 + 72 + 2 * 16 + (8 * 32 + 32 + 32 * 8 + 8));
  // Two more frames: only mit.position_embedding grows.
  more = TinyXclip();
  more["vision_config"]["num_frames"] = 5;
  ShapeOnlyWeights w3;
  Build(more, w3);
  EXPECT_EQ(w3.parameter_count() - base, 2 * 8);
}

// ----- Names, inputs and outputs ----------------------------------------------------------------

TEST(XclipNamesTest, UsesXclipModelStateDictNames) {
  const auto names = WeightNames(Build(TinyXclip()).graph());
  for (const char* name : {"text_model.embeddings.token_embedding.weight",
                           "text_model.embeddings.position_embedding.weight",
                           "text_model.encoder.layers.0.self_attn.q_proj.weight",
                           "text_model.final_layer_norm.bias",
                           "vision_model.embeddings.class_embedding",
                           "vision_model.embeddings.patch_embedding.weight",
                           "vision_model.embeddings.position_embedding.weight",
                           "vision_model.pre_layernorm.weight",
                           "vision_model.encoder.layers.1.message_fc.weight",
                           "vision_model.encoder.layers.1.message_fc.bias",
                           "vision_model.encoder.layers.1.message_ln.weight",
                           "vision_model.encoder.layers.1.message_attn.q_proj.weight",
                           "vision_model.encoder.layers.1.message_attn.out_proj.bias",
                           "vision_model.encoder.layers.1.self_attn.v_proj.bias",
                           "vision_model.encoder.layers.1.layer_norm2.weight",
                           "vision_model.encoder.layers.1.mlp.fc2.weight",
                           "vision_model.post_layernorm.weight",
                           "visual_projection.weight",
                           "text_projection.weight",
                           "logit_scale",
                           "prompts_visual_layernorm.weight",
                           "prompts_visual_projection",
                           "mit.position_embedding",
                           "mit.encoder.layers.0.self_attn.k_proj.weight",
                           "mit.encoder.layers.0.mlp.fc1.bias",
                           "prompts_generator.layernorm.weight",
                           "prompts_generator.decoder.1.norm1.weight",
                           "prompts_generator.decoder.1.norm3.bias",
                           "prompts_generator.decoder.1.cross_attn.q_proj.weight",
                           "prompts_generator.decoder.1.cross_attn.proj.bias",
                           "prompts_generator.decoder.1.mlp.0.weight",
                           "prompts_generator.decoder.1.mlp.3.bias",
                           "prompts_generator.alpha"})
    EXPECT_EQ(names.count(name), 1u) << name;
  for (const char* name :
       {"vision_model.pre_layrnorm.weight",  // CLIP's spelling
        "vision_model.embeddings.patch_embedding.bias",
        "prompts_generator.decoder.0.cross_attn.q_proj.bias", "visual_projection.bias",
        "mit.encoder.layers.0.message_fc.weight", "text_model.encoder.layers.0.message_fc.weight"})
    EXPECT_EQ(names.count(name), 0u) << name;
}

TEST(XclipIoTest, InputsAndOutputsInHfOrder) {
  const onnx::ModelProto proto = Build(TinyXclip());
  const auto& g = proto.graph();
  EXPECT_THAT(Names(g.input()), ElementsAre("input_ids", "attention_mask", "pixel_values"));
  EXPECT_THAT(Dims(g.input(0)), ElementsAre("batch", "sequence"));
  EXPECT_THAT(Dims(g.input(2)), ElementsAre("batch", "3", "3", "8", "8"));  // 3 frames
  EXPECT_THAT(Names(g.output()),
              ElementsAre("logits_per_video", "logits_per_text", "text_embeds", "video_embeds"));
  EXPECT_THAT(Dims(g.output(0)), ElementsAre("batch", "batch"));
  EXPECT_THAT(Dims(g.output(2)), ElementsAre("batch", "batch", "8"));  // per video, per text
  EXPECT_THAT(Dims(g.output(3)), ElementsAre("batch", "8"));
}

TEST(XclipIoTest, PassesOnnxChecks) {
  for (int64_t mit_layers : {0, 1, 2}) {
    json config = TinyXclip();
    config["vision_config"]["mit_num_hidden_layers"] = mit_layers;
    SeededRandomWeights weights(3, 0.02);
    onnx::ModelProto proto = Build(config, weights);
    EXPECT_NO_THROW({
      onnx::checker::check_model(proto);
      onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions(true, 1, false));
    }) << mit_layers;
  }
}

// ----- Config options refused and accepted -------------------------------------------------------

TEST(XclipConfigTest, RefusalsNameTheirCause) {
  json mit = TinyXclip();
  mit["vision_config"]["mit_hidden_size"] = 16;
  auto e = CatchError([&] { Build(mit); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("mit_hidden_size"));

  json prompt_heads = TinyXclip();
  prompt_heads["prompt_num_attention_heads"] = 3;
  e = CatchError([&] { Build(prompt_heads); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("prompt_num_attention_heads"));

  json mit_heads = TinyXclip();
  mit_heads["vision_config"]["mit_num_attention_heads"] = 3;
  EXPECT_THAT(CatchError([&] { Build(mit_heads); }).what(), HasSubstr("mit_num_attention_heads"));

  json frames = TinyXclip();
  frames["vision_config"]["num_frames"] = 0;
  EXPECT_THAT(CatchError([&] { Build(frames); }).what(), HasSubstr("num_frames"));

  json layers = TinyXclip();
  layers["prompt_layers"] = -1;
  EXPECT_THAT(CatchError([&] { Build(layers); }).what(), HasSubstr("prompt_layers"));

  json act = TinyXclip();
  act["prompt_hidden_act"] = "swiglu_magic";
  EXPECT_EQ(CatchError([&] { Build(act); }).kind(), ErrorKind::kUnsupported);

  json vision_heads = TinyXclip();
  vision_heads["vision_config"]["num_attention_heads"] = 5;
  EXPECT_EQ(CatchError([&] { Build(vision_heads); }).kind(), ErrorKind::kCorrupt);
}

TEST(XclipConfigTest, EosTokenIdIsIgnoredAndLegacyDictsWin) {
  // X-CLIP pools at the argmax of the ids: a null eos_token_id (which CLIP refuses) is harmless.
  json null_eos = TinyXclip();
  null_eos["text_config"]["eos_token_id"] = nullptr;
  EXPECT_NO_THROW(Build(null_eos));
  // XCLIPConfig lets text_config_dict / vision_config_dict override the sub-configs.
  json legacy = TinyXclip();
  legacy["vision_config_dict"] = legacy["vision_config"];
  legacy["vision_config_dict"]["num_frames"] = 4;
  legacy["vision_config"]["num_frames"] = 99;
  EXPECT_THAT(Dims(Build(legacy).graph().input(2)), ElementsAre("batch", "4", "3", "8", "8"));
}

TEST(XclipConfigTest, DefaultsAreXclipConfigs) {
  const XclipShape s = ReadXclipShape(HfConfig(json{{"model_type", "xclip"}}, "t"));
  EXPECT_EQ(s.frames, 8);
  EXPECT_EQ(s.projection_dim, 512);
  EXPECT_EQ(s.mit_intermediate, 2048);
  EXPECT_EQ(s.mit_layers, 1);
  EXPECT_EQ(s.mit_heads, 8);
  EXPECT_EQ(s.prompt_layers, 2);
  EXPECT_EQ(s.prompt_heads, 8);
  EXPECT_EQ(s.prompt_act, "quick_gelu");
  EXPECT_EQ(s.vision.patch_size, 32);
  EXPECT_EQ(s.vision.image_size, 224);
  EXPECT_EQ(s.text.max_positions, 77);
  EXPECT_EQ(s.text.vocab, 49408);
}

// ----- What the harness gets -------------------------------------------------------------------

TEST(XclipHintsTest, RolesAndHints) {
  const HfConfig c(TinyXclip(), "t");
  const Architecture& a = FindArchitecture("xclip", "t");
  EXPECT_EQ(a.modality, "multimodal");
  EXPECT_TRUE(a.checkpoint_prefixes.empty());
  const DimRoles roles = a.dim_roles(c);
  EXPECT_EQ(roles.batch, "batch");
  EXPECT_EQ(roles.sequence, "sequence");
  EXPECT_EQ(roles.max_sequence, 10);
  const auto hints = a.input_hints(c);
  EXPECT_EQ(hints.at("input_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(hints.at("input_ids").high, 40);
  EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  EXPECT_EQ(hints.count("pixel_values"), 0u);  // any float video
}

}  // namespace xclip_graph_test
}  // namespace ipfs_accel::models
