// Tests for harness::Percentile and harness::Summarize. Expected values are
// numpy's (np.percentile with the default "linear" method: rank = q/100*(n-1),
// interpolated between the neighbouring order statistics) worked by hand, and
// the sample standard deviation (ddof=1).

#include "ipfs_accel/harness/statistics.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

namespace ipfs_accel::harness {
namespace statistics_test {

constexpr double kEps = 1e-12;

TEST(PercentileTest, FourSamples) {
  const std::vector<double> v = {1, 2, 3, 4};
  EXPECT_NEAR(Percentile(v, 0), 1.0, kEps);
  EXPECT_NEAR(Percentile(v, 25), 1.75, kEps);  // rank 0.75
  EXPECT_NEAR(Percentile(v, 50), 2.5, kEps);   // rank 1.5
  EXPECT_NEAR(Percentile(v, 90), 3.7, kEps);   // rank 2.7
  EXPECT_NEAR(Percentile(v, 100), 4.0, kEps);
}

TEST(PercentileTest, FiveUnevenSamples) {
  const std::vector<double> v = {15, 20, 35, 40, 50};
  EXPECT_NEAR(Percentile(v, 40), 29.0, kEps);  // rank 1.6: 20 + 0.6 * 15
  EXPECT_NEAR(Percentile(v, 50), 35.0, kEps);  // rank 2, exactly a sample
  EXPECT_NEAR(Percentile(v, 95), 48.0, kEps);  // rank 3.8: 40 + 0.8 * 10
  EXPECT_NEAR(Percentile(v, 99), 49.6, kEps);  // rank 3.96
}

TEST(PercentileTest, UnsortedInputIsSortedFirst) {
  EXPECT_NEAR(Percentile({4, 1, 3, 2}, 50), 2.5, kEps);
  EXPECT_NEAR(Percentile({4, 1, 3, 2}, 90), 3.7, kEps);
  EXPECT_NEAR(Percentile({50, 15, 40, 35, 20}, 40), 29.0, kEps);
  EXPECT_NEAR(Percentile({3, -1, 2}, 0), -1.0, kEps);
  EXPECT_NEAR(Percentile({3, -1, 2}, 100), 3.0, kEps);
}

TEST(PercentileTest, SingleSampleIsEveryPercentile) {
  for (double q : {0.0, 1.0, 50.0, 99.0, 100.0}) EXPECT_EQ(Percentile({7.25}, q), 7.25) << q;
}

TEST(PercentileTest, TwoSamplesInterpolate) {
  EXPECT_NEAR(Percentile({10, 20}, 50), 15.0, kEps);
  EXPECT_NEAR(Percentile({10, 20}, 99), 19.9, kEps);
}

TEST(PercentileTest, TiesAndEmpty) {
  EXPECT_EQ(Percentile({5, 5, 5, 5}, 37), 5.0);
  EXPECT_EQ(Percentile({}, 50), 0.0);
}

TEST(PercentileTest, IsMonotoneInQ) {
  const std::vector<double> v = {9.1, 0.3, 4.4, 4.4, 7.0, 1.2, 8.8, 2.5, 6.6, 3.3, 5.0};
  double previous = Percentile(v, 0);
  for (int q = 1; q <= 100; ++q) {
    const double p = Percentile(v, q);
    EXPECT_GE(p, previous) << q;
    previous = p;
  }
  EXPECT_EQ(Percentile(v, 0), 0.3);
  EXPECT_EQ(Percentile(v, 100), 9.1);
}

TEST(SummarizeTest, EightSamples) {
  // numpy: mean 5, std(ddof=1) = sqrt(32/7), percentiles at ranks 3.5, 6.3, 6.65, 6.93.
  const std::vector<double> v = {9, 2, 5, 4, 7, 4, 5, 4};
  const LatencyStats s = Summarize(v);
  EXPECT_EQ(s.count, 8);
  EXPECT_NEAR(s.mean, 5.0, kEps);
  EXPECT_NEAR(s.stdev, std::sqrt(32.0 / 7.0), kEps);
  EXPECT_EQ(s.min, 2.0);
  EXPECT_EQ(s.max, 9.0);
  EXPECT_NEAR(s.p50, 4.5, kEps);
  EXPECT_NEAR(s.p90, 7.6, kEps);
  EXPECT_NEAR(s.p95, 8.3, kEps);
  EXPECT_NEAR(s.p99, 8.86, kEps);
}

TEST(SummarizeTest, StdevIsTheSampleStdev) {
  // {1, 2, 3, 4}: population stdev sqrt(1.25), sample stdev sqrt(5/3).
  const LatencyStats s = Summarize({1, 2, 3, 4});
  EXPECT_NEAR(s.stdev, std::sqrt(5.0 / 3.0), kEps);
  EXPECT_NEAR(s.mean, 2.5, kEps);
  EXPECT_NEAR(s.p50, 2.5, kEps);
  EXPECT_NEAR(s.p90, 3.7, kEps);
}

TEST(SummarizeTest, AgreesWithPercentile) {
  const std::vector<double> v = {12.5, 3.25, 8.0, 1.0, 19.75, 4.5, 6.0};
  const LatencyStats s = Summarize(v);
  EXPECT_EQ(s.p50, Percentile(v, 50));
  EXPECT_EQ(s.p90, Percentile(v, 90));
  EXPECT_EQ(s.p95, Percentile(v, 95));
  EXPECT_EQ(s.p99, Percentile(v, 99));
  EXPECT_LE(s.min, s.p50);
  EXPECT_LE(s.p50, s.p90);
  EXPECT_LE(s.p90, s.p95);
  EXPECT_LE(s.p95, s.p99);
  EXPECT_LE(s.p99, s.max);
}

TEST(SummarizeTest, SingleSampleHasZeroStdev) {
  const LatencyStats s = Summarize({3.5});
  EXPECT_EQ(s.count, 1);
  EXPECT_EQ(s.mean, 3.5);
  EXPECT_EQ(s.stdev, 0.0);
  EXPECT_EQ(s.min, 3.5);
  EXPECT_EQ(s.max, 3.5);
  EXPECT_EQ(s.p50, 3.5);
  EXPECT_EQ(s.p99, 3.5);
}

TEST(SummarizeTest, EmptyIsAllZero) {
  const LatencyStats s = Summarize({});
  EXPECT_EQ(s.count, 0);
  EXPECT_EQ(s.mean, 0.0);
  EXPECT_EQ(s.stdev, 0.0);
  EXPECT_EQ(s.min, 0.0);
  EXPECT_EQ(s.max, 0.0);
  EXPECT_EQ(s.p50, 0.0);
}

TEST(SummarizeTest, ConstantSamples) {
  const LatencyStats s = Summarize(std::vector<double>(100, 2.0));
  EXPECT_EQ(s.count, 100);
  EXPECT_NEAR(s.mean, 2.0, kEps);
  EXPECT_NEAR(s.stdev, 0.0, kEps);
  EXPECT_EQ(s.p99, 2.0);
}

TEST(SummarizeTest, HundredSamples) {
  // 1..100: numpy gives p50 50.5, p90 90.1, p95 95.05, p99 99.01;
  // sample variance n(n+1)/12 = 841.666...
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  const LatencyStats s = Summarize(v);
  EXPECT_NEAR(s.mean, 50.5, kEps);
  EXPECT_NEAR(s.stdev, std::sqrt(100.0 * 101.0 / 12.0), 1e-9);
  EXPECT_NEAR(s.p50, 50.5, 1e-9);
  EXPECT_NEAR(s.p90, 90.1, 1e-9);
  EXPECT_NEAR(s.p95, 95.05, 1e-9);
  EXPECT_NEAR(s.p99, 99.01, 1e-9);
}

}  // namespace statistics_test
}  // namespace ipfs_accel::harness
