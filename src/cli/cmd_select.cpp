// `select`: which hardware to deploy a configuration on. Ranks every hardware the database
// knows by the chosen metric, each figure measured where stored and predicted (labelled, with
// its interval) where not; hardware that cannot hold the model under --max-memory-gb is left
// out with the reason.

#include <algorithm>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/latency_figures.h"
#include "cli/table_printer.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;
using Json = nlohmann::ordered_json;

// Rows of runs this tool measured, not imported ones.
constexpr const char* kMeasuredOnly =
    "p.run_id IN (SELECT run_id FROM runs WHERE COALESCE(origin, 'measured') = 'measured')";

struct SelectOptions {
  DatabaseOption db;
  ConfigurationQuery query;
  bool analyze = false;
  bool create_map = false;
  std::string output;
  std::string metric = "latency";
  std::string mode = "inference";
  std::string optimizer = "adamw";
  double max_memory_gb = 0;
  bool json = false;
};

// The query select answers: --mode training asks for measured training steps.
analysis::SelectionQuery SelectQueryOf(const SelectOptions& o) {
  analysis::SelectionQuery q = SelectionQueryOf(o.query);
  q.training = o.mode == "training";
  q.optimizer = o.optimizer;
  return q;
}

void Print(const SelectOptions& o, const analysis::HardwareFigures& f,
           const analysis::Selection& s) {
  const analysis::SelectionMetric metric = analysis::ParseSelectionMetric(o.metric);
  if (o.json) {
    std::cout << analysis::SelectionJson(f, SelectQueryOf(o), metric, s).dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("{} ({} parameters), batch {}, seq {}, {}{}: by {}\n", f.model_name,
                           f.parameters, o.query.batch_size, o.query.seq_len, o.query.precision,
                           o.mode == "training" ? ", " + o.optimizer + " training step" : "",
                           o.metric);
  int i = 0;
  for (const auto& r : s.ranked) {
    const std::string interval =
        r.figure.low_ms ? fmt::format(" [{:.3f}-{:.3f}]", *r.figure.low_ms, *r.figure.high_ms) : "";
    std::cout << fmt::format("  {}. {:<9} {:>9.3f} ms{}  {:>9.1f}/s  {:>10} {}  {}\n", ++i,
                             r.figure.origin, r.figure.latency_ms, interval,
                             r.throughput_items_per_s, analysis::DescribeBytes(r.memory_bytes),
                             r.memory_measured ? "(peak)" : "(est.)", r.figure.hardware);
  }
  for (const auto& e : s.excluded) std::cout << "  left out: " << e << "\n";
  for (const auto& n : f.notes) std::cout << "  " << n << "\n";
}

// Every measured single-stream configuration of the model on every hardware, as a table.
int RunAnalyze(const SelectOptions& o) {
  auto store = OpenMeasuredDatabase(o.db);
  const std::string sql = fmt::format(
      "SELECT h.platform || ': ' || h.device_name || ' @ ' || h.hostname AS hardware, "
      "p.execution_provider AS provider, p.precision, p.graph_variant AS graph, p.batch_size "
      "AS batch, p.seq_len, round(p.latency_p50_ms, 4) AS p50_ms, "
      "round(p.throughput_items_per_s, 1) AS items_per_s, p.peak_rss_bytes "
      "FROM latest_performance p JOIN models m USING (model_id) "
      "JOIN hardware_platforms h USING (hardware_id) "
      "WHERE p.scenario = 'single-stream' AND m.name = $1 AND {} "
      "ORDER BY hardware, provider, precision, graph, batch, seq_len",
      kMeasuredOnly);
  const TableFormat format = o.json ? TableFormat::kJson : TableFormat::kText;
  const store::QueryResult q = store->Query(sql, {o.query.model});
  if (q.rows.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("nothing measured for '{}' in {}; measure it with `ipfs-accelerate "
                            "benchmark --model {} --batch-sizes 1,2,4,8`",
                            o.query.model, o.db.Path(), o.query.model));
  PrintTable(std::cout, TableFromQuery(q), format);
  return kExitOk;
}

// The selection map: per model family and batch size, the hardware ranked by the median p50
// over the family's measured models (measured figures only), written as JSON.
int RunCreateMap(const SelectOptions& o) {
  auto store = OpenMeasuredDatabase(o.db);
  const store::QueryResult q = store->Query(
      "SELECT COALESCE(m.family, '') AS family, p.batch_size, h.platform || ': ' || "
      "h.device_name || ' @ ' || h.hostname || ' (' || p.execution_provider || ')' AS hardware, "
      "median(p.latency_p50_ms) AS median_p50_ms, count(DISTINCT m.model_id) AS models "
      "FROM latest_performance p JOIN models m USING (model_id) "
      "JOIN hardware_platforms h USING (hardware_id) "
      "WHERE p.scenario = 'single-stream' AND p.latency_p50_ms > 0 AND " +
      std::string(kMeasuredOnly) +
      " "
      "GROUP BY ALL ORDER BY family, batch_size, median_p50_ms");
  if (q.rows.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("no measured single-stream results in {} to make a map from; "
                            "measure first, e.g. `{}`",
                            o.db.Path(), kPredictorSweepCommand));
  Json map = Json::object();
  for (const auto& r : q.rows) {
    Json& cell = map[*r[0]][*r[1]];
    cell.push_back({{"hardware", *r[2]},
                    {"median_p50_ms", std::stod(*r[3])},
                    {"models", std::stoll(*r[4])},
                    {"origin", "measured"}});
  }
  const Json out = {{"metric", "latency_p50_ms (median over the family's models)"},
                    {"database", o.db.Path()},
                    {"created_at", store::UtcNow()},
                    {"map", map}};
  if (o.output.empty()) {
    std::cout << out.dump(2) << "\n";
  } else {
    WriteFileAtomically(o.output, out.dump(2) + "\n");
    std::cerr << fmt::format("selection map of {} families written to {}\n", map.size(), o.output);
  }
  return kExitOk;
}

int RunSelect(const SelectOptions& o) {
  if (o.create_map) return RunCreateMap(o);
  if (o.query.model.empty())
    throw Error(ErrorKind::kInvalidArgument, "give --model (or --create-map)");
  if (o.analyze) return RunAnalyze(o);
  const analysis::SelectionMetric metric = analysis::ParseSelectionMetric(o.metric);
  if (o.mode != "inference" && o.mode != "training")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("--mode '{}': use inference or training", o.mode));
  auto store = OpenMeasuredDatabase(o.db);
  const analysis::SelectionQuery query = SelectQueryOf(o);
  const analysis::HardwareFigures f = FigureLatency(*store, o.query, query);
  const analysis::Selection s = analysis::RankHardware(f, query, metric, o.max_memory_gb);
  Print(o, f, s);
  return s.ranked.empty() ? kExitCheckFailed : kExitOk;
}

}  // namespace

void AddSelectCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "select",
      "Rank the hardware in the database for one configuration by latency, throughput or "
      "memory: measured figures where stored, predicted ones (labelled, with an 80 % interval) "
      "where not. --analyze shows a model's measured configurations everywhere; --create-map "
      "writes the selection map per model family and batch size.");
  auto o = std::make_shared<SelectOptions>();
  AddQueryOptions(cmd, o->query);
  cmd->add_flag("--analyze", o->analyze,
                "every measured configuration of --model on every hardware, as a table");
  cmd->add_flag("--create-map", o->create_map,
                "the selection map: per model family and batch size, the hardware ranked by "
                "the median measured p50 (JSON; -o to write a file)");
  cmd->add_option(kOutputOptionName, o->output, "with --create-map: the JSON file to write");
  cmd->add_option("--metric", o->metric, "latency, throughput or memory")->capture_default_str();
  cmd->add_option("--max-memory-gb", o->max_memory_gb,
                  "leave out hardware where the model needs more (measured peak, else estimate)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--mode", o->mode,
                  "inference, or training: measured training steps (benchmark --mode training) "
                  "ranked, memory planned for the optimizer")
      ->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "--mode training: adamw or sgd-momentum")
      ->check(CLI::IsMember({"adamw", "sgd-momentum"}))
      ->capture_default_str();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunSelect(*o); }; });
}

}  // namespace ipfs_accel::cli
