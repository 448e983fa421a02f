// `predict`: `--evaluate` trains the latency predictor on every measured single-stream result
// in the database, validates it on four splits, stores it with its figures and prints them;
// `--model M` gives a configuration's latency on each known hardware, measured where stored,
// else predicted (labelled, with its interval).

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/latency_figures.h"
#include "cli/option_checks.h"
#include "ipfs_accel/analysis/boosted_trees.h"
#include "ipfs_accel/analysis/peak_memory_model.h"
#include "ipfs_accel/analysis/prediction_dataset.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/records.h"
#include "models/content_hash.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;
using Json = nlohmann::ordered_json;

struct PredictOptions {
  DatabaseOption db;
  bool evaluate = false;
  std::string kind = "auto";
  ConfigurationQuery query;
  bool json = false;
};

analysis::PredictorDataset LoadDataset(store::ResultStore& store) {
  // On a terminal one line redrawn in place; otherwise nothing until the summary.
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto data = analysis::LoadPredictorDataset(store, [tty](int done, int total) {
    if (tty) std::cerr << fmt::format("\rbuilding graphs for features: {}/{}", done, total);
  });
  if (tty) std::cerr << "\n";
  if (data.rows.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("no measured single-stream results to learn from in this database; "
                            "measure a sweep first, e.g. `{}`",
                            kPredictorSweepCommand));
  return data;
}

Json TrainingRange(const std::vector<analysis::PredictorRow>& rows) {
  std::set<std::string> hardware, archs;
  int64_t bmin = INT64_MAX, bmax = 0, smin = INT64_MAX, smax = 0;
  for (const auto& r : rows) {
    hardware.insert(r.hardware);
    archs.insert(r.architecture);
    bmin = std::min(bmin, r.batch_size), bmax = std::max(bmax, r.batch_size);
    smin = std::min(smin, r.seq_len), smax = std::max(smax, r.seq_len);
  }
  return {{"rows", rows.size()},
          {"hardware", hardware},
          {"architectures", archs.size()},
          {"batch_size", {bmin, bmax}},
          {"seq_len", {smin, smax}}};
}

Json SplitsJson(const std::vector<analysis::SplitEvaluation>& splits) {
  Json out = Json::object();
  for (const auto& s : splits) {
    out[s.split] = {{"count", s.accuracy.count},
                    {"mape", s.accuracy.mape},
                    {"within_10pct", s.accuracy.within_10pct},
                    {"within_25pct", s.accuracy.within_25pct},
                    {"spearman", s.accuracy.spearman}};
    if (s.split == "k_fold") out[s.split]["interval_coverage"] = s.interval_coverage;
  }
  return out;
}

// How the database's repeated measurements agree (prediction_dataset.h): the noise every
// split's figures include; null where no configuration was measured twice.
Json Repeatability(store::ResultStore& store) {
  const analysis::RepeatedMeasurements pairs = analysis::LoadRepeatedMeasurements(store);
  if (pairs.latest.empty()) return nullptr;
  const auto a = analysis::MeasureAccuracy(pairs.previous, pairs.latest);
  return {{"configurations", a.count},
          {"mape", a.mape},
          {"within_10pct", a.within_10pct},
          {"within_25pct", a.within_25pct}};
}

// Evaluates the kinds asked for and picks the one with the lower k-fold MAPE.
analysis::PredictorKind ChooseKind(const std::string& asked,
                                   const std::vector<analysis::PredictorRow>& rows, Json& by_kind) {
  std::vector<analysis::PredictorKind> kinds;
  if (asked != "trees") kinds.push_back(analysis::PredictorKind::kRoofline);
  if (asked != "roofline") kinds.push_back(analysis::PredictorKind::kRooflineAndTrees);
  analysis::PredictorKind best = kinds.front();
  double best_mape = INFINITY;
  for (const auto kind : kinds) {
    const auto splits = analysis::EvaluatePredictor(rows, kind);
    by_kind[std::string(analysis::PredictorKindName(kind))] = SplitsJson(splits);
    const double mape = splits.empty() ? INFINITY : splits.front().accuracy.mape;
    if (mape < best_mape) best = kind, best_mape = mape;
  }
  return best;
}

// The peak-memory model (peak_memory_model.h): validated leaving each model out, stored, and
// summarised; null where no hardware has enough measured peaks.
Json TrainPeakMemory(store::ResultStore& store, const std::vector<analysis::PredictorRow>& rows) {
  std::optional<analysis::PeakMemoryModel> model;
  try {
    model = analysis::PeakMemoryModel::Train(rows);
  } catch (const Error&) {
    return nullptr;
  }
  Json per_model = Json::array();
  int within_15 = 0;
  double sum = 0;
  const auto errors = analysis::EvaluatePeakMemory(rows);
  for (const auto& e : errors) {
    per_model.push_back({{"model", e.model},
                         {"hardware", e.hardware},
                         {"rows", e.rows},
                         {"mean_abs_error", e.mean_abs_error},
                         {"worst_error", e.worst_error}});
    within_15 += e.mean_abs_error <= 0.15;
    sum += e.mean_abs_error;
  }
  const std::string model_json = model->ToJson().dump();
  const Json validation = {{"split", "leave_one_model_out"}, {"models", per_model}};
  const store::PredictionModelRecord record{.id = models::Sha256OfText(model_json),
                                            .created_at = store::UtcNow(),
                                            .target = "peak_rss_bytes",
                                            .kind = "linear",
                                            .library = "",
                                            .git_commit = build_info::kGitCommit,
                                            .training_rows = static_cast<int64_t>(rows.size()),
                                            .training_range_json = "{}",
                                            .validation_json = validation.dump(),
                                            .model_json = model_json};
  store.WritePredictionModel(record);
  const double n = std::max<double>(1, static_cast<double>(errors.size()));
  return {{"predictor_id", record.id},
          {"models", errors.size()},
          {"mean_abs_error", sum / n},
          {"models_within_15pct", within_15 / n},
          {"coefficients", model->ToJson()["peak_rss"]},
          {"per_model", per_model}};
}

void PrintEvaluation(const Json& out) {
  std::cout << fmt::format("{} measured configurations, {} architectures, on {}\n",
                           out["training_range"]["rows"].get<int64_t>(),
                           out["training_range"]["architectures"].get<int64_t>(),
                           fmt::join(out["training_range"]["hardware"], ", "));
  for (const auto& [kind, splits] : out["by_kind"].items()) {
    std::cout << fmt::format("\n{}{}\n", kind, kind == out["kind"] ? "  (chosen)" : "");
    std::cout << fmt::format("  {:<20} {:>6} {:>8} {:>8} {:>8} {:>9}\n", "split", "n", "MAPE",
                             "<=10%", "<=25%", "spearman");
    for (const auto& [split, f] : splits.items())
      std::cout << fmt::format("  {:<20} {:>6} {:>7.1f}% {:>7.1f}% {:>7.1f}% {:>9.3f}\n", split,
                               f["count"].get<int>(), 100 * f["mape"].get<double>(),
                               100 * f["within_10pct"].get<double>(),
                               100 * f["within_25pct"].get<double>(), f["spearman"].get<double>());
  }
  if (const Json& r = out["repeatability"]; !r.is_null())
    std::cout << fmt::format(
        "\nrepeated measurements: {} configurations measured twice agree within ±10 % in "
        "{:.1f} %, within ±25 % in {:.1f} % (MAPE {:.1f} %): the measurements' own noise, "
        "which the figures above include\n",
        r["configurations"].get<int>(), 100 * r["within_10pct"].get<double>(),
        100 * r["within_25pct"].get<double>(), 100 * r["mape"].get<double>());
  std::cout << fmt::format("\nstored predictor {} ({})\n", out["predictor_id"].get<std::string>(),
                           out["library"].get<std::string>());
  const Json& m = out["peak_memory"];
  if (m.is_null()) return;
  std::cout << fmt::format(
      "peak RSS model: leaving each of {} models out, mean error {:.1f} %, {:.0f} % of models "
      "within ±15 % (stored as {})\n",
      m["models"].get<int>(), 100 * m["mean_abs_error"].get<double>(),
      100 * m["models_within_15pct"].get<double>(), m["predictor_id"].get<std::string>());
}

int RunEvaluate(const PredictOptions& o) {
  if (o.kind != "auto" && o.kind != "roofline" && o.kind != "trees")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--kind '{}': use auto, roofline or trees", o.kind));
  auto store = OpenMeasuredDatabase(o.db);
  const auto data = LoadDataset(*store);
  for (const auto& s : data.skipped) std::cerr << "ipfs-accelerate: note: " << s << "\n";
  Json by_kind = Json::object();
  const auto kind = ChooseKind(o.kind, data.rows, by_kind);
  const auto predictor = analysis::LatencyPredictor::Train(data.rows, kind);
  const std::string model_json = predictor.ToJson().dump();
  Json out = {{"kind", analysis::PredictorKindName(kind)},
              {"training_range", TrainingRange(data.rows)},
              {"splits", by_kind[std::string(analysis::PredictorKindName(kind))]},
              {"by_kind", by_kind}};
  const store::PredictionModelRecord record{.id = models::Sha256OfText(model_json),
                                            .created_at = store::UtcNow(),
                                            .target = "latency_p50_ms",
                                            .kind = std::string(analysis::PredictorKindName(kind)),
                                            .library = analysis::BoostedTrees::LibraryVersion(),
                                            .git_commit = build_info::kGitCommit,
                                            .training_rows = static_cast<int64_t>(data.rows.size()),
                                            .training_range_json = out["training_range"].dump(),
                                            .validation_json = by_kind.dump(),
                                            .model_json = model_json};
  store->WritePredictionModel(record);
  out["predictor_id"] = record.id;
  out["repeatability"] = Repeatability(*store);
  out["peak_memory"] = TrainPeakMemory(*store, data.rows);
  out["library"] = record.library;
  out["skipped"] = data.skipped;
  if (o.json)
    std::cout << out.dump(2) << "\n";
  else
    PrintEvaluation(out);
  return kExitOk;
}

int RunPredictModel(const PredictOptions& o) {
  auto store = OpenMeasuredDatabase(o.db);
  const analysis::HardwareFigures f = FigureLatency(*store, o.query, SelectionQueryOf(o.query));
  if (o.json) {
    Json rows = Json::array();
    for (const auto& x : f.figures) {
      Json r = {{"hardware", x.hardware}, {"origin", x.origin}, {"latency_ms", x.latency_ms}};
      if (x.low_ms) r["interval_80pct_ms"] = {*x.low_ms, *x.high_ms};
      r[x.origin == "measured" ? "run_id" : "predictor_id"] = x.source;
      rows.push_back(r);
    }
    std::cout << Json{{"model", f.model_name},
                      {"batch_size", o.query.batch_size},
                      {"seq_len", o.query.seq_len},
                      {"precision", o.query.precision},
                      {"graph", o.query.graph},
                      {"figures", rows},
                      {"notes", f.notes}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{}, batch {}, seq {}, {} {} graph\n", f.model_name, o.query.batch_size,
                           o.query.seq_len, o.query.precision, o.query.graph);
  for (const auto& x : f.figures) {
    const std::string interval =
        x.low_ms ? fmt::format("  (80 % interval {:.3f}-{:.3f} ms)", *x.low_ms, *x.high_ms) : "";
    std::cout << fmt::format("  {:<9} {:>10.3f} ms  {}{}\n", x.origin, x.latency_ms, x.hardware,
                             interval);
  }
  for (const auto& n : f.notes) std::cout << "  " << n << "\n";
  return kExitOk;
}

}  // namespace

void AddPredictCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "predict",
      "Predict latency from measured results: --evaluate trains and validates the predictor "
      "and stores it; --model gives a configuration's latency on each known hardware "
      "(measured, else predicted with an 80 % interval).");
  auto o = std::make_shared<PredictOptions>();
  cmd->add_flag("--evaluate", o->evaluate,
                "train on every measured single-stream result, validate (k-fold, unseen batch, "
                "unseen sequence, unseen architecture), store and print the figures");
  cmd->add_option("--kind", o->kind,
                  "auto (the lower k-fold error), roofline, or trees (roofline corrected by "
                  "gradient-boosted trees)")
      ->capture_default_str();
  AddQueryOptions(cmd, o->query);
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] {
    if (o->evaluate == !o->query.model.empty())
      throw CLI::ValidationError("predict", "give --evaluate or --model (one of them)");
    *selected = [o] { return o->evaluate ? RunEvaluate(*o) : RunPredictModel(*o); };
  });
}

}  // namespace ipfs_accel::cli
