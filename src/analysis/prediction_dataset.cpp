#include "ipfs_accel/analysis/prediction_dataset.h"

#include <filesystem>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/precision.h"

namespace ipfs_accel::analysis {

namespace {

// Measured single-stream results, and the window over each configuration's, latest first.
constexpr const char* kMeasuredResults = R"sql(
FROM performance_results p JOIN runs r USING (run_id) JOIN models m USING (model_id)
     JOIN hardware_platforms h USING (hardware_id)
WHERE COALESCE(r.origin, 'measured') = 'measured' AND p.scenario = 'single-stream'
  AND p.latency_p50_ms > 0)sql";
constexpr const char* kSameConfiguration = R"sql(
  PARTITION BY p.model_id, p.hardware_id, p.execution_provider, p.precision, p.graph_variant,
               p.batch_size, p.seq_len, p.threads, CAST(p.input_shapes_json AS VARCHAR)
  ORDER BY r.started_at DESC, p.result_id DESC)sql";

std::string MeasuredConfigurationsQuery() {
  return fmt::format(R"sql(
SELECT m.name, m.source, m.source_path, m.content_hash, m.architecture,
       h.platform, h.device_name, h.hostname, p.execution_provider, p.precision,
       p.graph_variant, p.batch_size, p.seq_len, p.threads,
       CAST(p.input_shapes_json AS VARCHAR), p.latency_p50_ms, p.peak_rss_bytes,
       -- The host's measured memory bandwidth (stored with its CPU row), for cpu and wasm.
       CASE WHEN h.platform IN ('cpu', 'wasm') THEN (
         SELECT max(CAST(c.details->'$.memory_bandwidth.triad_gb_per_s' AS DOUBLE))
         FROM hardware_platforms c WHERE c.platform = 'cpu' AND c.hostname = h.hostname) END
{}
QUALIFY row_number() OVER ({}) = 1
-- A total order: the folds are dealt in row order, so ties would make training irreproducible.
ORDER BY m.name, m.content_hash, p.model_id, h.platform, h.device_name, h.hostname,
         p.execution_provider, p.graph_variant, p.precision, p.batch_size, p.seq_len, p.threads,
         CAST(p.input_shapes_json AS VARCHAR))sql",
                     kMeasuredResults, kSameConfiguration);
}

// Each configuration's latest p50 beside the one measured before it.
std::string RepeatedConfigurationsQuery() {
  return fmt::format(R"sql(
SELECT latest, previous FROM (
  SELECT p.latency_p50_ms AS latest, lead(p.latency_p50_ms) OVER ({0}) AS previous,
         row_number() OVER ({0}) AS k
  {1}) pairs
WHERE k = 1 AND previous IS NOT NULL)sql",
                     kSameConfiguration, kMeasuredResults);
}

uint64_t SeedOf(const std::string& content_hash) {
  if (content_hash.rfind("seed:", 0) != 0) return 42;
  return std::stoull(content_hash.substr(5));
}

std::map<std::string, core::Shape> ParseShapes(const std::string& json) {
  std::map<std::string, core::Shape> shapes;
  const nlohmann::json parsed = nlohmann::json::parse(json);
  for (const auto& [name, dims] : parsed.items()) shapes[name] = dims.get<core::Shape>();
  return shapes;
}

}  // namespace

std::string HardwareKey(const std::string& platform, const std::string& device_name,
                        const std::string& hostname, const std::string& execution_provider) {
  return fmt::format("{}: {} @ {} ({})", platform, device_name, hostname, execution_provider);
}

std::string RebuildSpec(const std::string& name, const std::string& source,
                        const std::string& source_path) {
  if (source == "hf-folder" || source == "onnx-file") return source_path;
  return name;
}

PredictorDataset LoadPredictorDataset(store::ResultStore& store,
                                      const std::function<void(int, int)>& progress) {
  const store::QueryResult q = store.Query(MeasuredConfigurationsQuery());
  // One graph per (spec, seed, variant, precision): rows share it.
  using GraphKey = std::tuple<std::string, uint64_t, std::string, std::string>;
  std::map<GraphKey, std::vector<size_t>> by_graph;
  for (size_t i = 0; i < q.rows.size(); ++i) {
    const auto& r = q.rows[i];
    by_graph[{RebuildSpec(*r[0], *r[1], r[2].value_or("")), SeedOf(*r[3]), *r[10], *r[9]}]
        .push_back(i);
  }
  PredictorDataset data;
  int done = 0;
  for (const auto& [key, indices] : by_graph) {
    const auto& [spec, seed, variant, precision] = key;
    std::optional<models::Model> model;
    try {
      model = models::LoadModel(spec, {.seed = seed,
                                       .fused = variant == "fused",
                                       .precision = models::ParsePrecision(precision)});
    } catch (const core::Error& e) {
      data.skipped.push_back(fmt::format("{} ({} {}): {}; its {} results are left out", spec,
                                         variant, precision, e.what(), indices.size()));
    }
    for (const size_t i : indices) {
      if (!model) break;
      const auto& r = q.rows[i];
      PredictorRow row;
      row.hardware = HardwareKey(*r[5], *r[6], *r[7], *r[8]);
      row.architecture = *r[4];
      row.model = PredictorModelKey(*r[0], *r[3]);
      row.precision = *r[9];
      row.fused = *r[10] == "fused";
      row.batch_size = std::stoll(*r[11]);
      row.seq_len = std::stoll(*r[12]);
      row.threads = r[13] ? std::stoi(*r[13]) : 0;
      row.latency_ms = std::stod(*r[15]);
      row.peak_rss_bytes = r[16] ? std::stod(*r[16]) : 0;
      row.memory_bandwidth_gb_per_s = r[17] ? std::stod(*r[17]) : 0;
      row.serialized_graph_bytes = static_cast<int64_t>(model->onnx_bytes.size());
      try {
        const auto shapes = ParseShapes(r[14].value_or("{}"));
        const CostAndMemory both = EstimateCostAndMemory(*model, shapes);
        row.cost = both.cost;
        row.activation_peak_bytes = both.memory.activation_peak_bytes;
        row.inputs_bytes = both.memory.inputs_bytes;
      } catch (const core::Error& e) {
        data.skipped.push_back(fmt::format("{} at {}: {}", spec, r[14].value_or("{}"), e.what()));
        continue;
      }
      data.rows.push_back(std::move(row));
    }
    if (progress) progress(++done, static_cast<int>(by_graph.size()));
  }
  return data;
}

RepeatedMeasurements LoadRepeatedMeasurements(store::ResultStore& store) {
  RepeatedMeasurements out;
  for (const auto& r : store.Query(RepeatedConfigurationsQuery()).rows) {
    out.latest.push_back(std::stod(*r[0]));
    out.previous.push_back(std::stod(*r[1]));
  }
  return out;
}

}  // namespace ipfs_accel::analysis
