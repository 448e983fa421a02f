// `select`: which hardware to deploy a configuration on. Ranks every hardware the database
// knows by the chosen metric, each figure measured where stored and predicted (labelled, with
// its interval) where not; hardware that cannot hold the model under --max-memory-gb is left
// out with the reason.

#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/latency_figures.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;
using Json = nlohmann::ordered_json;

struct SelectOptions {
  DatabaseOption db;
  ConfigurationQuery query;
  std::string metric = "latency";
  std::string mode = "inference";
  double max_memory_gb = 0;
  bool json = false;
};

struct Ranked {
  LatencyFigure figure;
  double score = 0;          // in the metric's unit
  int64_t memory_bytes = 0;  // measured peak RSS, else the estimate
  bool memory_measured = false;
};

std::vector<Ranked> Rank(const SelectOptions& o, const LatencyFigures& f,
                         std::vector<std::string>& excluded) {
  std::vector<Ranked> out;
  for (const auto& x : f.figures) {
    Ranked r{x, 0, x.peak_rss_bytes.value_or(f.memory_estimate_bytes),
             x.peak_rss_bytes.has_value()};
    if (o.max_memory_gb > 0 && static_cast<double>(r.memory_bytes) > o.max_memory_gb * 1e9) {
      excluded.push_back(fmt::format("{}: needs {} ({}), over --max-memory-gb {}", x.hardware,
                                     analysis::DescribeBytes(r.memory_bytes),
                                     r.memory_measured ? "measured peak" : "estimate",
                                     o.max_memory_gb));
      continue;
    }
    r.score = o.metric == "throughput"
                  ? 1000.0 * static_cast<double>(o.query.batch_size) / x.latency_ms
              : o.metric == "memory" ? static_cast<double>(r.memory_bytes)
                                     : x.latency_ms;
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [&](const Ranked& a, const Ranked& b) {
    return o.metric == "throughput" ? a.score > b.score : a.score < b.score;
  });
  return out;
}

void Print(const SelectOptions& o, const LatencyFigures& f, const std::vector<Ranked>& ranked,
           const std::vector<std::string>& excluded) {
  if (o.json) {
    Json rows = Json::array();
    for (const auto& r : ranked) {
      Json j = {{"hardware", r.figure.hardware},
                {"origin", r.figure.origin},
                {"latency_ms", r.figure.latency_ms},
                {"throughput_items_per_s",
                 1000.0 * static_cast<double>(o.query.batch_size) / r.figure.latency_ms},
                {"memory_bytes", r.memory_bytes},
                {"memory_origin", r.memory_measured ? "measured" : "estimate"}};
      if (r.figure.low_ms) j["latency_interval_80pct_ms"] = {*r.figure.low_ms, *r.figure.high_ms};
      rows.push_back(j);
    }
    std::cout << Json{{"model", f.model_name},
                      {"metric", o.metric},
                      {"batch_size", o.query.batch_size},
                      {"seq_len", o.query.seq_len},
                      {"precision", o.query.precision},
                      {"ranked", rows},
                      {"excluded", excluded},
                      {"notes", f.notes}}
                     .dump(2)
              << "\n";
    return;
  }
  std::cout << fmt::format("{} ({} parameters), batch {}, seq {}, {}: by {}\n", f.model_name,
                           f.parameters, o.query.batch_size, o.query.seq_len, o.query.precision,
                           o.metric);
  int i = 0;
  for (const auto& r : ranked) {
    const std::string interval =
        r.figure.low_ms ? fmt::format(" [{:.3f}-{:.3f}]", *r.figure.low_ms, *r.figure.high_ms) : "";
    std::cout << fmt::format("  {}. {:<9} {:>9.3f} ms{}  {:>9.1f}/s  {:>10} {}  {}\n", ++i,
                             r.figure.origin, r.figure.latency_ms, interval,
                             1000.0 * static_cast<double>(o.query.batch_size) / r.figure.latency_ms,
                             analysis::DescribeBytes(r.memory_bytes),
                             r.memory_measured ? "(peak)" : "(est.)", r.figure.hardware);
  }
  for (const auto& e : excluded) std::cout << "  left out: " << e << "\n";
  for (const auto& n : f.notes) std::cout << "  " << n << "\n";
}

int RunSelect(const SelectOptions& o) {
  if (o.metric != "latency" && o.metric != "throughput" && o.metric != "memory")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--metric '{}': use latency, throughput or memory", o.metric));
  if (o.mode == "training")
    throw Error(ErrorKind::kUnsupported,
                "no training step has been measured yet (training benchmarks are issue 21); "
                "for the memory a training run needs, use `ipfs-accelerate memory --mode "
                "training`");
  if (o.mode != "inference")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--mode '{}': use inference or training", o.mode));
  auto store = OpenMeasuredDatabase(o.db);
  const LatencyFigures f = FigureLatency(*store, o.query);
  std::vector<std::string> excluded;
  const auto ranked = Rank(o, f, excluded);
  Print(o, f, ranked, excluded);
  return ranked.empty() ? kExitCheckFailed : kExitOk;
}

}  // namespace

void AddSelectCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "select",
      "Rank the hardware in the database for one configuration by latency, throughput or "
      "memory: measured figures where stored, predicted ones (labelled, with an 80 % interval) "
      "where not.");
  auto o = std::make_shared<SelectOptions>();
  AddQueryOptions(cmd, o->query);
  cmd->get_option("--model")->required();
  cmd->add_option("--metric", o->metric, "latency, throughput or memory")->capture_default_str();
  cmd->add_option("--max-memory-gb", o->max_memory_gb,
                  "leave out hardware where the model needs more (measured peak, else estimate)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--mode", o->mode, "inference (training: not measured yet)")
      ->capture_default_str();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunSelect(*o); }; });
}

}  // namespace ipfs_accel::cli
