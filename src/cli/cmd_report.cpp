// `report`: stored results as one of five reports, as a table (Markdown by default), CSV,
// JSON, or one self-contained HTML page with SVG charts.

#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/table_printer.h"
#include "cli/terminal.h"
#include "ipfs_accel/analysis/report.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

namespace {

struct ReportOptions {
  DatabaseOption db;
  std::string kind = "performance";
  std::optional<std::string> run;
  std::optional<std::string> model, hardware, host;
  std::optional<std::string> baseline, contender;
  bool include_dirty = false;
  bool every_result = false;
  std::optional<int64_t> limit;
  std::string format = "md";
  std::string output;
};

analysis::Report BuildReport(store::ResultStore& store, const std::string& db_path,
                             const ReportOptions& o) {
  analysis::ReportFilter filter{.run_id = std::nullopt,
                                .model = o.model,
                                .hardware = o.hardware,
                                .every_result = o.every_result,
                                .limit = o.limit};
  // performance: the latest run unless told; hardware and trend: every run unless told.
  const std::string run = o.run.value_or(o.kind == "performance" ? "latest" : "all");
  if (run != "all") filter.run_id = run;
  if (o.kind == "performance") return analysis::BuildPerformanceReport(store, filter);
  if (o.kind == "hardware") return analysis::BuildHardwareReport(store, filter);
  if (o.kind == "trend") return analysis::BuildTrendReport(store, filter);
  if (o.kind == "compatibility") {
    analysis::CompatibilityMatrix m =
        analysis::BuildCompatibilityMatrix(store, {.hostname = o.host});
    m.database = db_path;
    return analysis::BuildCompatibilityReport(m);
  }
  // regressions
  if (o.baseline.has_value() != o.contender.has_value())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      "give both --baseline and --contender, or neither (the latest run against "
                      "the earlier runs of its branch)");
  analysis::CompareOptions compare;
  compare.model = o.model;
  compare.hardware = o.hardware;
  compare.include_dirty = o.include_dirty;
  if (o.baseline) {
    compare.baseline_ref = *o.baseline;
    compare.contender_ref = *o.contender;
  } else {
    compare = analysis::DefaultRegressionRefs(store, compare);
  }
  return analysis::BuildRegressionReport(store, compare);
}

// Markdown and the text table get the title, the notes and each section under its heading;
// CSV and JSON stay plain data: every row and column of the report's table.
std::string RenderTables(const analysis::Report& report, TableFormat format, std::size_t width) {
  std::ostringstream out;
  const auto note = [&](const std::string& n) {
    out << (format == TableFormat::kText ? Wrap(n, width) : n) << "\n\n";
  };
  const bool prose = format == TableFormat::kMarkdown || format == TableFormat::kText;
  if (!prose || report.sections.empty()) {
    if (format == TableFormat::kMarkdown) out << "# " << report.title << "\n\n";
    if (format == TableFormat::kMarkdown)
      for (const auto& n : report.notes) note(n);
    PrintTable(out, TableFromQuery(report.table), format, width);
    return out.str();
  }
  const std::string h1 = format == TableFormat::kMarkdown ? "# " : "";
  const std::string h2 = format == TableFormat::kMarkdown ? "## " : "";
  out << h1 << report.title << "\n\n";
  for (const auto& n : report.notes) note(n);
  for (const auto& section : report.sections) {
    out << "\n" << h2 << section.title << "\n\n";
    for (const auto& n : section.notes) note(n);
    PrintTable(out, TableFromQuery(section.table), format, width);
  }
  return out.str();
}

int RunReport(const ReportOptions& o) {
  const std::string path = o.db.Path();
  auto store = o.db.Open(/*read_only=*/true);
  const analysis::Report report = BuildReport(*store, path, o);
  std::string text;
  if (o.format == "html") {
    text = analysis::RenderReportHtml(report);
  } else if (o.kind == "compatibility" && o.format == "md") {
    analysis::CompatibilityMatrix m =
        analysis::BuildCompatibilityMatrix(*store, {.hostname = o.host});
    m.database = path;
    text = analysis::RenderMatrixMarkdown(m);
  } else {
    // A file gets every column; a terminal what fits it.
    text = RenderTables(report, ParseTableFormat(o.format),
                        o.output.empty() ? TerminalWidth() : kUnlimitedWidth);
  }
  if (o.output.empty()) {
    std::cout << text;
    return kExitOk;
  }
  WriteFileAtomically(o.output, text);
  std::cerr << fmt::format("report written to {}\n", o.output);
  return kExitOk;
}

}  // namespace

void AddReportCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "report", "Stored benchmark results as a report: by default the latest run, in Markdown.");
  auto o = std::make_shared<ReportOptions>();
  o->db.Add(cmd);
  cmd->add_option("kind", o->kind, "performance, hardware, compatibility, trend or regressions")
      ->check(CLI::IsMember({"performance", "hardware", "compatibility", "trend", "regressions"}))
      ->capture_default_str();
  cmd->add_option("--run", o->run,
                  "'all', or a run: its id or a unique prefix of it, 'latest', 'latest~N' "
                  "(default: latest for performance, all for hardware and trend)");
  cmd->add_option(kModelOptionName, o->model, "only this model (a name, or one model's label)");
  cmd->add_option("--hardware", o->hardware, "only this platform");
  cmd->add_option("--host", o->host, "compatibility: only results measured on this host");
  cmd->add_option("--baseline", o->baseline,
                  "regressions: baseline run (id, prefix, latest~N), branch or commit");
  cmd->add_option("--contender", o->contender,
                  "regressions: contender run (id, prefix, latest~N), branch or commit");
  cmd->add_flag("--include-dirty", o->include_dirty,
                "regressions: count runs built from a modified tree ('-dirty' commits)");
  cmd->add_flag("--all", o->every_result,
                "performance: every stored result, not only the latest of each configuration");
  cmd->add_option("--limit", o->limit, "performance: at most this many rows")
      ->check(WholeNumber(0, INT64_MAX));
  AddFormatOption(cmd, &o->format, {"md", "table", "csv", "json", "html"});
  cmd->add_option(kOutputOptionName, o->output, "write to this file instead of standard output");
  cmd->footer(
      "Reports:\n"
      "  performance    the latest result of each configuration of a run (--all: every\n"
      "                 result); HTML: p50 latency by batch size, best throughput per model\n"
      "                 and platform\n"
      "  hardware       per platform, device and model: results, runs, best throughput, best\n"
      "                 and median p50\n"
      "  compatibility  the model x hardware matrix (as `matrix`)\n"
      "  trend          each configuration over its runs in start order, with commit and branch;\n"
      "                 HTML: p50 and throughput over runs\n"
      "  regressions    `compare` as a report; without --baseline/--contender: the latest run\n"
      "                 (clean tree) against the earlier runs of its branch\n"
      "HTML is one self-contained page (inline CSS and SVG, no script, nothing fetched).");
  cmd->callback([selected, o] { *selected = [o] { return RunReport(*o); }; });
}

}  // namespace ipfs_accel::cli
