#include "cli/benchmark_records.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/harness/stopping_rule.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"

namespace ipfs_accel::cli {

namespace {

void SetLatency(store::PerformanceRecord& r, const harness::LatencyStats& s) {
  r.latency_mean_ms = s.mean;
  r.latency_stdev_ms = s.stdev;
  r.latency_min_ms = s.min;
  r.latency_max_ms = s.max;
  r.latency_p50_ms = s.p50;
  r.latency_p90_ms = s.p90;
  r.latency_p95_ms = s.p95;
  r.latency_p99_ms = s.p99;
}

void SetTail(store::PerformanceRecord& r, const harness::PercentileEstimate& t) {
  r.tail_percentile = t.percentile;
  r.tail_early_stopping_ms = t.early_stopping_ms;
  r.tail_confidence = t.confidence;
  r.tail_ci_low_ms = t.ci_low_ms;
  r.tail_ci_high_ms = t.ci_high_ms;
  r.tail_ci_level = t.ci_level;
}

void SetDeviceMemory(store::PerformanceRecord& r, int64_t process, int64_t gpu_used) {
  if (process >= 0) r.device_memory_process_bytes = process;
  if (gpu_used >= 0) r.device_memory_gpu_used_bytes = gpu_used;
}

// ONNX Runtime's intra-op pool when no number is asked for: one thread per physical core
// (onnxruntime.ai, "Thread management").
int PhysicalCores() {
  static const int cores = hw::DetectCpu().physical_cores;
  return cores;
}

// The intra-op threads the session used, into the record and its session options, with where
// the number came from: asked for (--threads), or the runtime's default resolved (a browser
// page reports the number it used).
void SetThreads(store::PerformanceRecord& r, const runtime::SessionOptions& session) {
  nlohmann::json options = nlohmann::json::parse(r.session_options_json, nullptr, false);
  if (!options.is_object()) options = nlohmann::json::object();
  const bool asked = session.intra_op_threads > 0;
  if (runtime::IsBrowserPlatform(session.platform)) {
    r.threads = options.value("threads", session.intra_op_threads);
  } else {
    r.threads = asked ? session.intra_op_threads : PhysicalCores();
    options["intra_op_threads"] = r.threads;
  }
  options["threads_source"] = asked ? "asked" : "runtime default";
  r.session_options_json = options.dump();
}

// What every result of a session stores: its provider, options, runtime (onnxruntime, or
// onnxruntime-web in its browser) and threads.
store::PerformanceRecord BaseRecord(const std::string& provider, const std::string& options_json,
                                    const runtime::SessionOptions& session) {
  store::PerformanceRecord r;
  r.execution_provider = provider;
  r.session_options_json = options_json;
  r.runtime_version = "onnxruntime " + runtime::OnnxRuntimeVersion();
  if (runtime::IsBrowserPlatform(session.platform)) {  // the page's runtime, not ours
    const auto j = nlohmann::json::parse(options_json, nullptr, false);
    if (j.is_object() && j.contains("browser"))
      r.runtime_version =
          fmt::format("onnxruntime-web {} in {} {}", j.value("onnxruntime_web_version", "?"),
                      j["browser"].value("name", "?"), j["browser"].value("version", "?"));
  }
  SetThreads(r, session);
  return r;
}

}  // namespace

store::PerformanceRecord ToRecord(const runtime::LoadTiming& timing, bool concurrent,
                                  const std::vector<std::string>& parts,
                                  const runtime::SessionOptions& session) {
  const std::vector<double>& ms = concurrent ? timing.concurrent_ms : timing.sequential_ms;
  const harness::LatencyStats stats = harness::Summarize(ms);
  store::PerformanceRecord r = BaseRecord(timing.execution_provider, timing.options_json, session);
  r.scenario = "load";
  nlohmann::json provider = nlohmann::json::object();
  for (const auto& [k, v] : session.provider_options) provider[k] = v;
  provider["load"] = concurrent ? "concurrent" : "sequential";  // part of the configuration
  provider["parts"] = parts;
  r.provider_options_json = provider.dump();
  r.iterations = static_cast<int>(ms.size());
  r.samples_ms = ms;
  SetLatency(r, stats);
  r.load_ms = stats.p50;
  r.throughput_items_per_s = stats.mean > 0 ? 1000.0 / stats.mean : 0;  // loads per second
  return r;
}

store::HardwarePlatformRecord HardwareRecord(const std::string& platform,
                                             const hw::HardwareReport& hardware) {
  store::HardwarePlatformRecord r;
  r.platform = platform;
  r.hostname = hardware.host.hostname;
  if (platform == "cpu") {
    r.device_name = hardware.cpu.model_name;
    r.details_json = nlohmann::json(hardware.cpu).dump();
  } else if (runtime::IsBrowserPlatform(platform)) {
    // What the browser runs on: the CPU for wasm, the WebGPU adapter (labelled when it is a
    // software fallback such as SwiftShader), with the probe page's findings as details.
    const runtime::PlatformStatus status = runtime::CheckPlatform(platform, hardware);
    const auto detail = nlohmann::json::parse(status.detail_json, nullptr, false);
    r.device_name = hardware.cpu.model_name;
    if (platform == "webgpu" && detail.is_object() && detail.contains("adapter")) {
      const auto& a = detail["adapter"];
      r.device_name = fmt::format("{} {}{}", a.value("vendor", ""), a.value("architecture", ""),
                                  status.software_renderer ? " (fallback adapter)" : "");
    }
    if (detail.is_object()) r.details_json = detail.dump();
  } else {
    r.device_name = platform;
  }
  return r;
}

void PoolEarlierSamples(store::PerformanceRecord& r, const std::vector<double>& earlier) {
  r.samples_ms.insert(r.samples_ms.begin(), earlier.begin(), earlier.end());
  r.iterations = static_cast<int>(r.samples_ms.size());
  const harness::LatencyStats s = harness::Summarize(r.samples_ms);
  SetLatency(r, s);
  r.throughput_items_per_s = s.mean > 0 ? static_cast<double>(r.batch_size) * 1000.0 / s.mean : 0;
  if (r.tail_percentile && r.tail_confidence && r.tail_ci_level) {
    const harness::PercentileEstimate t = harness::EstimatePercentile(
        r.samples_ms, *r.tail_percentile, *r.tail_confidence, *r.tail_ci_level);
    r.tail_early_stopping_ms = t.early_stopping_ms;
    r.tail_ci_low_ms = t.ci_low_ms;
    r.tail_ci_high_ms = t.ci_high_ms;
  }
}

store::PerformanceRecord ToRecord(const harness::BenchmarkResult& b,
                                  const harness::BenchmarkConfig& config) {
  store::PerformanceRecord r =
      BaseRecord(b.execution_provider, b.session_options_json, config.session);
  r.batch_size = b.batch_size;
  r.seq_len = b.seq_len;
  r.input_shapes_json = nlohmann::json(b.input_shapes).dump();
  r.warmup_iterations = config.warmup;
  r.iterations = static_cast<int>(b.samples_ms.size());
  r.load_ms = b.load_ms;
  r.first_inference_ms = b.first_inference_ms;
  SetLatency(r, b.latency);
  r.throughput_items_per_s = b.throughput_items_per_s;
  r.peak_rss_bytes = b.peak_rss_bytes;
  SetDeviceMemory(r, b.device_memory_process_bytes, b.device_memory_gpu_used_bytes);
  r.samples_ms = b.samples_ms;
  SetTail(r, b.tail);
  return r;
}

store::PerformanceRecord ToRecord(const harness::PreparedSession& p, double load_ms,
                                  const harness::ServerResult& s, int64_t peak_rss_bytes,
                                  const harness::DeviceMemory& device_memory,
                                  const harness::BenchmarkConfig& config) {
  store::PerformanceRecord r =
      BaseRecord(p.execution_provider, p.session_options_json, config.session);
  r.scenario = "server";
  r.batch_size = p.batch_size;
  r.seq_len = p.seq_len;
  r.input_shapes_json = nlohmann::json(p.input_shapes).dump();
  r.warmup_iterations = config.warmup;
  r.iterations = static_cast<int>(s.latencies_ms.size());
  r.load_ms = load_ms;
  r.first_inference_ms = p.first_inference_ms;
  SetLatency(r, s.latency);
  r.throughput_items_per_s = s.achieved_qps * static_cast<double>(p.batch_size);
  r.peak_rss_bytes = peak_rss_bytes;
  SetDeviceMemory(r, device_memory.process_bytes, device_memory.gpu_used_bytes);
  r.samples_ms = s.latencies_ms;
  SetTail(r, s.tail);
  r.target_qps = s.target_qps;
  r.achieved_qps = s.achieved_qps;
  return r;
}

store::PerformanceRecord ToRecord(const harness::GenerationResult& g,
                                  const harness::GenerationConfig& config) {
  store::PerformanceRecord r =
      BaseRecord(g.execution_provider, g.session_options_json, config.session);
  r.scenario = "generate";
  r.batch_size = config.batch_size;
  r.seq_len = config.prompt_len;
  r.input_shapes_json =
      nlohmann::json{{"input_ids", {config.batch_size, config.prompt_len}}}.dump();
  r.warmup_iterations = config.warmup;
  r.iterations = static_cast<int>(g.token_ms.size());
  r.load_ms = g.load_ms;
  r.first_inference_ms = g.first_prefill_ms;
  SetLatency(r, g.decode);
  r.throughput_items_per_s = g.decode_tokens_per_s;
  r.peak_rss_bytes = g.peak_rss_bytes;
  r.samples_ms = g.token_ms;
  r.prompt_len = config.prompt_len;
  r.new_tokens = config.new_tokens;
  r.time_to_first_token_ms = g.prefill.mean;
  return r;
}

store::PerformanceRecord ToRecord(const harness::TrainingResult& t,
                                  const harness::BenchmarkConfig& config) {
  store::PerformanceRecord r = ToRecord(t.timing, config);
  r.scenario = "training";
  r.training_optimizer = t.optimizer;
  r.training_loss = t.loss;
  r.grad_accum_steps = t.accumulation_steps;
  r.loss_first = t.loss_first;
  r.loss_last = t.loss_last;
  r.loss_steps = t.loss_steps;
  return r;
}

void SetTemplate(store::PerformanceRecord& r, const models::ModelInfo& model) {
  if (model.template_name.empty()) return;
  r.template_name = model.template_name;
  r.template_version = model.template_version;
}

}  // namespace ipfs_accel::cli
