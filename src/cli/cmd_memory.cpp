// `memory`: the memory one configuration of a model needs, estimated from its graph, part by
// part, beside the peaks measured for it where the results database has them. `--mode
// training` adds gradients and optimizer states (ZeRO's accounting, sharded as asked).

#include <filesystem>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "ipfs_accel/analysis/measured_memory.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/analysis/peak_memory_model.h"
#include "ipfs_accel/analysis/training_memory.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/models/precision.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;
using Json = nlohmann::ordered_json;

struct MemoryOptions {
  DatabaseOption db;
  std::string model;
  int64_t batch_size = 1;
  int64_t seq_len = 128;
  std::string precision = "fp32";
  std::string graph = "plain";
  uint64_t seed = 42;
  std::string mode = "inference";
  std::string optimizer = "adamw";
  std::string train_precision = "fp32";
  std::string sharding = "ddp";
  int gpus = 1;
  bool json = false;
};

// One row of the breakdown: a part's name and its bytes.
using Parts = std::vector<std::pair<std::string, int64_t>>;

struct MemoryFigure {
  Parts parts;
  int64_t total_bytes = 0;
  std::string method;
  int unknown_tensors = 0;
};

MemoryFigure InferenceFigure(const analysis::MemoryEstimate& e) {
  const Parts parts = {{"weights", e.weights_bytes},
                       {"inputs", e.inputs_bytes},
                       {"activations (peak live set)", e.activation_peak_bytes}};
  std::string method =
      e.method + "; runtime overhead (arena slack, threads, libraries) not counted";
  if (e.kv_cache_bytes > 0)
    method += fmt::format("; KV cache {} of the inputs and activations", e.kv_cache_bytes);
  return {parts, e.total_bytes, method, e.unknown_tensors};
}

MemoryFigure TrainingFigure(const MemoryOptions& o, const models::Model& m,
                            const analysis::MemoryEstimate& e) {
  const auto precision = analysis::ParseTrainingPrecision(o.train_precision);
  const bool mixed = precision == analysis::TrainingPrecision::kMixed16;
  const analysis::TrainingMemory t =
      analysis::PlanTrainingMemory(analysis::WithEstimatedActivations(
          {.parameters = m.info.parameters,
           .precision = precision,
           .optimizer = analysis::ParseTrainingOptimizer(o.optimizer),
           .sharding = analysis::ParseSharding(o.sharding),
           .workers = o.gpus},
          e));
  const Parts parts = {{"parameters", t.parameter_bytes},
                       {"gradients", t.gradient_bytes},
                       {"optimizer states", t.optimizer_bytes},
                       {"buffers", t.buffer_bytes},
                       {"activations (every forward intermediate kept)", t.activation_bytes}};
  std::string method = t.method;
  method += mixed ? "; activations: the fp32 graph's intermediates at half width, no checkpointing"
                  : "; activations: the graph's intermediates, no checkpointing";
  return {parts, t.total_bytes, method, e.unknown_tensors};
}

std::optional<double> ErrorPercent(int64_t estimate, std::optional<int64_t> measured) {
  if (!measured || *measured <= 0) return std::nullopt;
  return 100.0 * static_cast<double>(estimate - *measured) / static_cast<double>(*measured);
}

struct PredictedPeak {
  std::string hardware;
  double bytes = 0;
  std::string predictor_id;
};

// The peak RSS the stored peak-memory model (predict --evaluate) predicts on each hardware it
// was fitted for; empty without a database or a model.
std::vector<PredictedPeak> PredictedPeaks(const MemoryOptions& o, const models::Model& m,
                                          const analysis::MemoryEstimate& e) {
  if (o.mode != "inference" || !std::filesystem::exists(o.db.Path())) return {};
  auto store = o.db.Open(/*read_only=*/true);
  const auto stored = store::LatestPredictionModel(*store, "peak_rss_bytes");
  if (!stored) return {};
  const nlohmann::json json = nlohmann::json::parse(stored->model_json);
  const auto model = analysis::PeakMemoryModel::FromJson(json);
  analysis::PredictorRow row;
  row.cost.weights_bytes = e.weights_bytes;
  row.activation_peak_bytes = e.activation_peak_bytes;
  row.inputs_bytes = e.inputs_bytes;
  row.serialized_graph_bytes = static_cast<int64_t>(m.onnx_bytes.size());
  std::vector<PredictedPeak> out;
  for (const auto& [hw, coefficients] : json.at("peak_rss").items()) {
    row.hardware = hw;
    if (const auto p = model.Predict(row)) out.push_back({hw, *p, stored->id});
  }
  return out;
}

std::vector<analysis::MeasuredMemory> Measured(const MemoryOptions& o, const models::Model& m) {
  if (o.mode != "inference" || !std::filesystem::exists(o.db.Path())) return {};
  auto store = o.db.Open(/*read_only=*/true);
  return analysis::LatestMeasuredMemory(*store, {.model_name = m.info.name,
                                                 .content_hash = m.info.content_hash,
                                                 .precision = o.precision,
                                                 .graph_variant = o.graph,
                                                 .batch_size = o.batch_size,
                                                 .seq_len = o.seq_len});
}

void PrintJson(const MemoryOptions& o, const models::Model& m, const MemoryFigure& f,
               const std::vector<analysis::MeasuredMemory>& measured,
               const std::vector<PredictedPeak>& predicted) {
  Json parts = Json::object();
  for (const auto& [name, bytes] : f.parts) parts[name] = bytes;
  Json rows = Json::array();
  for (const auto& r : measured) {
    const auto err = ErrorPercent(f.total_bytes, r.peak_rss_bytes);
    rows.push_back({{"platform", r.platform},
                    {"run_id", r.run_id},
                    {"started_at", r.started_at},
                    {"peak_rss_bytes", r.peak_rss_bytes ? Json(*r.peak_rss_bytes) : Json()},
                    {"device_memory_process_bytes",
                     r.device_memory_process_bytes ? Json(*r.device_memory_process_bytes) : Json()},
                    {"estimate_error_pct", err ? Json(*err) : Json()}});
  }
  const Json out = {{"model", m.info.name},
                    {"content_hash", m.info.content_hash},
                    {"mode", o.mode},
                    {"batch_size", o.batch_size},
                    {"seq_len", o.seq_len},
                    {"precision", o.precision},
                    {"graph", o.graph},
                    {"origin", "estimate"},
                    {"total_bytes", f.total_bytes},
                    {"parts", parts},
                    {"unknown_tensors", f.unknown_tensors},
                    {"method", f.method},
                    {"measured", rows}};
  Json peaks = Json::array();
  for (const auto& p : predicted)
    peaks.push_back({{"hardware", p.hardware},
                     {"origin", "predicted"},
                     {"peak_rss_bytes", p.bytes},
                     {"predictor_id", p.predictor_id}});
  Json full = out;
  full["predicted_peak_rss"] = peaks;
  std::cout << full.dump(2) << "\n";
}

void PrintText(const MemoryOptions& o, const models::Model& m, const MemoryFigure& f,
               const std::vector<analysis::MeasuredMemory>& measured,
               const std::vector<PredictedPeak>& predicted) {
  const std::string graph = o.mode == "training" ? fmt::format("{} training", o.train_precision)
                                                 : fmt::format("{} {} graph", o.precision, o.graph);
  std::cout << fmt::format("{} ({} parameters), {}, batch {}, seq {}, {}\n", m.info.name,
                           m.info.parameters, o.mode, o.batch_size, o.seq_len, graph);
  for (const auto& [name, bytes] : f.parts)
    std::cout << fmt::format("  {:<46} {:>12}\n", name, analysis::DescribeBytes(bytes));
  std::cout << fmt::format("  {:<46} {:>12}  (estimate)\n", "total",
                           analysis::DescribeBytes(f.total_bytes));
  if (f.unknown_tensors > 0)
    std::cout << fmt::format("  {} tensors shape inference could not size are left out\n",
                             f.unknown_tensors);
  for (const auto& r : measured) {
    if (!r.peak_rss_bytes) continue;
    const auto err = ErrorPercent(f.total_bytes, r.peak_rss_bytes);
    std::cout << fmt::format("  measured peak RSS on {} (run {}, {}): {}; estimate {:+.1f} %\n",
                             r.platform, r.run_id.substr(0, 8), r.started_at,
                             analysis::DescribeBytes(*r.peak_rss_bytes), *err);
  }
  for (const auto& p : predicted)
    std::cout << fmt::format("  predicted peak RSS on {}: {} (peak-memory model {})\n", p.hardware,
                             analysis::DescribeBytes(static_cast<int64_t>(p.bytes)),
                             p.predictor_id.substr(7, 12));
  if (measured.empty() && o.mode == "inference")
    std::cout << fmt::format(
        "  nothing measured for this configuration in {}; to measure it: ipfs-accelerate "
        "benchmark --model {} --batch-size {} --seq-len {} --precision {} --graph {}\n",
        o.db.Path(), o.model, o.batch_size, o.seq_len, o.precision, o.graph);
  std::cout << "  " << f.method << "\n";
}

int RunMemory(const MemoryOptions& o) {
  if (o.mode != "inference" && o.mode != "training")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--mode '{}': use inference or training", o.mode));
  if (o.graph != "plain" && o.graph != "fused")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--graph '{}': use plain or fused", o.graph));
  const bool training = o.mode == "training";
  if (training && (o.precision != "fp32" || o.graph != "plain"))
    throw Error(ErrorKind::kInvalidArgument,
                "--mode training plans from the plain fp32 graph; set the training precision "
                "with --train-precision fp32|mixed instead of --precision/--graph");
  // Models are built without their weights' bytes only where the loader can; the estimate
  // reads the graph without weight data either way.
  const models::Model m =
      LoadModelHere(o.model, {.seed = o.seed,
                              .fused = o.graph == "fused",
                              .precision = models::ParsePrecision(o.precision)});
  const auto shapes = harness::CheckShapes(m, {{.batch_size = o.batch_size,
                                                .seq_len = o.seq_len,
                                                .batch_explicit = true,
                                                .seq_len_explicit = true}});
  const analysis::MemoryEstimate e = analysis::EstimateMemory(m, shapes.at(0));
  const MemoryFigure f = training ? TrainingFigure(o, m, e) : InferenceFigure(e);
  const auto measured = Measured(o, m);
  const auto predicted = PredictedPeaks(o, m, e);
  if (o.json)
    PrintJson(o, m, f, measured, predicted);
  else
    PrintText(o, m, f, measured, predicted);
  return kExitOk;
}

}  // namespace

void AddMemoryCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "memory",
      "Estimate the memory one configuration needs (weights, inputs, activations; for "
      "--mode training also gradients and optimizer states, sharded by --sharding over --gpus), "
      "beside the peaks measured for it in the results database.");
  auto o = std::make_shared<MemoryOptions>();
  cmd->add_option(kModelOptionName, o->model, "catalog name, template:NAME, or Hugging Face folder")
      ->required();
  cmd->add_option("-b,--batch-size", o->batch_size, "batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-s,--seq-len", o->seq_len, "sequence length (text models)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--precision", o->precision, "inference: fp32, fp16, int8 or int4")
      ->capture_default_str();
  cmd->add_option("--graph", o->graph, "inference: plain or fused")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of random weights for catalog names")
      ->check(Seed())
      ->capture_default_str();
  cmd->add_option("--mode", o->mode, "inference or training")->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "training: adamw (adam), sgd-momentum or sgd")
      ->capture_default_str();
  cmd->add_option("--train-precision", o->train_precision,
                  "training: fp32, or mixed (fp16/bf16 with an fp32 master copy)")
      ->capture_default_str();
  cmd->add_option("--sharding", o->sharding,
                  "training: ddp, zero1, zero2 (fsdp-grad-op) or zero3 (fsdp)")
      ->capture_default_str();
  cmd->add_option("--gpus", o->gpus, "training: data-parallel workers the states are sharded over")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunMemory(*o); }; });
}

}  // namespace ipfs_accel::cli
