// What the predictor learns from, read from a store written here: how repeated measurements of
// one configuration are paired (the latest beside the one before it), and which are left out.

#include "ipfs_accel/analysis/prediction_dataset.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "ipfs_accel/store/result_store.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::analysis {
namespace prediction_dataset_test {

// A run of bert-tiny on the test CPU with one single-stream result per (batch, p50).
store::RunResults RunWithP50s(const std::string& id, const std::string& started,
                              const std::vector<std::pair<int64_t, double>>& results,
                              const std::string& origin = "measured") {
  store::RunResults::Entry e = testing::StoredEntry();
  for (const auto& [batch, p50] : results) {
    store::PerformanceRecord p = testing::StoredPerformance({p50, p50, p50});
    p.batch_size = batch;
    p.latency_p50_ms = p.latency_mean_ms = p.latency_min_ms = p.latency_max_ms = p50;
    e.performance.push_back(p);
  }
  store::RunResults r = testing::StoredRun(id, started, "aaaa1111", "main", {std::move(e)});
  r.run.origin = origin;
  return r;
}

TEST(PredictionDataset, PairsEachRepeatedConfigurationsLatestMeasurementWithTheOneBefore) {
  testing::TempDir dir;
  auto store = store::ResultStore::Open(dir.File("r.duckdb"));
  store->WriteRun(RunWithP50s("run-1", "2026-12-01T10:00:00Z", {{1, 1.0}, {2, 2.0}, {4, 4.0}}));
  store->WriteRun(RunWithP50s("run-2", "2026-12-02T10:00:00Z", {{1, 1.05}, {2, 3.0}}));
  store->WriteRun(RunWithP50s("run-3", "2026-12-03T10:00:00Z", {{1, 1.1}}));
  // An imported figure is nobody's measurement here: neither a pair nor half of one.
  store->WriteRun(RunWithP50s("run-4", "2026-12-04T10:00:00Z", {{2, 9.0}, {4, 9.0}}, "imported"));

  const RepeatedMeasurements pairs = LoadRepeatedMeasurements(*store);
  ASSERT_EQ(pairs.latest.size(), 2u);  // batch 4 was measured once
  std::vector<std::pair<double, double>> got;
  for (size_t i = 0; i < pairs.latest.size(); ++i)
    got.emplace_back(pairs.latest[i], pairs.previous[i]);
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got[0], std::make_pair(1.1, 1.05));  // batch 1: run-3 beside run-2, not run-1
  EXPECT_EQ(got[1], std::make_pair(3.0, 2.0));
}

TEST(PredictionDataset, FindsNoPairsWhereEveryConfigurationWasMeasuredOnce) {
  testing::TempDir dir;
  auto store = store::ResultStore::Open(dir.File("r.duckdb"));
  store->WriteRun(RunWithP50s("run-1", "2026-12-01T10:00:00Z", {{1, 1.0}, {2, 2.0}}));
  EXPECT_TRUE(LoadRepeatedMeasurements(*store).latest.empty());
}

}  // namespace prediction_dataset_test
}  // namespace ipfs_accel::analysis
