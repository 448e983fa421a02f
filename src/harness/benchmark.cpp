#include "ipfs_accel/harness/benchmark.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/memory.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"

namespace ipfs_accel::harness {

namespace {
using Clock = std::chrono::steady_clock;
double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace

BenchmarkResult RunBenchmark(const models::Model& model, const BenchmarkConfig& config,
                             const ProgressFn& progress) {
  ResetPeakRss();
  const auto t0 = Clock::now();
  auto session = runtime::OpenSession(model, config.session);
  const double load_ms = MsSince(t0);
  BenchmarkResult r = MeasureSession(*session, model, config, progress);
  r.load_ms = load_ms;
  const DeviceMemory m = SampleDeviceMemory(config.session);
  r.device_memory_process_bytes = m.process_bytes;
  r.device_memory_gpu_used_bytes = m.gpu_used_bytes;
  r.device_memory_note = m.note;
  return r;
}

DeviceMemory SampleDeviceMemory(const runtime::SessionOptions& session) {
  DeviceMemory out;
  if (session.platform != "cuda" && session.platform != "tensorrt") return out;
  const auto id = session.provider_options.find("device_id");
  const unsigned device = id == session.provider_options.end() ? 0u : std::stoul(id->second);
  const hw::NvidiaMemorySample m = hw::SampleNvidiaMemory(device);
  out.process_bytes = m.process_bytes;
  out.gpu_used_bytes = m.gpu_used_bytes;
  out.gpu_total_bytes = m.gpu_total_bytes;
  out.device = fmt::format("GPU {}", device);
  out.note = !m.reason.empty() ? m.reason : m.process_reason;
  return out;
}

std::vector<std::map<std::string, core::Shape>> CheckShapes(
    const models::Model& model, const std::vector<ShapeRequest>& requests,
    const std::vector<GivenInput>& given) {
  std::vector<std::map<std::string, core::Shape>> out;
  if (requests.empty()) return out;
  runtime::SessionOptions probe;  // the graph's inputs are the same on every platform
  probe.graph_optimization_level = 0;
  probe.intra_op_threads = 1;
  const auto session = runtime::OpenOnnxRuntimeSession(model, probe);
  for (const auto& r : requests) {
    out.push_back(ResolveShapes(session->inputs(), model.dim_roles, r));
    std::map<std::string, core::Tensor> unused;
    ApplyGivenInputs(GraphInputsOf(given, model), session->inputs(), out.back(), unused);
  }
  return out;
}

PreparedSession PrepareSession(runtime::Session& session, const models::Model& model,
                               const BenchmarkConfig& config) {
  PreparedSession p;
  p.execution_provider = session.execution_provider();
  p.input_shapes = ResolveShapes(session.inputs(), model.dim_roles, config.shape);
  auto inputs = GenerateInputs(session.inputs(), p.input_shapes, model.input_hints, config.seed);
  ApplyGivenInputs(GraphInputsOf(config.given_inputs, model), session.inputs(), p.input_shapes,
                   inputs);
  session.Bind(std::move(inputs));
  const EffectiveDims dims =
      EffectiveBatchAndSequence(session.inputs(), model.dim_roles, p.input_shapes);
  p.batch_size = dims.batch_size;
  p.seq_len = dims.seq_len;

  p.first_inference_ms = session.RunBoundTimed();
  for (int i = 0; i < config.warmup; ++i) session.RunBound();
  // After the runs: a session may record what binding and warming up did (a browser's warm-up).
  p.session_options_json = session.options_json();
  return p;
}

void CheckTimedRuns(const BenchmarkConfig& config) {
  if (config.max_time_s < 0)
    throw core::Error(
        core::ErrorKind::kInvalidArgument,
        fmt::format("max_time_s {} is negative; give 0 for no limit", config.max_time_s));
  EstimatePercentile({}, config.tail_percentile, config.tail_confidence, config.tail_ci_level);
}

TimedRuns TimeRuns(const BenchmarkConfig& config, const std::function<double()>& run,
                   const ProgressFn& progress) {
  // Checks the tail settings, and says how many runs the estimate needs.
  const int64_t tail_minimum =
      EstimatePercentile({}, config.tail_percentile, config.tail_confidence, config.tail_ci_level)
          .min_queries_for_estimate;
  TimedRuns r;
  const size_t runs_needed = static_cast<size_t>(
      std::max<int64_t>({0, config.iterations, config.early_stopping ? tail_minimum : 0}));
  const double max_time_s =
      config.max_time_s > 0 ? config.max_time_s : std::numeric_limits<double>::infinity();
  r.samples_ms.reserve(runs_needed);
  const auto start = Clock::now();
  double elapsed_s = 0;
  while ((r.samples_ms.size() < runs_needed || elapsed_s < config.min_time_s) &&
         elapsed_s < max_time_s) {
    r.samples_ms.push_back(run());
    const auto t_end = Clock::now();
    elapsed_s = std::chrono::duration<double>(t_end - start).count();
    if (progress) progress(static_cast<int>(r.samples_ms.size()), elapsed_s);
  }
  r.hit_max_time = r.samples_ms.size() < runs_needed || elapsed_s < config.min_time_s;
  r.latency = Summarize(r.samples_ms);
  r.tail = EstimatePercentile(r.samples_ms, config.tail_percentile, config.tail_confidence,
                              config.tail_ci_level);
  if (!r.tail.early_stopping_ms)
    r.tail_note = fmt::format(
        "the early-stopping p{} estimate at confidence {} needs {} runs; there were {}{}",
        config.tail_percentile, config.tail_confidence, tail_minimum, r.samples_ms.size(),
        r.hit_max_time ? fmt::format(" (max_time_s {} ended the runs)", config.max_time_s)
                       : std::string(" (early_stopping is off)"));
  return r;
}

BenchmarkResult MeasureSession(runtime::Session& session, const models::Model& model,
                               const BenchmarkConfig& config, const ProgressFn& progress) {
  CheckTimedRuns(config);  // before anything runs
  BenchmarkResult r;
  PreparedSession prepared = PrepareSession(session, model, config);
  r.execution_provider = std::move(prepared.execution_provider);
  r.session_options_json = std::move(prepared.session_options_json);
  r.input_shapes = std::move(prepared.input_shapes);
  r.batch_size = prepared.batch_size;
  r.seq_len = prepared.seq_len;
  r.first_inference_ms = prepared.first_inference_ms;

  TimedRuns timed = TimeRuns(
      config, [&] { return session.RunBoundTimed(); }, progress);
  r.samples_ms = std::move(timed.samples_ms);
  r.latency = timed.latency;
  r.tail = timed.tail;
  r.hit_max_time = timed.hit_max_time;
  r.tail_note = std::move(timed.tail_note);
  r.throughput_items_per_s =
      r.latency.mean > 0 ? static_cast<double>(r.batch_size) * 1000.0 / r.latency.mean : 0;
  // A browser session's model lives in the browser's processes: what they hold counts too.
  r.peak_rss_bytes = PeakRssBytes() + session.HelperProcessesResidentBytes();
  return r;
}

}  // namespace ipfs_accel::harness
