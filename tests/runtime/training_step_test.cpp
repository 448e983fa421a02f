// Training-step graphs (models/gradient.h) run through ONNX Runtime: a tiny BERT's gradient of
// every parameter against central finite differences in float64, AdamW and SGD steps against
// torch's documented algorithms computed here by hand, and the loss of the tiny BERT falling
// over 50 steps on a fixed batch.

#include <cmath>
#include <cstdio>
#include <random>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ipfs_accel/models/gradient.h"
#include "ipfs_accel/runtime/backend.h"
#include "models/graph_builder.h"
#include "support/gradient_check.h"
#include "support/tensors.h"

namespace ipfs_accel::models {
namespace training_step_test {

constexpr const char* kBert = IPFS_ACCEL_SHARED_DIR "/fixtures/hf-tiny/bert";

// A fixed batch of 2 x 6 tokens, the second row padded after 4; labels are other tokens, with
// the padded positions ignored (-100).
std::map<std::string, core::Tensor> BertBatch() {
  using testing::Int64Tensor;
  return {{"input_ids", Int64Tensor({2, 6}, {101, 7, 512, 33, 999, 102, 101, 45, 46, 102, 0, 0})},
          {"attention_mask", Int64Tensor({2, 6}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0})},
          {"token_type_ids", Int64Tensor({2, 6}, {0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0})},
          {"labels", Int64Tensor({2, 6}, {5, 900, 12, 77, 3, 640, 8, 321, 14, 2, -100, -100})}};
}

std::map<std::string, core::Tensor> WithState(const TrainingGraph& t,
                                              std::map<std::string, core::Tensor> feeds) {
  for (const auto& [name, value] : t.state) feeds[name] = value;
  return feeds;
}

// Each parameter's gradient along a random direction against central finite differences.
void ExpectFiniteDifferencesAgree(const TrainingGraph& t,
                                  const std::map<std::string, core::Tensor>& batch, uint64_t seed) {
  auto session = runtime::OpenSession(t.model, {});
  const auto feeds = WithState(t, batch);
  const auto out = session->Run(feeds);
  std::mt19937_64 rng(seed);
  for (const auto& p : t.parameters) {
    const core::Tensor d = testing::RandomDoubles(feeds.at(p).shape, rng);
    const double fd = testing::CentralDifference(*session, feeds, p, d);
    const double analytic = testing::Dot(out.at("grad." + p), d);
    EXPECT_LT(testing::RelativeError(analytic, fd), 1e-6) << p << ": " << analytic << " vs " << fd;
  }
}

Model TanhGeluBert() {
  Model forward =
      LoadConfig(HfConfig::Load(kBert).With("hidden_act", "gelu_new"), "hf-tiny bert, tanh gelu");
  forward.onnx_bytes = testing::ModelToFloat64(forward.onnx_bytes);
  return forward;
}

// The fixture's config with the tanh GELU: ONNX Runtime's CPU build has no float64 Erf (the Erf
// rule is checked alone in float32, and the fixture itself trains below).
TEST(TrainingStep, TinyBertGradientOfEveryParameterEqualsCentralFiniteDifferencesInFloat64) {
  TrainingOptions o;
  o.output = "last_hidden_state";
  o.tied_head = "embeddings.word_embeddings.weight";  // LM head: the table is used twice
  o.optimizer.kind = OptimizerKind::kNone;
  const TrainingGraph t = BuildTrainingStep(TanhGeluBert(), o);
  // 5 embedding weights and 16 per layer; the pooler does not reach an LM loss.
  EXPECT_EQ(t.parameters.size(), 5u + 2 * 16u);
  for (const auto& p : t.parameters) EXPECT_EQ(p.find("pooler"), std::string::npos) << p;
  ExpectFiniteDifferencesAgree(t, BertBatch(), 3);
}

// Classification on the pooled first token: Gather on axis 1, the pooler's Tanh, a new head.
TEST(TrainingStep, TinyBertClassifierGradientsEqualCentralFiniteDifferencesInFloat64) {
  TrainingOptions o;
  o.output = "pooler_output";
  o.classes = 3;
  o.optimizer.kind = OptimizerKind::kNone;
  const TrainingGraph t = BuildTrainingStep(TanhGeluBert(), o);
  EXPECT_EQ(t.parameters.size(), 5u + 2 * 16u + 2u + 2u);
  auto batch = BertBatch();
  batch["labels"] = testing::Int64Tensor({2}, {2, 0});
  ExpectFiniteDifferencesAgree(t, batch, 4);
}

// y = x * w with w = {0.5, -1, 2} trained under MSE against t: dL/dw = 2/3 (x w - t) x.
Model ScaleModel() {
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  m.mutable_graph()->set_name("scale");
  GraphBuilder g(m.mutable_graph(), nullptr);
  g.Input("x", onnx::TensorProto::DOUBLE, {int64_t{3}});
  const std::string w = g.Initializer(
      "w", core::Tensor::FromDoubles(core::DType::kFloat64, {3}, std::vector<double>{0.5, -1, 2}));
  g.Node("Mul", {"x", w}, {}, "y");
  g.Output("y", onnx::TensorProto::DOUBLE, {int64_t{3}});
  Model model;
  model.info.name = "scale";
  m.SerializeToString(&model.onnx_bytes);
  return model;
}

const std::vector<double> kX = {1.5, -2, 0.25}, kT = {1, 0.5, -3};

std::vector<double> ScaleGradient(const std::vector<double>& w) {
  std::vector<double> g(3);
  for (int i = 0; i < 3; ++i) g[i] = 2.0 / 3.0 * (kX[i] * w[i] - kT[i]) * kX[i];
  return g;
}

// Runs `steps` steps of `t` on the scale model's batch; returns the final state.
std::map<std::string, core::Tensor> RunScaleSteps(const TrainingGraph& t, int steps) {
  auto session = runtime::OpenSession(t.model, {});
  auto feeds =
      WithState(t, {{"x", core::Tensor::FromDoubles(core::DType::kFloat64, {3}, kX)},
                    {"labels", core::Tensor::FromDoubles(core::DType::kFloat64, {3}, kT)}});
  for (int s = 0; s < steps; ++s) {
    const auto out = session->Run(feeds);
    for (const auto& [from, to] : t.carry) feeds[to] = out.at(from);
  }
  return feeds;
}

TEST(TrainingStep, AdamWStepsEqualTorchsDocumentedAlgorithmComputedByHand) {
  TrainingOptions o;
  o.loss = LossKind::kMse;
  o.parameters = {"w"};
  o.optimizer = {OptimizerKind::kAdamW, 0.1, 0.0, 0.9, 0.999, 1e-8, 0.1};
  const TrainingGraph t = BuildTrainingStep(ScaleModel(), o);
  ASSERT_EQ(t.parameters, std::vector<std::string>{"w"});
  // torch.optim.AdamW (docs): theta *= 1 - lr wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
  // m^ = m / (1 - b1^t); v^ = v / (1 - b2^t); theta -= lr m^ / (sqrt(v^) + eps).
  std::vector<double> w = {0.5, -1, 2}, m(3, 0), v(3, 0);
  const double lr = 0.1, wd = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (int step = 1; step <= 3; ++step) {
    const std::vector<double> g = ScaleGradient(w);
    for (int i = 0; i < 3; ++i) {
      w[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const double mh = m[i] / (1 - std::pow(b1, step)), vh = v[i] / (1 - std::pow(b2, step));
      w[i] -= lr * mh / (std::sqrt(vh) + eps);
    }
  }
  const auto state = RunScaleSteps(t, 3);
  const auto got_w = state.at("w").ToDoubles(), got_m = state.at("optimizer.exp_avg.w").ToDoubles(),
             got_v = state.at("optimizer.exp_avg_sq.w").ToDoubles();
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(got_w[i], w[i], 1e-12);
    EXPECT_NEAR(got_m[i], m[i], 1e-12);
    EXPECT_NEAR(got_v[i], v[i], 1e-12);
  }
  EXPECT_EQ(state.at("optimizer.step").values<int64_t>()[0], 4);
}

TEST(TrainingStep, SgdMomentumStepsEqualTorchsDocumentedAlgorithmComputedByHand) {
  TrainingOptions o;
  o.loss = LossKind::kMse;
  o.parameters = {"w"};
  o.optimizer.kind = OptimizerKind::kSgdMomentum;
  o.optimizer.lr = 0.05;
  o.optimizer.momentum = 0.9;
  o.optimizer.weight_decay = 0.01;
  const TrainingGraph t = BuildTrainingStep(ScaleModel(), o);
  // torch.optim.SGD (docs): g += wd theta; b = g at t = 1, else mu b + g; theta -= lr b.
  std::vector<double> w = {0.5, -1, 2}, b(3, 0);
  for (int step = 1; step <= 3; ++step) {
    const std::vector<double> g = ScaleGradient(w);
    for (int i = 0; i < 3; ++i) {
      const double gi = g[i] + 0.01 * w[i];
      b[i] = step == 1 ? gi : 0.9 * b[i] + gi;
      w[i] -= 0.05 * b[i];
    }
  }
  const auto state = RunScaleSteps(t, 3);
  const auto got = state.at("w").ToDoubles();
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(got[i], w[i], 1e-12);
}

// 50 steps on one batch; the loss before steps 0, 10 and 50.
std::vector<double> TrainBert(OptimizerOptions opt) {
  TrainingOptions o;
  o.output = "last_hidden_state";
  o.tied_head = "embeddings.word_embeddings.weight";
  o.optimizer = opt;
  const TrainingGraph t = BuildTrainingStep(LoadModel(kBert), o);
  auto session = runtime::OpenSession(t.model, {});
  auto feeds = WithState(t, BertBatch());
  std::vector<double> losses;
  for (int step = 0; step <= 50; ++step) {
    const auto out = session->Run(feeds);
    if (step == 0 || step == 10 || step == 50) losses.push_back(out.at("loss").ToDoubles()[0]);
    for (const auto& [from, to] : t.carry) feeds[to] = out.at(from);
  }
  std::printf("tiny bert loss at steps 0, 10, 50: %.4f %.4f %.4f\n", losses[0], losses[1],
              losses[2]);
  // An untrained head over 1000 tokens starts near the uniform distribution's ln 1000.
  EXPECT_NEAR(losses[0], std::log(1000.0), 0.5);
  return losses;
}

TEST(TrainingStep, TinyBertLossFallsOverFiftyAdamWStepsOnAFixedBatch) {
  const auto losses = TrainBert({OptimizerKind::kAdamW, 1e-3, 0, 0.9, 0.999, 1e-8, 0.01});
  EXPECT_LT(losses[1], losses[0]);
  EXPECT_LT(losses[2], 0.5 * losses[0]);
}

TEST(TrainingStep, TinyBertLossFallsOverFiftySgdMomentumStepsOnAFixedBatch) {
  const auto losses = TrainBert({OptimizerKind::kSgdMomentum, 0.5, 0.9, 0, 0, 0, 0});
  EXPECT_LT(losses[1], losses[0]);
  EXPECT_LT(losses[2], 0.5 * losses[0]);
}

constexpr const char* kLlama = IPFS_ACCEL_SHARED_DIR "/fixtures/hf-tiny/llama";

// A causal LM batch of 2 x 6 tokens, labels the next token (-100 at the end and under padding),
// with the empty KV cache (2 layers, 2 KV heads of 16) of `dtype`.
std::map<std::string, core::Tensor> LlamaBatch(core::DType dtype) {
  using testing::Int64Tensor;
  std::map<std::string, core::Tensor> feeds = {
      {"input_ids", Int64Tensor({2, 6}, {1, 17, 512, 33, 999, 40, 1, 45, 46, 300, 2, 2})},
      {"attention_mask", Int64Tensor({2, 6}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0})},
      {"labels", Int64Tensor({2, 6}, {17, 512, 33, 999, 40, -100, 45, 46, 300, -100, -100, -100})}};
  for (int layer = 0; layer < 2; ++layer)
    for (const char* kv : {"key", "value"})
      feeds[fmt::format("past_key_values.{}.{}", layer, kv)] =
          core::Tensor::Zeros(dtype, {2, 2, 0, 16});
  return feeds;
}

TEST(TrainingStep, TinyLlamaGradientOfEveryParameterEqualsCentralFiniteDifferencesInFloat64) {
  Model forward = LoadModel(kLlama);
  forward.onnx_bytes = testing::ModelToFloat64(forward.onnx_bytes);
  TrainingOptions o;
  o.output = "logits";
  o.optimizer.kind = OptimizerKind::kNone;
  const TrainingGraph t = BuildTrainingStep(forward, o);
  // The embeddings, 9 per layer, the final norm and the head; not the rotary buffer.
  EXPECT_EQ(t.parameters.size(), 1u + 2 * 9u + 2u);
  for (const auto& p : t.parameters) EXPECT_EQ(p.find("inv_freq"), std::string::npos) << p;
  ExpectFiniteDifferencesAgree(t, LlamaBatch(core::DType::kFloat64), 5);
}

TEST(TrainingStep, TinyLlamaLossFallsOverFiftyAdamWStepsOnAFixedBatch) {
  TrainingOptions o;
  o.output = "logits";
  o.optimizer = {OptimizerKind::kAdamW, 1e-3, 0, 0.9, 0.999, 1e-8, 0.01};
  const TrainingGraph t = BuildTrainingStep(LoadModel(kLlama), o);
  auto session = runtime::OpenSession(t.model, {});
  auto feeds = WithState(t, LlamaBatch(core::DType::kFloat32));
  std::vector<double> losses;
  for (int step = 0; step <= 50; ++step) {
    const auto out = session->Run(feeds);
    if (step == 0 || step == 10 || step == 50) losses.push_back(out.at("loss").ToDoubles()[0]);
    for (const auto& [from, to] : t.carry) feeds[to] = out.at(from);
  }
  std::printf("tiny llama loss at steps 0, 10, 50: %.4f %.4f %.4f\n", losses[0], losses[1],
              losses[2]);
  EXPECT_LT(losses[1], losses[0]);
  EXPECT_LT(losses[2], 0.5 * losses[0]);
}

}  // namespace training_step_test
}  // namespace ipfs_accel::models
