// Tests for the server scenario (harness/server_scenario.h): the seeded Poisson schedule,
// the one-stream runner with fake queries of known service time, and the peak-QPS search.
// Timing assertions lean only on what a loaded machine cannot change: a fake query never
// takes less than its service time (it waits to a deadline), so achieved rates have hard
// upper bounds and latencies hard lower bounds; lower bounds on rates carry wide margins.

#include "ipfs_accel/harness/server_scenario.h"

#include <chrono>
#include <cmath>
#include <numeric>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "support/catch_error.h"
#include "support/sleeping_session.h"

namespace ipfs_accel::harness {
namespace server_scenario_test {

using core::ErrorKind;
using testing::CatchError;
using testing::SleepingSession;

// A query that takes `ms` milliseconds (plus a few microseconds).
std::function<void()> FixedQuery(double ms) {
  return [ms] { testing::SleepPreciselyMs(ms); };
}

ServerConfig Quick(double qps) {
  ServerConfig c;
  c.target_qps = qps;
  c.min_duration_s = 0;
  c.min_queries = 0;
  c.early_stopping = false;
  c.max_duration_s = 10;
  c.seed = 7;
  return c;
}

TEST(ArrivalScheduleTest, SameSeedSameScheduleAnotherSeedAnother) {
  ServerConfig c = Quick(100);
  c.min_queries = 500;
  const std::vector<double> a = ArrivalSchedule(c);
  EXPECT_EQ(ArrivalSchedule(c), a);
  c.seed = 8;
  const std::vector<double> b = ArrivalSchedule(c);
  ASSERT_EQ(a.size(), 500u);
  ASSERT_EQ(b.size(), 500u);
  EXPECT_NE(a, b);
  for (size_t i = 1; i < a.size(); ++i) ASSERT_GT(a[i], a[i - 1]) << i;
  EXPECT_GT(a.front(), 0.0);
}

TEST(ArrivalScheduleTest, GapsAreExponentialWithMeanOneOverQps) {
  // n = 200000 gaps of an exponential with mean m: the sample mean has a relative standard
  // deviation of 1/sqrt(n) = 0.22%, the sample standard deviation about sqrt(2/n) = 0.32%
  // (its fourth moment is 9 m^4), and the share of gaps above m (e^-1) a deviation of
  // 0.0011. The tolerances are 5 to 6 of those deviations.
  ServerConfig c = Quick(250);
  c.min_queries = 200000;
  c.max_duration_s = 1e6;
  const std::vector<double> t = ArrivalSchedule(c);
  ASSERT_EQ(t.size(), 200000u);
  std::vector<double> gaps(t.size());
  std::adjacent_difference(t.begin(), t.end(), gaps.begin());
  const double n = static_cast<double>(gaps.size());
  const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / n;
  double ss = 0;
  int64_t above = 0;
  for (double g : gaps) {
    ss += (g - mean) * (g - mean);
    above += g > 1.0 / 250;
  }
  EXPECT_NEAR(mean * 250, 1.0, 0.012);
  EXPECT_NEAR(std::sqrt(ss / (n - 1)) / mean, 1.0, 0.02);  // an exponential's CV is 1
  EXPECT_NEAR(static_cast<double>(above) / n, std::exp(-1.0), 0.006);
}

TEST(ArrivalScheduleTest, StopsOnceBothMinimumsAreMet) {
  ServerConfig c = Quick(100);
  c.min_queries = 10;
  c.min_duration_s = 1.0;
  std::vector<double> t = ArrivalSchedule(c);
  ASSERT_GE(t.size(), 11u);
  EXPECT_GE(t.back(), 1.0);
  EXPECT_LT(t[t.size() - 2], 1.0);  // the first arrival at or past 1 s ends it

  c.min_queries = 300;
  c.min_duration_s = 0.1;
  EXPECT_EQ(ArrivalSchedule(c).size(), 300u);  // the count is met last

  c.early_stopping = true;  // the p99 estimate at 0.99 needs 459
  EXPECT_EQ(ArrivalSchedule(c).size(), 459u);

  c.max_duration_s = 0.5;  // cuts the schedule short: about 50 arrivals
  t = ArrivalSchedule(c);
  EXPECT_LT(t.size(), 459u);
  EXPECT_LE(t.back(), 0.5);
}

TEST(ArrivalScheduleTest, RejectsBadSettings) {
  for (auto change : std::vector<std::function<void(ServerConfig&)>>{
           [](ServerConfig& c) { c.target_qps = 0; }, [](ServerConfig& c) { c.max_duration_s = 0; },
           [](ServerConfig& c) { c.min_duration_s = -1; },
           [](ServerConfig& c) { c.min_queries = -1; },
           [](ServerConfig& c) { c.tail_percentile = 100; },
           [](ServerConfig& c) { c.tail_confidence = 0; }}) {
    ServerConfig c = Quick(10);
    change(c);
    EXPECT_EQ(CatchError([&] { ArrivalSchedule(c); }).kind(), ErrorKind::kInvalidArgument);
    EXPECT_EQ(CatchError([&] { RunServer(FixedQuery(1), c); }).kind(), ErrorKind::kInvalidArgument);
  }
}

TEST(RunServerTest, WellUnderCapacityItKeepsUpWithTheSchedule) {
  // 0.5 ms queries at 400/s: 20% busy. 459 queries (for the p99 estimate), about 1.15 s.
  constexpr double kServiceMs = 0.5;
  ServerConfig c = Quick(400);
  c.early_stopping = true;
  int progress_calls = 0;
  const ServerResult r =
      RunServer(FixedQuery(kServiceMs), c, [&](int, double) { ++progress_calls; });
  const std::vector<double> schedule = ArrivalSchedule(c);
  ASSERT_EQ(r.scheduled_queries, 459);
  EXPECT_EQ(r.completed_queries, 459);
  EXPECT_EQ(r.unfinished_queries, 0);
  EXPECT_TRUE(r.minimums_met);
  EXPECT_EQ(r.note, "");
  EXPECT_EQ(progress_calls, 459);
  EXPECT_EQ(r.target_qps, 400.0);
  for (double ms : r.latencies_ms) ASSERT_GE(ms, kServiceMs);
  EXPECT_GE(r.mean_service_ms, kServiceMs);
  EXPECT_GE(r.latency.min, kServiceMs);

  // The schedule's own rate is the target's within Poisson noise (n = 459: 4.7% relative).
  const double span_s = schedule.back() - schedule.front();
  EXPECT_NEAR(static_cast<double>(schedule.size() - 1) / span_s / 400, 1.0, 0.2);
  // Achieved: n over first arrival to last completion, which is at least the schedule's span
  // plus one service time; a late last query (preemption) only lowers it, by margin here.
  const double ceiling = 459 / (span_s + kServiceMs / 1000);
  EXPECT_LE(r.achieved_qps, ceiling * (1 + 1e-9));
  EXPECT_GE(r.achieved_qps, 0.9 * ceiling);
  EXPECT_NEAR(r.achieved_qps / 400, 1.0, 0.25);
  ASSERT_TRUE(r.tail.early_stopping_ms.has_value());
  EXPECT_EQ(r.tail.percentile, 99.0);
  EXPECT_GE(*r.tail.early_stopping_ms, r.latency.p99);
}

TEST(RunServerTest, FarAboveCapacityQueriesQueue) {
  // 2 ms queries (capacity 500/s) arriving at 5000/s: the 459 arrivals come within ~0.1 s,
  // serving them takes >= 0.92 s, so query i completes no earlier than (i + 1) x 2 ms after
  // the first arrival and waits nearly that long.
  constexpr double kServiceMs = 2.0;
  ServerConfig c = Quick(5000);
  c.early_stopping = true;
  const ServerResult r = RunServer(FixedQuery(kServiceMs), c);
  const std::vector<double> schedule = ArrivalSchedule(c);
  ASSERT_EQ(r.completed_queries, 459);
  EXPECT_EQ(r.unfinished_queries, 0);
  EXPECT_LE(r.achieved_qps, 1000 / kServiceMs);        // each query holds the stream 2 ms
  EXPECT_GE(r.achieved_qps, 0.6 * 1000 / kServiceMs);  // margin for a loaded machine
  const double arrivals_span_ms = 1000 * (schedule.back() - schedule.front());
  ASSERT_LT(arrivals_span_ms, 200);
  // The top 1% are queries i >= 454: (i + 1) x 2 ms - span >= 910 - 200 ms.
  EXPECT_GE(r.latency.p99, 700);
  EXPECT_GE(r.tail.sample_ms, 700);
  ASSERT_TRUE(r.tail.early_stopping_ms.has_value());
  EXPECT_GE(*r.tail.early_stopping_ms, 700);
  EXPECT_GE(r.mean_queueing_ms, 300);  // the mean query waits behind ~half the queue
}

TEST(RunServerTest, MaxDurationEndsAnOverloadedRun) {
  // 2 ms queries arriving at 10000/s for 0.3 s: ~3000 arrivals would take 6 s to serve.
  ServerConfig c = Quick(10000);
  c.min_duration_s = 10;
  c.max_duration_s = 0.3;
  const auto t0 = std::chrono::steady_clock::now();
  const ServerResult r = RunServer(FixedQuery(2.0), c);
  const double wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(wall_s, 3.0);
  EXPECT_FALSE(r.minimums_met);
  EXPECT_GT(r.scheduled_queries, 2000);
  EXPECT_LE(r.completed_queries, 151);  // started by 0.3 s, each 2 ms long
  EXPECT_EQ(r.unfinished_queries, r.scheduled_queries - r.completed_queries);
  EXPECT_NE(r.note.find("never ran"), std::string::npos) << r.note;
  EXPECT_NE(r.note.find("max_duration_s 0.3 came before"), std::string::npos) << r.note;
}

TEST(RunServerTest, MeasureServerRunsOnASession) {
  SleepingSession session([](std::mt19937_64&) { return 0.5; }, 1);
  BenchmarkConfig config;
  config.warmup = 3;
  ServerConfig c = Quick(200);
  c.min_queries = 60;
  const ServerBenchmarkResult r = MeasureServer(session, models::Model{}, config, c);
  EXPECT_EQ(r.prepared.execution_provider, "SleepingTestProvider");
  EXPECT_EQ(r.prepared.input_shapes.at("x"), (core::Shape{1, 4}));
  EXPECT_GE(r.prepared.first_inference_ms, 0.5);
  EXPECT_EQ(session.bind_calls(), 1);
  EXPECT_EQ(r.server.completed_queries, 60);
  EXPECT_EQ(session.drawn_ms().size(), 1u + 3u + 60u);  // first, warm-up, the server run
  for (double ms : r.server.latencies_ms) ASSERT_GE(ms, 0.5);
  EXPECT_GT(r.peak_rss_bytes, 0);
  EXPECT_NE(r.server.note.find("needs 459 completed queries; there were 60"), std::string::npos)
      << r.server.note;
}

TEST(FindPeakQpsTest, FindsARateThatMeetsTheBoundBelowCapacity) {
  // 1 ms queries (capacity 1000/s), p99 at most 6 ms. Short trials: the sample p99 decides.
  constexpr double kBoundMs = 6;
  ServerConfig c = Quick(1);
  c.min_duration_s = 0.2;
  c.min_queries = 100;
  c.max_duration_s = 0.5;
  std::vector<double> seen;
  const PeakQpsResult r =
      FindPeakQps(FixedQuery(1.0), kBoundMs, c,
                  {.trials = 6, .capacity_runs = 5, .on_trial = [&](const PeakQpsTrial& t) {
                     seen.push_back(t.target_qps);
                   }});
  EXPECT_GE(r.mean_service_ms, 1.0);
  EXPECT_LE(r.capacity_qps, 1000.0);
  ASSERT_EQ(r.trials.size(), 6u);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(r.trials[0].target_qps, r.capacity_qps);
  ASSERT_TRUE(r.best.has_value()) << r.note;
  EXPECT_EQ(r.note, "");
  const PeakQpsTrial& best = r.trials[*r.best];
  EXPECT_TRUE(best.meets_bound);
  EXPECT_LE(best.tail_ms, kBoundMs);
  EXPECT_FALSE(best.tail_is_early_stopping);
  EXPECT_EQ(best.tail_ms, best.result.tail.sample_ms);
  EXPECT_LT(best.target_qps, 1000.0);
  std::string trials;
  for (const PeakQpsTrial& t : r.trials) {
    EXPECT_EQ(t.meets_bound, t.tail_ms <= kBoundMs && t.result.unfinished_queries == 0);
    if (t.meets_bound) {
      EXPECT_LE(t.target_qps, best.target_qps);
    }
    trials += fmt::format("{:.0f}/s p99 {:.2f} ms; ", t.target_qps, t.tail_ms);
  }
  RecordProperty("trials", trials);
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], r.trials[i].target_qps);
}

TEST(FindPeakQpsTest, NoRateMeetsABoundBelowTheServiceTime) {
  ServerConfig c = Quick(1);
  c.min_duration_s = 0.05;
  c.min_queries = 20;
  const PeakQpsResult r = FindPeakQps(FixedQuery(1.0), 0.5, c, {.trials = 3, .capacity_runs = 3});
  ASSERT_EQ(r.trials.size(), 3u);
  EXPECT_FALSE(r.best.has_value());
  // Each miss halves the rate.
  EXPECT_DOUBLE_EQ(r.trials[1].target_qps, r.trials[0].target_qps / 2);
  EXPECT_DOUBLE_EQ(r.trials[2].target_qps, r.trials[0].target_qps / 4);
  for (const PeakQpsTrial& t : r.trials) EXPECT_FALSE(t.meets_bound);
  EXPECT_NE(r.note.find("no rate met the p99 bound of 0.5 ms"), std::string::npos) << r.note;
}

TEST(FindPeakQpsTest, RejectsBadArguments) {
  const ServerConfig c = Quick(10);
  EXPECT_EQ(CatchError([&] { FindPeakQps(FixedQuery(1), 0, c); }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(CatchError([&] { FindPeakQps(FixedQuery(1), 5, c, {.trials = 0}); }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(CatchError([&] { FindPeakQps(FixedQuery(1), 5, c, {.capacity_runs = 0}); }).kind(),
            ErrorKind::kInvalidArgument);
}

}  // namespace server_scenario_test
}  // namespace ipfs_accel::harness
