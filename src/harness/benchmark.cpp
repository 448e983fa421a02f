#include "ipfs_accel/harness/benchmark.h"

#include <chrono>
#include <string>

#include "ipfs_accel/harness/memory.h"
#include "ipfs_accel/hw/hardware.h"
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
  auto session = runtime::OpenOnnxRuntimeSession(model, config.session);
  const double load_ms = MsSince(t0);
  BenchmarkResult r = MeasureSession(*session, model, config, progress);
  r.load_ms = load_ms;
  if (config.session.platform == "cuda" || config.session.platform == "tensorrt") {
    const auto id = config.session.provider_options.find("device_id");
    const unsigned device =
        id == config.session.provider_options.end() ? 0u : std::stoul(id->second);
    const hw::NvidiaMemorySample m = hw::SampleNvidiaMemory(device);
    r.device_memory_process_bytes = m.process_bytes;
    r.device_memory_gpu_used_bytes = m.gpu_used_bytes;
    r.device_memory_note = !m.reason.empty() ? m.reason : m.process_reason;
  }
  return r;
}

void CheckShapes(const models::Model& model, const std::vector<BenchmarkConfig>& configs) {
  if (configs.empty()) return;
  runtime::SessionOptions probe;  // the graph's inputs are the same on every platform
  probe.graph_optimization_level = 0;
  probe.intra_op_threads = 1;
  const auto session = runtime::OpenOnnxRuntimeSession(model, probe);
  for (const auto& c : configs) ResolveShapes(session->inputs(), model.dim_roles, c.shape);
}

BenchmarkResult MeasureSession(runtime::Session& session, const models::Model& model,
                               const BenchmarkConfig& config, const ProgressFn& progress) {
  BenchmarkResult r;
  r.execution_provider = session.execution_provider();
  r.session_options_json = session.options_json();
  r.input_shapes = ResolveShapes(session.inputs(), model.dim_roles, config.shape);
  session.Bind(GenerateInputs(session.inputs(), r.input_shapes, model.input_hints, config.seed));
  const EffectiveDims dims =
      EffectiveBatchAndSequence(session.inputs(), model.dim_roles, r.input_shapes);
  r.batch_size = dims.batch_size;
  r.seq_len = dims.seq_len;

  auto t0 = Clock::now();
  session.RunBound();
  r.first_inference_ms = MsSince(t0);
  for (int i = 0; i < config.warmup; ++i) session.RunBound();

  r.samples_ms.reserve(static_cast<size_t>(config.iterations));
  const auto start = Clock::now();
  double elapsed_s = 0;
  while (static_cast<int>(r.samples_ms.size()) < config.iterations ||
         elapsed_s < config.min_time_s) {
    const auto t = Clock::now();
    session.RunBound();
    const auto t_end = Clock::now();
    r.samples_ms.push_back(std::chrono::duration<double, std::milli>(t_end - t).count());
    elapsed_s = std::chrono::duration<double>(t_end - start).count();
    if (progress) progress(static_cast<int>(r.samples_ms.size()), elapsed_s);
  }
  r.latency = Summarize(r.samples_ms);
  r.throughput_items_per_s =
      r.latency.mean > 0 ? static_cast<double>(r.batch_size) * 1000.0 / r.latency.mean : 0;
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

}  // namespace ipfs_accel::harness
