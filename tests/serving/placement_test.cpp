// Placement by stored results, on runs written straight into a fresh results database.

#include <gtest/gtest.h>

#include "ipfs_accel/serving/placement.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::serving {
namespace placement_test {

using testing::StoredEntry;
using testing::StoredPerformance;
using testing::StoredRun;

store::PerformanceRecord Result(int64_t batch, double p50_ms, const std::string& ep) {
  store::PerformanceRecord p = StoredPerformance({p50_ms, p50_ms, p50_ms}, ep);
  p.batch_size = batch;
  p.latency_p50_ms = p.latency_mean_ms = p50_ms;
  return p;
}

// bert-tiny (seed:0) on host "host": cpu at batch 1 and 8, cuda at batch 1 only, and a faster
// cuda figure stored for another host.
std::unique_ptr<store::ResultStore> Stored(const testing::TempDir& dir) {
  auto s = store::ResultStore::Open(dir.File("results.duckdb"));
  auto cpu = StoredEntry("cpu", "Test CPU");
  cpu.performance = {Result(1, 4.0, "CPUExecutionProvider"),
                     Result(8, 0.5, "CPUExecutionProvider")};
  auto cuda = StoredEntry("cuda", "Test GPU");
  cuda.performance = {Result(1, 1.5, "CUDAExecutionProvider")};
  s->WriteRun(StoredRun("11111111-0000-4000-8000-000000000001", "2026-12-01T10:00:00Z", "c1",
                        "main", {cpu, cuda}));
  auto elsewhere = StoredEntry("cpu", "Other CPU");
  elsewhere.hardware.hostname = "other";
  elsewhere.performance = {Result(1, 0.1, "CPUExecutionProvider")};
  s->WriteRun(StoredRun("11111111-0000-4000-8000-000000000002", "2026-12-01T11:00:00Z", "c1",
                        "main", {elsewhere}));
  return s;
}

models::ModelInfo BertTiny() {
  models::ModelInfo info;
  info.name = "bert-tiny";
  info.content_hash = "seed:0";
  return info;
}

TEST(Placement, ThePlatformFastestAtTheConfigurationMostPlatformsShareWins) {
  testing::TempDir dir;
  auto s = Stored(dir);
  // cpu's 0.5 ms at batch 8 is not compared with cuda's batch 1: both have batch 1.
  const Placement p = PlaceByStoredResults(s.get(), BertTiny(), "fp32", {"cpu", "cuda"}, "host");
  EXPECT_EQ(p.platform, "cuda");
  EXPECT_NE(p.reason.find("1.5 ms"), std::string::npos) << p.reason;
  EXPECT_NE(p.reason.find("cpu 4 ms"), std::string::npos) << p.reason;
}

TEST(Placement, OnlyCandidatePlatformsAndThisHostsResultsCount) {
  testing::TempDir dir;
  auto s = Stored(dir);
  EXPECT_EQ(PlaceByStoredResults(s.get(), BertTiny(), "fp32", {"cpu"}, "host").platform, "cpu");
  const Placement other = PlaceByStoredResults(s.get(), BertTiny(), "fp32", {"cuda"}, "other");
  EXPECT_EQ(other.platform, "cpu");
  EXPECT_NE(other.reason.find("by default"), std::string::npos) << other.reason;
}

TEST(Placement, AnotherPrecisionOrModelHashHasNoResultsAndFallsBackToCpu) {
  testing::TempDir dir;
  auto s = Stored(dir);
  EXPECT_EQ(PlaceByStoredResults(s.get(), BertTiny(), "int8", {"cpu", "cuda"}, "host").platform,
            "cpu");
  models::ModelInfo reseeded = BertTiny();
  reseeded.content_hash = "seed:42";
  EXPECT_EQ(PlaceByStoredResults(s.get(), reseeded, "fp32", {"cuda"}, "host").platform, "cpu");
  EXPECT_EQ(PlaceByStoredResults(nullptr, BertTiny(), "fp32", {"cuda"}, "host").platform, "cpu");
}

}  // namespace placement_test
}  // namespace ipfs_accel::serving
