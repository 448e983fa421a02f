// Regression detection: the z-score and Mann-Whitney statistics against numbers computed
// independently (brute-force enumeration, pair counting, scipy's documented example), the
// verdicts on generated latencies, and ref resolution against a real store.

#include "ipfs_accel/analysis/regression.h"

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "support/catch_error.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::analysis {
namespace regression_test {

// `n` latencies uniform in base * [1 - jitter, 1 + jitter]. mt19937's output is fixed by the
// standard (unlike the distributions'), so the values are the same everywhere.
std::vector<double> Latencies(uint32_t seed, double base, int n, double jitter = 0.02) {
  std::mt19937 gen(seed);
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const double u = static_cast<double>(gen()) / 4294967296.0;
    out.push_back(base * (1 + jitter * (2 * u - 1)));
  }
  return out;
}

double Min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

// A baseline of 10 runs whose levels differ by up to +-3% run to run, 50 samples each.
struct Baseline {
  std::vector<std::vector<double>> runs;
  std::vector<double> best;  // each run's best repetition
};
Baseline MakeBaseline() {
  Baseline b;
  const auto levels = Latencies(99, 10.0, 10, 0.03);
  for (int r = 0; r < 10; ++r) {
    b.runs.push_back(Latencies(static_cast<uint32_t>(r + 1), levels[static_cast<size_t>(r)], 50));
    b.best.push_back(Min(b.runs.back()));
  }
  return b;
}

TEST(LookbackZScore, KnownHistory) {
  // mean 10, sample stdev sqrt(2 / 4)
  const std::vector<double> history = {10, 11, 9, 10, 10};
  const ZScore slow = LookbackZScore(history, 14, 5);
  EXPECT_DOUBLE_EQ(slow.history_mean, 10);
  EXPECT_DOUBLE_EQ(slow.history_stdev, std::sqrt(0.5));
  EXPECT_DOUBLE_EQ(slow.z, 4 / std::sqrt(0.5));  // 5.66
  EXPECT_EQ(slow.verdict, Verdict::kRegression);
  EXPECT_EQ(LookbackZScore(history, 13, 5).verdict, Verdict::kNoChange);  // z = 4.24
  EXPECT_EQ(LookbackZScore(history, 6, 5).verdict, Verdict::kImprovement);
  EXPECT_EQ(slow.history_points, 5u);
}

TEST(LookbackZScore, NeedsTwoHistoryPoints) {
  EXPECT_EQ(LookbackZScore({10}, 100, 5).verdict, Verdict::kInsufficientData);
  EXPECT_EQ(LookbackZScore({}, 100, 5).verdict, Verdict::kInsufficientData);
  // A history without spread: any change is infinitely many sigmas.
  const ZScore flat = LookbackZScore({10, 10, 10}, 10.5, 5);
  EXPECT_TRUE(std::isinf(flat.z));
  EXPECT_EQ(flat.verdict, Verdict::kRegression);
  EXPECT_EQ(LookbackZScore({10, 10, 10}, 10, 5).verdict, Verdict::kNoChange);
}

TEST(MannWhitney, ExactCdfMatchesEnumeration) {
  // Python: the share of all C(n1 + n2, n1) orderings with U <= u, by itertools.combinations.
  EXPECT_NEAR(MannWhitneyExactCdf(6, 7, 10), 0.06876456876456877, 1e-15);
  EXPECT_NEAR(MannWhitneyExactCdf(3, 4, 3), 0.2, 1e-15);  // 7 of 35
  EXPECT_NEAR(MannWhitneyExactCdf(5, 5, 0), 1.0 / 252, 1e-15);
  EXPECT_NEAR(MannWhitneyExactCdf(7, 6, 10), 0.06876456876456877, 1e-15);  // symmetric in sizes
  EXPECT_EQ(MannWhitneyExactCdf(3, 4, 12), 1.0);
  EXPECT_EQ(MannWhitneyExactCdf(3, 4, -1), 0.0);
}

TEST(MannWhitney, ScipyDocumentedExample) {
  // scipy.stats.mannwhitneyu's example: U = 17, exact p = 1/9, asymptotic p = 0.11134688653314041.
  const std::vector<double> males = {19, 22, 16, 29, 24}, females = {20, 11, 17, 12};
  const MannWhitney r = MannWhitneyU(males, females);
  EXPECT_EQ(r.u, 17);
  EXPECT_TRUE(r.exact);
  EXPECT_NEAR(r.p_value, 1.0 / 9, 1e-12);
  EXPECT_NEAR(MannWhitneyNormalP(5, 4, 17, {}), 0.11134688653314041, 1e-12);
  // Two samples entirely apart: p = 2 / C(10, 5).
  EXPECT_NEAR(MannWhitneyU({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}).p_value, 2.0 / 252, 1e-15);
}

TEST(MannWhitney, NormalApproximationWithTies) {
  // 30 and 25 values with ties (one decimal). Python by pair counting (U = #x>y + #x==y / 2)
  // and the tie-corrected variance: U = 235.5, p = 0.018566653681305938.
  const std::vector<double> x = {11.3, 11.4, 10.1, 9.2, 8.9,  10.0, 9.0,  8.6,  10.2, 10.1,
                                 10.5, 9.1,  10.0, 9.9, 8.5,  10.5, 10.3, 12.4, 10.2, 9.9,
                                 11.2, 10.2, 10.9, 9.6, 10.2, 11.0, 10.7, 10.1, 8.9,  10.4};
  const std::vector<double> y = {10.7, 11.3, 10.8, 11.7, 10.5, 10.8, 11.3, 9.5,  10.2,
                                 10.1, 12.6, 10.5, 11.3, 11.2, 10.3, 9.0,  11.6, 10.2,
                                 11.3, 9.3,  10.2, 11.9, 12.0, 9.3,  9.3};
  const MannWhitney r = MannWhitneyU(x, y);
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u, 235.5);
  EXPECT_NEAR(r.p_value, 0.018566653681305938, 1e-12);
  // Swapping the samples gives U2 = n1 n2 - U1 and the same two-sided p.
  const MannWhitney swapped = MannWhitneyU(y, x);
  EXPECT_DOUBLE_EQ(swapped.u, 30 * 25 - 235.5);
  EXPECT_NEAR(swapped.p_value, r.p_value, 1e-15);
}

TEST(MannWhitney, EmptySampleIsAnError) {
  const core::Error e = testing::CatchError([] { MannWhitneyU({}, {1.0}); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
}

TEST(Regression, ClearSlowdownDetectedByBoth) {
  const Baseline b = MakeBaseline();
  const auto contender = Latencies(1000, 13.0, 50);  // 30% slower
  const ZScore z = LookbackZScore(b.best, Min(contender), 5);
  const AsvComparison asv = AsvCompare(b.runs.back(), contender, 1.1, 0.002);
  EXPECT_EQ(z.verdict, Verdict::kRegression) << z.z;
  EXPECT_EQ(asv.verdict, Verdict::kRegression) << asv.ratio << " " << asv.test.p_value;
  EXPECT_GT(asv.ratio, 1.2);
  EXPECT_EQ(CombinedVerdict(z.verdict, asv.verdict), Verdict::kRegression);
  // And the other way round, an improvement.
  const auto faster = Latencies(1001, 7.0, 50);
  EXPECT_EQ(LookbackZScore(b.best, Min(faster), 5).verdict, Verdict::kImprovement);
  EXPECT_EQ(AsvCompare(b.runs.back(), faster, 1.1, 0.002).verdict, Verdict::kImprovement);
}

TEST(Regression, NoiseDetectedByNeither) {
  const Baseline b = MakeBaseline();
  const auto contender = Latencies(2000, 10.0, 50);  // same level, fresh noise
  const ZScore z = LookbackZScore(b.best, Min(contender), 5);
  const AsvComparison asv = AsvCompare(b.runs.back(), contender, 1.1, 0.002);
  EXPECT_EQ(z.verdict, Verdict::kNoChange) << z.z;
  EXPECT_LT(std::abs(z.z), 3);
  EXPECT_EQ(asv.verdict, Verdict::kNoChange);
  EXPECT_EQ(CombinedVerdict(z.verdict, asv.verdict), Verdict::kNoChange);
}

TEST(Regression, FivePercentSlowdownIsBelowTheFactor) {
  const Baseline b = MakeBaseline();
  const auto baseline = Latencies(3000, 10.0, 50);
  const auto contender = Latencies(3001, 10.5, 50);
  const AsvComparison asv = AsvCompare(baseline, contender, 1.1, 0.002);
  EXPECT_LT(asv.test.p_value, 0.002);  // significant, yet too small to count
  EXPECT_NEAR(asv.ratio, 1.05, 0.01);
  EXPECT_EQ(asv.verdict, Verdict::kNoChange);
  // Run-to-run spread of +-3% keeps the z-score under 5 too.
  const ZScore z = LookbackZScore(b.best, Min(contender), 5);
  EXPECT_EQ(z.verdict, Verdict::kNoChange) << z.z;
  // With a factor of 1.03 the same slowdown is a regression.
  EXPECT_EQ(AsvCompare(baseline, contender, 1.03, 0.002).verdict, Verdict::kRegression);
}

TEST(Regression, CombinedVerdictRule) {
  using V = Verdict;
  EXPECT_EQ(CombinedVerdict(V::kRegression, V::kImprovement), V::kRegression);
  EXPECT_EQ(CombinedVerdict(V::kNoChange, V::kRegression), V::kRegression);
  EXPECT_EQ(CombinedVerdict(V::kInsufficientData, V::kImprovement), V::kImprovement);
  EXPECT_EQ(CombinedVerdict(V::kInsufficientData, V::kNoChange), V::kNoChange);
  EXPECT_EQ(CombinedVerdict(V::kInsufficientData, V::kInsufficientData), V::kInsufficientData);
}

// --- against a store ---------------------------------------------------------------------------

store::RunResults MakeRun(const std::string& id, const std::string& started,
                          const std::string& commit, std::optional<std::string> branch,
                          const std::vector<double>& samples) {
  return testing::StoredRunWithSamples(id, started, commit, std::move(branch), samples);
}

class RegressionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::ResultStore::Open(dir_.File("r.duckdb"));
    const auto base = Latencies(7, 10.0, 30);
    store_->WriteRun(MakeRun("run-1", "2026-11-20T10:00:00Z", "aaaa11112222", "main", base));
    store_->WriteRun(
        MakeRun("run-2", "2026-11-21T10:00:00Z", "aaaa33334444", "main", Latencies(8, 10.1, 30)));
    store_->WriteRun(MakeRun("run-3", "2026-11-22T10:00:00Z", "bbbb55556666-dirty", "main",
                             Latencies(9, 9.9, 30)));
    store_->WriteRun(MakeRun("run-4", "2026-11-23T10:00:00Z", "cccc77778888", "feature",
                             Latencies(10, 13.0, 30)));
  }
  testing::TempDir dir_;
  std::unique_ptr<store::ResultStore> store_;
};

// One table for `compare` and `report regressions`: an infinite z (a history without spread)
// is NULL while its verdict stands, and a configuration on one side only has no measurements.
TEST(ComparisonTableTest, InfiniteZIsNullAndOneSidedRowsHaveNoMeasurements) {
  Comparison c;
  ConfigurationComparison both;
  both.model = "bert-tiny";
  both.batch_size = 4;
  both.in_baseline = both.in_contender = true;
  both.z.z = INFINITY;
  both.z.history_points = 3;
  both.z.verdict = Verdict::kRegression;
  both.asv.baseline_median = 2;
  both.asv.contender_median = 2.5;
  both.asv.ratio = 1.25;
  both.asv.test.p_value = 0.001;
  both.asv.verdict = Verdict::kRegression;
  both.verdict = Verdict::kRegression;
  ConfigurationComparison only = both;
  only.in_baseline = false;
  c.rows = {both, only};
  const store::QueryResult t = ComparisonTable(c);
  ASSERT_EQ(t.column_names.size(), t.column_types.size());
  const auto at = [&](size_t row, const std::string& name) {
    for (size_t i = 0; i < t.column_names.size(); ++i)
      if (t.column_names[i] == name) return t.rows.at(row).at(i);
    ADD_FAILURE() << "no column " << name;
    return std::optional<std::string>();
  };
  EXPECT_EQ(at(0, "batch"), "4");
  EXPECT_EQ(at(0, "ratio"), "1.250");
  EXPECT_EQ(at(0, "z"), std::nullopt);
  EXPECT_EQ(at(0, "z_verdict"), "regression");
  EXPECT_EQ(at(0, "history"), "3");
  EXPECT_EQ(at(0, "verdict"), "regression");
  EXPECT_EQ(at(1, "baseline_median_ms"), std::nullopt);
  EXPECT_EQ(at(1, "u_verdict"), std::nullopt);
  EXPECT_EQ(at(1, "verdict"), "contender only");
  for (const auto& row : t.rows) EXPECT_EQ(row.size(), t.column_names.size());
}

TEST_F(RegressionStoreTest, ResolvesRunsBranchesAndCommits) {
  EXPECT_EQ(ResolveRef(*store_, "run-2", false).run_ids, std::vector<std::string>{"run-2"});
  const ResolvedRef main = ResolveRef(*store_, "main", false);
  EXPECT_EQ(main.kind, "branch");
  EXPECT_EQ(main.run_ids, (std::vector<std::string>{"run-2", "run-1"}));  // -dirty left out
  EXPECT_EQ(ResolveRef(*store_, "main", true).run_ids.size(), 3u);
  EXPECT_EQ(ResolveRef(*store_, "CCCC7777", false).run_ids, std::vector<std::string>{"run-4"});
  // A full SHA matches the stored 12-digit abbreviation.
  EXPECT_EQ(ResolveRef(*store_, "cccc77778888ffffffffffffffffffffffffffff", false).run_ids,
            std::vector<std::string>{"run-4"});
}

TEST_F(RegressionStoreTest, UnknownAndAmbiguousRefsAreErrors) {
  const core::Error unknown = testing::CatchError([&] { ResolveRef(*store_, "nope", false); });
  EXPECT_EQ(unknown.kind(), core::ErrorKind::kNotFound);
  EXPECT_NE(std::string(unknown.what()).find("'nope'"), std::string::npos);
  EXPECT_NE(std::string(unknown.what()).find("feature"), std::string::npos);  // what exists
  const core::Error ambiguous = testing::CatchError([&] { ResolveRef(*store_, "aaaa", false); });
  EXPECT_EQ(ambiguous.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(ambiguous.what()).find("aaaa11112222"), std::string::npos);
  // The dirty build is found only when asked for.
  EXPECT_EQ(testing::CatchError([&] { ResolveRef(*store_, "bbbb5555", false); }).kind(),
            core::ErrorKind::kNotFound);
  EXPECT_EQ(ResolveRef(*store_, "bbbb5555", true).run_ids, std::vector<std::string>{"run-3"});
}

TEST_F(RegressionStoreTest, ComparesMatchingConfigurations) {
  CompareOptions o;
  o.baseline_ref = "main";
  o.contender_ref = "feature";
  const Comparison c = CompareRefs(*store_, o);
  EXPECT_EQ(c.contender_run_id, "run-4");
  ASSERT_EQ(c.rows.size(), 1u);
  const auto& row = c.rows[0];
  EXPECT_TRUE(row.in_baseline && row.in_contender);
  EXPECT_EQ(row.model, "bert-tiny (seed 0)");  // the label: models of one name stay apart
  EXPECT_EQ(row.z.history_points, 2u);
  EXPECT_EQ(row.asv.verdict, Verdict::kRegression);
  EXPECT_EQ(row.verdict, Verdict::kRegression);
  EXPECT_TRUE(c.AnyRegression());
  // The U test uses the latest baseline result (run-2, at 10.1).
  EXPECT_NEAR(row.asv.baseline_median, 10.1, 0.25);
  EXPECT_NEAR(row.asv.contender_median, 13.0, 0.3);
}

}  // namespace regression_test
}  // namespace ipfs_accel::analysis
