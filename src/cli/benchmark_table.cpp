#include "cli/benchmark_table.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

namespace ipfs_accel::cli {

namespace {

using Cell = std::optional<std::string>;

Cell Ms(double v) { return fmt::format("{:.3f}", v); }
Cell Ms(const std::optional<double>& v) {
  if (!v) return std::nullopt;
  return Ms(*v);
}
Cell Mb(int64_t bytes) { return fmt::format("{:.1f}", bytes / 1048576.0); }
Cell Mb(const std::optional<int64_t>& bytes) {
  if (!bytes) return std::nullopt;
  return Mb(*bytes);
}
Cell Num(double v, int digits) { return fmt::format("{:.{}f}", v, digits); }

// {"input_ids":[1,128]} -> "input_ids[1,128]"
std::string ShapesText(const std::string& json) {
  std::string out;
  const auto shapes = nlohmann::json::parse(json, nullptr, false);
  if (!shapes.is_object()) return json;
  for (const auto& [name, dims] : shapes.items()) {
    std::vector<std::string> d;
    for (const auto& x : dims) d.push_back(x.dump());
    if (!out.empty()) out += ' ';
    out += fmt::format("{}[{}]", name, fmt::join(d, ","));
  }
  return out;
}

}  // namespace

std::string SettingsText(const Configuration& c) {
  std::string s;
  auto add = [&](const std::string& part) {
    if (!s.empty()) s += ", ";
    s += part;
  };
  if (c.bench.session.intra_op_threads)
    add(fmt::format("threads {}", c.bench.session.intra_op_threads));
  if (c.bench.session.graph_optimization_level != 99)
    add(fmt::format("opt {}", c.bench.session.graph_optimization_level));
  for (const auto& [k, v] : c.bench.session.provider_options) add(k + "=" + v);
  return s.empty() ? "-" : s;
}

Table ResultsTable(const std::string& scenario) {
  if (scenario == "generate")
    return {
        {"hardware", "variant", "settings", "batch", "prompt", "new_tokens", "load_ms", "ttft_ms",
         "prefill_tok_s", "decode_p50_ms", "decode_p90_ms", "decode_tok_s", "peak_rss_mb"},
        {false, false, false, true, true, true, true, true, true, true, true, true, true},
        {}};
  if (scenario == "server")
    return {
        {"hardware", "variant", "settings", "batch", "target_qps", "achieved_qps", "p50_ms",
         "p99_ms", "p99_es_ms", "bound_ms", "note", "peak_rss_mb", "gpu_proc_mb", "gpu_used_mb"},
        {false, false, false, true, true, true, true, true, true, true, false, true, true, true},
        {}};
  if (scenario == "offline")
    return {{"hardware", "variant", "settings", "batch", "shapes", "load_ms", "mean_ms",
             "items_per_s", "note", "peak_rss_mb", "gpu_proc_mb", "gpu_used_mb"},
            {false, false, false, true, false, true, true, true, false, true, true, true},
            {}};
  return {{"hardware", "variant", "settings", "batch", "shapes", "load_ms", "first_ms", "mean_ms",
           "p50_ms", "p90_ms", "p90_es_ms", "p99_ms", "items_per_s", "peak_rss_mb", "gpu_proc_mb",
           "gpu_used_mb"},
          {false, false, false, true, false, true, true, true, true, true, true, true, true, true,
           true, true},
          {}};
}

std::vector<Cell> ResultRow(const Configuration& c, const store::PerformanceRecord& r,
                            const std::string& note) {
  const std::string batch = std::to_string(r.batch_size);
  if (c.scenario == "generate")
    return {
        c.platform,
        c.variant(),
        SettingsText(c),
        batch,
        std::to_string(r.prompt_len.value_or(0)),
        std::to_string(r.new_tokens.value_or(0)),
        Ms(r.load_ms),
        Ms(r.time_to_first_token_ms),
        r.time_to_first_token_ms && *r.time_to_first_token_ms > 0
            ? Num(r.batch_size * r.prompt_len.value_or(0) * 1000.0 / *r.time_to_first_token_ms, 1)
            : std::nullopt,
        Ms(r.latency_p50_ms),
        Ms(r.latency_p90_ms),
        Num(r.throughput_items_per_s.value_or(0), 2),
        Mb(r.peak_rss_bytes)};
  if (c.scenario == "server")
    return {c.platform,
            c.variant(),
            SettingsText(c),
            batch,
            r.target_qps ? Num(*r.target_qps, 2) : std::nullopt,
            r.achieved_qps ? Num(*r.achieved_qps, 2) : std::nullopt,
            Ms(r.latency_p50_ms),
            Ms(r.latency_p99_ms),
            Ms(r.tail_early_stopping_ms),
            Ms(r.latency_bound_ms),
            note.empty() ? Cell{} : Cell{note},
            Mb(r.peak_rss_bytes),
            Mb(r.device_memory_process_bytes),
            Mb(r.device_memory_gpu_used_bytes)};
  if (c.scenario == "offline")
    return {c.platform,
            c.variant(),
            SettingsText(c),
            batch,
            ShapesText(r.input_shapes_json),
            Ms(r.load_ms),
            Ms(r.latency_mean_ms),
            Num(r.throughput_items_per_s.value_or(0), 2),
            note.empty() ? Cell{} : Cell{note},
            Mb(r.peak_rss_bytes),
            Mb(r.device_memory_process_bytes),
            Mb(r.device_memory_gpu_used_bytes)};
  return {c.platform,
          c.variant(),
          SettingsText(c),
          batch,
          ShapesText(r.input_shapes_json),
          Ms(r.load_ms),
          Ms(r.first_inference_ms),
          Ms(r.latency_mean_ms),
          Ms(r.latency_p50_ms),
          Ms(r.latency_p90_ms),
          Ms(r.tail_early_stopping_ms),
          Ms(r.latency_p99_ms),
          Num(r.throughput_items_per_s.value_or(0), 2),
          Mb(r.peak_rss_bytes),
          Mb(r.device_memory_process_bytes),
          Mb(r.device_memory_gpu_used_bytes)};
}

}  // namespace ipfs_accel::cli
