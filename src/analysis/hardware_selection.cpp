#include "ipfs_accel/analysis/hardware_selection.h"

#include <algorithm>

#include <fmt/format.h>

#include "ipfs_accel/analysis/graph_cost.h"
#include "ipfs_accel/analysis/latency_predictor.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/analysis/prediction_dataset.h"
#include "ipfs_accel/analysis/training_memory.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/prediction_records.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::analysis {

namespace {

using core::Error;
using core::ErrorKind;

// The latest measured single-stream result of the configuration on each hardware.
std::map<std::string, HardwareFigure> MeasuredOnEachHardware(store::ResultStore& store,
                                                             const SelectionQuery& q,
                                                             const models::ModelInfo& info) {
  store::QueryParams params;
  const std::string scenario =
      q.training ? fmt::format(
                       "p.scenario = 'training' AND p.training_optimizer = {} AND "
                       "COALESCE(p.grad_accum_steps, 1) = 1",
                       params.Bind(q.optimizer))
                 : "p.scenario = 'single-stream'";
  const store::QueryResult result = store.Query(
      fmt::format(
          "SELECT h.platform, h.device_name, h.hostname, p.execution_provider, "
          "p.latency_p50_ms, r.run_id, p.peak_rss_bytes FROM performance_results p "
          "JOIN runs r USING (run_id) JOIN models m USING (model_id) "
          "JOIN hardware_platforms h USING (hardware_id) "
          "WHERE COALESCE(r.origin, 'measured') = 'measured' AND {} AND p.latency_p50_ms > 0 "
          "AND m.name = {} AND m.content_hash = {} AND p.precision = {} AND p.graph_variant = {} "
          "AND p.batch_size = {} AND p.seq_len = {} "
          "ORDER BY r.started_at DESC, p.result_id DESC",
          scenario, params.Bind(info.name), params.Bind(info.content_hash),
          params.Bind(q.precision), params.Bind(q.graph), params.Bind(q.batch_size),
          params.Bind(q.seq_len)),
      params.values());
  std::map<std::string, HardwareFigure> out;
  for (const auto& r : result.rows) {
    const std::string key = HardwareKey(*r[0], *r[1], *r[2], *r[3]);
    if (out.count(key)) continue;  // newest first
    HardwareFigure& f = out[key];
    f.hardware = key;
    f.origin = "measured";
    f.latency_ms = std::stod(*r[4]);
    f.source = *r[5];
    if (r[6]) f.peak_rss_bytes = std::stoll(*r[6]);
  }
  return out;
}

bool OnSelectedPlatform(const std::string& key, const std::string& platform) {
  return platform.empty() || key.rfind(platform + ":", 0) == 0;
}

// Predicts every hardware the stored predictor knows that has no measured figure.
void PredictUnmeasured(store::ResultStore& store, const store::PredictionModelRecord& stored,
                       const models::ModelInfo& info, const GraphCost& cost,
                       const SelectionQuery& q, bool record_predictions,
                       std::map<std::string, HardwareFigure>& figures) {
  const auto predictor = LatencyPredictor::FromJson(nlohmann::json::parse(stored.model_json));
  PredictorRow row;
  row.architecture = info.architecture;
  row.model = PredictorModelKey(info.name, info.content_hash);
  row.batch_size = q.batch_size;
  row.seq_len = q.seq_len;
  row.fused = q.graph == "fused";
  row.precision = q.precision;
  row.cost = cost;
  std::vector<store::PredictionRecord> made;
  for (const auto& hw : predictor.hardware()) {
    if (figures.count(hw) || !OnSelectedPlatform(hw, q.platform)) continue;
    row.hardware = hw;
    row.threads = predictor.TypicalThreads(hw);
    const auto p = predictor.Predict(row);
    figures[hw] = {.hardware = hw,
                   .origin = "predicted",
                   .latency_ms = p.latency_ms,
                   .low_ms = p.low_ms,
                   .high_ms = p.high_ms,
                   .source = stored.id,
                   .peak_rss_bytes = std::nullopt};
    made.push_back({.prediction_model_id = stored.id,
                    .created_at = store::UtcNow(),
                    .model_name = info.name,
                    .content_hash = info.content_hash,
                    .hardware = hw,
                    .precision = q.precision,
                    .graph_variant = q.graph,
                    .batch_size = q.batch_size,
                    .seq_len = q.seq_len,
                    .predicted = p.latency_ms,
                    .low = p.low_ms,
                    .high = p.high_ms});
  }
  if (record_predictions && !made.empty()) store.WritePredictions(made);
}

}  // namespace

HardwareFigures FigureHardware(store::ResultStore& store, const models::Model& model,
                               const std::map<std::string, core::Shape>& shapes,
                               const SelectionQuery& q, bool record_predictions) {
  HardwareFigures out;
  out.model_name = model.info.name;
  out.content_hash = model.info.content_hash;
  out.parameters = model.info.parameters;
  const CostAndMemory estimates = EstimateCostAndMemory(model, shapes);
  out.memory_estimate_bytes =
      q.training ? PlanTrainingMemory(
                       WithEstimatedActivations({.parameters = model.info.parameters,
                                                 .optimizer = ParseTrainingOptimizer(q.optimizer)},
                                                estimates.memory))
                       .total_bytes
                 : estimates.memory.total_bytes;
  std::map<std::string, HardwareFigure> figures = MeasuredOnEachHardware(store, q, model.info);
  const auto stored =
      q.training ? std::nullopt : store::LatestPredictionModel(store, "latency_p50_ms");
  if (stored)
    PredictUnmeasured(store, *stored, model.info, estimates.cost, q, record_predictions, figures);
  else if (q.training)
    out.notes.push_back(
        "training steps are not predicted: only hardware where this step was measured is "
        "ranked");
  else
    out.notes.push_back(
        "no predictor is stored, so only measured figures are shown; train one with "
        "`ipfs-accelerate predict --evaluate`");
  for (auto& [hw, f] : figures)
    if (OnSelectedPlatform(hw, q.platform)) out.figures.push_back(std::move(f));
  if (out.figures.empty() && q.training)
    throw Error(ErrorKind::kNotFound,
                fmt::format("no {} training step of {} at batch {}, seq {}{} is measured; "
                            "measure it with `ipfs-accelerate benchmark --model {} --mode "
                            "training --optimizer {} --batch-sizes {} --seq-lens {}`",
                            q.optimizer, model.info.name, q.batch_size, q.seq_len,
                            q.platform.empty() ? "" : " on " + q.platform, q.model_spec,
                            q.optimizer, q.batch_size, q.seq_len));
  if (out.figures.empty())
    throw Error(
        ErrorKind::kNotFound,
        fmt::format("no measured or predicted latency for {} at batch {}, seq {}{}; "
                    "measure it with `ipfs-accelerate benchmark --model {} "
                    "--batch-size {} --seq-len {}`{}",
                    model.info.name, q.batch_size, q.seq_len,
                    q.platform.empty() ? "" : " on " + q.platform, q.model_spec, q.batch_size,
                    q.seq_len, stored ? "" : ", or train a predictor with `predict --evaluate`"));
  return out;
}

SelectionMetric ParseSelectionMetric(const std::string& name) {
  if (name == "latency") return SelectionMetric::kLatency;
  if (name == "throughput") return SelectionMetric::kThroughput;
  if (name == "memory") return SelectionMetric::kMemory;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("metric '{}': use latency, throughput or memory", name));
}

const char* SelectionMetricName(SelectionMetric metric) {
  switch (metric) {
    case SelectionMetric::kThroughput:
      return "throughput";
    case SelectionMetric::kMemory:
      return "memory";
    case SelectionMetric::kLatency:
      break;
  }
  return "latency";
}

Selection RankHardware(const HardwareFigures& f, const SelectionQuery& q, SelectionMetric metric,
                       double max_memory_gb) {
  Selection out;
  for (const auto& x : f.figures) {
    RankedHardware r{
        .figure = x,
        .throughput_items_per_s = 1000.0 * static_cast<double>(q.batch_size) / x.latency_ms,
        .memory_bytes = x.peak_rss_bytes.value_or(f.memory_estimate_bytes),
        .memory_measured = x.peak_rss_bytes.has_value()};
    if (max_memory_gb > 0 && static_cast<double>(r.memory_bytes) > max_memory_gb * 1e9) {
      out.excluded.push_back(fmt::format(
          "{}: needs {} ({}), over the {} GB allowed", x.hardware, DescribeBytes(r.memory_bytes),
          r.memory_measured ? "measured peak" : "estimate", max_memory_gb));
      continue;
    }
    out.ranked.push_back(std::move(r));
  }
  std::stable_sort(out.ranked.begin(), out.ranked.end(),
                   [metric](const RankedHardware& a, const RankedHardware& b) {
                     switch (metric) {
                       case SelectionMetric::kThroughput:
                         return a.throughput_items_per_s > b.throughput_items_per_s;
                       case SelectionMetric::kMemory:
                         return a.memory_bytes < b.memory_bytes;
                       case SelectionMetric::kLatency:
                         break;
                     }
                     return a.figure.latency_ms < b.figure.latency_ms;
                   });
  return out;
}

nlohmann::ordered_json SelectionJson(const HardwareFigures& f, const SelectionQuery& q,
                                     SelectionMetric metric, const Selection& s) {
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& r : s.ranked) {
    nlohmann::ordered_json j = {{"hardware", r.figure.hardware},
                                {"origin", r.figure.origin},
                                {"latency_ms", r.figure.latency_ms},
                                {"throughput_items_per_s", r.throughput_items_per_s},
                                {"memory_bytes", r.memory_bytes},
                                {"memory_origin", r.memory_measured ? "measured" : "estimate"}};
    if (r.figure.low_ms) j["latency_interval_80pct_ms"] = {*r.figure.low_ms, *r.figure.high_ms};
    j[r.figure.origin == "measured" ? "run_id" : "predictor_id"] = r.figure.source;
    rows.push_back(std::move(j));
  }
  nlohmann::ordered_json out;
  out["model"] = f.model_name;
  out["mode"] = q.training ? "training" : "inference";
  if (q.training) out["optimizer"] = q.optimizer;
  out["metric"] = SelectionMetricName(metric);
  out["batch_size"] = q.batch_size;
  out["seq_len"] = q.seq_len;
  out["precision"] = q.precision;
  out["ranked"] = std::move(rows);
  out["excluded"] = s.excluded;
  out["notes"] = f.notes;
  return out;
}

}  // namespace ipfs_accel::analysis
