// Tests for the detection family's graphs (ResNet, DETR) without running them: parameter counts
// against Hugging Face's (catalog_truth.json at the config classes' defaults; module formulas for
// the heads and the catalog entries), HF and timm parameter names, frozen BatchNorm statistics
// kept out of the count, inputs and outputs, ONNX validity of every option, and the config
// options the builders refuse. Numerical checks are in tests/harness/detection_verify_test.cpp.

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
#include "support/catch_error.h"

namespace ipfs_accel::models {
namespace detection_graph_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using nlohmann::json;
using ::testing::HasSubstr;

struct Built {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

// Builds through the registry, as LoadModel does, with shape-only or seeded weights.
Built Build(const json& config, bool seeded = false) {
  Built b;
  b.proto.set_ir_version(onnx::IR_VERSION);
  b.proto.mutable_graph()->set_name("test");
  auto* opset = b.proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  ShapeOnlyWeights shape_only;
  SeededRandomWeights random(5, 0.02);
  WeightProvider& weights = seeded ? static_cast<WeightProvider&>(random) : shape_only;
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  const HfConfig c(config, "test-config");
  FindArchitecture(c.ModelType(), c.origin()).build(c, builder);
  b.parameters = weights.parameter_count();
  return b;
}

void ExpectValidOnnx(const json& config) {
  Built b = Build(config, true);
  EXPECT_NO_THROW({
    onnx::checker::check_model(b.proto);
    onnx::shape_inference::InferShapes(b.proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  }) << config.dump();
}

std::set<std::string> InitializerNames(const onnx::GraphProto& g) {
  std::set<std::string> names;
  for (const auto& t : g.initializer()) names.insert(t.name());
  return names;
}

// A dim as "name" or "N".
std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_value() ? std::to_string(d.dim_value()) : d.dim_param());
  return out;
}

int64_t Linear(int64_t in, int64_t out) { return in * out + out; }

json CatalogTruth() {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  EXPECT_TRUE(in.good()) << "catalog_truth.json is missing";
  return in.good() ? json::parse(in) : json::object();
}

// A tiny DETR over a tiny HF ResNet (the hf-tiny fixture's sizes).
json TinyDetr() {
  return {{"model_type", "detr"},
          {"architectures", {"DetrForObjectDetection"}},
          {"backbone_config",
           {{"model_type", "resnet"},
            {"embedding_size", 16},
            {"hidden_sizes", {16, 32, 64, 128}},
            {"depths", {1, 1, 1, 1}},
            {"layer_type", "basic"},
            {"out_features", {"stage4"}}}},
          {"d_model", 32},
          {"encoder_layers", 1},
          {"decoder_layers", 1},
          {"encoder_attention_heads", 4},
          {"decoder_attention_heads", 4},
          {"encoder_ffn_dim", 48},
          {"decoder_ffn_dim", 48},
          {"num_queries", 5},
          {"num_labels", 3}};
}

// ----- Parameter counts -----------------------------------------------------------------------

constexpr int64_t kResNet50 = 23508032;     // ResNetModel at ResNetConfig()
constexpr int64_t kDetrModel = 41368512;    // DetrModel, ResNet-50 backbone
constexpr int64_t kDetrDefault = 41501895;  // DetrForObjectDetection at DetrConfig(): 2 labels

TEST(DetectionCountTest, HfDefaultConfigsMatchCatalogTruth) {
  const json truth = CatalogTruth();
  EXPECT_EQ(truth["models"]["resnet"]["base_params"].get<int64_t>(), kResNet50);
  EXPECT_EQ(truth["models"]["detr"]["base_params"].get<int64_t>(), kDetrModel);
  EXPECT_EQ(Build({{"model_type", "resnet"}}).parameters, kResNet50);
  // DetrConfig(use_timm_backbone=False) takes ResNetConfig(out_features=["stage4"]).
  EXPECT_EQ(Build({{"model_type", "detr"}, {"use_timm_backbone", false}}).parameters, kDetrModel);
  // DetrConfig()'s timm resnet50 is the same network under timm's names.
  EXPECT_EQ(Build({{"model_type", "detr"}}).parameters, kDetrModel);
}

TEST(DetectionCountTest, HeadsAndFrozenBatchNormAsHfCountsThem) {
  // The backbone's BatchNorm weight and bias are DetrFrozenBatchNorm2d buffers: DetrModel is the
  // transformer plus ResNet-50 less its 26,560 BatchNorm channels x 2.
  const int64_t d = 256, layers = 6, ffn = 2048;
  const int64_t attention = 4 * Linear(d, d);
  const int64_t encoder = layers * (attention + Linear(d, ffn) + Linear(ffn, d) + 4 * d);
  const int64_t decoder =
      layers * (2 * attention + Linear(d, ffn) + Linear(ffn, d) + 6 * d) + 2 * d;
  const int64_t batch_norm_channels =
      64 + (3 * 384 + 256) + (4 * 768 + 512) + (6 * 1536 + 1024) + (3 * 3072 + 2048);
  EXPECT_EQ(kResNet50 - 2 * batch_norm_channels + Linear(2048, d) + 100 * d + encoder + decoder,
            kDetrModel);
  const int64_t boxes = 2 * Linear(d, d) + Linear(d, 4);
  EXPECT_EQ(kDetrModel + Linear(d, 2 + 1) + boxes, kDetrDefault);
  EXPECT_EQ(Build({{"model_type", "detr"},
                   {"use_timm_backbone", false},
                   {"architectures", {"DetrForObjectDetection"}}})
                .parameters,
            kDetrDefault);
  // id2label decides num_labels, as in PretrainedConfig.
  EXPECT_EQ(Build({{"model_type", "detr"},
                   {"architectures", {"DetrForObjectDetection"}},
                   {"id2label", {{"0", "a"}, {"1", "b"}, {"2", "c"}, {"3", "d"}}}})
                .parameters,
            kDetrModel + Linear(d, 4 + 1) + boxes);
  // facebook/detr-resnet-50: 91 COCO ids and "no object".
  EXPECT_EQ(CountParameters("detr-resnet-50"), kDetrModel + Linear(d, 92) + boxes);
  EXPECT_EQ(CountParameters("resnet-50"), kResNet50);
}

TEST(DetectionCountTest, CatalogEntriesResolve) {
  for (const std::string name : {"resnet-50", "resnet", "detr-resnet-50", "detr"}) {
    SCOPED_TRACE(name);
    const auto entry = FindInCatalog(name);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->modality, "vision");
    EXPECT_EQ(entry->config.ModelType(), entry->architecture);
  }
  EXPECT_EQ(FindInCatalog("detr")->hf_id, "facebook/detr-resnet-50");
  EXPECT_EQ(FindInCatalog("resnet")->hf_id, "microsoft/resnet-50");
}

// ----- Names ----------------------------------------------------------------------------------

TEST(DetectionNamesTest, HfResNetNamesAndBuffers) {
  const std::set<std::string> names =
      InitializerNames(Build({{"model_type", "resnet"}}).proto.graph());
  for (const std::string n :
       {"embedder.embedder.convolution.weight", "embedder.embedder.normalization.running_var",
        "encoder.stages.0.layers.0.shortcut.convolution.weight",
        "encoder.stages.0.layers.0.layer.2.normalization.bias",
        "encoder.stages.3.layers.2.layer.1.convolution.weight"})
    EXPECT_TRUE(names.count(n)) << n;
  // Only a stage's first layer changes shape: no shortcut after it.
  EXPECT_FALSE(names.count("encoder.stages.0.layers.1.shortcut.convolution.weight"));
  EXPECT_FALSE(names.count("encoder.stages.3.layers.3.layer.0.convolution.weight"));
}

TEST(DetectionNamesTest, DetrHfAndTimmBackboneNames) {
  const std::set<std::string> hf = InitializerNames(Build(TinyDetr()).proto.graph());
  for (const std::string n :
       {"backbone.conv_encoder.model.embedder.embedder.normalization.weight",
        "backbone.conv_encoder.model.encoder.stages.3.layers.0.shortcut.normalization.running_mean",
        "input_projection.weight", "query_position_embeddings.weight",
        "encoder.layers.0.self_attn.out_proj.bias", "decoder.layers.0.encoder_attn.k_proj.weight",
        "decoder.layers.0.encoder_attn_layer_norm.weight", "decoder.layernorm.bias",
        "class_labels_classifier.weight", "bbox_predictor.layers.2.weight"})
    EXPECT_TRUE(hf.count(n)) << n;
  EXPECT_FALSE(hf.count("backbone.position_embedding.row_embeddings.weight"));

  const std::set<std::string> timm =
      InitializerNames(Build({{"model_type", "detr"}}).proto.graph());
  for (const std::string n :
       {"backbone.conv_encoder.model.conv1.weight", "backbone.conv_encoder.model.bn1.running_var",
        "backbone.conv_encoder.model.layer1.0.downsample.0.weight",
        "backbone.conv_encoder.model.layer1.0.downsample.1.bias",
        "backbone.conv_encoder.model.layer3.5.conv3.weight",
        "backbone.conv_encoder.model.layer4.2.bn3.weight"})
    EXPECT_TRUE(timm.count(n)) << n;
  EXPECT_FALSE(timm.count("backbone.conv_encoder.model.layer1.1.downsample.0.weight"));
  EXPECT_FALSE(timm.count("class_labels_classifier.weight"));  // no architectures: DetrModel

  json learned = TinyDetr();
  learned["position_embedding_type"] = "learned";
  const Built b = Build(learned);
  EXPECT_TRUE(InitializerNames(b.proto.graph())
                  .count("backbone.position_embedding.column_embeddings.weight"));
  EXPECT_EQ(b.parameters, Build(TinyDetr()).parameters + 2 * 50 * 16);
}

// ----- Inputs, outputs, hints -----------------------------------------------------------------

TEST(DetectionIoTest, DetrInputsOutputsAndHints) {
  const Built b = Build(TinyDetr());
  const auto& g = b.proto.graph();
  ASSERT_EQ(g.input_size(), 2);
  EXPECT_EQ(g.input(0).name(), "pixel_values");
  EXPECT_THAT(Dims(g.input(0)), ::testing::ElementsAre("batch", "3", "height", "width"));
  EXPECT_EQ(g.input(1).name(), "pixel_mask");
  EXPECT_EQ(g.input(1).type().tensor_type().elem_type(), onnx::TensorProto::INT64);
  EXPECT_THAT(Dims(g.input(1)), ::testing::ElementsAre("batch", "height", "width"));
  ASSERT_EQ(g.output_size(), 3);
  EXPECT_EQ(g.output(0).name(), "logits");
  EXPECT_THAT(Dims(g.output(0)), ::testing::ElementsAre("batch", "5", "4"));
  EXPECT_EQ(g.output(1).name(), "pred_boxes");
  EXPECT_THAT(Dims(g.output(1)), ::testing::ElementsAre("batch", "5", "4"));
  EXPECT_EQ(g.output(2).name(), "last_hidden_state");

  json base = TinyDetr();
  base.erase("architectures");
  base["image_size"] = 96;
  const Built bare = Build(base);
  ASSERT_EQ(bare.proto.graph().output_size(), 1);
  EXPECT_EQ(bare.proto.graph().output(0).name(), "last_hidden_state");
  EXPECT_THAT(Dims(bare.proto.graph().input(0)), ::testing::ElementsAre("batch", "3", "96", "96"));

  const HfConfig c(TinyDetr(), "test-config");
  const Architecture& arch = FindArchitecture("detr", "test");
  EXPECT_EQ(arch.input_hints(c).at("pixel_mask").kind, InputHint::Kind::kOnes);
  EXPECT_EQ(arch.input_hints(c).count("pixel_values"), 0u);
  EXPECT_EQ(arch.dim_roles(c).batch, "batch");
  EXPECT_EQ(arch.checkpoint_prefixes, std::vector<std::string>{"model."});
  EXPECT_EQ(FindArchitecture("resnet", "test").checkpoint_prefixes,
            std::vector<std::string>{"resnet."});
}

TEST(DetectionIoTest, ResNetOutputsFollowTheStrides) {
  // 7x7/2 stem, 3x3/2 pool, then /2 per later stage: 97 -> 49 -> 25 -> 25, 13, 7, 4.
  const Built b = Build({{"model_type", "resnet"}, {"image_size", 97}});
  const auto& g = b.proto.graph();
  EXPECT_THAT(Dims(g.input(0)), ::testing::ElementsAre("batch", "3", "97", "97"));
  ASSERT_EQ(g.output_size(), 2);
  EXPECT_EQ(g.output(0).name(), "last_hidden_state");
  EXPECT_THAT(Dims(g.output(0)), ::testing::ElementsAre("batch", "2048", "4", "4"));
  EXPECT_EQ(g.output(1).name(), "pooler_output");
  EXPECT_THAT(Dims(g.output(1)), ::testing::ElementsAre("batch", "2048", "1", "1"));
  // downsample_in_first_stage halves once more.
  const Built first =
      Build({{"model_type", "resnet"}, {"image_size", 97}, {"downsample_in_first_stage", true}});
  EXPECT_THAT(Dims(first.proto.graph().output(0)),
              ::testing::ElementsAre("batch", "2048", "2", "2"));
  ExpectValidOnnx({{"model_type", "resnet"}, {"image_size", 97}});
  ExpectValidOnnx(
      {{"model_type", "resnet"}, {"image_size", 97}, {"downsample_in_first_stage", true}});
}

TEST(DetectionIoTest, EveryOptionBuildsValidOnnx) {
  ExpectValidOnnx(TinyDetr());
  json learned = TinyDetr();
  learned["position_embedding_type"] = "learned";
  ExpectValidOnnx(learned);
  json bottleneck = TinyDetr();
  bottleneck["backbone_config"]["layer_type"] = "bottleneck";
  bottleneck["backbone_config"]["downsample_in_bottleneck"] = true;
  bottleneck["backbone_config"]["out_features"] = {"stage2", "stage3"};
  bottleneck["activation_function"] = "gelu";
  ExpectValidOnnx(bottleneck);
  json timm = TinyDetr();
  timm.erase("backbone_config");
  timm["use_timm_backbone"] = true;
  timm["backbone"] = "resnet18";
  timm["backbone_kwargs"] = {{"out_indices", {1, 2}}, {"in_chans", 4}};
  ExpectValidOnnx(timm);
  EXPECT_THAT(Dims(Build(timm).proto.graph().input(0)),
              ::testing::ElementsAre("batch", "4", "height", "width"));
  ExpectValidOnnx({{"model_type", "resnet"},
                   {"layer_type", "basic"},
                   {"hidden_sizes", {8, 16}},
                   {"depths", {2, 1}},
                   {"embedding_size", 8},
                   {"hidden_act", "gelu"}});
}

// ----- Refusals -------------------------------------------------------------------------------

void ExpectRefused(const json& config, ErrorKind kind, const std::string& text) {
  const core::Error e = CatchError([&] { Build(config); });
  EXPECT_EQ(e.kind(), kind) << config.dump();
  EXPECT_THAT(e.what(), HasSubstr(text)) << config.dump();
}

TEST(DetectionRefusalTest, UnsupportedOptionsSayWhich) {
  json positions = TinyDetr();
  positions["position_embedding_type"] = "rope";
  ExpectRefused(positions, ErrorKind::kUnsupported, "position_embedding_type=rope");
  json swin = TinyDetr();
  swin["backbone_config"] = {{"model_type", "swin"}};
  ExpectRefused(swin, ErrorKind::kUnsupported, "backbone_config.model_type=swin");
  ExpectRefused({{"model_type", "detr"}, {"backbone", "efficientnet_b0"}}, ErrorKind::kUnsupported,
                "backbone=efficientnet_b0");
  ExpectRefused({{"model_type", "detr"}, {"dilation", true}}, ErrorKind::kUnsupported,
                "dilation=true");
  ExpectRefused({{"model_type", "detr"}, {"backbone_kwargs", {{"output_stride", 16}}}},
                ErrorKind::kUnsupported, "backbone_kwargs.output_stride=16");
  ExpectRefused({{"model_type", "detr"}, {"architectures", {"DetrForSegmentation"}}},
                ErrorKind::kUnsupported, "DetrForSegmentation");
  ExpectRefused({{"model_type", "resnet"}, {"layer_type", "preactivation"}},
                ErrorKind::kUnsupported, "layer_type=preactivation");
  json act = TinyDetr();
  act["activation_function"] = "mish";
  ExpectRefused(act, ErrorKind::kUnsupported, "mish");
}

TEST(DetectionRefusalTest, InconsistentSizesAreCorrupt) {
  ExpectRefused({{"model_type", "resnet"}, {"hidden_sizes", {8, 16}}, {"depths", {1}}},
                ErrorKind::kCorrupt, "depths");
  ExpectRefused({{"model_type", "resnet"}, {"out_features", {"stage9"}}}, ErrorKind::kCorrupt,
                "stage9");
  json odd = TinyDetr();
  odd["d_model"] = 30;
  odd["encoder_attention_heads"] = 4;
  ExpectRefused(odd, ErrorKind::kCorrupt, "d_model 30");
  ExpectRefused({{"model_type", "resnet"}, {"image_size", 0}}, ErrorKind::kCorrupt, "image_size");
}

}  // namespace detection_graph_test
}  // namespace ipfs_accel::models
