// Tests for the vision family's graphs built by vit_builder and clip_builder: parameter counts
// against Hugging Face's (catalog_truth.json at each config class's defaults, and the catalog's
// real checkpoints), HF parameter names, inputs and outputs, the tower API that composite models
// build on (weight prefixes, hidden states), the config options refused, and the hints the harness
// gets. Numerical checks that run the graphs are in tests/harness/vision_verify_test.cpp.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
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
#include "ipfs_accel/core/json.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"
#include "models/clip_builder.h"
#include "models/graph_builder.h"
#include "models/vit_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace vision_graph_test {

namespace fs = std::filesystem;
using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::TempDir;
using nlohmann::json;
using ::testing::HasSubstr;

// A graph built by the registered architecture for `config`, with shape-only weights.
struct Built {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

Built Build(const json& config) {
  Built b;
  b.proto.set_ir_version(onnx::IR_VERSION);
  auto* opset = b.proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  ShapeOnlyWeights weights;
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  const HfConfig c(config, "test-config");
  FindArchitecture(c.ModelType(), c.origin()).build(c, builder);
  b.parameters = weights.parameter_count();
  return b;
}

// The same with seeded weights, then ONNX's checker and strict shape inference, as LoadModel does.
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
  FindArchitecture(c.ModelType(), c.origin()).build(c, builder);
  EXPECT_NO_THROW({
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  }) << config.dump();
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

const onnx::ValueInfoProto& Output(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& o : g.output())
    if (o.name() == name) return o;
  ADD_FAILURE() << "no output " << name;
  return g.output(0);
}

// Tiny configs with every size spelled out.
json TinyVit(const std::string& model_type) {
  return {{"model_type", model_type}, {"hidden_size", 16},       {"num_hidden_layers", 2},
          {"num_attention_heads", 2}, {"intermediate_size", 24}, {"image_size", 16},
          {"patch_size", 4},          {"num_channels", 3}};
}

json TinyTower(bool vision) {
  json t = {{"hidden_size", 16},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 2},
            {"intermediate_size", 24}};
  if (vision) {
    t.update({{"image_size", 16}, {"patch_size", 4}});
  } else {
    t.update({{"vocab_size", 50}, {"max_position_embeddings", 12}});
  }
  return t;
}

json TinyDual(const std::string& model_type) {
  json c = {{"model_type", model_type},
            {"text_config", TinyTower(false)},
            {"vision_config", TinyTower(true)}};
  if (model_type == "clip") c["projection_dim"] = 8;
  return c;
}

// ----- Parameter counts -----------------------------------------------------------------------

int64_t TruthParams(const std::string& model_type) {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  return json::parse(in).at("models").at(model_type).at("base_params").get<int64_t>();
}

// A folder whose config.json names only the model_type: every size is the config class's default.
int64_t DefaultConfigParams(const std::string& model_type) {
  TempDir dir;
  std::ofstream(dir.File("config.json")) << json{{"model_type", model_type}}.dump();
  return CountParameters(dir.path().string());
}

TEST(VisionCountTest, HfDefaultConfigsMatchHuggingFace) {
  EXPECT_EQ(DefaultConfigParams("vit"), 86389248);      // ViTModel
  EXPECT_EQ(DefaultConfigParams("deit"), 86390784);     // DeiTModel: + distillation token and its
                                                        // position
  EXPECT_EQ(DefaultConfigParams("clip"), 151277313);    // CLIPModel
  EXPECT_EQ(DefaultConfigParams("siglip"), 203155970);  // SiglipModel
  for (const char* type : {"vit", "deit", "clip", "siglip", "clip_text_model", "clip_vision_model",
                           "siglip_vision_model"})
    EXPECT_EQ(DefaultConfigParams(type), TruthParams(type)) << type;
  // HF lists no SiglipTextModel count: SiglipModel less its vision tower, scale and bias.
  EXPECT_EQ(DefaultConfigParams("siglip_text_model"),
            TruthParams("siglip") - TruthParams("siglip_vision_model") - 2);
}

TEST(VisionCountTest, VitVariantsCountAsHuggingFaceAtTheirDefaults) {
  // The config keys where each config class's defaults differ from ViTConfig's.
  const std::map<std::string, json> differences = {
      {"dinov2", {{"patch_size", 14}, {"use_mask_token", true}, {"use_swiglu_ffn", false}}},
      {"dinov2_with_registers", {{"num_register_tokens", 4}}},
      {"vit_msn", json::object()},
      {"ijepa", json::object()},
      {"vivit", {{"num_frames", 32}, {"tubelet_size", {2, 16, 16}}}},
      {"yolos",
       {{"image_size", {512, 864}},
        {"num_detection_tokens", 100},
        {"use_mid_position_embeddings", true}}},
      {"audio-spectrogram-transformer", json::object()},
      // BEiT's defaults: no absolute or relative positions, layer scale, mean pooling; HF's
      // Data2VecVisionModel has no pooler by default, BeitModel has.
      {"beit", json::object()},
      {"data2vec-vision", json::object()},
  };
  for (const auto& [type, keys] : differences) {
    json c = keys;
    c["model_type"] = type;
    EXPECT_EQ(Build(c).parameters, TruthParams(type)) << type;
  }
}

TEST(VisionCountTest, SwinFamilyCountsAsHuggingFaceAtItsDefaults) {
  for (const char* type : {"swin", "donut-swin", "maskformer-swin", "swinv2", "bit", "textnet",
                           "segformer", "glpn", "pvt_v2", "poolformer", "mobilenet_v1"})
    EXPECT_EQ(DefaultConfigParams(type), TruthParams(type)) << type;
}

TEST(VisionCountTest, NewConvolutionalModelsCountAsHuggingFaceAtTheirDefaults) {
  for (const char* type : {"efficientnet", "hgnet_v2", "levit", "swiftformer", "cvt", "pvt"})
    EXPECT_EQ(DefaultConfigParams(type), TruthParams(type)) << type;
  // AlignVisionModel is EfficientNet-B7 without the top conv (640 x 2560) and its BatchNorm.
  EXPECT_EQ(DefaultConfigParams("align_vision_model"),
            TruthParams("efficientnet") - 640 * 2560 - 2 * 2560);
  // RTDetrResNet is ResNet-50 (23,508,032) with a three-conv stem: 3x3 convs 3->32, 32->32,
  // 32->64 and their BatchNorms instead of one 7x7 3->64 conv and its BatchNorm.
  EXPECT_EQ(DefaultConfigParams("rt_detr_resnet"),
            23508032 + (27 * 32 + 64) + (288 * 32 + 64) + (288 * 64 + 128) - (147 * 64 + 128));
}

TEST(BackboneOutputs, GivesTheStagesOutFeaturesNamesInOrder) {
  json c = {{"model_type", "hgnet_v2"},           {"image_size", 32},
            {"stem_channels", {3, 8, 8}},         {"stage_in_channels", {8, 16}},
            {"stage_mid_channels", {8, 8}},       {"stage_out_channels", {16, 32}},
            {"stage_num_blocks", {1, 1}},         {"stage_downsample", {false, true}},
            {"stage_light_block", {false, true}}, {"stage_kernel_size", {3, 5}},
            {"stage_numb_of_layers", {2, 2}},     {"depths", {1, 1}},
            {"hidden_sizes", {16, 32}},           {"out_features", {"stem", "stage2"}}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  // 32 px: the stem halves twice (8 x 8 with 8 channels); stage 2 downsamples once more.
  EXPECT_THAT(Names(b.proto.graph().output()),
              ::testing::ElementsAre("feature_maps.0", "feature_maps.1"));
  EXPECT_THAT(Dims(Output(b.proto.graph(), "feature_maps.0")),
              ::testing::ElementsAre("batch", "8", "8", "8"));
  EXPECT_THAT(Dims(Output(b.proto.graph(), "feature_maps.1")),
              ::testing::ElementsAre("batch", "32", "4", "4"));
  c.erase("out_features");
  c["out_indices"] = {-2};  // a Python index: stage1
  EXPECT_THAT(Dims(Output(Build(c).proto.graph(), "feature_maps.0")),
              ::testing::ElementsAre("batch", "16", "8", "8"));
  c["out_indices"] = {3};
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kCorrupt);
}

TEST(VisionCountTest, ConvNextFamilyCountsAsHuggingFaceAtItsDefaults) {
  // ConvNextModel, ConvNextV2Model (GRN over the 4x MLP instead of layer scale), and
  // DINOv3ConvNextModel (ConvNeXt under other names).
  for (const char* type : {"convnext", "convnextv2", "dinov3_convnext"})
    EXPECT_EQ(DefaultConfigParams(type), TruthParams(type)) << type;
  json no_scale = {{"model_type", "convnext"}, {"layer_scale_init_value", 0.0}};
  EXPECT_EQ(Build(no_scale).parameters,
            TruthParams("convnext") - (3 * 96 + 3 * 192 + 9 * 384 + 3 * 768));
}

TEST(VisionCountTest, CatalogEntriesCountAsHuggingFace) {
  EXPECT_EQ(CountParameters("vit-base-patch16-224"), 86389248);
  EXPECT_EQ(CountParameters("deit-base-distilled-patch16-224"), 86390784);
  EXPECT_EQ(CountParameters("clip-vit-base-patch32"), 151277313);
  EXPECT_EQ(CountParameters("siglip-base-patch16-224"), 203155970);
  for (const char* alias : {"vit", "vit-base", "deit", "clip", "siglip"})
    EXPECT_TRUE(FindInCatalog(alias).has_value()) << alias;
  EXPECT_EQ(FindInCatalog("vit")->modality, "vision");
  EXPECT_EQ(FindInCatalog("clip")->modality, "multimodal");
  EXPECT_EQ(FindInCatalog("siglip")->hf_id, "google/siglip-base-patch16-224");
}

TEST(VisionCountTest, ClassificationCheckpointsHaveNoPooler) {
  // ViTForImageClassification builds ViTModel(add_pooling_layer=False): no pooler.dense.
  json c = TinyVit("vit");
  const Built with = Build(c);
  c["architectures"] = {"ViTForImageClassification"};
  const Built without = Build(c);
  EXPECT_EQ(with.parameters - without.parameters, 16 * 16 + 16);
  EXPECT_THAT(Names(without.proto.graph().output()), ::testing::ElementsAre("last_hidden_state"));
  c["architectures"] = {"ViTModel"};
  EXPECT_EQ(Build(c).parameters, with.parameters);
  json d = TinyVit("deit");
  d["architectures"] = {"DeiTForImageClassificationWithTeacher"};
  EXPECT_EQ(WeightNames(Build(d).proto.graph()).count("pooler.dense.weight"), 0u);
}

// ----- Names, inputs and outputs ----------------------------------------------------------------

TEST(VisionNamesTest, VitAndDeitUseHfNames) {
  const auto vit = WeightNames(Build(TinyVit("vit")).proto.graph());
  for (const char* name :
       {"embeddings.cls_token", "embeddings.position_embeddings",
        "embeddings.patch_embeddings.projection.weight",
        "embeddings.patch_embeddings.projection.bias",
        "encoder.layer.1.attention.attention.query.weight",
        "encoder.layer.1.attention.output.dense.bias", "encoder.layer.1.layernorm_before.weight",
        "encoder.layer.1.layernorm_after.bias", "encoder.layer.1.intermediate.dense.weight",
        "encoder.layer.1.output.dense.weight", "layernorm.weight", "pooler.dense.weight"})
    EXPECT_EQ(vit.count(name), 1u) << name;
  EXPECT_EQ(vit.count("embeddings.distillation_token"), 0u);
  const auto deit = WeightNames(Build(TinyVit("deit")).proto.graph());
  EXPECT_EQ(deit.count("embeddings.distillation_token"), 1u);
  EXPECT_EQ(deit.size(), vit.size() + 1);
}

TEST(VisionNamesTest, VitWithoutQkvBias) {
  json c = TinyVit("vit");
  c["qkv_bias"] = false;
  const auto names = WeightNames(Build(c).proto.graph());
  EXPECT_EQ(names.count("encoder.layer.0.attention.attention.query.bias"), 0u);
  EXPECT_EQ(names.count("encoder.layer.0.attention.output.dense.bias"), 1u);
}

TEST(VisionNamesTest, ClipAndSiglipUseHfNames) {
  const auto clip = WeightNames(Build(TinyDual("clip")).proto.graph());
  for (const char* name :
       {"text_model.embeddings.token_embedding.weight",
        "text_model.embeddings.position_embedding.weight",
        "text_model.encoder.layers.1.self_attn.q_proj.weight",
        "text_model.encoder.layers.1.mlp.fc2.bias", "text_model.final_layer_norm.weight",
        "vision_model.embeddings.class_embedding", "vision_model.embeddings.patch_embedding.weight",
        "vision_model.pre_layrnorm.weight", "vision_model.post_layernorm.bias",
        "vision_model.encoder.layers.0.layer_norm1.weight", "visual_projection.weight",
        "text_projection.weight", "logit_scale"})
    EXPECT_EQ(clip.count(name), 1u) << name;
  EXPECT_EQ(clip.count("vision_model.embeddings.patch_embedding.bias"), 0u);  // CLIP: bias=False

  const auto siglip = WeightNames(Build(TinyDual("siglip")).proto.graph());
  for (const char* name :
       {"vision_model.embeddings.patch_embedding.bias", "vision_model.post_layernorm.weight",
        "vision_model.head.probe", "vision_model.head.attention.in_proj_weight",
        "vision_model.head.attention.in_proj_bias", "vision_model.head.attention.out_proj.weight",
        "vision_model.head.layernorm.weight", "vision_model.head.mlp.fc1.weight",
        "text_model.head.weight", "text_model.head.bias", "logit_scale", "logit_bias"})
    EXPECT_EQ(siglip.count(name), 1u) << name;
  for (const char* name : {"vision_model.embeddings.class_embedding",
                           "vision_model.pre_layrnorm.weight", "visual_projection.weight"})
    EXPECT_EQ(siglip.count(name), 0u) << name;
}

TEST(VisionIoTest, InputsAndOutputs) {
  const Built vit = Build(TinyVit("deit"));
  EXPECT_THAT(Names(vit.proto.graph().input()), ::testing::ElementsAre("pixel_values"));
  EXPECT_THAT(Dims(vit.proto.graph().input(0)), ::testing::ElementsAre("batch", "3", "16", "16"));
  EXPECT_THAT(Dims(Output(vit.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "18", "16"));  // CLS + distillation + 16 patches
  EXPECT_THAT(Dims(Output(vit.proto.graph(), "pooler_output")),
              ::testing::ElementsAre("batch", "16"));

  for (const char* type : {"clip", "siglip"}) {
    const Built dual = Build(TinyDual(type));
    EXPECT_THAT(Names(dual.proto.graph().input()),
                ::testing::ElementsAre("input_ids", "attention_mask", "pixel_values"));
    EXPECT_THAT(Names(dual.proto.graph().output()),
                ::testing::ElementsAre("text_embeds", "image_embeds", "logits_per_image",
                                       "logits_per_text"));
    const std::string embed = std::string(type) == "clip" ? "8" : "16";
    EXPECT_THAT(Dims(Output(dual.proto.graph(), "image_embeds")),
                ::testing::ElementsAre("batch", embed));
  }
}

TEST(VisionIoTest, EveryArchitecturePassesOnnxChecks) {
  ExpectValidOnnx(TinyVit("vit"));
  ExpectValidOnnx(TinyVit("deit"));
  ExpectValidOnnx(TinyDual("clip"));
  ExpectValidOnnx(TinyDual("siglip"));
  json text = TinyTower(false), vision = TinyTower(true);
  for (const char* type : {"clip_text_model", "siglip_text_model"}) {
    text["model_type"] = type;
    ExpectValidOnnx(text);
  }
  for (const char* type : {"clip_vision_model", "siglip_vision_model"}) {
    vision["model_type"] = type;
    ExpectValidOnnx(vision);
  }
}

json TinyConvNext(const std::string& model_type) {
  return {{"model_type", model_type},
          {"hidden_sizes", {8, 16}},
          {"depths", {1, 2}},
          {"num_stages", 2},
          {"image_size", 32}};
}

TEST(VisionIoTest, ConvNextFamilyBuildsValidGraphsWithHfNames) {
  for (const char* type : {"convnext", "convnextv2", "dinov3_convnext"})
    ExpectValidOnnx(TinyConvNext(type));
  const auto v1 = WeightNames(Build(TinyConvNext("convnext")).proto.graph());
  for (const char* name :
       {"embeddings.patch_embeddings.weight", "embeddings.layernorm.bias",
        "encoder.stages.1.downsampling_layer.0.weight",
        "encoder.stages.1.downsampling_layer.1.bias", "encoder.stages.1.layers.1.dwconv.weight",
        "encoder.stages.0.layers.0.pwconv2.weight",
        "encoder.stages.0.layers.0.layer_scale_parameter", "layernorm.weight"})
    EXPECT_EQ(v1.count(name), 1u) << name;
  const auto v2 = WeightNames(Build(TinyConvNext("convnextv2")).proto.graph());
  EXPECT_EQ(v2.count("encoder.stages.0.layers.0.grn.weight"), 1u);
  EXPECT_EQ(v2.count("encoder.stages.0.layers.0.layer_scale_parameter"), 0u);
  const Built d = Build(TinyConvNext("dinov3_convnext"));
  const auto v3 = WeightNames(d.proto.graph());
  for (const char* name :
       {"stages.0.downsample_layers.0.weight", "stages.1.downsample_layers.1.bias",
        "stages.1.layers.0.depthwise_conv.weight", "stages.1.layers.1.gamma", "layer_norm.weight"})
    EXPECT_EQ(v3.count(name), 1u) << name;
  // 32 px / 4 / 2: a 4x4 map, and its mean before it.
  EXPECT_THAT(Dims(Output(d.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "17", "16"));
  EXPECT_THAT(Dims(Output(Build(TinyConvNext("convnext")).proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "4", "4"));
}

TEST(VisionIoTest, VitVariantsBuildValidGraphsWithHfNames) {
  json dinov2 = TinyVit("dinov2");
  dinov2.erase("intermediate_size");
  dinov2.update({{"mlp_ratio", 1.5}, {"use_mask_token", true}});
  json swiglu = dinov2;
  swiglu["use_swiglu_ffn"] = true;
  json registers = dinov2;
  registers.erase("use_mask_token");  // Dinov2WithRegistersConfig has none: always a mask token
  registers.update({{"model_type", "dinov2_with_registers"}, {"num_register_tokens", 2}});
  json vivit = TinyVit("vivit");
  vivit.update({{"num_frames", 4}, {"tubelet_size", {2, 4, 4}}});
  json yolos = TinyVit("yolos");
  yolos.update({{"num_detection_tokens", 3}, {"use_mid_position_embeddings", true}});
  json ast = TinyVit("audio-spectrogram-transformer");
  ast.update(
      {{"max_length", 20}, {"num_mel_bins", 12}, {"frequency_stride", 2}, {"time_stride", 4}});
  for (const json& c :
       {dinov2, swiglu, registers, TinyVit("vit_msn"), TinyVit("ijepa"), vivit, yolos, ast})
    ExpectValidOnnx(c);

  const Built d = Build(registers);
  const auto names = WeightNames(d.proto.graph());
  for (const char* name :
       {"embeddings.cls_token", "embeddings.register_tokens", "encoder.layer.1.norm1.weight",
        "encoder.layer.1.attention.attention.key.bias", "encoder.layer.1.layer_scale1.lambda1",
        "encoder.layer.1.mlp.fc2.weight", "encoder.layer.1.layer_scale2.lambda1"})
    EXPECT_EQ(names.count(name), 1u) << name;
  // The mask token is counted (HF's Dinov2Model has it) but no node uses it.
  EXPECT_EQ(names.count("embeddings.mask_token"), 0u);
  EXPECT_THAT(Dims(Output(d.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "19", "16"));  // CLS + 2 registers + 16 patches
  EXPECT_EQ(WeightNames(Build(swiglu).proto.graph()).count("encoder.layer.0.mlp.weights_in.weight"),
            1u);
  // Tubelets: 4 frames in 2, 16x16 pixels in 4x4: 2 * 16 patches and the CLS token.
  const Built v = Build(vivit);
  EXPECT_THAT(Dims(v.proto.graph().input(0)),
              ::testing::ElementsAre("batch", "4", "3", "16", "16"));
  EXPECT_THAT(Dims(Output(v.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "33", "16"));
  const Built y = Build(yolos);
  EXPECT_EQ(WeightNames(y.proto.graph()).count("encoder.mid_position_embeddings"), 1u);
  EXPECT_THAT(Dims(Output(y.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "20", "16"));  // CLS + 16 patches + 3 detection
  // AST: (12 - 4) / 2 + 1 = 5 frequency by (20 - 4) / 4 + 1 = 5 time patches, two tokens before.
  const Built a = Build(ast);
  EXPECT_THAT(Names(a.proto.graph().input()), ::testing::ElementsAre("input_values"));
  EXPECT_THAT(Dims(Output(a.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "27", "16"));
  EXPECT_THAT(Names(Build(TinyVit("vit_msn")).proto.graph().output()),
              ::testing::ElementsAre("last_hidden_state"));
  EXPECT_THAT(Dims(Output(Build(TinyVit("ijepa")).proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "16"));  // no CLS token
}

TEST(InternVlLayer, ScalesBothBranchesAndSkipsTheFinalNormWithMeanPooling) {
  json c = TinyVit("internvl_vision");
  const Built b = Build(c);
  // CLS 16 + patch conv 16*3*16 + 16 + positions 17*16; per layer q/k/v 3*16*16 (no bias),
  // projection_layer 16*16 + 16, two norms 64, fc1 16*24 + 24, fc2 24*16 + 16, lambdas 32.
  EXPECT_EQ(b.parameters, 16 + 784 + 272 + 2 * (768 + 272 + 64 + 408 + 400 + 32));
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"encoder.layer.1.attention.q_proj.weight",
        "encoder.layer.1.attention.projection_layer.bias", "encoder.layer.1.lambda_1",
        "encoder.layer.1.lambda_2", "encoder.layer.1.mlp.fc2.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("layernorm.weight"), 0u);
  EXPECT_THAT(Names(b.proto.graph().output()), ::testing::ElementsAre("last_hidden_state"));
  c["use_mean_pooling"] = false;  // the final layernorm
  EXPECT_EQ(Build(c).parameters, b.parameters + 32);
  c["attention_bias"] = true;  // q/k/v biases, through attribute_map's qkv_bias
  EXPECT_EQ(Build(c).parameters, b.parameters + 32 + 2 * 48);
  ExpectValidOnnx(c);
  c["norm_type"] = "rms_norm";
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
}

TEST(VitPoseBackbone, PadsThePatchConvAndAddsTheClassRowToEveryPatch) {
  json c = TinyVit("vitpose_backbone");
  c["image_size"] = {32, 24};
  c["patch_size"] = {8, 8};
  const Built b = Build(c);
  // No class token. Patch conv 16*3*8*8 + 16, a table of 4*3 patches + 1 rows by 16; per layer
  // q/k/v 3*(16*16 + 16), attention.output.dense 16*16 + 16, two norms 64, mlp.fc1 16*64 + 64
  // (mlp_ratio 4, not intermediate_size), mlp.fc2 64*16 + 16; the final layernorm 32.
  EXPECT_EQ(b.parameters, 3088 + 13 * 16 + 2 * (816 + 272 + 64 + 1088 + 1040) + 32);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"embeddings.position_embeddings", "encoder.layer.1.mlp.fc1.weight",
                           "encoder.layer.1.attention.attention.query.bias", "layernorm.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("embeddings.cls_token"), 0u);
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "12", "16"));
  std::vector<int64_t> pads;
  for (const auto& n : b.proto.graph().node())
    if (n.op_type() == "Conv")
      for (const auto& a : n.attribute())
        if (a.name() == "pads") pads.assign(a.ints().begin(), a.ints().end());
  EXPECT_THAT(pads, ::testing::ElementsAre(2, 2, 2, 2));
  ExpectValidOnnx(c);
  c["patch_size"] = {4, 4};  // padded, a 32x24 image gives 9x7 patches, not the table's 8x6
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kCorrupt);
  c["patch_size"] = {8, 8};
  c["num_experts"] = 2;
  EXPECT_THAT(CatchError([&] { Build(c); }).what(), HasSubstr("num_experts"));
}

// A tiny Pix2Struct vision config: hidden 16, 2 layers of 2 heads of 4, patches of 12 values.
json TinyPix2Struct(const std::string& model_type) {
  return {{"model_type", model_type},
          {"hidden_size", 16},
          {"patch_embed_hidden_size", 12},
          {"d_ff", 20},
          {"d_kv", 4},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 2},
          {"seq_len", 10}};
}

int CountOps(const onnx::GraphProto& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.node()) n += node.op_type() == op;
  return n;
}

TEST(Pix2StructVision, EmbedsFlattenedPatchesAndRunsT5StyleLayers) {
  const Built b = Build(TinyPix2Struct("pix2struct_vision_model"));
  // patch_projection 12*16 + 16, row and column tables 2 * 10*16; per layer two RMS weights 32,
  // query/key/value/output 4 * 16*8 (2 heads of 4, no bias), wi_0/wi_1 2 * 16*20, wo 20*16;
  // the final RMS weight 16.
  EXPECT_EQ(b.parameters, 208 + 320 + 2 * (32 + 512 + 640 + 320) + 16);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"embeddings.row_embedder.weight", "embeddings.column_embedder.weight",
                           "encoder.layer.1.pre_attention_layer_norm.weight",
                           "encoder.layer.1.attention.output.weight",
                           "encoder.layer.1.mlp.wi_1.weight", "layernorm.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("encoder.layer.1.attention.query.bias"), 0u);
  EXPECT_THAT(Dims(b.proto.graph().input(0)), ::testing::ElementsAre("batch", "sequence", "14"));
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "sequence", "16"));
  ExpectValidOnnx(TinyPix2Struct("pix2struct_vision_model"));
  // Kosmos-2.5: the same weights under its own keys, and one score scaling per layer more.
  json k = TinyPix2Struct("kosmos_2_5_vision_model");
  for (const auto& [from, to] : {std::pair<const char*, const char*>{"d_ff", "intermediate_size"},
                                 {"d_kv", "head_dim"},
                                 {"seq_len", "max_num_patches"}}) {
    k[to] = k[from];
    k.erase(from);
  }
  const Built kosmos = Build(k);
  EXPECT_EQ(kosmos.parameters, b.parameters);
  EXPECT_EQ(CountOps(kosmos.proto.graph(), "Mul"), CountOps(b.proto.graph(), "Mul") + 2);
}

TEST(Pix2StructVision, GeneratedPatchesCarryRowAndColumnIdsFromOne) {
  const Architecture& a = FindArchitecture("pix2struct_vision_model", "t");
  const auto hints = a.input_hints(HfConfig(TinyPix2Struct("pix2struct_vision_model"), "t"));
  const core::Tensor t = hints.at("flattened_patches").compute({1, 5, 4}, 7);
  const auto v = t.ToDoubles();
  // Five patches on a grid 3 wide (ceil(sqrt(5))): rows 1 1 1 2 2, columns 1 2 3 1 2.
  const std::vector<double> rows = {1, 1, 1, 2, 2}, cols = {1, 2, 3, 1, 2};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(v[i * 4], rows[i]) << i;
    EXPECT_EQ(v[i * 4 + 1], cols[i]) << i;
    for (int f = 2; f < 4; ++f) EXPECT_TRUE(v[i * 4 + f] >= -1 && v[i * 4 + f] < 1);
  }
}

TEST(Aimv2Vision, RmsNormedSwigluLayersWithoutBiasesAndAnAttentionPoolingHead) {
  json c = TinyVit("aimv2_vision_model");  // hidden 16, 2 layers of 2 heads, 16 patches of 4x4
  const Built b = Build(c);
  // Patch conv 16*3*16 + 16, embeddings.rms_norm 16, positions 16*16; per layer two RMS weights
  // 32, q/k/v/out_proj 4*16*16 (no bias), gate/up/down_proj 3*16*24; the final rms_norm 16;
  // the head's cls_token 16, k_proj/v_proj 2*16*16, output_proj 16*16 + 16.
  EXPECT_EQ(b.parameters, 784 + 16 + 256 + 2 * (32 + 1024 + 1152) + 16 + (16 + 512 + 272));
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"embeddings.patch_embed.bias", "embeddings.rms_norm.weight",
        "encoder.layers.1.attention.out_proj.weight", "encoder.layers.1.ffn.gate_proj.weight",
        "encoder.layers.1.rms_norm2.weight", "rms_norm.weight", "head.cls_token",
        "head.output_proj.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("encoder.layers.1.attention.q_proj.bias"), 0u);
  EXPECT_THAT(Names(b.proto.graph().output()),
              ::testing::ElementsAre("last_hidden_state", "pooler_output"));
  ExpectValidOnnx(c);
  c["qkv_bias"] = true;  // q/k/v/out_proj biases in 2 layers, k_proj/v_proj in the head
  EXPECT_EQ(Build(c).parameters, b.parameters + 2 * 64 + 32);
  c["qkv_bias"] = false;
  c["use_head"] = false;
  EXPECT_EQ(Build(c).parameters, b.parameters - 800);
  c["is_native"] = true;
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
}

TEST(VitDetModel, GlobalLayersWithAFusedQkvAndPositionsWithoutTheirClassRow) {
  json c = {{"model_type", "vitdet"},    {"hidden_size", 16}, {"num_hidden_layers", 2},
            {"num_attention_heads", 2},  {"mlp_ratio", 2},    {"image_size", 16},
            {"pretrain_image_size", 16}, {"patch_size", 4}};
  const Built b = Build(c);
  // Patch conv 16*3*16 + 16, positions (16 + 1)*16; per layer norm1/norm2 64, qkv 16*48 + 48,
  // proj 16*16 + 16, fc1 16*32 + 32, fc2 32*16 + 16; no final norm.
  EXPECT_EQ(b.parameters, 784 + 272 + 2 * (64 + 816 + 272 + 544 + 528));
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"embeddings.projection.bias", "embeddings.position_embeddings",
                           "encoder.layer.1.attention.qkv.weight",
                           "encoder.layer.1.attention.proj.bias", "encoder.layer.1.mlp.fc2.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "4", "4"));
  ExpectValidOnnx(c);
  c["use_absolute_position_embeddings"] = false;
  EXPECT_EQ(Build(c).parameters, b.parameters - 272);
  c["use_absolute_position_embeddings"] = true;
  c["pretrain_image_size"] = 32;  // an 8x8 table for a 4x4 grid: HF resamples it
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
  c["pretrain_image_size"] = 16;
  c["window_block_indices"] = {0};
  EXPECT_THAT(CatchError([&] { Build(c); }).what(), HasSubstr("window_block_indices"));
}

TEST(VisionCountTest, BeitRelativePositionBiasTables) {
  // A table of (2*14 - 1)^2 + 3 distances by 12 heads per layer, or one for all (shared).
  const int64_t table = ((2 * 14 - 1) * (2 * 14 - 1) + 3) * 12;
  const int64_t base = TruthParams("beit");
  EXPECT_EQ(Build({{"model_type", "beit"}, {"use_relative_position_bias", true}}).parameters,
            base + 12 * table);
  EXPECT_EQ(Build({{"model_type", "beit"}, {"use_shared_relative_position_bias", true}}).parameters,
            base + table);
  // Absolute positions (CLS + 196 patches) and the mask token [1, 1, 768].
  EXPECT_EQ(Build({{"model_type", "beit"},
                   {"use_absolute_position_embeddings", true},
                   {"use_mask_token", true}})
                .parameters,
            base + 197 * 768 + 768);
  // A classification checkpoint of data2vec-vision has the pooler's layernorm.
  EXPECT_EQ(Build({{"model_type", "data2vec-vision"},
                   {"architectures", {"Data2VecVisionForImageClassification"}}})
                .parameters,
            TruthParams("beit"));
}

TEST(VisionIoTest, BeitBuildsValidGraphsWithHfNames) {
  json c = TinyVit("beit");
  c.update({{"use_relative_position_bias", true}, {"use_mean_pooling", false}});
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"encoder.layer.1.attention.attention.relative_position_bias.relative_position_bias_table",
        "encoder.layer.1.lambda_1", "encoder.layer.1.lambda_2", "layernorm.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("encoder.layer.1.attention.attention.key.bias"), 0u);
  EXPECT_EQ(names.count("encoder.layer.1.attention.attention.query.bias"), 1u);
  json shared = TinyVit("data2vec-vision");
  shared.update({{"use_shared_relative_position_bias", true},
                 {"architectures", {"Data2VecVisionForImageClassification"}}});
  ExpectValidOnnx(shared);
  const auto d = WeightNames(Build(shared).proto.graph());
  EXPECT_EQ(d.count("encoder.relative_position_bias.relative_position_bias_table"), 1u);
  EXPECT_EQ(d.count("pooler.layernorm.weight"), 1u);
  EXPECT_EQ(d.count("layernorm.weight"), 0u);  // mean pooling: the pooler normalises
}

TEST(VisionConfigTest, Dinov2RefusesNonSquareImages) {
  json c = TinyVit("dinov2");
  c["image_size"] = {16, 12};
  const auto e = CatchError([&] { Build(c); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("not square"));
}

TEST(VisionIoTest, SwinBuildsValidGraphsWithHfNames) {
  // 32 px in 2 px patches: a 16 x 16 grid in 4 x 4 windows, then 8 x 8, then 4 x 4 (one window:
  // not shifted).
  json c = {{"model_type", "swin"}, {"image_size", 32},       {"patch_size", 2}, {"embed_dim", 8},
            {"depths", {2, 2, 2}},  {"num_heads", {2, 2, 4}}, {"window_size", 4}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"embeddings.patch_embeddings.projection.weight", "embeddings.norm.weight",
        "encoder.layers.0.blocks.1.attention.self.relative_position_bias_table",
        "encoder.layers.0.blocks.1.layernorm_before.weight",
        "encoder.layers.1.blocks.0.output.dense.bias",
        "encoder.layers.1.downsample.reduction.weight", "encoder.layers.0.downsample.norm.weight",
        "layernorm.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "32"));
  c["model_type"] = "donut-swin";
  EXPECT_EQ(WeightNames(Build(c).proto.graph()).count("layernorm.weight"), 0u);
  c["window_size"] = 8;  // the last stage (4 x 4) is smaller than a window
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
}

json TinySwin(const std::string& model_type) {
  return {{"model_type", model_type}, {"image_size", 32},       {"patch_size", 2}, {"embed_dim", 8},
          {"depths", {2, 2, 2}},      {"num_heads", {2, 2, 4}}, {"window_size", 4}};
}

TEST(MaskFormerSwin, ShiftsTheOddBlocksOfAStageOfOneWindow) {
  // The last stage is 4 x 4, one window: Swin does not shift it, MaskFormerSwin does.
  const char* mask = "encoder.layers.2.blocks.1.shifted_window_mask";
  EXPECT_EQ(WeightNames(Build(TinySwin("swin")).proto.graph()).count(mask), 0u);
  const json c = TinySwin("maskformer-swin");
  ExpectValidOnnx(c);
  EXPECT_EQ(WeightNames(Build(c).proto.graph()).count(mask), 1u);
}

TEST(Swinv2Block, NormsAfterTheReductionAndShrinksTheWindowOfASmallerStage) {
  json c = TinySwin("swinv2");
  c["window_size"] = 8;  // stage 2 (4 x 4) gets a 4 x 4 window, as Swinv2Layer computes it
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"encoder.layers.0.blocks.1.attention.self.logit_scale",
        "encoder.layers.0.blocks.0.attention.self.continuous_position_bias_mlp.0.bias",
        "encoder.layers.2.blocks.0.attention.self.continuous_position_bias_mlp.2.weight",
        "encoder.layers.0.blocks.1.shifted_window_mask", "layernorm.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("encoder.layers.0.blocks.0.attention.self.key.bias"), 0u);
  EXPECT_EQ(names.count("encoder.layers.0.blocks.0.attention.self.relative_position_bias_table"),
            0u);
  for (const auto& t : b.proto.graph().initializer()) {
    if (t.name() == "encoder.layers.0.downsample.norm.weight") {
      EXPECT_EQ(t.dims(0), 16);  // 2 * dim: the norm follows the reduction
    }
    if (t.name() == "encoder.layers.2.blocks.0.attention.self.relative_coords_table") {
      EXPECT_EQ(t.dims(0), 7 * 7);  // (2 * 4 - 1)^2 offsets of the shrunk window
    }
  }
}

TEST(Swinv2Block, ScalesRelativeCoordinatesLogarithmicallyToTheWindow) {
  // Window 2: offsets -1, 0, 1 over (window - 1) = 1, times 8: log2(8 + 1) / 3 = 1.0566.
  json c = TinySwin("swinv2");
  c["window_size"] = 2;
  const onnx::TensorProto* coords = nullptr;
  const Built b = Build(c);
  for (const auto& t : b.proto.graph().initializer())
    if (t.name() == "encoder.layers.0.blocks.0.attention.self.relative_coords_table") coords = &t;
  ASSERT_NE(coords, nullptr);
  ASSERT_EQ(coords->raw_data().size(), 9u * 2 * sizeof(float));
  const auto* v = reinterpret_cast<const float*>(coords->raw_data().data());
  EXPECT_NEAR(v[0], -std::log2(9.0) / 3, 1e-6);  // (dh, dw) = (-1, -1)
  EXPECT_NEAR(v[1], -std::log2(9.0) / 3, 1e-6);
  EXPECT_EQ(v[8], 0.0f);  // (0, 0)
  EXPECT_EQ(v[9], 0.0f);
  EXPECT_NEAR(v[17], std::log2(9.0) / 3, 1e-6);  // (1, 1)
  c["pretrained_window_sizes"] = {1, 0, 0};      // HF would divide by zero
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kCorrupt);
}

json TinyBit(const std::string& layer_type) {
  return {{"model_type", "bit"},     {"embedding_size", 8}, {"hidden_sizes", {16, 32}},
          {"depths", {1, 2}},        {"num_groups", 4},     {"image_size", 32},
          {"layer_type", layer_type}};
}

TEST(BitModel, PreActivationLayersNormBeforeEachConvAndEndWithAFinalNorm) {
  const json c = TinyBit("preactivation");
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"embedder.convolution.weight", "encoder.stages.0.layers.0.downsample.conv.weight",
        "encoder.stages.1.layers.1.norm1.weight", "encoder.stages.1.layers.1.conv3.weight",
        "norm.weight", "norm.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  for (const char* absent :
       {"embedder.norm.weight", "encoder.stages.1.layers.1.downsample.conv.weight",
        "encoder.stages.0.layers.0.conv1.bias"})
    EXPECT_EQ(names.count(absent), 0u) << absent;
  // 32 px: stem conv 16, padded 18, pooled 8; stage 1 strides to 4.
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "32", "4", "4"));
}

TEST(BitModel, BottleneckLayersNormTheStemAndTheShortcut) {
  const json c = TinyBit("bottleneck");
  ExpectValidOnnx(c);
  const auto names = WeightNames(Build(c).proto.graph());
  for (const char* name : {"embedder.norm.weight", "encoder.stages.0.layers.0.downsample.norm.bias",
                           "encoder.stages.1.layers.1.norm3.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("norm.weight"), 0u);
}

TEST(BitModel, RefusesTheDynamicSamePaddingItDoesNotBuild) {
  json c = TinyBit("preactivation");
  c["global_padding"] = "SAME";
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
  c = TinyBit("preactivation");
  c["num_groups"] = 3;  // 16 channels do not split into 3 groups
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kCorrupt);
}

TEST(TextNetModel, SumsOnlyTheBranchesItsKernelShapesHave) {
  // One stage: a 3 x 1 kernel (a 1 x 1 horizontal branch, no vertical one), then a 1 x 3
  // kernel (a 1 x 1 vertical branch, no horizontal one), both 8 channels at stride 1.
  json c = {{"model_type", "textnet"},
            {"stem_out_channels", 8},
            {"hidden_sizes", {8, 8}},
            {"image_size", {10, 10}},
            {"conv_layer_kernel_sizes", {{{3, 1}, {1, 3}}}},
            {"conv_layer_strides", {{1, 1}}}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"stem.conv.weight", "encoder.stages.0.stage.0.horizontal_conv.weight",
                           "encoder.stages.0.stage.0.rbr_identity.running_var",
                           "encoder.stages.0.stage.1.vertical_batch_norm.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  for (const char* absent : {"encoder.stages.0.stage.0.vertical_conv.weight",
                             "encoder.stages.0.stage.1.horizontal_conv.weight"})
    EXPECT_EQ(names.count(absent), 0u) << absent;
  // 10 px, stem stride 2: a 5 x 5 map, pooled into 2 x 2 overlapping cells (rows 0-2 and 2-4).
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "8", "5", "5"));
  EXPECT_THAT(Dims(Output(b.proto.graph(), "pooler_output")),
              ::testing::ElementsAre("batch", "8", "2", "2"));
  c["hidden_sizes"] = {16, 8};  // stem_out_channels is not hidden_sizes[0]
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kCorrupt);
}

TEST(VisionIoTest, MixTransformersBuildValidGraphsWithHfNames) {
  json c = {{"model_type", "segformer"}, {"image_size", 32},
            {"hidden_sizes", {8, 16}},   {"depths", {1, 2}},
            {"sr_ratios", {2, 1}},       {"patch_sizes", {7, 3}},
            {"strides", {4, 2}},         {"num_attention_heads", {1, 2}},
            {"mlp_ratios", {2, 2}},      {"num_encoder_blocks", 2}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"encoder.patch_embeddings.0.proj.weight", "encoder.patch_embeddings.1.layer_norm.bias",
        "encoder.block.0.0.attention.self.sr.weight",
        "encoder.block.0.0.attention.self.layer_norm.weight",
        "encoder.block.1.1.attention.output.dense.weight",
        "encoder.block.1.1.mlp.dwconv.dwconv.bias", "encoder.layer_norm.1.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("encoder.block.1.0.attention.self.sr.weight"), 0u);  // sr_ratio 1
  // 32 px: (32 + 6 - 7) / 4 + 1 = 8, then (8 + 2 - 3) / 2 + 1 = 4.
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "4", "4"));
  c["model_type"] = "pvt_v2";
  ExpectValidOnnx(c);
  const auto pvt = WeightNames(Build(c).proto.graph());
  for (const char* name :
       {"encoder.layers.0.patch_embedding.proj.weight",
        "encoder.layers.0.blocks.0.attention.spatial_reduction.weight",
        "encoder.layers.1.blocks.1.attention.proj.weight",
        "encoder.layers.1.blocks.1.mlp.dense2.weight", "encoder.layers.1.layer_norm.bias"})
    EXPECT_EQ(pvt.count(name), 1u) << name;
  c["linear_attention"] = true;
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
}

TEST(VisionIoTest, PoolFormerBuildsAValidGraphWithHfNames) {
  json c = {{"model_type", "poolformer"}, {"hidden_sizes", {8, 16}}, {"depths", {1, 2}},
            {"patch_sizes", {7, 3}},      {"strides", {4, 2}},       {"padding", {2, 1}},
            {"num_encoder_blocks", 2}};
  ExpectValidOnnx(c);  // any image size: height and width stay symbolic
  const auto names = WeightNames(Build(c).proto.graph());
  for (const char* name :
       {"encoder.patch_embeddings.1.projection.weight", "encoder.block.1.1.before_norm.weight",
        "encoder.block.1.1.after_norm.bias", "encoder.block.0.0.output.conv1.weight",
        "encoder.block.0.0.output.conv2.bias", "encoder.block.0.0.layer_scale_1",
        "encoder.block.0.0.layer_scale_2"})
    EXPECT_EQ(names.count(name), 1u) << name;
  c["image_size"] = 32;  // (32 + 4 - 7) / 4 + 1 = 8, (8 + 2 - 3) / 2 + 1 = 4
  EXPECT_THAT(Dims(Output(Build(c).proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "4", "4"));
}

TEST(VisionIoTest, MobileNetV1BuildsAValidGraphWithHfNames) {
  json c = {{"model_type", "mobilenet_v1"}, {"image_size", 64}, {"depth_multiplier", 0.25}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"conv_stem.convolution.weight", "conv_stem.normalization.weight",
                           "layer.0.convolution.weight", "layer.25.normalization.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  // 64 px / 32, 1024 * 0.25 channels; TensorFlow's SAME padding keeps ceil(side / stride).
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "256", "2", "2"));
  c["tf_padding"] = false;
  EXPECT_THAT(Dims(Output(Build(c).proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "256", "2", "2"));
}

TEST(VisionIoTest, MobileNetV2BuildsAValidGraphWithHfNames) {
  json c = {{"model_type", "mobilenet_v2"}, {"image_size", 64}, {"depth_multiplier", 0.35}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"conv_stem.first_conv.convolution.weight", "conv_stem.conv_3x3.normalization.weight",
        "conv_stem.reduce_1x1.convolution.weight", "layer.15.expand_1x1.convolution.weight",
        "layer.15.reduce_1x1.normalization.running_var", "conv_1x1.convolution.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  // A multiplier below 1 keeps the final 1280 channels (finegrained_output).
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "1280", "2", "2"));
  c["output_stride"] = 8;  // DeepLabV3: dilated instead of strided past 1/8
  ExpectValidOnnx(c);
  EXPECT_THAT(Dims(Output(Build(c).proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "1280", "8", "8"));
}

TEST(VisionIoTest, RegNetBuildsValidGraphsWithHfNames) {
  json c = {{"model_type", "regnet"}, {"embedding_size", 8}, {"hidden_sizes", {8, 16}},
            {"depths", {1, 2}},       {"groups_width", 4},   {"image_size", 32}};
  ExpectValidOnnx(c);
  const Built b = Build(c);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name :
       {"embedder.embedder.convolution.weight", "embedder.embedder.normalization.weight",
        "encoder.stages.0.layers.0.shortcut.convolution.weight",
        "encoder.stages.1.layers.1.layer.1.convolution.weight",
        "encoder.stages.1.layers.1.layer.2.attention.0.weight",
        "encoder.stages.1.layers.1.layer.3.normalization.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  // 32 px halved by the stem and both stages.
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "4", "4"));
  c["layer_type"] = "x";
  ExpectValidOnnx(c);
  EXPECT_EQ(WeightNames(Build(c).proto.graph())
                .count("encoder.stages.1.layers.1.layer.2.attention.0.weight"),
            0u);
}

TEST(VisionIoTest, RectangularImagesAndPatches) {
  // ViTConfig takes [height, width] pairs: 12x16 pixels in 4x8 patches make 3x2 patches.
  json c = TinyVit("vit");
  c["image_size"] = {12, 16};
  c["patch_size"] = {4, 8};
  const Built b = Build(c);
  EXPECT_THAT(Dims(b.proto.graph().input(0)), ::testing::ElementsAre("batch", "3", "12", "16"));
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "7", "16"));
  ExpectValidOnnx(c);
}

// ----- The tower API that LLaVA and X-CLIP build on ----------------------------------------------

TEST(ClipTowerTest, VisionTowerUnderACallersPrefix) {
  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder g(&graph, &weights);
  g.Input("pixels", onnx::TensorProto::FLOAT, {std::string("b"), int64_t{3}, 16, 16});
  const HfConfig vision(TinyTower(true), "test");
  ClipTowerOutputs out;
  {
    WeightScope scope(g, "vision_tower.");
    out = BuildClipVisionTower(vision, g, "pixels");
  }
  EXPECT_EQ(g.weight_prefix(), "");
  ASSERT_EQ(out.hidden_states.size(), 3u);  // embeddings + 2 layers
  EXPECT_EQ(out.last_hidden_state, out.hidden_states.back());
  EXPECT_FALSE(out.pooled.empty());
  EXPECT_EQ(graph.input_size(), 1);
  EXPECT_EQ(graph.output_size(), 0);
  const auto names = WeightNames(graph);
  for (const auto& n : names) EXPECT_EQ(n.rfind("vision_tower.", 0), 0u) << n;
  EXPECT_EQ(names.count("vision_tower.pre_layrnorm.weight"), 1u);
  // Every layer and norm counts, as in HF, whichever hidden state the caller uses.
  json model = TinyTower(true);
  model["model_type"] = "clip_vision_model";
  EXPECT_EQ(weights.parameter_count(), Build(model).parameters);
}

TEST(ClipTowerTest, SiglipVisionTowerWithoutHead) {
  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder g(&graph, &weights);
  g.Input("pixels", onnx::TensorProto::FLOAT, {std::string("b"), int64_t{3}, 16, 16});
  json v = TinyTower(true);
  v["vision_use_head"] = false;
  const ClipTowerOutputs out =
      BuildClipVisionTower(HfConfig(v, "test"), g, "pixels", ClipFamily::kSiglip);
  EXPECT_TRUE(out.pooled.empty());
  EXPECT_NE(out.last_hidden_state, out.hidden_states.back());  // post_layernorm
  for (const auto& n : WeightNames(graph)) EXPECT_EQ(n.find("head."), std::string::npos) << n;
}

// Tiny vision tower config of `model_type` (hidden 16, 2 layers, 16 patches of 4x4 pixels).
json TinyTowerOf(const std::string& model_type) {
  json t = TinyTower(true);
  t["model_type"] = model_type;
  return t;
}

TEST(ClipVisionPieces, BlipPacksQkvAndNormsTheClassTokenTwiceWithOnePostLayernorm) {
  const Built b = Build(TinyTowerOf("blip_vision_model"));
  // Class token 16 + patch conv 16*3*16 + 16 + positions 17*16; per layer qkv 16*48 + 48,
  // projection 16*16 + 16, two norms 64, fc1 16*24 + 24, fc2 24*16 + 16; post_layernorm 32.
  EXPECT_EQ(b.parameters, 16 + 784 + 272 + 2 * (816 + 272 + 64 + 408 + 400) + 32);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"embeddings.class_embedding", "embeddings.position_embedding",
                           "encoder.layers.1.self_attn.qkv.bias",
                           "encoder.layers.1.self_attn.projection.weight", "post_layernorm.bias"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("pre_layrnorm.weight"), 0u);
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "17", "16"));
  int norms = 0;
  for (const auto& n : b.proto.graph().node()) norms += n.op_type() == "LayerNormalization";
  EXPECT_EQ(norms, 2 * 2 + 2);  // two per layer, post_layernorm twice
  ExpectValidOnnx(TinyTowerOf("blip_vision_model"));
}

TEST(ClipVisionPieces, Blip2AddsQueryAndValueBiasesToABiasFreeQkv) {
  json c = TinyTowerOf("blip_2_vision_model");
  const Built b = Build(c);
  EXPECT_EQ(WeightNames(b.proto.graph()).count("encoder.layers.0.self_attn.q_bias"), 1u);
  EXPECT_EQ(WeightNames(b.proto.graph()).count("encoder.layers.0.self_attn.qkv.bias"), 0u);
  c["qkv_bias"] = false;  // no q_bias and v_bias: 2 layers x 32 fewer
  EXPECT_EQ(Build(c).parameters, b.parameters - 64);
  ExpectValidOnnx(TinyTowerOf("blip_2_vision_model"));
}

TEST(ClipVisionPieces, GitNormsEveryTokenAndHasNoPooledOutput) {
  const Built b = Build(TinyTowerOf("git_vision_model"));
  EXPECT_THAT(Names(b.proto.graph().output()), ::testing::ElementsAre("last_hidden_state"));
  EXPECT_EQ(b.parameters, Build(TinyTowerOf("clip_vision_model")).parameters);
  EXPECT_EQ(WeightNames(b.proto.graph()).count("vision_model.post_layernorm.weight"), 1u);
}

TEST(ClipVisionPieces, Idefics3IsSiglipWithoutHeadOrScope) {
  const Built b = Build(TinyTowerOf("idefics3_vision"));
  EXPECT_THAT(Names(b.proto.graph().output()), ::testing::ElementsAre("last_hidden_state"));
  for (const auto& n : WeightNames(b.proto.graph())) {
    EXPECT_EQ(n.rfind("vision_model.", 0), std::string::npos) << n;
    EXPECT_EQ(n.find("head."), std::string::npos) << n;
  }
  EXPECT_EQ(WeightNames(b.proto.graph()).count("embeddings.patch_embedding.bias"), 1u);
}

TEST(ClipVisionPieces, JanusNamesItsProjectionLayerAndPoolsTokenZeroTwiceNormed) {
  json c = TinyTowerOf("janus_vision_model");
  const Built b = Build(c);
  // SigLIP's embeddings: patch conv 16*3*16 + 16, 16 positions by 16; per layer q/k/v
  // 3*(16*16 + 16), projection_layer 16*16 + 16, two norms 64, fc1 16*64 + 64 (mlp_ratio 4:
  // intermediate_size is not Janus' key), fc2 64*16 + 16; post_layernorm 32.
  EXPECT_EQ(b.parameters, 784 + 256 + 2 * (816 + 272 + 64 + 1088 + 1040) + 32);
  const auto names = WeightNames(b.proto.graph());
  for (const char* name : {"embeddings.position_embedding.weight",
                           "encoder.layers.1.self_attn.projection_layer.weight",
                           "encoder.layers.1.self_attn.k_proj.bias", "post_layernorm.weight"})
    EXPECT_EQ(names.count(name), 1u) << name;
  EXPECT_EQ(names.count("encoder.layers.1.self_attn.out_proj.weight"), 0u);
  EXPECT_THAT(Names(b.proto.graph().output()),
              ::testing::ElementsAre("last_hidden_state", "pooler_output"));
  EXPECT_THAT(Dims(Output(b.proto.graph(), "last_hidden_state")),
              ::testing::ElementsAre("batch", "16", "16"));  // no class token
  int norms = 0;
  for (const auto& n : b.proto.graph().node()) norms += n.op_type() == "LayerNormalization";
  EXPECT_EQ(norms, 2 * 2 + 2);  // two per layer, post_layernorm twice
  ExpectValidOnnx(c);
  c["attention_bias"] = false;  // no q/k/v biases: 2 layers x 48 fewer
  EXPECT_EQ(Build(c).parameters, b.parameters - 96);
  c["use_qk_norm"] = true;
  EXPECT_THAT(CatchError([&] { Build(c); }).what(), HasSubstr("use_qk_norm"));
}

TEST(ClipVisionPieces, MlcdRotatesQueriesAndKeysOverThePatchGridInsteadOfAPositionTable) {
  const Built b = Build(TinyTowerOf("mlcd_vision_model"));
  // CLIP's tiny tower (class embedding 16, patch conv 16*3*16, positions 17*16, pre_layrnorm 32,
  // 2 layers of 1960, post_layernorm 32 = 5040) without the position table, with class_pos_emb
  // [1, head_dim / 2 = 4].
  EXPECT_EQ(b.parameters, 5040 - 17 * 16 + 4);
  const auto names = WeightNames(b.proto.graph());
  EXPECT_EQ(names.count("vision_model.class_pos_emb"), 1u);
  EXPECT_EQ(names.count("vision_model.embeddings.position_embedding.weight"), 0u);
  // A 4 x 4 grid, head_dim 8: inverse frequencies 1 and 10000^-0.5 = 0.01 for the row, then the
  // same for the column. Patch 6 is row 1, column 2.
  std::vector<float> angles;
  for (const auto& t : b.proto.graph().initializer())
    if (t.name() == "mlcd.rope_angles") {
      angles.resize(t.raw_data().size() / sizeof(float));
      std::memcpy(angles.data(), t.raw_data().data(), t.raw_data().size());
    }
  ASSERT_EQ(angles.size(), 16u * 4);
  EXPECT_THAT(std::vector<float>(angles.begin() + 6 * 4, angles.begin() + 7 * 4),
              ::testing::Pointwise(::testing::FloatEq(), std::vector<float>{1, 0.01f, 2, 0.02f}));
  int cos = 0, sin = 0;
  for (const auto& n : b.proto.graph().node()) {
    cos += n.op_type() == "Cos";
    sin += n.op_type() == "Sin";
  }
  EXPECT_EQ(cos, 1);  // one table for every layer
  EXPECT_EQ(sin, 1);
  ExpectValidOnnx(TinyTowerOf("mlcd_vision_model"));
  json c = TinyTowerOf("mlcd_vision_model");
  c["num_attention_heads"] = 8;  // head_dim 2: no quarter for each axis
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
}

TEST(ClipTowerTest, TextTowerWithoutMask) {
  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder g(&graph, &weights);
  g.Input("ids", onnx::TensorProto::INT64, {std::string("b"), std::string("s")});
  const ClipTowerOutputs out = BuildClipTextTower(HfConfig(TinyTower(false), "t"), g, "ids", "");
  EXPECT_EQ(out.hidden_states.size(), 3u);
  EXPECT_FALSE(out.pooled.empty());
  EXPECT_EQ(graph.input_size(), 1);
}

TEST(ClipTowerTest, FamilyAndSubConfigs) {
  EXPECT_EQ(ClipFamilyOf("clip_vision_model"), ClipFamily::kClip);
  EXPECT_EQ(ClipFamilyOf("siglip"), ClipFamily::kSiglip);
  EXPECT_EQ(CatchError([] { ClipFamilyOf("vit"); }).kind(), ErrorKind::kUnsupported);

  // CLIPConfig's legacy text_config_dict wins over text_config, defaults included.
  const HfConfig legacy(json{{"model_type", "clip"},
                             {"text_config", {{"hidden_size", 32}, {"vocab_size", 77}}},
                             {"text_config_dict", {{"hidden_size", 64}}}},
                        "cfg");
  const ClipTextShape s =
      ReadClipTextShape(ClipSubConfig(legacy, "text_config"), ClipFamily::kClip);
  EXPECT_EQ(s.hidden, 64);
  EXPECT_EQ(s.vocab, 49408);
  EXPECT_THAT(ClipSubConfig(legacy, "text_config").origin(), HasSubstr("text_config"));
  // No vision_config at all: CLIPVisionConfig's defaults.
  EXPECT_EQ(
      ReadClipVisionShape(ClipSubConfig(legacy, "vision_config"), ClipFamily::kClip).patches(), 49);
  EXPECT_EQ(CatchError([] {
              ClipSubConfig(HfConfig(json{{"text_config", 3}}, "cfg"), "text_config");
            }).kind(),
            ErrorKind::kCorrupt);
}

// ----- Config options refused
// ---------------------------------------------------------------------

TEST(VisionConfigTest, RefusalsNameTheirCause) {
  json bad_act = TinyDual("clip");
  bad_act["vision_config"]["hidden_act"] = "swiglu_magic";
  EXPECT_EQ(CatchError([&] { Build(bad_act); }).kind(), ErrorKind::kUnsupported);

  json heads = TinyVit("vit");
  heads["num_attention_heads"] = 5;
  const auto e = CatchError([&] { Build(heads); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("num_attention_heads"));

  json no_head = TinyDual("siglip");
  no_head["vision_config"]["vision_use_head"] = false;
  EXPECT_THAT(CatchError([&] { Build(no_head); }).what(), HasSubstr("vision_use_head"));

  json null_eos = TinyDual("clip");
  null_eos["text_config"]["eos_token_id"] = nullptr;
  EXPECT_THAT(CatchError([&] { Build(null_eos); }).what(), HasSubstr("eos_token_id"));

  json mismatch = TinyDual("siglip");
  mismatch["text_config"]["projection_size"] = 8;
  EXPECT_EQ(CatchError([&] { Build(mismatch); }).kind(), ErrorKind::kCorrupt);

  json tiny_image = TinyVit("vit");
  tiny_image["image_size"] = 2;
  EXPECT_EQ(CatchError([&] { Build(tiny_image); }).kind(), ErrorKind::kCorrupt);
}

// ----- What the harness gets
// -----------------------------------------------------------------------

TEST(VisionHintsTest, RolesAndHints) {
  const HfConfig clip(TinyDual("clip"), "t");
  const Architecture& a = FindArchitecture("clip", "t");
  EXPECT_EQ(a.modality, "multimodal");
  const DimRoles roles = a.dim_roles(clip);
  EXPECT_EQ(roles.batch, "batch");
  EXPECT_EQ(roles.sequence, "sequence");
  EXPECT_EQ(roles.max_sequence, 12);
  const auto hints = a.input_hints(clip);
  EXPECT_EQ(hints.at("input_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(hints.at("input_ids").high, 50);
  EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  EXPECT_EQ(hints.count("pixel_values"), 0u);  // any float image

  // SigLIP's defaults: 64 positions, 32000 tokens.
  const HfConfig siglip(json{{"model_type", "siglip"}}, "t");
  EXPECT_EQ(FindArchitecture("siglip", "t").dim_roles(siglip).max_sequence, 64);
  EXPECT_EQ(FindArchitecture("siglip", "t").input_hints(siglip).at("input_ids").high, 32000);

  const Architecture& vit = FindArchitecture("vit", "t");
  EXPECT_EQ(vit.modality, "vision");
  EXPECT_EQ(vit.dim_roles(HfConfig(TinyVit("vit"), "t")).batch, "batch");
  EXPECT_EQ(vit.dim_roles(HfConfig(TinyVit("vit"), "t")).sequence, "");
  EXPECT_THAT(vit.checkpoint_prefixes, ::testing::ElementsAre("vit."));
  EXPECT_THAT(FindArchitecture("deit", "t").checkpoint_prefixes, ::testing::ElementsAre("deit."));
}

// ----- components: "model:text_model" builds one part of a composite alone ---------------------

json CatalogTruthModels() {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  EXPECT_TRUE(in.good()) << "catalog_truth.json is missing";
  return in.good() ? json::parse(in).at("models") : json::object();
}

TEST(ModelComponentTest, ClipTowersCountAsHfCountsTheirModels) {
  // clip-vit-base-patch32's towers are CLIPTextConfig's and CLIPVisionConfig's defaults.
  const json truth = CatalogTruthModels();
  const int64_t text = truth.at("clip_text_model").at("base_params").get<int64_t>();
  const int64_t vision = truth.at("clip_vision_model").at("base_params").get<int64_t>();
  EXPECT_EQ(CountParameters("clip-vit-base-patch32:text_model"), text);
  EXPECT_EQ(CountParameters("clip-vit-base-patch32:vision_model"), vision);
  // The composite adds the two projections (512x512, 768x512) and logit_scale.
  EXPECT_EQ(CountParameters("clip-vit-base-patch32"), text + vision + 512 * 512 + 768 * 512 + 1);
}

TEST(ModelComponentTest, ComponentIsItsOwnModel) {
  const Model vision = LoadModel("clip-vit-base-patch32:vision_model");
  EXPECT_EQ(vision.info.name, "clip-vit-base-patch32:vision_model");
  EXPECT_EQ(vision.info.architecture, "clip_vision_model");
  EXPECT_EQ(vision.info.modality, "vision");
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(vision.onnx_bytes));
  std::vector<std::string> inputs, outputs;
  for (const auto& i : proto.graph().input()) inputs.push_back(i.name());
  for (const auto& o : proto.graph().output()) outputs.push_back(o.name());
  EXPECT_EQ(inputs, std::vector<std::string>{"pixel_values"});
  EXPECT_THAT(outputs, ::testing::UnorderedElementsAre("last_hidden_state", "pooler_output"));
}

TEST(ModelComponentTest, ComponentsAreListed) {
  EXPECT_EQ(ComponentsOf("clip-vit-base-patch32"),
            (std::vector<std::string>{"text_model", "vision_model"}));
  EXPECT_TRUE(ComponentsOf("bert-tiny").empty());
  EXPECT_EQ(CatchError([] { ComponentsOf("no-such-model"); }).kind(), ErrorKind::kNotFound);
}

TEST(ModelComponentTest, UnknownComponentsAreNamed) {
  const core::Error wrong = CatchError([] { LoadModel("clip-vit-base-patch32:audio_model"); });
  EXPECT_EQ(wrong.kind(), ErrorKind::kNotFound);
  EXPECT_THAT(wrong.what(), HasSubstr("no component 'audio_model'"));
  EXPECT_THAT(wrong.what(), HasSubstr("text_model, vision_model"));
  const core::Error none = CatchError([] { CountParameters("bert-tiny:text_model"); });
  EXPECT_EQ(none.kind(), ErrorKind::kNotFound);
  EXPECT_THAT(none.what(), HasSubstr("has no components"));
  // Not a catalog name with or without the suffix: the usual not-found error.
  EXPECT_EQ(CatchError([] { LoadModel("no-such-model:text_model"); }).kind(), ErrorKind::kNotFound);
}

// A standalone tower folder made from the hf-tiny CLIP fixture: the tower's sub-config and its
// weights, each name with `prefix` removed when `strip` (as a CLIPTextModel saved on its own).
std::string TowerFolder(const TempDir& tmp, const std::string& tower, bool strip) {
  const std::string clip = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/clip";
  const std::string prefix = tower + "_model.";
  const fs::path dir = tmp.path() / (strip ? "bare" : "prefixed") / tower;  // one model name
  fs::create_directories(dir);
  json config = core::ReadJsonFile(clip + "/config.json")[tower + "_config"];
  std::ofstream(dir / "config.json") << config.dump();
  auto file = SafetensorsFile::Open(clip + "/model.safetensors");
  std::map<std::string, core::Tensor> tensors;
  for (const auto& [name, entry] : file->entries())
    if (name.rfind(prefix, 0) == 0)
      tensors[strip ? name.substr(prefix.size()) : name] = file->Read(name);
  WriteSafetensors((dir / "model.safetensors").string(), tensors);
  return dir.string();
}

TEST(ClipTowerTest, StandaloneTowerCheckpointsLoadWithOrWithoutTheTowerPrefix) {
  TempDir tmp;
  for (const char* tower : {"text", "vision"}) {
    const Model bare = LoadHfFolder(TowerFolder(tmp, tower, true));
    const Model prefixed = LoadHfFolder(TowerFolder(tmp, tower, false));
    EXPECT_EQ(bare.info.architecture, std::string("clip_") + tower + "_model");
    EXPECT_GT(bare.info.parameters, 0) << tower;
    EXPECT_EQ(bare.info.parameters, prefixed.info.parameters) << tower;
    EXPECT_TRUE(bare.onnx_bytes == prefixed.onnx_bytes) << tower << ": the same graph and weights";
  }
}

// ----- Tower templates of CLIP's structure (clip builder pieces) ---------------------------------

onnx::GraphProto BuildTower(const std::string& model_type,
                            void (*build)(const HfConfig&, ClipFamily, GraphBuilder&)) {
  const ArchitectureTemplate* t = FindTemplate(model_type);
  EXPECT_NE(t, nullptr) << model_type;
  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder builder(&graph, &weights);
  build(ApplyTemplate(*t, TinyConfig(*t)), ClipFamily::kClip, builder);
  return graph;
}

bool HasInitializer(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name) return true;
  return false;
}

int Count(const onnx::GraphProto& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.node()) n += node.op_type() == op;
  return n;
}

TEST(ClipTowerTemplatesTest, OwlVitNamesItsPreEncoderNormPreLayernorm) {
  const onnx::GraphProto owlvit = BuildTower("owlvit_vision_model", BuildClipVisionModel);
  EXPECT_TRUE(HasInitializer(owlvit, "vision_model.pre_layernorm.weight"));
  EXPECT_FALSE(HasInitializer(owlvit, "vision_model.pre_layrnorm.weight"));
  const onnx::GraphProto chinese = BuildTower("chinese_clip_vision_model", BuildClipVisionModel);
  EXPECT_TRUE(HasInitializer(chinese, "vision_model.pre_layrnorm.weight"));
}

TEST(ClipTowerTemplatesTest, ArgmaxPoolingTowersPoolAtTheLargestIdOnly) {
  // CLIP's rule compares with eos_token_id (Equal) and checks the legacy 49407 rows; OwlViT,
  // GroupViT and X-CLIP take input_ids.argmax alone.
  EXPECT_EQ(Count(BuildTower("clip_text_model", BuildClipTextModel), "Equal"), 2);
  for (const char* type : {"owlvit_text_model", "groupvit_text_model", "xclip_text_model"}) {
    const onnx::GraphProto g = BuildTower(type, BuildClipTextModel);
    EXPECT_EQ(Count(g, "Equal"), 0) << type;
    EXPECT_EQ(Count(g, "ArgMax"), 1) << type;
  }
}

std::vector<int64_t> InitializerDims(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name) return {t.dims().begin(), t.dims().end()};
  return {};
}

TEST(ClipTowerTemplatesTest, OwlVitModelResolvesEachTowerThroughItsTowerTemplate) {
  // Sub-configs without sizes get OwlViTTextConfig's 16 positions (CLIP's would be 77), the
  // vision tower's pre_layernorm, and the text tower's largest-id pooling.
  const onnx::GraphProto g = Build(json{{"model_type", "owlvit"},
                                        {"projection_dim", 8},
                                        {"text_config",
                                         {{"hidden_size", 32},
                                          {"num_hidden_layers", 1},
                                          {"num_attention_heads", 2},
                                          {"intermediate_size", 64}}},
                                        {"vision_config",
                                         {{"hidden_size", 32},
                                          {"num_hidden_layers", 1},
                                          {"num_attention_heads", 2},
                                          {"intermediate_size", 64},
                                          {"image_size", 32},
                                          {"patch_size", 16}}}})
                                 .proto.graph();
  EXPECT_EQ(InitializerDims(g, "text_model.embeddings.position_embedding.weight"),
            (std::vector<int64_t>{16, 32}));
  EXPECT_TRUE(HasInitializer(g, "vision_model.pre_layernorm.weight"));
  EXPECT_EQ(Count(g, "Equal"), 0);
  EXPECT_EQ(Count(g, "ArgMax"), 1);
}

TEST(ClipTowerTemplatesTest, ChineseClipProjectsItsBertTowersFirstTokenWithoutAPooler) {
  const onnx::GraphProto g = Build(json{{"model_type", "chinese_clip"},
                                        {"projection_dim", 8},
                                        {"text_config",
                                         {{"vocab_size", 50},
                                          {"hidden_size", 32},
                                          {"num_hidden_layers", 1},
                                          {"num_attention_heads", 2},
                                          {"intermediate_size", 64},
                                          {"max_position_embeddings", 16}}},
                                        {"vision_config",
                                         {{"hidden_size", 32},
                                          {"num_hidden_layers", 1},
                                          {"num_attention_heads", 2},
                                          {"intermediate_size", 64},
                                          {"image_size", 32},
                                          {"patch_size", 16}}}})
                                 .proto.graph();
  EXPECT_EQ(InitializerDims(g, "text_model.embeddings.token_type_embeddings.weight"),
            (std::vector<int64_t>{2, 32}));
  EXPECT_TRUE(HasInitializer(g, "text_model.encoder.layer.0.attention.self.query.weight"));
  EXPECT_FALSE(HasInitializer(g, "text_model.pooler.dense.weight"));
  EXPECT_EQ(InitializerDims(g, "text_projection.weight"), (std::vector<int64_t>{32, 8}));
  EXPECT_TRUE(HasInitializer(g, "vision_model.pre_layrnorm.weight"));
}

TEST(ClipTowerTemplatesTest, ComponentsOfACompositeWithTowerTemplatesAreThoseTowers) {
  std::map<std::string, std::string> owlvit, clip;
  for (const Component& c : FindArchitecture("owlvit", "test").components)
    owlvit[c.name] = c.model_type;
  for (const Component& c : FindArchitecture("clip", "test").components)
    clip[c.name] = c.model_type;
  EXPECT_EQ(owlvit["text_model"], "owlvit_text_model");
  EXPECT_EQ(owlvit["vision_model"], "owlvit_vision_model");
  EXPECT_EQ(clip["text_model"], "clip_text_model");
}

}  // namespace vision_graph_test
}  // namespace ipfs_accel::models
