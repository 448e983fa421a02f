#include "cli/latency_figures.h"

#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/option_checks.h"
#include "ipfs_accel/analysis/graph_cost.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/analysis/prediction_dataset.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/models/precision.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/sql_literal.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;

// The latest measured single-stream result of the configuration on each hardware.
std::map<std::string, LatencyFigure> Measured(store::ResultStore& store,
                                              const ConfigurationQuery& q,
                                              const models::ModelInfo& info) {
  const std::string sql = fmt::format(
      "SELECT h.platform, h.device_name, h.hostname, p.execution_provider, p.latency_p50_ms, "
      "r.run_id, p.peak_rss_bytes FROM performance_results p JOIN runs r USING (run_id) "
      "JOIN models m USING (model_id) JOIN hardware_platforms h USING (hardware_id) "
      "WHERE COALESCE(r.origin, 'measured') = 'measured' AND p.scenario = 'single-stream' "
      "AND p.latency_p50_ms > 0 AND m.name = {} AND m.content_hash = {} AND p.precision = {} "
      "AND p.graph_variant = {} AND p.batch_size = {} AND p.seq_len = {} "
      "ORDER BY r.started_at DESC, p.result_id DESC",
      store::SqlLiteral(info.name), store::SqlLiteral(info.content_hash),
      store::SqlLiteral(q.precision), store::SqlLiteral(q.graph), q.batch_size, q.seq_len);
  std::map<std::string, LatencyFigure> out;
  for (const auto& r : store.Query(sql).rows) {
    const std::string key = analysis::HardwareKey(*r[0], *r[1], *r[2], *r[3]);
    if (out.count(key)) continue;  // newest first
    LatencyFigure& f = out[key];
    f.hardware = key;
    f.origin = "measured";
    f.latency_ms = std::stod(*r[4]);
    f.source = *r[5];
    if (r[6]) f.peak_rss_bytes = std::stoll(*r[6]);
  }
  return out;
}

bool OnPlatform(const std::string& key, const std::string& platform) {
  return platform.empty() || key.rfind(platform + ":", 0) == 0;
}

}  // namespace

std::unique_ptr<store::ResultStore> OpenMeasuredDatabase(const DatabaseOption& db) {
  if (!std::filesystem::exists(db.Path()))
    throw Error(ErrorKind::kNotFound,
                fmt::format("results database '{}' does not exist, so nothing was measured to "
                            "predict from; measure a sweep first, e.g. `{} --db {}`",
                            db.Path(), kPredictorSweepCommand, db.Path()));
  return db.Open();
}

LatencyFigures FigureLatency(store::ResultStore& store, const ConfigurationQuery& q) {
  const models::Model m =
      LoadModelHere(q.model, {.seed = q.seed,
                              .fused = q.graph == "fused",
                              .precision = models::ParsePrecision(q.precision)});
  const auto shapes = harness::CheckShapes(
      m, {{.batch_size = q.batch_size, .seq_len = q.seq_len, .batch_explicit = true}});
  LatencyFigures out;
  out.model_name = m.info.name;
  out.content_hash = m.info.content_hash;
  out.parameters = m.info.parameters;
  const analysis::CostAndMemory estimates = analysis::EstimateCostAndMemory(m, shapes.at(0));
  out.memory_estimate_bytes = estimates.memory.total_bytes;
  std::map<std::string, LatencyFigure> figures = Measured(store, q, m.info);
  const auto stored = store::LatestPredictionModel(store, "latency_p50_ms");
  if (stored) {
    const auto predictor =
        analysis::LatencyPredictor::FromJson(nlohmann::json::parse(stored->model_json));
    analysis::PredictorRow row;
    row.architecture = m.info.architecture;
    row.model = analysis::PredictorModelKey(m.info.name, m.info.content_hash);
    row.batch_size = q.batch_size;
    row.seq_len = q.seq_len;
    row.fused = q.graph == "fused";
    row.precision = q.precision;
    row.cost = estimates.cost;
    std::vector<store::PredictionRecord> made;
    for (const auto& hw : predictor.hardware()) {
      if (figures.count(hw) || !OnPlatform(hw, q.platform)) continue;
      row.hardware = hw;
      row.threads = predictor.TypicalThreads(hw);
      const auto p = predictor.Predict(row);
      LatencyFigure& f = figures[hw];
      f.hardware = hw;
      f.origin = "predicted";
      f.latency_ms = p.latency_ms;
      f.low_ms = p.low_ms;
      f.high_ms = p.high_ms;
      f.source = stored->id;
      made.push_back({.prediction_model_id = stored->id,
                      .created_at = store::UtcNow(),
                      .model_name = m.info.name,
                      .content_hash = m.info.content_hash,
                      .hardware = hw,
                      .precision = q.precision,
                      .graph_variant = q.graph,
                      .batch_size = q.batch_size,
                      .seq_len = q.seq_len,
                      .predicted = p.latency_ms,
                      .low = p.low_ms,
                      .high = p.high_ms});
    }
    if (!made.empty()) store.WritePredictions(made);
  } else {
    out.notes.push_back(
        "no predictor is stored, so only measured figures are shown; train one with "
        "`ipfs-accelerate predict --evaluate`");
  }
  for (auto& [hw, f] : figures)
    if (OnPlatform(hw, q.platform)) out.figures.push_back(std::move(f));
  if (out.figures.empty())
    throw Error(
        ErrorKind::kNotFound,
        fmt::format("no measured or predicted latency for {} at batch {}, seq {}{}; "
                    "measure it with `ipfs-accelerate benchmark --model {} "
                    "--batch-size {} --seq-len {}`{}",
                    m.info.name, q.batch_size, q.seq_len,
                    q.platform.empty() ? "" : " on " + q.platform, q.model, q.batch_size, q.seq_len,
                    stored ? "" : ", or train a predictor with `predict --evaluate`"));
  return out;
}

void AddQueryOptions(CLI::App* cmd, ConfigurationQuery& q) {
  cmd->add_option(kModelOptionName, q.model, "catalog name, template:NAME, or Hugging Face folder");
  cmd->add_option("-b,--batch-size", q.batch_size, "batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-s,--seq-len", q.seq_len, "sequence length (text models)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--precision", q.precision, "fp32, fp16, int8 or int4")->capture_default_str();
  cmd->add_option("--graph", q.graph, "plain or fused")->capture_default_str();
  cmd->add_option("--seed", q.seed, "seed of random weights for catalog names")
      ->check(Seed())
      ->capture_default_str();
  cmd->add_option("--hardware", q.platform, "only this platform (cpu, cuda, wasm, ...)");
}

}  // namespace ipfs_accel::cli
