#include "ipfs_accel/serving/metrics_text.h"

#include <functional>

#include <fmt/format.h>

namespace ipfs_accel::serving {

namespace {

// A label value with backslash, double quote and line feed escaped, as the format requires.
std::string Escaped(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += {'\\', c};
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string ModelLabels(const std::string& model, const std::string& platform,
                        const std::string& precision) {
  return fmt::format("model=\"{}\",platform=\"{}\",precision=\"{}\"", Escaped(model),
                     Escaped(platform), Escaped(precision));
}

void Family(std::string& out, const std::string& name, const char* type, const char* help) {
  out += fmt::format("# HELP ipfs_accel_pool_{} {}\n# TYPE ipfs_accel_pool_{} {}\n", name, help,
                     name, type);
}

void Sample(std::string& out, const std::string& name, const std::string& labels, double v) {
  out += "ipfs_accel_pool_" + name;
  if (!labels.empty()) out += "{" + labels + "}";
  out += fmt::format(" {}\n", v);
}

// One counter family over every (model, platform, precision) total.
void PerModel(std::string& out, const PoolSnapshot& s, const std::string& name, const char* help,
              const std::function<double(const BatcherStats&)>& value) {
  Family(out, name, "counter", help);
  for (const TrafficTotals& t : s.totals)
    Sample(out, name, ModelLabels(t.model, t.platform, t.precision), value(t.traffic));
}

void Traffic(std::string& out, const PoolSnapshot& s) {
  PerModel(out, s, "requests_total", "Requests answered with outputs.",
           [](const BatcherStats& b) { return static_cast<double>(b.requests); });
  PerModel(out, s, "batches_total", "Runs of the session (a batch is one run).",
           [](const BatcherStats& b) { return static_cast<double>(b.batches); });
  PerModel(out, s, "batch_rows_total", "Rows run, summed over batches.",
           [](const BatcherStats& b) { return static_cast<double>(b.rows); });
  PerModel(out, s, "run_seconds_total", "Time the session spent running batches.",
           [](const BatcherStats& b) { return b.run_ms_total / 1000; });
  PerModel(out, s, "request_seconds_total",
           "Time from queueing to outputs, summed over answered requests.",
           [](const BatcherStats& b) { return b.request_ms_total / 1000; });
  Family(out, "request_errors_total", "counter", "Requests not answered with outputs, by reason.");
  for (const TrafficTotals& t : s.totals) {
    const std::string labels = ModelLabels(t.model, t.platform, t.precision);
    const std::pair<const char*, int64_t> reasons[] = {{"run_failed", t.traffic.failed},
                                                       {"queue_full", t.traffic.queue_full},
                                                       {"deadline", t.traffic.deadline_exceeded},
                                                       {"stopped", t.traffic.stopped}};
    for (const auto& [reason, n] : reasons)
      Sample(out, "request_errors_total", labels + fmt::format(",reason=\"{}\"", reason),
             static_cast<double>(n));
  }
}

void Loaded(std::string& out, const PoolSnapshot& s) {
  Family(out, "sessions", "gauge", "Sessions loaded now.");
  Sample(out, "sessions", "", static_cast<double>(s.entries.size()));
  Family(out, "queue_depth", "gauge", "Requests waiting for a loaded session's batcher.");
  for (const PoolEntrySnapshot& e : s.entries)
    Sample(out, "queue_depth", ModelLabels(e.model, e.platform, e.precision),
           static_cast<double>(e.traffic.queued));
  Family(out, "session_estimated_bytes", "gauge",
         "A loaded session's memory estimate (weights, inputs, activations at max batch).");
  for (const PoolEntrySnapshot& e : s.entries)
    Sample(out, "session_estimated_bytes", ModelLabels(e.model, e.platform, e.precision),
           static_cast<double>(e.estimated_bytes));
  Family(out, "memory_budget_bytes", "gauge", "Bytes each device's sessions may hold.");
  for (const DeviceSnapshot& d : s.devices)
    if (d.budget_bytes >= 0)
      Sample(out, "memory_budget_bytes", fmt::format("device=\"{}\"", Escaped(d.device)),
             static_cast<double>(d.budget_bytes));
  Family(out, "memory_used_bytes", "gauge", "Estimated bytes held by each device's sessions.");
  for (const DeviceSnapshot& d : s.devices)
    Sample(out, "memory_used_bytes", fmt::format("device=\"{}\"", Escaped(d.device)),
           static_cast<double>(d.used_bytes));
}

void Pool(std::string& out, const PoolSnapshot& s) {
  Family(out, "loads_total", "counter", "Sessions opened.");
  Sample(out, "loads_total", "", static_cast<double>(s.loads));
  Family(out, "evictions_total", "counter", "Idle sessions closed to make room.");
  Sample(out, "evictions_total", "", static_cast<double>(s.evictions));
  Family(out, "load_failures_total", "counter", "Sessions that failed to open.");
  Sample(out, "load_failures_total", "", static_cast<double>(s.load_failures));
  Family(out, "refusals_total", "counter", "Loads refused for memory, by reason.");
  Sample(out, "refusals_total", "reason=\"too_large\"", static_cast<double>(s.refused_too_large));
  Sample(out, "refusals_total", "reason=\"busy\"", static_cast<double>(s.refused_busy));
}

}  // namespace

std::string PrometheusText(const PoolSnapshot& snapshot) {
  std::string out;
  Traffic(out, snapshot);
  Loaded(out, snapshot);
  Pool(out, snapshot);
  return out;
}

}  // namespace ipfs_accel::serving
