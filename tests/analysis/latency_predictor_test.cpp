// The latency predictor on configurations whose latency follows a law the test chooses: the
// roofline recovers the law's coefficients, the trees learn what the roofline cannot express,
// a stored model predicts as the trained one did, and what it cannot know it refuses.

#include "ipfs_accel/analysis/latency_predictor.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ipfs_accel/core/error.h"
#include "support/catch_error.h"

namespace ipfs_accel::analysis {
namespace latency_predictor_test {

using ipfs_accel::testing::CatchError;

// A configuration of `gflops` in matmuls moving `gb`, with `nodes` operators.
PredictorRow Row(std::string hardware, std::string arch, int64_t batch, int64_t seq, double gflops,
                 double gb, int64_t nodes, bool fused = false) {
  PredictorRow r;
  r.hardware = std::move(hardware);
  r.architecture = arch;
  r.model = arch + "-model";
  r.batch_size = batch;
  r.seq_len = seq;
  r.threads = 2;
  r.fused = fused;
  r.cost.by_class["matmul"] = {nodes, gflops * 1e9, gb * 1e9};
  r.cost.flops = gflops * 1e9;
  r.cost.bytes = gb * 1e9;
  r.cost.weights_bytes = static_cast<int64_t>(gb * 1e8);
  return r;
}

// Latency = 0.05 ms + 3 ms per GFLOP + 0.5 ms per thousand nodes (no memory term).
double Law(const PredictorRow& r) {
  return 0.05 + 3 * r.cost.flops / 1e9 +
         0.5 * static_cast<double>(r.cost.by_class.at("matmul").nodes) / 1e3;
}

std::vector<PredictorRow> Sweep(const std::string& hardware, bool fused_slower) {
  std::vector<PredictorRow> rows;
  int a = 0;
  for (const char* arch : {"bert", "gpt2", "vit", "t5", "llama", "whisper"}) {
    ++a;
    for (int64_t batch : {1, 2, 4, 8})
      for (int64_t seq : {16, 32, 64, 128})
        for (bool fused : {false, true}) {
          const double gflops = 0.01 * a * static_cast<double>(batch * seq) / 16;
          // Bytes independent of FLOPs (weights per architecture, activations per sequence), so
          // the two terms can be told apart.
          const double gb = 0.002 * a + 0.0001 * static_cast<double>(batch * seq * seq) / 1024;
          PredictorRow r = Row(hardware, arch, batch, seq, gflops, gb, 100 + 20 * a, fused);
          r.latency_ms = Law(r) * (fused_slower && fused ? 1.5 : 1.0);
          rows.push_back(r);
        }
  }
  return rows;
}

TEST(LatencyPredictor, RooflineRecoversTheCoefficientsOfALinearLaw) {
  const auto rows = Sweep("cpu: test", false);
  const auto p = LatencyPredictor::Train(rows, PredictorKind::kRoofline);
  const PredictorRow unseen = Row("cpu: test", "new", 3, 100, 0.77, 0.1, 333);
  EXPECT_NEAR(p.Predict(unseen).latency_ms, Law(unseen), 1e-9);
  const auto j = p.ToJson()["rooflines"]["cpu: test"];
  EXPECT_NEAR(j["ms_per_gflop"].get<double>(), 3.0, 1e-9);
  EXPECT_NEAR(j["ms_per_gb"].get<double>(), 0.0, 1e-9);
}

TEST(LatencyPredictor, TreesLearnAFactorTheRooflineCannotExpress) {
  const auto rows = Sweep("cpu: test", true);  // fused graphs 1.5x slower
  const auto roofline = EvaluatePredictor(rows, PredictorKind::kRoofline);
  const auto trees = EvaluatePredictor(rows, PredictorKind::kRooflineAndTrees);
  ASSERT_EQ(trees.size(), 4u);
  // An architecture never measured has no roofline of its own: only the trees know that fused
  // graphs are slower.
  ASSERT_EQ(trees[3].split, "unseen_architecture");
  EXPECT_LT(roofline[3].accuracy.within_10pct, 0.6);  // half the rows are 1.5x off
  EXPECT_GE(trees[3].accuracy.within_10pct, 0.9);
  EXPECT_GE(trees[3].accuracy.spearman, 0.95);
}

TEST(LatencyPredictor, AModelMeasuredAtSeveralShapesIsPredictedFromItsOwnRoofline) {
  // Two models whose fixed cost and speed per GFLOP differ 10x and 2.5x: no roofline shared by
  // both fits either, each one's own fits it exactly.
  std::vector<PredictorRow> rows;
  for (const auto& [arch, fixed, per_gflop] :
       {std::tuple{"bert", 0.1, 2.0}, std::tuple{"gpt2", 1.0, 5.0}})
    for (int64_t batch : {1, 2, 4, 8})
      for (int64_t seq : {8, 16, 32}) {
        PredictorRow r = Row("cpu: test", arch, batch, seq, 0.001 * batch * seq, 0.01, 100);
        r.latency_ms = fixed + per_gflop * r.cost.flops / 1e9;
        if (!(std::string(arch) == "gpt2" && batch == 8 && seq == 16)) rows.push_back(r);
      }
  const auto p = LatencyPredictor::Train(rows, PredictorKind::kRooflineAndTrees);
  const PredictorRow held_out = Row("cpu: test", "gpt2", 8, 16, 0.128, 0.01, 100);
  EXPECT_NEAR(p.Predict(held_out).latency_ms, 1.0 + 5.0 * 0.128, 1e-5);
  EXPECT_EQ(p.ToJson()["model_rooflines"].size(), 2u);
  // Another graph of the model (fused) has no measurements of its own: the shared stages.
  PredictorRow fused = held_out;
  fused.fused = true;
  EXPECT_GT(std::abs(p.Predict(fused).latency_ms - (1.0 + 5.0 * 0.128)), 1e-3);
}

TEST(LatencyPredictor, AModelsOwnRooflineLearnsACostPerSampleOfTheBatch) {
  // A cost per batch item that no FLOP count shows (kernels looping over samples): a straight
  // line in GFLOPs alone would be off at a batch it was not fitted on.
  std::vector<PredictorRow> rows;
  for (int64_t batch : {1, 2, 4, 8})
    for (int64_t seq : {8, 16, 32}) {
      PredictorRow r = Row("cpu: test", "bert", batch, seq, 0.001 * batch * seq, 0.01, 100);
      r.latency_ms = 0.2 + 2.0 * r.cost.flops / 1e9 + 0.05 * static_cast<double>(batch);
      if (batch != 4) rows.push_back(r);
    }
  const auto p = LatencyPredictor::Train(rows, PredictorKind::kRoofline);
  const auto local = p.ToJson()["model_rooflines"].begin().value();
  EXPECT_NEAR(local["ms_per_sample"].get<double>(), 0.05, 1e-6);
  for (int64_t seq : {8, 16, 32}) {
    const PredictorRow held_out = Row("cpu: test", "bert", 4, seq, 0.004 * seq, 0.01, 100);
    EXPECT_NEAR(p.Predict(held_out).latency_ms, 0.2 + 0.008 * seq + 0.2, 1e-6) << seq;
  }
}

TEST(LatencyPredictor, AStoredModelPredictsAsTheTrainedOneDid) {
  const auto rows = Sweep("cpu: test", true);
  const auto p = LatencyPredictor::Train(rows, PredictorKind::kRooflineAndTrees);
  const auto q = LatencyPredictor::FromJson(nlohmann::json::parse(p.ToJson().dump()));
  const PredictorRow r = Row("cpu: test", "bert", 2, 48, 0.05, 0.01, 150, true);
  const auto a = p.Predict(r), b = q.Predict(r);
  EXPECT_DOUBLE_EQ(a.latency_ms, b.latency_ms);
  EXPECT_DOUBLE_EQ(a.low_ms, b.low_ms);
  EXPECT_LE(a.low_ms, a.latency_ms);
  EXPECT_GE(a.high_ms, a.latency_ms);
}

TEST(LatencyPredictor, RefusesHardwareNothingWasMeasuredOn) {
  const auto p = LatencyPredictor::Train(Sweep("cpu: test", false), PredictorKind::kRoofline);
  const auto e = CatchError([&] { p.Predict(Row("cuda: H100", "bert", 1, 16, 1, 1, 10)); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kNotFound);
  EXPECT_NE(std::string(e.what()).find("cuda: H100"), std::string::npos);
}

TEST(LatencyPredictor, RefusesAStoredModelTrainedOnOtherFeatures) {
  auto j = LatencyPredictor::Train(Sweep("cpu: test", false), PredictorKind::kRoofline).ToJson();
  j["features"] = {"something_else"};
  EXPECT_EQ(CatchError([&] { LatencyPredictor::FromJson(j); }).kind(), core::ErrorKind::kCorrupt);
}

// Latency that grows faster than a straight line in FLOPs (as when activations leave the cache):
// a model's own roofline, fitted at smaller batches, falls short at a larger one, every model
// alike. The trees learn that shortfall from each model's shapes held out in turn.
TEST(LatencyPredictor, TreesCorrectWhereAModelsOwnRooflineExtrapolates) {
  std::vector<PredictorRow> rows;
  for (int m = 1; m <= 12; ++m) {
    const std::string arch = "arch" + std::to_string(m);
    for (int64_t batch : {1, 2, 4, 8, 16})
      for (int64_t seq : {8, 16, 32}) {
        const double g = 0.001 * m * static_cast<double>(batch * seq);
        PredictorRow r = Row("cpu: test", arch, batch, seq, g, 0.01 * m, 100);
        r.latency_ms = 0.05 * m + 2.0 * g * (1 + 0.5 * static_cast<double>(batch * seq) / 512);
        rows.push_back(r);
      }
  }
  const auto line = EvaluatePredictor(rows, PredictorKind::kRoofline);
  const auto corrected = EvaluatePredictor(rows, PredictorKind::kRooflineAndTrees);
  ASSERT_EQ(line[1].split, "unseen_batch");
  ASSERT_EQ(corrected[1].split, "unseen_batch");
  EXPECT_LT(corrected[1].accuracy.mape, 0.7 * line[1].accuracy.mape)
      << corrected[1].accuracy.mape << " vs " << line[1].accuracy.mape;
}

}  // namespace latency_predictor_test
}  // namespace ipfs_accel::analysis
