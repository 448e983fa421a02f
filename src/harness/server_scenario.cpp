#include "ipfs_accel/harness/server_scenario.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/memory.h"
#include "ipfs_accel/runtime/backend.h"

namespace ipfs_accel::harness {

namespace {

using Clock = std::chrono::steady_clock;
using core::Error;
using core::ErrorKind;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
Clock::duration FromSeconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// The queries a config asks for, checking the settings on the way.
int64_t QueriesNeeded(const ServerConfig& c) {
  if (!(c.target_qps > 0) || !(c.max_duration_s > 0) || !(c.min_duration_s >= 0) ||
      c.min_queries < 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("server scenario: target_qps {} and max_duration_s {} must be > 0, "
                            "min_duration_s {} and min_queries {} >= 0",
                            c.target_qps, c.max_duration_s, c.min_duration_s, c.min_queries));
  const int64_t tail_minimum =
      EstimatePercentile({}, c.tail_percentile, c.tail_confidence, c.tail_ci_level)
          .min_queries_for_estimate;
  return std::max(c.min_queries, c.early_stopping ? tail_minimum : 0);
}

}  // namespace

std::vector<double> ArrivalSchedule(const ServerConfig& config) {
  const auto needed = static_cast<size_t>(QueriesNeeded(config));
  std::mt19937_64 rng(config.seed);
  std::vector<double> arrivals;
  double t = 0;
  for (;;) {
    const double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;  // [0, 1), 53 bits
    t += -std::log1p(-u) / config.target_qps;
    if (t > config.max_duration_s) break;
    arrivals.push_back(t);
    if (arrivals.size() >= needed && t >= config.min_duration_s) break;
  }
  return arrivals;
}

void WaitUntil(Clock::time_point deadline) {
  constexpr auto kSpin = std::chrono::microseconds(100);
  if (Clock::now() + kSpin < deadline) std::this_thread::sleep_until(deadline - kSpin);
  while (Clock::now() < deadline) {
  }
}

ServerResult RunServer(const std::function<void()>& query, const ServerConfig& config,
                       const ProgressFn& progress) {
  const std::vector<double> schedule = ArrivalSchedule(config);
  const auto needed = static_cast<size_t>(QueriesNeeded(config));
  ServerResult r;
  r.target_qps = config.target_qps;
  r.scheduled_queries = static_cast<int64_t>(schedule.size());
  r.minimums_met =
      schedule.size() >= needed && !schedule.empty() && schedule.back() >= config.min_duration_s;
  r.latencies_ms.reserve(schedule.size());

  Clock::duration queueing{0}, service{0};
  const auto start = Clock::now();
  const auto last_start = start + FromSeconds(config.max_duration_s);
  auto last_end = start;
  for (const double offset : schedule) {
    const auto arrival = start + FromSeconds(offset);
    auto begin = Clock::now();
    if (begin < arrival) {
      WaitUntil(arrival);
      begin = Clock::now();
    }
    if (begin > last_start) break;  // only when late: no arrival is scheduled past it
    query();
    const auto end = Clock::now();
    r.latencies_ms.push_back(Ms(end - arrival));
    queueing += begin - arrival;
    service += end - begin;
    last_end = end;
    if (progress) progress(static_cast<int>(r.latencies_ms.size()), Seconds(end - start));
  }

  const auto completed = static_cast<int64_t>(r.latencies_ms.size());
  r.completed_queries = completed;
  r.unfinished_queries = r.scheduled_queries - completed;
  if (completed > 0) {
    r.duration_s = Seconds(last_end - (start + FromSeconds(schedule.front())));
    r.achieved_qps = r.duration_s > 0 ? static_cast<double>(completed) / r.duration_s : 0;
    r.mean_queueing_ms = Ms(queueing) / static_cast<double>(completed);
    r.mean_service_ms = Ms(service) / static_cast<double>(completed);
  }
  r.latency = Summarize(r.latencies_ms);
  r.tail = EstimatePercentile(r.latencies_ms, config.tail_percentile, config.tail_confidence,
                              config.tail_ci_level);

  std::vector<std::string> notes;
  if (!r.minimums_met)
    notes.push_back(fmt::format(
        "max_duration_s {} came before {} arrivals spanning min_duration_s {} ({} scheduled)",
        config.max_duration_s, needed, config.min_duration_s, r.scheduled_queries));
  if (r.unfinished_queries > 0)
    notes.push_back(fmt::format(
        "{} of {} queries were still queued at max_duration_s {} and never ran: the stream "
        "cannot keep up with {} queries/s, and the latencies of those that ran understate it",
        r.unfinished_queries, r.scheduled_queries, config.max_duration_s, config.target_qps));
  if (!r.tail.early_stopping_ms)
    notes.push_back(fmt::format(
        "the early-stopping p{} estimate at confidence {} needs {} completed queries; there "
        "were {}",
        config.tail_percentile, config.tail_confidence, r.tail.min_queries_for_estimate,
        completed));
  for (const auto& n : notes) r.note += (r.note.empty() ? "" : "; ") + n;
  return r;
}

ServerBenchmarkResult MeasureServer(runtime::Session& session, const models::Model& model,
                                    const BenchmarkConfig& config, const ServerConfig& server,
                                    const ProgressFn& progress) {
  QueriesNeeded(server);  // checks the settings before anything runs
  ServerBenchmarkResult r;
  r.prepared = PrepareSession(session, model, config);
  r.server = RunServer([&session] { session.RunBound(); }, server, progress);
  r.peak_rss_bytes = PeakRssBytes() + session.HelperProcessesResidentBytes();
  return r;
}

ServerBenchmarkResult RunServerBenchmark(const models::Model& model, const BenchmarkConfig& config,
                                         const ServerConfig& server, const ProgressFn& progress) {
  QueriesNeeded(server);
  ResetPeakRss();
  const auto t0 = Clock::now();
  auto session = runtime::OpenSession(model, config.session);
  const double load_ms = Ms(Clock::now() - t0);
  ServerBenchmarkResult r = MeasureServer(*session, model, config, server, progress);
  r.load_ms = load_ms;
  r.device_memory = SampleDeviceMemory(config.session);
  return r;
}

PeakQpsBenchmarkResult RunPeakQpsBenchmark(const models::Model& model,
                                           const BenchmarkConfig& config, double latency_bound_ms,
                                           const ServerConfig& base,
                                           const PeakSearchOptions& options) {
  QueriesNeeded(base);
  ResetPeakRss();
  PeakQpsBenchmarkResult r;
  const auto t0 = Clock::now();
  auto session = runtime::OpenSession(model, config.session);
  r.load_ms = Ms(Clock::now() - t0);
  r.prepared = PrepareSession(*session, model, config);
  r.search = FindPeakQps([&] { session->RunBound(); }, latency_bound_ms, base, options);
  r.peak_rss_bytes = PeakRssBytes() + session->HelperProcessesResidentBytes();
  r.device_memory = SampleDeviceMemory(config.session);
  return r;
}

PeakQpsResult FindPeakQps(const std::function<void()>& query, double latency_bound_ms,
                          const ServerConfig& base, const PeakSearchOptions& options) {
  if (!(latency_bound_ms > 0) || options.trials < 1 || options.capacity_runs < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("peak QPS search: the latency bound ({} ms) must be > 0, trials ({}) "
                            "and capacity runs ({}) >= 1",
                            latency_bound_ms, options.trials, options.capacity_runs));
  QueriesNeeded(base);  // checks the settings before anything runs

  PeakQpsResult r;
  r.latency_bound_ms = latency_bound_ms;
  const auto t0 = Clock::now();
  for (int i = 0; i < options.capacity_runs; ++i) query();
  r.mean_service_ms = Ms(Clock::now() - t0) / options.capacity_runs;
  r.capacity_qps = r.mean_service_ms > 0 ? 1000.0 / r.mean_service_ms : 1e9;

  double qps = r.capacity_qps;
  for (int t = 0; t < options.trials; ++t) {
    ServerConfig c = base;
    c.target_qps = qps;
    PeakQpsTrial trial;
    trial.target_qps = qps;
    trial.result = RunServer(query, c);
    const PercentileEstimate& tail = trial.result.tail;
    trial.tail_is_early_stopping = tail.early_stopping_ms.has_value();
    trial.tail_ms = tail.early_stopping_ms.value_or(tail.sample_ms);
    trial.meets_bound = trial.result.completed_queries > 0 &&
                        trial.result.unfinished_queries == 0 && trial.tail_ms <= latency_bound_ms;
    r.trials.push_back(std::move(trial));
    if (options.on_trial) options.on_trial(r.trials.back());

    // The bracket from every trial so far: the highest rate that met the bound, and the
    // lowest that missed it above that (trials are noisy, so they need not be monotone).
    std::optional<double> passing, failing;
    for (size_t i = 0; i < r.trials.size(); ++i) {
      const double q = r.trials[i].target_qps;
      if (r.trials[i].meets_bound && (!passing || q > *passing)) {
        passing = q;
        r.best = i;
      }
    }
    for (const auto& tr : r.trials) {
      if (!tr.meets_bound && (!passing || tr.target_qps > *passing) &&
          (!failing || tr.target_qps < *failing))
        failing = tr.target_qps;
    }
    if (passing && failing)
      qps = (*passing + *failing) / 2;
    else if (passing)
      qps = *passing * 2;
    else
      qps = *failing / 2;
  }
  if (!r.best) {
    double lowest = r.trials.front().target_qps;
    for (const auto& tr : r.trials) lowest = std::min(lowest, tr.target_qps);
    r.note = fmt::format(
        "no rate met the p{} bound of {:.4g} ms: even the lowest tried, {:.4g} queries/s, missed "
        "it",
        base.tail_percentile, latency_bound_ms, lowest);
  }
  return r;
}

}  // namespace ipfs_accel::harness
