// `report`: stored results as a table (Markdown by default).

#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/table_printer.h"
#include "ipfs_accel/analysis/performance_report.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

namespace {

struct ReportOptions {
  DatabaseOption db;
  std::string kind = "performance";
  std::string run = "latest";
  std::optional<std::string> model, hardware;
  std::string format = "md";
  std::string output;
};

int RunReport(const ReportOptions& o) {
  if (o.kind != "performance")
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("report '{}' is not available yet; use 'performance'", o.kind));
  const TableFormat format = ParseTableFormat(o.format);
  auto store = store::ResultStore::Open(store::ResolveDatabasePath(o.db.path), {.read_only = true});
  analysis::ReportFilter filter;
  if (o.run != "all") filter.run_id = o.run;
  filter.model = o.model;
  filter.hardware = o.hardware;
  const store::QueryResult r = analysis::PerformanceReport(*store, filter);
  Table t{r.column_names, {}, r.rows};
  for (const auto& type : r.column_types)
    t.numeric.push_back(type == "BIGINT" || type == "DOUBLE" || type.rfind("DECIMAL", 0) == 0 ||
                        type == "INTEGER");
  if (o.output.empty()) {
    PrintTable(std::cout, t, format);
    return kExitOk;
  }
  const std::string tmp = o.output + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    PrintTable(out, t, format);
    if (!out.flush())
      throw core::Error(core::ErrorKind::kIo, fmt::format("cannot write '{}' (disk full?)", tmp));
  }
  if (std::rename(tmp.c_str(), o.output.c_str()) != 0)
    throw core::Error(core::ErrorKind::kIo, fmt::format("cannot move report to '{}'", o.output));
  std::cerr << fmt::format("report written to {}\n", o.output);
  return kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "report", "Stored benchmark results as a table: by default the latest run, in Markdown.");
  auto o = std::make_shared<ReportOptions>();
  o->db.Add(cmd);
  cmd->add_option("kind", o->kind, "report kind: performance")->capture_default_str();
  cmd->add_option("--run", o->run, "'latest', 'all', or a run id")->capture_default_str();
  cmd->add_option("--model", o->model, "only this model");
  cmd->add_option("--hardware", o->hardware, "only this platform");
  cmd->add_option("--format", o->format, "md, table, csv or json")->capture_default_str();
  cmd->add_option("--output,-o", o->output, "write to this file instead of standard output");
  cmd->callback([selected, o] { *selected = [o] { return RunReport(*o); }; });
}

}  // namespace ipfs_accel::cli
