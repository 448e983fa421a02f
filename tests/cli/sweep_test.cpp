// Sweep planning (the cross product of list-valued options) and the JSON transport between
// the benchmark command and its isolated workers.

#include "cli/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/configuration_run.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/json_import.h"
#include "support/catch_error.h"

namespace ipfs_accel::cli {
namespace sweep_test {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void ExpectError(const std::function<void()>& f, core::ErrorKind kind, const std::string& message) {
  const core::Error e = ipfs_accel::testing::CatchError(f);
  EXPECT_EQ(e.kind(), kind);
  EXPECT_THAT(e.what(), HasSubstr(message));
}

TEST(SweepTest, EveryListIsAnAxisOfTheCrossProduct) {
  SweepRequest r;
  r.model = "bert-tiny";
  r.precisions = {"fp32", "int8"};
  r.threads = {1, 2};
  r.graph_opt_levels = {0, 99};
  r.batch_sizes = {1, 4, 16};
  r.seq_lens = {32, 64};
  const SweepPlan plan = PlanSweep(r, {"cpu"});
  EXPECT_EQ(plan.configurations.size(), 2u * 2 * 2 * 3 * 2);
  std::set<std::string> distinct;
  for (const auto& c : plan.configurations) {
    distinct.insert(nlohmann::json(c).dump());
    EXPECT_EQ(c.bench.session.platform, "cpu");
    EXPECT_TRUE(c.early_stopping);
  }
  EXPECT_EQ(distinct.size(), plan.configurations.size());  // no point twice
  // The innermost axis varies fastest, so a model's variants stay together.
  EXPECT_EQ(plan.configurations[0].bench.shape.seq_len, 32);
  EXPECT_EQ(plan.configurations[1].bench.shape.seq_len, 64);
  EXPECT_EQ(plan.configurations[2].bench.shape.batch_size, 4);
}

TEST(SweepTest, AProviderOptionGivenTwiceIsSwept) {
  const auto sets = ProviderOptionSets(
      "cuda", {"cuda:cudnn_conv_algo_search=EXHAUSTIVE", "device_id=0", "openvino:x=1",
               "cuda:cudnn_conv_algo_search=HEURISTIC", "trt_profile=a:1x1,b:1x1"});
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].at("cudnn_conv_algo_search"), "EXHAUSTIVE");
  EXPECT_EQ(sets[1].at("cudnn_conv_algo_search"), "HEURISTIC");
  for (const auto& s : sets) {
    EXPECT_EQ(s.at("device_id"), "0");
    EXPECT_EQ(s.at("trt_profile"), "a:1x1,b:1x1");  // commas stay inside a value
    EXPECT_FALSE(s.count("x"));
  }
  // The CPU provider takes no options unless they name it.
  EXPECT_THAT(ProviderOptionSets("cpu", {"device_id=0"}),
              ElementsAre(std::map<std::string, std::string>{}));
  ExpectError([] { ProviderOptionSets("cuda", {"=1"}); }, core::ErrorKind::kInvalidArgument,
              "--ep-option '=1' is not [platform:]key=value");
}

TEST(SweepTest, FusedWhereThePlatformHasNoContribOpsIsRecordedNotRun) {
  SweepRequest r;
  r.graphs = {"fused", "auto"};
  const SweepPlan plan = PlanSweep(r, {"cpu", "openvino"});
  ASSERT_EQ(plan.configurations.size(), 3u);  // cpu fused, cpu auto=fused, openvino auto=plain
  EXPECT_EQ(plan.configurations[2].platform, "openvino");
  EXPECT_EQ(plan.configurations[2].graph, "plain");
  ASSERT_EQ(plan.unrunnable.size(), 1u);
  EXPECT_THAT(plan.unrunnable[0].reason, HasSubstr("no com.microsoft contrib ops"));
}

TEST(SweepTest, ServerRatesAreAnAxisAndASearchIsOneConfiguration) {
  SweepRequest r;
  r.scenario = "server";
  ExpectError([&] { PlanSweep(r, {"cpu"}); }, core::ErrorKind::kInvalidArgument,
              "the server scenario needs --target-qps");
  r.target_qps = {10, 20, 40};
  EXPECT_EQ(PlanSweep(r, {"cpu"}).configurations.size(), 3u);
  r.latency_bound_ms = 5;
  const SweepPlan search = PlanSweep(r, {"cpu"});
  ASSERT_EQ(search.configurations.size(), 1u);
  EXPECT_EQ(search.configurations[0].latency_bound_ms, 5);
  EXPECT_TRUE(search.configurations[0].early_stopping);  // the p99 estimate
  r.scenario = "offline";
  EXPECT_FALSE(PlanSweep(r, {"cpu"}).configurations[0].early_stopping);  // throughput only
}

TEST(SweepTest, RefusesWhatCannotBeRun) {
  SweepRequest r;
  r.graph_opt_levels = {3};
  ExpectError([&] { PlanSweep(r, {"cpu"}); }, core::ErrorKind::kInvalidArgument,
              "--graph-opt 3 is not an ONNX Runtime level; use 0, 1, 2 or 99");
  r.graph_opt_levels = {99};
  r.scenario = "batch";
  ExpectError([&] { PlanSweep(r, {"cpu"}); }, core::ErrorKind::kInvalidArgument,
              "unknown scenario 'batch'; use single-stream, offline, server, generate or "
              "training (--mode training)");
}

TEST(SweepTest, ConfigurationRoundTripsThroughJson) {
  SweepRequest r;
  r.model = "/models/x y";
  r.seed = 18446744073709551615ull;
  r.ep_options = {"cuda:device_id=1"};
  r.shape_overrides = {{"pixel_values", {1, 3, 224, 224}}};
  r.max_time_s = 2.5;
  const Configuration c = PlanSweep(r, {"cuda"}).configurations.at(0);
  const Configuration back = nlohmann::json(c).get<Configuration>();
  EXPECT_EQ(nlohmann::json(back), nlohmann::json(c));
  EXPECT_EQ(back.seed, r.seed);
  EXPECT_EQ(back.bench.session.provider_options.at("device_id"), "1");
  EXPECT_EQ(back.bench.shape.overrides.at("pixel_values")[3], 224);
  EXPECT_EQ(back.Describe(), c.Describe());
}

TEST(SweepTest, OutcomeAndRecordRoundTripExactly) {
  store::PerformanceRecord p;
  p.latency_mean_ms = 0.1 + 0.2;  // not exactly representable in few digits
  p.samples_ms = {1e-300, 3.141592653589793, 2.5};
  p.device_memory_process_bytes = 123;
  p.tail_early_stopping_ms = 7.0 / 3;
  p.scenario = "server";
  ConfigurationOutcome o;
  o.records = {p, p};
  o.accuracy = harness::AccuracyResult{.max_abs_error = 1e-7, .top1_agreement = 0.75};
  o.summary = "p50 1 ms";
  const ConfigurationOutcome back = OutcomeFromJson(OutcomeToJson(o));
  ASSERT_EQ(back.records.size(), 2u);
  EXPECT_EQ(store::PerformanceRecordToJson(back.records[1]), store::PerformanceRecordToJson(p));
  EXPECT_EQ(back.records[0].latency_mean_ms, p.latency_mean_ms);
  EXPECT_EQ(back.records[0].samples_ms, p.samples_ms);
  EXPECT_EQ(back.records[0].tail_early_stopping_ms, p.tail_early_stopping_ms);
  EXPECT_FALSE(back.records[0].device_memory_gpu_used_bytes.has_value());
  ASSERT_TRUE(back.accuracy.has_value());
  EXPECT_EQ(back.accuracy->top1_agreement, 0.75);
  EXPECT_EQ(back.summary, o.summary);
}

}  // namespace sweep_test
}  // namespace ipfs_accel::cli
