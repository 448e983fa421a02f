#include "cli/record_json.h"

#include <optional>

namespace ipfs_accel::cli {

namespace {

// Every field once, for both directions: f(name, member).
template <typename Record, typename F>
void ForEachField(Record& r, F&& f) {
  f("execution_provider", r.execution_provider);
  f("provider_options_json", r.provider_options_json);
  f("session_options_json", r.session_options_json);
  f("runtime_version", r.runtime_version);
  f("precision", r.precision);
  f("graph_variant", r.graph_variant);
  f("batch_size", r.batch_size);
  f("seq_len", r.seq_len);
  f("input_shapes_json", r.input_shapes_json);
  f("threads", r.threads);
  f("warmup_iterations", r.warmup_iterations);
  f("iterations", r.iterations);
  f("load_ms", r.load_ms);
  f("first_inference_ms", r.first_inference_ms);
  f("latency_mean_ms", r.latency_mean_ms);
  f("latency_stdev_ms", r.latency_stdev_ms);
  f("latency_min_ms", r.latency_min_ms);
  f("latency_max_ms", r.latency_max_ms);
  f("latency_p50_ms", r.latency_p50_ms);
  f("latency_p90_ms", r.latency_p90_ms);
  f("latency_p95_ms", r.latency_p95_ms);
  f("latency_p99_ms", r.latency_p99_ms);
  f("throughput_items_per_s", r.throughput_items_per_s);
  f("peak_rss_bytes", r.peak_rss_bytes);
  f("device_memory_process_bytes", r.device_memory_process_bytes);
  f("device_memory_gpu_used_bytes", r.device_memory_gpu_used_bytes);
  f("samples_ms", r.samples_ms);
  f("scenario", r.scenario);
  f("prompt_len", r.prompt_len);
  f("new_tokens", r.new_tokens);
  f("time_to_first_token_ms", r.time_to_first_token_ms);
  f("graph_optimization_level", r.graph_optimization_level);
  f("tail_percentile", r.tail_percentile);
  f("tail_early_stopping_ms", r.tail_early_stopping_ms);
  f("tail_confidence", r.tail_confidence);
  f("tail_ci_low_ms", r.tail_ci_low_ms);
  f("tail_ci_high_ms", r.tail_ci_high_ms);
  f("tail_ci_level", r.tail_ci_level);
  f("target_qps", r.target_qps);
  f("achieved_qps", r.achieved_qps);
  f("latency_bound_ms", r.latency_bound_ms);
  f("memory_estimate_bytes", r.memory_estimate_bytes);
}

template <typename T>
void Put(nlohmann::json& j, const char* name, const T& v) {
  j[name] = v;
}
template <typename T>
void Put(nlohmann::json& j, const char* name, const std::optional<T>& v) {
  j[name] = v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
template <typename T>
void Get(const nlohmann::json& j, const char* name, T& v) {
  j.at(name).get_to(v);
}
template <typename T>
void Get(const nlohmann::json& j, const char* name, std::optional<T>& v) {
  const auto& x = j.at(name);
  if (x.is_null())
    v.reset();
  else
    v = x.get<T>();
}

}  // namespace

nlohmann::json RecordToJson(const store::PerformanceRecord& record) {
  nlohmann::json j = nlohmann::json::object();
  ForEachField(record, [&](const char* name, const auto& v) { Put(j, name, v); });
  return j;
}

store::PerformanceRecord RecordFromJson(const nlohmann::json& json) {
  store::PerformanceRecord r;
  ForEachField(r, [&](const char* name, auto& v) { Get(json, name, v); });
  return r;
}

}  // namespace ipfs_accel::cli
