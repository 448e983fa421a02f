#pragma once
// MLPerf LoadGen's server scenario for a system with one stream (one query in flight at a
// time, on one session). Queries arrive as a Poisson process at a target rate, on a schedule
// drawn from a seed; a query that arrives while another runs waits its turn. A query's
// latency is its completion minus its scheduled arrival, so queueing counts.
//
// Arrivals are scheduled until both the minimum duration and the minimum query count are
// met, but never later than max_duration_s; and no query is started after max_duration_s,
// so a rate the system cannot keep up with still ends (its queued queries are reported as
// unfinished). FindPeakQps searches for the highest rate whose tail latency meets a bound.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/harness/stopping_rule.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct ServerConfig {
  double target_qps = 10;       // arrival rate, queries per second
  double min_duration_s = 10;   // arrivals span at least this long ...
  int64_t min_queries = 100;    // ... and number at least this many ...
  bool early_stopping = true;   // ... and at least MinQueriesForEarlyStopping(tail_*) (459 for
                                // the 99th percentile at 0.99), so that the estimate exists
  double max_duration_s = 60;   // no arrival scheduled, no query started after this
  uint64_t seed = 1;            // of the arrival schedule
  double tail_percentile = 99;  // of the reported estimate (LoadGen server: 99)
  double tail_confidence = 0.99;
  double tail_ci_level = 0.95;
};

// The arrival times, in seconds from the start of the run: exponential gaps of mean
// 1 / target_qps drawn by inversion from std::mt19937_64(seed), so one seed gives the same
// schedule with every standard library; as many as the config asks (see above), at least
// one unless the first gap already passes max_duration_s. Throws core::Error(kInvalidArgument)
// unless target_qps > 0, max_duration_s > 0, min_duration_s >= 0, min_queries >= 0 and the
// tail settings are in range (as EstimatePercentile).
std::vector<double> ArrivalSchedule(const ServerConfig& config);

struct ServerResult {
  double target_qps = 0;
  double achieved_qps = 0;  // completed queries / duration_s
  int64_t scheduled_queries = 0;
  int64_t completed_queries = 0;
  int64_t unfinished_queries = 0;  // arrived but not started by max_duration_s
  // The schedule reached both min_duration_s and the query count within max_duration_s.
  bool minimums_met = false;
  double duration_s = 0;             // from the first arrival to the last completion
  std::vector<double> latencies_ms;  // completed queries in arrival order: completion - arrival
  LatencyStats latency;
  PercentileEstimate tail;  // at tail_percentile, from latencies_ms
  // Start - scheduled arrival (a query that arrives to an idle stream waits only for the
  // runner to wake, a few microseconds), and completion - start, averaged.
  double mean_queueing_ms = 0;
  double mean_service_ms = 0;
  // What makes the run less than asked: minimums not met, unfinished queries, no
  // early-stopping estimate. Empty when none.
  std::string note;
};

// Runs the scenario, calling `query` once per arrival on this thread (one at a time);
// `progress` after each completion with (completed, seconds since the start). Throws like
// ArrivalSchedule, and whatever `query` throws.
ServerResult RunServer(const std::function<void()>& query, const ServerConfig& config,
                       const ProgressFn& progress = nullptr);

// Returns at `deadline` (steady_clock) within microseconds: sleeps until shortly before it,
// then spins, since a sleep alone can wake tens of microseconds late.
void WaitUntil(std::chrono::steady_clock::time_point deadline);

// The server scenario on a session, as MeasureSession does single-stream: PrepareSession
// (config's shape, seed, warmup), then RunServer with the bound inputs. Of `config` only
// those fields and, in RunServerBenchmark, `session` are used.
struct ServerBenchmarkResult {
  PreparedSession prepared;
  double load_ms = 0;  // RunServerBenchmark only
  ServerResult server;
  int64_t peak_rss_bytes = 0;
  DeviceMemory device_memory;  // RunServerBenchmark on a GPU platform
};
ServerBenchmarkResult MeasureServer(runtime::Session& session, const models::Model& model,
                                    const BenchmarkConfig& config, const ServerConfig& server,
                                    const ProgressFn& progress = nullptr);
// Opens a fresh session on config.session first (load_ms), as RunBenchmark.
ServerBenchmarkResult RunServerBenchmark(const models::Model& model, const BenchmarkConfig& config,
                                         const ServerConfig& server,
                                         const ProgressFn& progress = nullptr);

// One server run of the peak search.
struct PeakQpsTrial {
  double target_qps = 0;
  // The tail latency judged against the bound: the early-stopping estimate where it
  // exists (tail_is_early_stopping), else the sample percentile.
  double tail_ms = 0;
  bool tail_is_early_stopping = false;
  bool meets_bound = false;  // tail_ms <= bound and no query left unfinished
  ServerResult result;
};

struct PeakQpsResult {
  double latency_bound_ms = 0;
  double mean_service_ms = 0;        // of the single queries timed back to back before the search
  double capacity_qps = 0;           // 1000 / mean_service_ms: the first rate tried
  std::vector<PeakQpsTrial> trials;  // in the order run
  std::optional<size_t> best;        // index into trials of the highest rate that met the bound
  std::string note;                  // why there is no best; empty when there is one
};

struct PeakSearchOptions {
  int trials = 8;          // server runs in all
  int capacity_runs = 10;  // single queries timed for the starting rate
  std::function<void(const PeakQpsTrial&)> on_trial = nullptr;  // after each trial
};

// The highest target rate whose tail latency (ServerConfig's tail_percentile, 99 by default)
// meets `latency_bound_ms`, by a bracketed search: the first trial runs at the capacity; while
// no rate has met the bound the next halves the lowest failing one, while none has failed it
// doubles the highest passing one, and once both exist it bisects between them. Every trial
// is a full RunServer with `base` at the trial's rate. Throws core::Error(kInvalidArgument)
// for a bound <= 0, trials or capacity_runs < 1, and like RunServer.
PeakQpsResult FindPeakQps(const std::function<void()>& query, double latency_bound_ms,
                          const ServerConfig& base, const PeakSearchOptions& options = {});

// The search on a fresh session on config.session (as RunServerBenchmark): PrepareSession,
// then FindPeakQps with the bound inputs.
struct PeakQpsBenchmarkResult {
  PreparedSession prepared;
  double load_ms = 0;
  PeakQpsResult search;
  int64_t peak_rss_bytes = 0;  // over the whole search
  DeviceMemory device_memory;
};
PeakQpsBenchmarkResult RunPeakQpsBenchmark(const models::Model& model,
                                           const BenchmarkConfig& config, double latency_bound_ms,
                                           const ServerConfig& base,
                                           const PeakSearchOptions& options = {});

}  // namespace ipfs_accel::harness
