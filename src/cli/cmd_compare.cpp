// `compare`: regression detection between two refs of the results database (for CI).

#include <cmath>
#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/table_printer.h"
#include "ipfs_accel/analysis/regression.h"

namespace ipfs_accel::cli {

namespace {

struct CompareCliOptions {
  DatabaseOption db;
  analysis::CompareOptions compare;
  std::string format = "table";
};

int RunCompare(const CompareCliOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  auto store = o.db.Open(/*read_only=*/true);
  const analysis::Comparison c = analysis::CompareRefs(*store, o.compare);
  std::cerr << fmt::format("baseline '{}' ({}, {} run(s)) vs contender '{}' (run {})\n",
                           c.baseline.ref, c.baseline.kind, c.baseline.run_ids.size(),
                           c.contender.ref, c.contender_run_id);
  PrintTable(std::cout, TableFromQuery(analysis::ComparisonTable(c)), format);
  int regressions = 0;
  for (const auto& r : c.rows) regressions += r.verdict == analysis::Verdict::kRegression;
  if (regressions) std::cerr << fmt::format("{} configuration(s) regressed\n", regressions);
  return regressions ? kExitCheckFailed : kExitOk;
}

}  // namespace

void AddCompareCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "compare",
      "Regression check between two refs for CI: a run (its id or a unique prefix, latest,\n"
      "latest~N), a branch, or a git commit.\n"
      "Per configuration, two methods side by side:\n"
      "  z-score (conbench): the contender's best repetition (min of its samples) against the\n"
      "    mean and stdev of the best repetitions of the baseline's last --history results;\n"
      "    regression when z > --threshold-z (needs >= 2 baseline results).\n"
      "  U test (asv): Mann-Whitney U between the latest baseline result's samples and the\n"
      "    contender's; regression when median ratio > --factor and p < --alpha.\n"
      "The verdict is a regression if either method says so. Exit status 1 when any\n"
      "configuration regressed, 0 otherwise. The contender is the latest run of its ref.");
  auto o = std::make_shared<CompareCliOptions>();
  o->db.Add(cmd);
  auto& c = o->compare;
  cmd->add_option("--baseline", c.baseline_ref, "baseline ref: run, branch, or git commit")
      ->required();
  cmd->add_option("--contender", c.contender_ref, "contender ref: run, branch, or git commit")
      ->required();
  cmd->add_option(kModelOptionName, c.model,
                  "only this model (a name, one model's label, or its content CID)");
  cmd->add_option("--hardware", c.hardware, "only this platform");
  cmd->add_option("--by", c.by,
                  "what names a configuration's model: model (name, source, weights, config) or "
                  "cid (its content CID where stored: the same bytes under two names or folders "
                  "pair up)")
      ->check(CLI::IsMember({"model", "cid"}))
      ->capture_default_str();
  cmd->add_option("--threshold-z", c.threshold_z, "z-score threshold (sigmas)")
      ->check(FiniteNumber(true, "sigmas"))
      ->capture_default_str();
  cmd->add_option("--factor", c.factor, "U test: contender/baseline median ratio threshold")
      ->check(FiniteNumber(true, "(a ratio)"))
      ->capture_default_str();
  cmd->add_option("--alpha", c.alpha, "U test: significance level (two-sided)")
      ->check(Probability())
      ->capture_default_str();
  cmd->add_option("--history", c.history, "z-score: baseline results per configuration")
      ->check(WholeNumber(1, 1000000))
      ->capture_default_str();
  cmd->add_flag("--include-dirty", c.include_dirty,
                "let branch and commit refs name builds from modified trees (-dirty)");
  AddFormatOption(cmd, &o->format, {"table", "md", "csv", "json"});
  cmd->callback([selected, o] { *selected = [o] { return RunCompare(*o); }; });
}

}  // namespace ipfs_accel::cli
