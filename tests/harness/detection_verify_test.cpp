// Runs the detection family's graphs on ONNX Runtime.
//  - DETR: the hf-tiny fixture against the logits and boxes transformers returned; in a batch,
//    an image's outputs do not depend on its neighbour's pixels or mask, and a padding mask
//    changes the masked image's outputs.
//  - DETR's mask resize and sine / learned position embeddings against double-precision
//    references of HF's formulas, on a mask with padding and sizes that do not divide.
//  - DETR over timm's resnet18 names equals DETR over the same weights under HF's ResNet names.
//  - ResNetModel (no fixture): tiny checkpoints written here under ResNetForImageClassification's
//    names with seeded values, against a double-precision forward pass computed here (basic and
//    bottleneck layers, downsample_in_first_stage, downsample_in_bottleneck, a hidden_act other
//    than relu, which the layers' inner convolutions must not use).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/architectures.h"
#include "models/detr_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace detection_verify_test {

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::TempDir;
using nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;

const fs::path kDetrFixture = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/detr";
constexpr double kTolerance = 1e-4;

Tensor FloatTensor(core::Shape shape, const std::vector<double>& values) {
  Tensor t = Tensor::Zeros(DType::kFloat32, std::move(shape));
  auto v = t.values<float>();
  for (size_t i = 0; i < values.size(); ++i) v[i] = static_cast<float>(values[i]);
  return t;
}

std::vector<double> Normal(std::mt19937& rng, size_t n, double stddev, double mean = 0) {
  std::normal_distribution<double> dist(mean, stddev);
  std::vector<double> out(n);
  for (auto& x : out) x = static_cast<float>(dist(rng));  // exactly what the float32 file holds
  return out;
}

std::vector<double> Uniform(std::mt19937& rng, size_t n, double low, double high) {
  std::uniform_real_distribution<double> dist(low, high);
  std::vector<double> out(n);
  for (auto& x : out) x = static_cast<float>(dist(rng));
  return out;
}

// Writes config.json and model.safetensors.
void WriteFolder(const fs::path& dir, const json& config, const TensorMap& tensors) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
  models::WriteSafetensors((dir / "model.safetensors").string(), tensors);
}

// ---- DETR against transformers ----

TEST(DetrFixtureTest, MatchesTransformers) {
  const models::Model model = models::LoadHfFolder(kDetrFixture.string());
  std::ifstream in(kDetrFixture / "fixture.json");
  EXPECT_EQ(model.info.parameters, json::parse(in).at("params").get<int64_t>());
  const ReferenceIo io = LoadReferenceIo((kDetrFixture / "io.safetensors").string());
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 2u);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, kTolerance) << o.name;
    std::cout << "detr " << o.name << " max abs error " << o.max_abs_error << "\n";
  }
  EXPECT_TRUE(r.passed);
}

// Rows of a [batch, ...] tensor stacked, or one row taken out.
Tensor Stack(const Tensor& a, const Tensor& b) {
  core::Shape shape = a.shape;
  shape[0] = a.shape[0] + b.shape[0];
  Tensor out = Tensor::Zeros(a.dtype, shape);
  std::copy(a.bytes.begin(), a.bytes.end(), out.bytes.begin());
  std::copy(b.bytes.begin(), b.bytes.end(), out.bytes.begin() + a.bytes.size());
  return out;
}

Tensor Row(const Tensor& t, int64_t row) {
  core::Shape shape = t.shape;
  shape[0] = 1;
  Tensor out = Tensor::Zeros(t.dtype, shape);
  std::copy_n(t.bytes.begin() + row * out.bytes.size(), out.bytes.size(), out.bytes.begin());
  return out;
}

TEST(DetrFixtureTest, BatchRowsAreIndependentAndTheMaskMatters) {
  const models::Model model = models::LoadHfFolder(kDetrFixture.string());
  const ReferenceIo io = LoadReferenceIo((kDetrFixture / "io.safetensors").string());
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const Tensor pixels = io.inputs.at("pixel_values");  // [1, 3, 64, 64]
  const Tensor ones = io.inputs.at("pixel_mask");      // all ones
  // A second image, its right half padding (the 2x2 feature map's second column masked).
  Tensor other = pixels;
  std::mt19937 rng(7);
  const auto noise = Normal(rng, core::ElementCount(pixels.shape), 1.0);
  for (size_t i = 0; i < noise.size(); ++i) other.values<float>()[i] = static_cast<float>(noise[i]);
  std::vector<int64_t> half(64 * 64, 1);
  for (int64_t y = 0; y < 64; ++y)
    for (int64_t x = 32; x < 64; ++x) half[y * 64 + x] = 0;
  const Tensor half_mask = Int64Tensor({1, 64, 64}, half);

  const TensorMap batch = session->Run(
      {{"pixel_values", Stack(pixels, other)}, {"pixel_mask", Stack(ones, half_mask)}});
  for (const std::string name : {"logits", "pred_boxes"}) {
    SCOPED_TRACE(name);
    EXPECT_LT(MaxAbsDiff(Row(batch.at(name), 0), io.outputs.at(name)), kTolerance);
    const Tensor alone =
        session->Run({{"pixel_values", other}, {"pixel_mask", half_mask}}).at(name);
    EXPECT_LT(MaxAbsDiff(Row(batch.at(name), 1), alone), 1e-5);
    const Tensor unmasked = session->Run({{"pixel_values", other}, {"pixel_mask", ones}}).at(name);
    EXPECT_GT(MaxAbsDiff(alone, unmasked), 1e-5);  // float noise is ~1e-7
  }
}

// ---- DETR's mask and position pieces against HF's formulas ----

TEST(DetrPiecesTest, MaskResizeAndPositionsMatchHfFormulas) {
  constexpr int64_t kBatch = 2, kH = 37, kW = 50, kh = 5, kw = 7, kDModel = 12;
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("detr-pieces");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(models::kOpsetVersion);
  models::SeededRandomWeights weights(11, 0.5);
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  g.Input("pixel_mask", onnx::TensorProto::INT64, {kBatch, kH, kW});
  g.Input("feature_map", onnx::TensorProto::FLOAT, {kBatch, 3, kh, kw});
  const std::string mask = models::DetrResizedMask(g, "pixel_mask", "feature_map");
  g.Node("Identity", {mask}, {}, "mask");
  g.Node("Identity", {models::DetrSinePositions(g, mask, kDModel)}, {}, "sine");
  g.Node("Identity", {models::DetrLearnedPositions(g, "feature_map", kDModel)}, {}, "learned");
  g.Output("mask", onnx::TensorProto::FLOAT, {kBatch, kh, kw});
  g.Output("sine", onnx::TensorProto::FLOAT, {kBatch, kh * kw, kDModel});
  g.Output("learned", onnx::TensorProto::FLOAT, {1, kh * kw, kDModel});
  models::Model model;
  ASSERT_TRUE(proto.SerializeToString(&model.onnx_bytes));
  std::map<std::string, std::vector<double>> tables;
  for (const auto& t : proto.graph().initializer())
    if (t.name().find("position_embedding") != std::string::npos) {
      std::vector<float> v(t.raw_data().size() / 4);
      std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
      tables[t.name()].assign(v.begin(), v.end());
    }

  // Image 0: a 30 x 41 image padded to 37 x 50; image 1: no padding.
  std::vector<int64_t> pixel_mask(kBatch * kH * kW, 1);
  for (int64_t y = 0; y < kH; ++y)
    for (int64_t x = 0; x < kW; ++x)
      if (y >= 30 || x >= 41) pixel_mask[y * kW + x] = 0;
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const TensorMap out =
      session->Run({{"pixel_mask", Int64Tensor({kBatch, kH, kW}, pixel_mask)},
                    {"feature_map", Tensor::Zeros(DType::kFloat32, {kBatch, 3, kh, kw})}});

  // interpolate(mode="nearest") with a size: source index floorf(i * (float)(in / out)).
  std::vector<double> resized(kBatch * kh * kw);
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        const auto sy = static_cast<int64_t>(std::floor(static_cast<float>(i) * (float(kH) / kh)));
        const auto sx = static_cast<int64_t>(std::floor(static_cast<float>(j) * (float(kW) / kw)));
        resized[(b * kh + i) * kw + j] = pixel_mask[(b * kH + sy) * kW + sx] != 0 ? 1 : 0;
      }
  EXPECT_EQ(MaxAbsDiff(out.at("mask"), FloatTensor({kBatch, kh, kw}, resized)), 0.0);
  double masked = 0;
  for (double m : resized) masked += 1 - m;
  EXPECT_GT(masked, 0);  // the padding reaches the feature map

  // DetrSinePositionEmbedding(kDModel / 2, normalize=True) on the resized mask.
  const int64_t features = kDModel / 2;
  std::vector<double> sine(kBatch * kh * kw * kDModel);
  for (int64_t b = 0; b < kBatch; ++b)
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j) {
        double y = 0, y_total = 0, x = 0, x_total = 0;
        for (int64_t r = 0; r < kh; ++r) {
          const double m = resized[(b * kh + r) * kw + j];
          y_total += m;
          if (r <= i) y += m;
        }
        for (int64_t c = 0; c < kw; ++c) {
          const double m = resized[(b * kh + i) * kw + c];
          x_total += m;
          if (c <= j) x += m;
        }
        const double embed[2] = {y / (y_total + 1e-6) * 2 * M_PI, x / (x_total + 1e-6) * 2 * M_PI};
        for (int64_t part = 0; part < 2; ++part)
          for (int64_t k = 0; k < features; ++k) {
            const double angle =
                embed[part] / std::pow(10000.0, 2.0 * (k / 2) / static_cast<double>(features));
            sine[((b * kh + i) * kw + j) * kDModel + part * features + k] =
                k % 2 == 0 ? std::sin(angle) : std::cos(angle);
          }
      }
  EXPECT_LT(MaxAbsDiff(out.at("sine"), FloatTensor({kBatch, kh * kw, kDModel}, sine)), 1e-5);

  // DetrLearnedPositionEmbedding: column_embeddings[x] then row_embeddings[y].
  const auto& rows = tables.at("backbone.position_embedding.row_embeddings.weight");
  const auto& columns = tables.at("backbone.position_embedding.column_embeddings.weight");
  std::vector<double> learned(kh * kw * kDModel);
  for (int64_t i = 0; i < kh; ++i)
    for (int64_t j = 0; j < kw; ++j)
      for (int64_t k = 0; k < features; ++k) {
        learned[(i * kw + j) * kDModel + k] = columns[j * features + k];
        learned[(i * kw + j) * kDModel + features + k] = rows[i * features + k];
      }
  EXPECT_EQ(MaxAbsDiff(out.at("learned"), FloatTensor({1, kh * kw, kDModel}, learned)), 0.0);
}

// ---- DETR over timm's resnet18 equals DETR over HF's ----

// Records every weight and buffer a build asks for, with seeded values (positive variances).
class RecordingWeights : public models::WeightProvider {
 public:
  TensorMap tensors;

 protected:
  Tensor Fetch(const std::string& name, const core::Shape& shape,
               models::WeightInit init) override {
    std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(name)));
    const size_t n = core::ElementCount(shape);
    const bool variance = name.find("running_var") != std::string::npos;
    const auto values = init == models::WeightInit::kOnes ? Uniform(rng, n, 0.5, 1.5)
                        : variance                        ? Uniform(rng, n, 0.5, 1.5)
                                                          : Normal(rng, n, 0.05);
    return tensors[name] = FloatTensor(shape, values);
  }
};

// HF's ResNet parameter names under DETR's backbone as timm's resnet names them.
std::string TimmName(const std::string& hf) {
  static const std::regex stem(R"(^(backbone\.conv_encoder\.model\.)embedder\.embedder\.)");
  static const std::regex conv(
      R"(^(backbone\.conv_encoder\.model\.)encoder\.stages\.(\d+)\.layers\.(\d+)\.(layer\.(\d+)|shortcut)\.(convolution|normalization)\.(.*)$)");
  std::smatch m;
  if (std::regex_search(hf, m, stem)) {
    const std::string rest = m.suffix();
    const bool is_conv = rest.rfind("convolution.", 0) == 0;
    return m[1].str() + (is_conv ? "conv1." : "bn1.") + rest.substr(rest.find('.') + 1);
  }
  if (std::regex_match(hf, m, conv)) {
    const std::string block =
        m[1].str() + "layer" + std::to_string(std::stoi(m[2]) + 1) + "." + m[3].str() + ".";
    const bool is_conv = m[6] == "convolution";
    if (m[4] == "shortcut") return block + "downsample." + (is_conv ? "0." : "1.") + m[7].str();
    const std::string k = std::to_string(std::stoi(m[5]) + 1);
    return block + (is_conv ? "conv" : "bn") + k + "." + m[7].str();
  }
  return hf;
}

TEST(DetrTimmBackboneTest, TimmResnet18NamesBuildTheSameNetwork) {
  const json transformer = {{"model_type", "detr"},
                            {"architectures", {"DetrForObjectDetection"}},
                            {"d_model", 16},
                            {"encoder_layers", 1},
                            {"decoder_layers", 1},
                            {"encoder_attention_heads", 2},
                            {"decoder_attention_heads", 2},
                            {"encoder_ffn_dim", 24},
                            {"decoder_ffn_dim", 24},
                            {"num_queries", 4},
                            {"num_labels", 3}};
  json hf = transformer;
  hf["use_timm_backbone"] = false;
  hf["backbone_config"] = {{"model_type", "resnet"},
                           {"layer_type", "basic"},
                           {"depths", {2, 2, 2, 2}},
                           {"hidden_sizes", {64, 128, 256, 512}},
                           {"out_features", {"stage4"}}};
  json timm = transformer;
  timm["use_timm_backbone"] = true;
  timm["backbone"] = "resnet18";

  RecordingWeights recorded;
  onnx::GraphProto scratch;
  models::GraphBuilder builder(&scratch, &recorded);
  models::BuildDetr(models::HfConfig(hf, "hf"), builder);
  TensorMap hf_tensors, timm_tensors;
  int renamed = 0;
  for (const auto& [name, t] : recorded.tensors) {
    hf_tensors["model." + name] = t;
    const std::string timm_name = TimmName(name);
    renamed += timm_name != name;
    timm_tensors["model." + timm_name] = t;
  }
  EXPECT_EQ(renamed, 5 * (1 + 16 + 3));  // stem, 8 blocks x 2 convs, 3 shortcuts; 5 tensors each
  TempDir dir;
  WriteFolder(dir.path() / "hf", hf, hf_tensors);
  WriteFolder(dir.path() / "timm", timm, timm_tensors);
  const models::Model hf_model = models::LoadHfFolder((dir.path() / "hf").string());
  const models::Model timm_model = models::LoadHfFolder((dir.path() / "timm").string());
  EXPECT_EQ(hf_model.info.parameters, timm_model.info.parameters);

  std::mt19937 rng(3);
  const TensorMap inputs = {
      {"pixel_values", FloatTensor({1, 3, 64, 64}, Normal(rng, 3 * 64 * 64, 1.0))},
      {"pixel_mask", Int64Tensor({1, 64, 64}, std::vector<int64_t>(64 * 64, 1))}};
  const TensorMap a = runtime::OpenOnnxRuntimeSession(hf_model, {})->Run(inputs);
  const TensorMap b = runtime::OpenOnnxRuntimeSession(timm_model, {})->Run(inputs);
  for (const std::string name : {"logits", "pred_boxes"})
    EXPECT_LT(MaxAbsDiff(a.at(name), b.at(name)), 1e-6) << name;
}

// ---- ResNetModel against a double-precision forward pass ----

struct Image {  // NCHW, double
  int64_t n, c, h, w;
  std::vector<double> v;
  double& at(int64_t b, int64_t ch, int64_t y, int64_t x) {
    return v[((b * c + ch) * h + y) * w + x];
  }
  double at(int64_t b, int64_t ch, int64_t y, int64_t x) const {
    return v[((b * c + ch) * h + y) * w + x];
  }
};

Image Zeros(int64_t n, int64_t c, int64_t h, int64_t w) {
  return {n, c, h, w, std::vector<double>(n * c * h * w, 0.0)};
}

// nn.Conv2d(bias=False, padding=k // 2): weight [out, in, k, k].
Image Conv(const Image& x, const std::vector<double>& weight, int64_t out, int64_t k,
           int64_t stride) {
  const int64_t pad = k / 2;
  Image y = Zeros(x.n, out, (x.h + 2 * pad - k) / stride + 1, (x.w + 2 * pad - k) / stride + 1);
  for (int64_t b = 0; b < x.n; ++b)
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < y.h; ++i)
        for (int64_t j = 0; j < y.w; ++j) {
          double sum = 0;
          for (int64_t c = 0; c < x.c; ++c)
            for (int64_t u = 0; u < k; ++u)
              for (int64_t v = 0; v < k; ++v) {
                const int64_t sy = i * stride - pad + u, sx = j * stride - pad + v;
                if (sy < 0 || sx < 0 || sy >= x.h || sx >= x.w) continue;
                sum += weight[((o * x.c + c) * k + u) * k + v] * x.at(b, c, sy, sx);
              }
          y.at(b, o, i, j) = sum;
        }
  return y;
}

double Act(const std::string& name, double x) {
  if (name == "relu") return std::max(x, 0.0);
  if (name == "silu") return x / (1 + std::exp(-x));
  if (name == "gelu") return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  ADD_FAILURE() << "no reference for " << name;
  return x;
}

class ResNetReference {
 public:
  ResNetReference(const json& config, uint32_t seed) : c_(config), rng_(seed) {}
  TensorMap checkpoint;  // ResNetForImageClassification's names ("resnet." + ...)

  // One ResNetConvLayer / ResNetShortCut: conv, BatchNorm(eps 1e-5), then `act` ("" none).
  Image ConvNorm(const Image& x, const std::string& prefix, int64_t out, int64_t k, int64_t stride,
                 const std::string& act) {
    const auto w = Normal(rng_, out * x.c * k * k, std::sqrt(2.0 / (x.c * k * k)));
    const auto gamma = Uniform(rng_, out, 0.5, 1.5), beta = Normal(rng_, out, 0.1);
    const auto mean = Normal(rng_, out, 0.1), var = Uniform(rng_, out, 0.5, 1.5);
    checkpoint["resnet." + prefix + ".convolution.weight"] = FloatTensor({out, x.c, k, k}, w);
    checkpoint["resnet." + prefix + ".normalization.weight"] = FloatTensor({out}, gamma);
    checkpoint["resnet." + prefix + ".normalization.bias"] = FloatTensor({out}, beta);
    checkpoint["resnet." + prefix + ".normalization.running_mean"] = FloatTensor({out}, mean);
    checkpoint["resnet." + prefix + ".normalization.running_var"] = FloatTensor({out}, var);
    checkpoint["resnet." + prefix + ".normalization.num_batches_tracked"] = Int64Tensor({}, {100});
    Image y = Conv(x, w, out, k, stride);
    for (int64_t b = 0; b < y.n; ++b)
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < y.h * y.w; ++i) {
          double& v = y.v[(b * out + o) * y.h * y.w + i];
          v = (v - mean[o]) / std::sqrt(var[o] + 1e-5) * gamma[o] + beta[o];
          if (!act.empty()) v = Act(act, v);
        }
    return y;
  }

  // ResNetModel: returns last_hidden_state; pooled() is its mean over h, w.
  Image Forward(const Image& pixels) {
    const std::string act = c_.value("hidden_act", "relu");
    const int64_t embedding = c_["embedding_size"];
    Image h = ConvNorm(pixels, "embedder.embedder", embedding, 7, 2, act);
    Image pooled = Zeros(h.n, h.c, (h.h - 1) / 2 + 1, (h.w - 1) / 2 + 1);  // 3x3, stride 2, pad 1
    for (int64_t b = 0; b < h.n; ++b)
      for (int64_t c = 0; c < h.c; ++c)
        for (int64_t i = 0; i < pooled.h; ++i)
          for (int64_t j = 0; j < pooled.w; ++j) {
            double best = -INFINITY;
            for (int64_t u = -1; u <= 1; ++u)
              for (int64_t v = -1; v <= 1; ++v) {
                const int64_t y = 2 * i + u, x = 2 * j + v;
                if (y >= 0 && x >= 0 && y < h.h && x < h.w) best = std::max(best, h.at(b, c, y, x));
              }
            pooled.at(b, c, i, j) = best;
          }
    h = pooled;
    const bool bottleneck = c_["layer_type"] == "bottleneck";
    const bool in_bottleneck = c_.value("downsample_in_bottleneck", false);
    int64_t in = embedding;
    for (size_t s = 0; s < c_["depths"].size(); ++s) {
      const int64_t out = c_["hidden_sizes"][s];
      const int64_t stage_stride = s > 0 || c_.value("downsample_in_first_stage", false) ? 2 : 1;
      for (int64_t l = 0; l < c_["depths"][s].get<int64_t>(); ++l) {
        const int64_t stride = l == 0 ? stage_stride : 1, layer_in = l == 0 ? in : out;
        const std::string p =
            "encoder.stages." + std::to_string(s) + ".layers." + std::to_string(l);
        Image residual = h;
        if (layer_in != out || stride != 1)
          residual = ConvNorm(h, p + ".shortcut", out, 1, stride, "");
        Image y;
        if (bottleneck) {  // inner convolutions: ResNetConvLayer's default relu
          y = ConvNorm(h, p + ".layer.0", out / 4, 1, in_bottleneck ? stride : 1, "relu");
          y = ConvNorm(y, p + ".layer.1", out / 4, 3, in_bottleneck ? 1 : stride, "relu");
          y = ConvNorm(y, p + ".layer.2", out, 1, 1, "");
        } else {
          y = ConvNorm(h, p + ".layer.0", out, 3, stride, "relu");
          y = ConvNorm(y, p + ".layer.1", out, 3, 1, "");
        }
        for (size_t i = 0; i < y.v.size(); ++i) y.v[i] = Act(act, y.v[i] + residual.v[i]);
        h = y;
      }
      in = out;
    }
    return h;
  }

 private:
  json c_;
  std::mt19937 rng_;
};

class ResNetReferenceTest : public ::testing::TestWithParam<json> {};

TEST_P(ResNetReferenceTest, MatchesDoublePrecisionForward) {
  json config = GetParam();
  config["model_type"] = "resnet";
  config["num_channels"] = 2;
  config["architectures"] = {"ResNetForImageClassification"};
  ResNetReference reference(config, 17);
  std::mt19937 rng(5);
  const Image pixels{2, 2, 23, 18, Normal(rng, 2 * 2 * 23 * 18, 1.0)};
  const Image hidden = reference.Forward(pixels);
  const int64_t last = config["hidden_sizes"].back();
  // The classifier head the checkpoint also holds; ResNetModel leaves it out.
  reference.checkpoint["classifier.1.weight"] = FloatTensor({3, last}, Normal(rng, 3 * last, 1));
  reference.checkpoint["classifier.1.bias"] = FloatTensor({3}, {0, 0, 0});
  TempDir dir;
  WriteFolder(dir.path(), config, reference.checkpoint);

  const models::Model model = models::LoadHfFolder(dir.path().string());
  int64_t expected_parameters = 0;
  for (const auto& [name, t] : reference.checkpoint)
    if (name.find("running_") == std::string::npos &&
        name.find("num_batches") == std::string::npos && name.rfind("classifier", 0) != 0)
      expected_parameters += core::ElementCount(t.shape);
  EXPECT_EQ(model.info.parameters, expected_parameters);
  const TensorMap out = runtime::OpenOnnxRuntimeSession(model, {})->Run(
      {{"pixel_values", FloatTensor({2, 2, 23, 18}, pixels.v)}});
  const double hidden_error = MaxAbsDiff(
      out.at("last_hidden_state"), FloatTensor({hidden.n, hidden.c, hidden.h, hidden.w}, hidden.v));
  std::vector<double> pooled(hidden.n * hidden.c, 0.0);
  for (size_t i = 0; i < hidden.v.size(); ++i) pooled[i / (hidden.h * hidden.w)] += hidden.v[i];
  for (auto& p : pooled) p /= static_cast<double>(hidden.h * hidden.w);
  const double pooled_error =
      MaxAbsDiff(out.at("pooler_output"), FloatTensor({hidden.n, hidden.c, 1, 1}, pooled));
  EXPECT_LT(hidden_error, kTolerance);
  EXPECT_LT(pooled_error, kTolerance);
  std::cout << config.dump() << ": last_hidden_state " << hidden_error << ", pooler_output "
            << pooled_error << "\n";
}

INSTANTIATE_TEST_SUITE_P(Tiny, ResNetReferenceTest,
                         ::testing::Values(json{{"layer_type", "bottleneck"},
                                                {"embedding_size", 4},
                                                {"hidden_sizes", {8, 12}},
                                                {"depths", {1, 2}},
                                                {"hidden_act", "silu"},
                                                {"downsample_in_first_stage", true}},
                                           json{{"layer_type", "bottleneck"},
                                                {"embedding_size", 4},
                                                {"hidden_sizes", {8, 12}},
                                                {"depths", {1, 2}},
                                                {"hidden_act", "relu"},
                                                {"downsample_in_bottleneck", true}},
                                           json{{"layer_type", "basic"},
                                                {"embedding_size", 4},
                                                {"hidden_sizes", {4, 6}},
                                                {"depths", {2, 1}},
                                                {"hidden_act", "gelu"}}));

}  // namespace detection_verify_test
}  // namespace ipfs_accel::harness
