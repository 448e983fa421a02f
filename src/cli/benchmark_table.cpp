#include "cli/benchmark_table.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/harness/statistics.h"

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
Cell Num(const std::optional<double>& v, int digits) {
  if (!v) return std::nullopt;
  return Num(*v, digits);
}

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

namespace {

// Appends `name` to the entry keyed `key`, or a new entry.
template <typename T>
void AddTo(std::vector<std::pair<std::string, std::vector<T>>>& entries, const std::string& key,
           const T& name) {
  auto it =
      std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == key; });
  if (it == entries.end()) it = entries.insert(entries.end(), {key, {}});
  it->second.push_back(name);
}

}  // namespace

std::string ShapesSummary(const std::string& json) {
  const auto shapes = nlohmann::json::parse(json, nullptr, false);
  if (!shapes.is_object()) return json;
  std::vector<std::pair<std::string, std::vector<std::string>>> by_shape;  // "1x8" -> names
  std::vector<std::pair<std::string, std::vector<std::string>>> families;  // prefix -> names
  for (const auto& [name, dims] : shapes.items()) {
    const auto dot = name.find('.');
    if (dot != std::string::npos) {
      AddTo(families, name.substr(0, dot), name);
      continue;
    }
    std::vector<std::string> d;
    for (const auto& x : dims) d.push_back(x.dump());
    AddTo(by_shape, fmt::format("{}", fmt::join(d, "x")), name);
  }
  std::vector<std::string> parts;
  for (const auto& [shape, names] : by_shape)
    parts.push_back(fmt::format("{} {}", shape, fmt::join(names, ",")));
  std::string out = fmt::format("{}", fmt::join(parts, ", "));
  for (const auto& [family, names] : families)
    out += fmt::format(" (+{} {})", names.size(), family);
  return out;
}

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

namespace {

// What one row is made from.
struct RowSource {
  const Configuration& c;
  const store::PerformanceRecord& r;
  const std::string& note;
  bool for_terminal;
};

struct Column {
  const char* header;
  bool numeric;
  Cell (*cell)(const RowSource&);
};

Cell Unstable(const RowSource& s) {
  if (!IsUnstable(s.r)) return std::nullopt;
  return "!";
}
Cell Note(const RowSource& s) { return s.note.empty() ? Cell{} : Cell{s.note}; }
Cell PrefillTokensPerS(const RowSource& s) {
  const auto& ttft = s.r.time_to_first_token_ms;
  if (!ttft || *ttft <= 0) return std::nullopt;
  return Num(s.r.batch_size * s.r.prompt_len.value_or(0) * 1000.0 / *ttft, 1);
}

// Training: samples/s x the sequence length; empty without a sequence axis.
Cell TrainingTokensPerS(const RowSource& s) {
  if (!s.r.throughput_items_per_s || s.r.seq_len <= 0) return std::nullopt;
  return Num(*s.r.throughput_items_per_s * static_cast<double>(s.r.seq_len), 1);
}
// The columns of each scenario's table, in order: what it is, then its figures.
const std::vector<Column>& Columns(const std::string& scenario) {
  static const std::vector<Column> kHead = {
      {"hardware", false, [](const RowSource& s) -> Cell { return s.c.platform; }},
      {"variant", false, [](const RowSource& s) -> Cell { return s.c.variant(); }},
      {"settings", false, [](const RowSource& s) -> Cell { return SettingsText(s.c); }},
      {"batch", true, [](const RowSource& s) -> Cell { return std::to_string(s.r.batch_size); }}};
  const Column shapes{"shapes", false, [](const RowSource& s) -> Cell {
                        return s.for_terminal ? ShapesSummary(s.r.input_shapes_json)
                                              : ShapesText(s.r.input_shapes_json);
                      }};
  const Column load{"load_ms", true, [](const RowSource& s) { return Ms(s.r.load_ms); }};
  const Column p50{"p50_ms", true, [](const RowSource& s) { return Ms(s.r.latency_p50_ms); }};
  const Column mean{"mean_ms", true, [](const RowSource& s) { return Ms(s.r.latency_mean_ms); }};
  const Column p90{"p90_ms", true, [](const RowSource& s) { return Ms(s.r.latency_p90_ms); }};
  const Column noisy{"noisy", false, Unstable};
  const Column p99{"p99_ms", true, [](const RowSource& s) { return Ms(s.r.latency_p99_ms); }};
  const Column items{"items_per_s", true,
                     [](const RowSource& s) { return Num(s.r.throughput_items_per_s, 2); }};
  const Column note{"note", false, Note};
  const Column rss{"peak_rss_mb", true, [](const RowSource& s) { return Mb(s.r.peak_rss_bytes); }};
  const Column gpu_proc{"gpu_proc_mb", true,
                        [](const RowSource& s) { return Mb(s.r.device_memory_process_bytes); }};
  const Column gpu_used{"gpu_used_mb", true,
                        [](const RowSource& s) { return Mb(s.r.device_memory_gpu_used_bytes); }};
  auto with_head = [&](std::vector<Column> tail) {
    std::vector<Column> all = kHead;
    all.insert(all.end(), tail.begin(), tail.end());
    return all;
  };
  static const std::vector<Column> kGenerate = with_head(
      {{"prompt", true,
        [](const RowSource& s) -> Cell { return std::to_string(s.r.prompt_len.value_or(0)); }},
       {"new_tokens", true,
        [](const RowSource& s) -> Cell { return std::to_string(s.r.new_tokens.value_or(0)); }},
       load,
       {"ttft_ms", true, [](const RowSource& s) { return Ms(s.r.time_to_first_token_ms); }},
       {"prefill_tok_s", true, PrefillTokensPerS},
       {"decode_p50_ms", true, [](const RowSource& s) { return Ms(s.r.latency_p50_ms); }},
       {"decode_mean_ms", true, [](const RowSource& s) { return Ms(s.r.latency_mean_ms); }},
       {"decode_p90_ms", true, [](const RowSource& s) { return Ms(s.r.latency_p90_ms); }},
       noisy,
       {"decode_tok_s", true,
        [](const RowSource& s) { return Num(s.r.throughput_items_per_s, 2); }},
       rss});
  static const std::vector<Column> kServer = with_head(
      {{"target_qps", true, [](const RowSource& s) { return Num(s.r.target_qps, 2); }},
       {"achieved_qps", true, [](const RowSource& s) { return Num(s.r.achieved_qps, 2); }},
       p50,
       mean,
       p90,
       noisy,
       p99,
       {"p99_es_ms", true, [](const RowSource& s) { return Ms(s.r.tail_early_stopping_ms); }},
       {"bound_ms", true, [](const RowSource& s) { return Ms(s.r.latency_bound_ms); }},
       note,
       rss,
       gpu_proc,
       gpu_used});
  static const std::vector<Column> kOffline =
      with_head({shapes, load, p50, mean, p90, noisy, items, note, rss, gpu_proc, gpu_used});
  static const std::vector<Column> kSingleStream = with_head(
      {shapes,
       load,
       {"first_ms", true, [](const RowSource& s) { return Ms(s.r.first_inference_ms); }},
       p50,
       mean,
       p90,
       noisy,
       {"p90_es_ms", true, [](const RowSource& s) { return Ms(s.r.tail_early_stopping_ms); }},
       p99,
       items,
       rss,
       gpu_proc,
       gpu_used});
  static const std::vector<Column> kTraining = with_head(
      {{"seq", true, [](const RowSource& s) -> Cell { return std::to_string(s.r.seq_len); }},
       {"optimizer", false, [](const RowSource& s) -> Cell { return s.r.training_optimizer; }},
       {"accum", true,
        [](const RowSource& s) -> Cell {
          return std::to_string(s.r.grad_accum_steps.value_or(1));
        }},
       load,
       {"step_p50_ms", true, [](const RowSource& s) { return Ms(s.r.latency_p50_ms); }},
       {"step_mean_ms", true, [](const RowSource& s) { return Ms(s.r.latency_mean_ms); }},
       noisy,
       {"samples_per_s", true,
        [](const RowSource& s) { return Num(s.r.throughput_items_per_s, 2); }},
       {"tokens_per_s", true, TrainingTokensPerS},
       {"loss_first", true, [](const RowSource& s) { return Num(s.r.loss_first, 4); }},
       {"loss_last", true, [](const RowSource& s) { return Num(s.r.loss_last, 4); }},
       {"loss_steps", true,
        [](const RowSource& s) -> Cell {
          if (!s.r.loss_steps) return std::nullopt;
          return std::to_string(*s.r.loss_steps);
        }},
       rss,
       gpu_proc});
  if (scenario == "training") return kTraining;
  if (scenario == "generate") return kGenerate;
  if (scenario == "server") return kServer;
  if (scenario == "offline") return kOffline;
  return kSingleStream;
}

}  // namespace

bool IsUnstable(const store::PerformanceRecord& r) {
  return r.latency_p50_ms && r.latency_p90_ms && *r.latency_p50_ms > 0 &&
         *r.latency_p90_ms > harness::kUnstableTailRatio * *r.latency_p50_ms;
}

Table ResultsTable(const std::string& scenario) {
  Table t;
  for (const Column& column : Columns(scenario)) {
    t.headers.push_back(column.header);
    t.numeric.push_back(column.numeric);
  }
  return t;
}

std::vector<Cell> ResultRow(const Configuration& c, const store::PerformanceRecord& r,
                            const std::string& note, bool for_terminal) {
  std::vector<Cell> row;
  for (const Column& column : Columns(c.scenario))
    row.push_back(column.cell({c, r, note, for_terminal}));
  return row;
}

}  // namespace ipfs_accel::cli
