// `runs list`: the stored runs, newest first, with the short ids every command that names a
// run accepts (a unique prefix, latest, latest~N: store::ResolveRunRef).

#include <iostream>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/table_printer.h"
#include "ipfs_accel/analysis/runs.h"

namespace ipfs_accel::cli {

namespace {

struct RunsOptions {
  DatabaseOption db;
  std::string format = "table";
  int64_t limit = 20;
  bool all = false;
};

// The text formats show what tells runs apart; CSV and JSON every column.
store::QueryResult Shown(store::QueryResult runs, TableFormat format) {
  if (format == TableFormat::kCsv || format == TableFormat::kJson) return runs;
  const size_t kept = 8;  // id, started_at, state, models, platforms, results, commit, branch
  runs.column_names.resize(kept);
  runs.column_types.resize(kept);
  for (auto& row : runs.rows) row.resize(kept);
  return runs;
}

int RunRunsList(const RunsOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  auto store = o.db.Open(/*read_only=*/true);
  analysis::RunsFilter filter;
  if (!o.all) filter.limit = o.limit;
  const store::QueryResult runs = analysis::RunsTable(*store, filter);
  PrintTable(std::cout, TableFromQuery(Shown(runs, format)), format);
  if (format != TableFormat::kJson && format != TableFormat::kCsv && runs.rows.empty())
    std::cerr << "no runs stored yet; `ipfs-accelerate benchmark` makes one\n";
  return kExitOk;
}

}  // namespace

void AddRunsCommand(CLI::App& app, CommandFn* selected) {
  auto* runs = app.add_subcommand("runs", "The runs stored in the results database.");
  runs->require_subcommand(1);
  auto* list = runs->add_subcommand(
      "list",
      "Recent runs, newest first: short id, start (UTC), state, models, platforms, results, "
      "commit, branch (CSV and JSON add host, OS, devices, runtime, tool version, command line "
      "and the whole id).");
  auto o = std::make_shared<RunsOptions>();
  o->db.Add(list);
  AddFormatOption(list, &o->format, {"table", "md", "csv", "json"});
  list->add_option("--limit", o->limit, "at most this many runs")
      ->check(WholeNumber(1, INT64_MAX))
      ->capture_default_str();
  list->add_flag("--all", o->all, "every run (no --limit)");
  list->footer(
      "A run is named, wherever a command takes one (report --run, compare, db export --run),\n"
      "by its id, a unique prefix of it (at least 4 characters, e.g. the short id shown here),\n"
      "'latest', or 'latest~N' (the run N before the latest).");
  list->callback([selected, o] { *selected = [o] { return RunRunsList(*o); }; });
}

}  // namespace ipfs_accel::cli
