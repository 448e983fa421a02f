// Training steps of convolutional graphs (models/gradient.h) run through ONNX Runtime: a tiny
// ResNet (Conv, inference-form BatchNormalization, MaxPool, global average pooling), a tiny
// ConvNeXt (depthwise convs) and a tiny wav2vec2 (a strided 1-D conv feature extractor with
// InstanceNormalization, a grouped, weight-normed positional conv, then a transformer), each
// parameter's gradient against central finite differences in float64. ONNX Runtime's CPU build has
// no float64 Conv, so the training graph, built in float32, runs in float64 with its window ops
// rewritten (support/window_ops_float64.h).

#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "ipfs_accel/models/gradient.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/backend.h"
#include "support/gradient_check.h"
#include "support/tensors.h"
#include "support/window_ops_float64.h"

namespace ipfs_accel::models {
namespace training_step_conv_test {

// Template `type` at its tiny size with `changes` to its config, float32 weights.
Model TinyConvTemplate(const std::string& type,
                       const std::map<std::string, nlohmann::json>& changes) {
  const ArchitectureTemplate* t = FindTemplate(type);
  EXPECT_NE(t, nullptr) << type;
  HfConfig config = TinyConfig(*t);
  for (const auto& [key, value] : changes) config = config.With(key, value);
  return BuildTemplate(*t, config);
}

core::Tensor RandomConvFloats(core::Shape shape, std::mt19937_64& rng, double lo = -1,
                              double hi = 1) {
  const core::Tensor values = testing::RandomDoubles(shape, rng, lo, hi);
  return core::Tensor::FromDoubles(core::DType::kFloat32, shape, values.ToDoubles());
}

// MSE of `output` against random labels; returns the trained parameters after checking each
// one's gradient along a random direction against finite differences (relative 1e-6).
std::vector<std::string> ExpectConvStepGradientsAgree(const Model& forward,
                                                      const std::string& output,
                                                      std::map<std::string, core::Tensor> batch,
                                                      uint64_t seed, double step = 1e-5) {
  std::mt19937_64 rng(seed);
  const core::Shape shape = runtime::OpenSession(forward, {})->Run(batch).at(output).shape;
  batch["labels"] = RandomConvFloats(shape, rng);
  TrainingOptions o;
  o.output = output;
  o.loss = LossKind::kMse;
  o.optimizer.kind = OptimizerKind::kNone;
  const TrainingGraph t = BuildTrainingStep(forward, o);
  // Biases drawn away from zero: a zero bias after an all-zero window (padding, a dead ReLU)
  // puts an activation exactly on ReLU's kink, where finite differences see half its slope.
  for (const auto& [name, value] : t.state)
    batch[name] = name.ends_with("bias") ? RandomConvFloats(value.shape, rng) : value;
  Model lowered = t.model;
  lowered.onnx_bytes = testing::LowerWindowOpsToFloat64(t.model.onnx_bytes, batch);
  const auto feeds = testing::FeedsToFloat64(batch);
  // Unoptimized: ONNX Runtime 1.x's level-99 rewrites broke the lowered Mamba graph (a Reshape
  // fusion reading a tensor it had removed); the float32 graph below runs fully optimized.
  runtime::SessionOptions plain;
  plain.graph_optimization_level = 0;
  auto session = runtime::OpenSession(lowered, plain);
  const auto out = session->Run(feeds);
  // The graph as built, on ONNX Runtime's own float32 kernels (ConvTranspose, ...).
  const auto out32 = runtime::OpenSession(t.model, {})->Run(batch);
  for (const auto& p : t.parameters) {
    const core::Tensor d = testing::RandomDoubles(feeds.at(p).shape, rng);
    const double fd = testing::CentralDifference(*session, feeds, p, d, "loss", step);
    const double analytic = testing::Dot(out.at("grad." + p), d);
    EXPECT_LT(testing::RelativeError(analytic, fd), 1e-6) << p << ": " << analytic << " vs " << fd;
    const double native = testing::Dot(out32.at("grad." + p), d);
    EXPECT_LT(testing::RelativeError(native, analytic), 1e-4) << p << " in float32: " << native;
  }
  return t.parameters;
}

size_t CountParamsContaining(const std::vector<std::string>& names, const std::string& part) {
  size_t n = 0;
  for (const auto& name : names) n += name.find(part) != std::string::npos;
  return n;
}

TEST(ConvTrainingStep, TinyResNetGradientOfEveryParameterEqualsCentralFiniteDifferencesInFloat64) {
  std::mt19937_64 rng(21);
  const Model forward = TinyConvTemplate("resnet", {{"image_size", 16}});
  const auto params = ExpectConvStepGradientsAgree(
      forward, "pooler_output", {{"pixel_values", RandomConvFloats({2, 3, 16, 16}, rng)}}, 22);
  // The stem and two bottleneck layers of three convs, the second with a projection shortcut:
  // every conv and its BatchNorm's scale and bias.
  EXPECT_EQ(CountParamsContaining(params, "convolution.weight"), 8u);
  EXPECT_EQ(CountParamsContaining(params, "normalization.weight"), 8u);
  EXPECT_EQ(CountParamsContaining(params, "normalization.bias"), 8u);
}

// Depthwise 7x7 convs (group = channels), channels-first LayerNorms, GELU as tanh (ONNX
// Runtime's CPU build has no float64 Erf), layer scales.
TEST(ConvTrainingStep,
     TinyConvNextGradientOfEveryParameterEqualsCentralFiniteDifferencesInFloat64) {
  std::mt19937_64 rng(41);
  const Model forward =
      TinyConvTemplate("convnext", {{"image_size", 16}, {"hidden_act", "gelu_new"}});
  const auto params = ExpectConvStepGradientsAgree(
      forward, "pooler_output", {{"pixel_values", RandomConvFloats({2, 3, 16, 16}, rng)}}, 42);
  EXPECT_EQ(CountParamsContaining(params, "dwconv.weight"), 3u);
}

// GELU as tanh: ONNX Runtime's CPU build has no float64 Erf.
TEST(ConvTrainingStep,
     TinyWav2Vec2GradientOfEveryParameterEqualsCentralFiniteDifferencesInFloat64) {
  std::mt19937_64 rng(31);
  const Model forward = TinyConvTemplate(
      "wav2vec2", {{"hidden_act", "gelu_new"}, {"feat_extract_activation", "gelu_new"}});
  const auto params = ExpectConvStepGradientsAgree(
      forward, "last_hidden_state", {{"input_values", RandomConvFloats({2, 400}, rng)}}, 32);
  EXPECT_EQ(CountParamsContaining(params, "feature_extractor.conv_layers"), 3u + 2u);
  EXPECT_EQ(CountParamsContaining(params, "pos_conv_embed"), 3u);
  EXPECT_GT(params.size(), 20u);
}

// The float32 graph on ONNX Runtime's own kernels, repeated: 50 AdamW steps on one batch.
// Mamba's and Mamba-2's selective scans are ONNX Scans: the gradient is a second Scan running
// backwards over the gradient of the scan's body (the forward scan run again to keep each
// step's state), beside the causal depthwise Conv. A_log is read by the scan's decay alone.
// A step of 2.5e-6: Mamba-2's in_proj curves enough that the differences at 1e-5 are 1.9e-9 off
// (they fell 4x per halving of the step, 3.1e-8 at 4e-5 to 1.6e-10 at 2.5e-6: truncation).
TEST(ConvTrainingStep, TinyMambaGradientsThroughTheirScanEqualCentralFiniteDifferencesInFloat64) {
  for (const char* type : {"mamba", "mamba2"}) {
    SCOPED_TRACE(type);
    const std::map<std::string, core::Tensor> batch = {
        {"input_ids", testing::Int64Tensor({2, 5}, {1, 7, 30, 2, 95, 4, 4, 60, 13, 0})},
        {"attention_mask", testing::Int64Tensor({2, 5}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1})}};
    const auto params =
        ExpectConvStepGradientsAgree(TinyConvTemplate(type, {}), "logits", batch, 11, 2.5e-6);
    EXPECT_GT(CountParamsContaining(params, "A_log"), 0u);
  }
}

TEST(ConvTrainingStep, TinyResNetMseFallsOverFiftyAdamWStepsOnAFixedBatch) {
  std::mt19937_64 rng(51);
  const Model forward = TinyConvTemplate("resnet", {{"image_size", 16}});
  std::map<std::string, core::Tensor> feeds = {
      {"pixel_values", RandomConvFloats({4, 3, 16, 16}, rng)},
      {"labels", RandomConvFloats({4, 16, 1, 1}, rng, 0, 1)}};  // after a ReLU: reachable
  TrainingOptions o;
  o.output = "pooler_output";
  o.loss = LossKind::kMse;
  o.optimizer = {OptimizerKind::kAdamW, 1e-2, 0, 0.9, 0.999, 1e-8, 0.0};
  const TrainingGraph t = BuildTrainingStep(forward, o);
  for (const auto& [name, value] : t.state) feeds[name] = value;
  auto session = runtime::OpenSession(t.model, {});
  std::vector<double> losses;
  for (int step = 0; step <= 50; ++step) {
    const auto out = session->Run(feeds);
    if (step == 0 || step == 10 || step == 50) losses.push_back(out.at("loss").ToDoubles()[0]);
    for (const auto& [from, to] : t.carry) feeds[to] = out.at(from);
  }
  std::printf("tiny resnet mse at steps 0, 10, 50: %.4f %.4f %.4f\n", losses[0], losses[1],
              losses[2]);
  EXPECT_LT(losses[1], losses[0]);
  EXPECT_LT(losses[2], 0.5 * losses[0]);
}

}  // namespace training_step_conv_test
}  // namespace ipfs_accel::models
