// Prediction accuracy figures against values worked out by hand and Spearman's ρ against the
// textbook example (IQ against hours of television per week, ρ = -29/165).

#include "ipfs_accel/analysis/prediction_metrics.h"

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {
namespace prediction_metrics_test {

TEST(PredictionMetrics, SpearmanRhoMatchesTheTextbookExample) {
  const std::vector<double> iq = {106, 100, 86, 101, 99, 103, 97, 113, 112, 110};
  const std::vector<double> tv = {7, 27, 2, 50, 28, 29, 20, 12, 6, 17};
  EXPECT_NEAR(SpearmanRho(iq, tv), -29.0 / 165.0, 1e-12);
}

TEST(PredictionMetrics, SpearmanRhoGivesTiedValuesTheirAverageRank) {
  // Ranks of x: 1, 2.5, 2.5, 4; of y: 1, 2, 3, 4. Pearson of those: 0.9486832980505138.
  EXPECT_NEAR(SpearmanRho({1, 2, 2, 3}, {10, 20, 30, 40}), 0.9486832980505138, 1e-12);
  EXPECT_DOUBLE_EQ(SpearmanRho({1, 2, 3}, {30, 20, 10}), -1.0);
}

TEST(PredictionMetrics, CountsErrorsWithinTenAndTwentyFivePercent) {
  // Errors: 5 %, 20 %, 50 %, 0 %.
  const PredictionAccuracy a = MeasureAccuracy({10.5, 12, 15, 4}, {10, 10, 10, 4});
  EXPECT_EQ(a.count, 4);
  EXPECT_DOUBLE_EQ(a.mape, (0.05 + 0.2 + 0.5 + 0) / 4);
  EXPECT_DOUBLE_EQ(a.within_10pct, 0.5);
  EXPECT_DOUBLE_EQ(a.within_25pct, 0.75);
}

TEST(PredictionMetrics, RefusesUnpairedValuesAndMeasurementsOfZero) {
  EXPECT_THROW(MeasureAccuracy({1, 2}, {1}), core::Error);
  EXPECT_THROW(MeasureAccuracy({1}, {0}), core::Error);
}

}  // namespace prediction_metrics_test
}  // namespace ipfs_accel::analysis
