// The non-negative fit and the peak-memory model on peaks that follow a law the test chooses:
// the law's coefficients come back, a coefficient the data would make negative is held at 0,
// and a stored model predicts as the trained one did.

#include "ipfs_accel/analysis/peak_memory_model.h"

#include <gtest/gtest.h>

#include "ipfs_accel/analysis/nonnegative_fit.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {
namespace peak_memory_model_test {

TEST(NonNegativeFit, RecoversTheCoefficientsOfAnExactLaw) {
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (double a = 1; a <= 6; ++a)
    for (double b = 0; b <= 3; ++b) {
      x.push_back({1, a, b});
      y.push_back(0.5 + 2 * a + 3 * b);
    }
  const auto beta = FitNonNegativeRelative(x, y);
  EXPECT_NEAR(beta[0], 0.5, 1e-9);
  EXPECT_NEAR(beta[1], 2.0, 1e-9);
  EXPECT_NEAR(beta[2], 3.0, 1e-9);
}

TEST(NonNegativeFit, HoldsAtZeroACoefficientTheDataWouldMakeNegative) {
  // y = 2a - 1: the unconstrained intercept is -1.
  std::vector<std::vector<double>> x;
  std::vector<double> y;
  for (double a = 1; a <= 5; ++a) {
    x.push_back({1, a});
    y.push_back(2 * a - 1);
  }
  const auto beta = FitNonNegativeRelative(x, y);
  EXPECT_EQ(beta[0], 0.0);
  EXPECT_GT(beta[1], 0.0);
  EXPECT_THROW(FitNonNegativeRelative({{1}}, {0}), core::Error);
}

PredictorRow Measured(const std::string& model, double weights, double activations,
                      double inputs = 1024) {
  PredictorRow r;
  r.hardware = "cpu: test";
  r.model = model;
  r.cost.weights_bytes = static_cast<int64_t>(weights);
  r.activation_peak_bytes = static_cast<int64_t>(activations);
  r.inputs_bytes = static_cast<int64_t>(inputs);
  // 120 MB of process, the weights twice, the activations once and the inputs once.
  r.peak_rss_bytes = 120e6 + 2 * weights + activations + inputs;
  return r;
}

std::vector<PredictorRow> Rows() {
  std::vector<PredictorRow> rows;
  for (int m = 1; m <= 5; ++m)
    for (int b = 1; b <= 4; ++b)
      rows.push_back(Measured("model-" + std::to_string(m), 20e6 * m, 1e6 * b * m, 4096.0 * b));
  return rows;
}

TEST(PeakMemoryModel, PredictsPeaksThatFollowBaseWeightsAndActivations) {
  const auto model = PeakMemoryModel::Train(Rows());
  const PredictorRow unseen = Measured("new", 333e6, 7e6);
  ASSERT_TRUE(model.Predict(unseen).has_value());
  EXPECT_NEAR(*model.Predict(unseen) / unseen.peak_rss_bytes, 1.0, 1e-9);
  const auto j = model.ToJson()["peak_rss"]["cpu: test"];
  EXPECT_NEAR(j["per_weight_byte"].get<double>(), 2.0, 1e-9);
  EXPECT_NEAR(j["base_bytes"].get<double>(), 120e6, 1);
  PredictorRow elsewhere = unseen;
  elsewhere.hardware = "cuda: H100";
  EXPECT_FALSE(model.Predict(elsewhere).has_value());
}

TEST(PeakMemoryModel, LeavingEachModelOutStillPredictsItAndAStoredModelAgrees) {
  const auto errors = EvaluatePeakMemory(Rows());
  ASSERT_EQ(errors.size(), 5u);
  for (const auto& e : errors) EXPECT_LT(e.mean_abs_error, 1e-9) << e.model;
  const auto model = PeakMemoryModel::Train(Rows());
  const auto stored = PeakMemoryModel::FromJson(nlohmann::json::parse(model.ToJson().dump()));
  const PredictorRow r = Measured("x", 1e8, 1e7);
  EXPECT_DOUBLE_EQ(*stored.Predict(r), *model.Predict(r));
}

}  // namespace peak_memory_model_test
}  // namespace ipfs_accel::analysis
