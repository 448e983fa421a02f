// `matrix`: the model-family x hardware compatibility matrix of the stored results.

#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/table_printer.h"
#include "ipfs_accel/analysis/compatibility_matrix.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

namespace {

struct MatrixOptions {
  DatabaseOption db;
  std::string format = "md";
  std::string output;
  std::optional<std::string> host;
};

// The matrix as a text table: a row per key model class or family, a column per platform.
std::string TextTable(const analysis::CompatibilityMatrix& m, std::size_t width) {
  Table t{{"row"}, {false}, {}};
  for (const auto& column : m.columns) {
    t.headers.push_back(column.title);
    t.numeric.push_back(false);
  }
  for (const auto& row : m.rows) {
    auto& cells = t.rows.emplace_back(std::vector<std::optional<std::string>>{row.label});
    for (const auto& cell : row.cells) cells.push_back(analysis::CellSummary(row, cell));
  }
  std::ostringstream out;
  PrintTable(out, t, TableFormat::kText, width);
  return out.str();
}

std::string Render(const analysis::CompatibilityMatrix& m, const std::string& format,
                   std::size_t width) {
  if (format == "html") return analysis::RenderMatrixHtml(m);
  if (format == "table") return TextTable(m, width);
  if (format == "json") return analysis::MatrixToJson(m).dump(2) + "\n";
  return analysis::RenderMatrixMarkdown(m);
}

int RunMatrix(const MatrixOptions& o) {
  const std::string path = o.db.Path();
  // Read-only: a database that does not exist is an error, not a new empty file.
  auto store = o.db.Open(/*read_only=*/true);
  analysis::CompatibilityMatrix m =
      analysis::BuildCompatibilityMatrix(*store, {.hostname = o.host});
  m.database = path;
  if (m.result_count == 0)
    std::cerr << fmt::format(
        "{} holds no compatibility results{}; run `ipfs-accelerate benchmark --key-models "
        "--hardware all` to fill the matrix\n",
        path, o.host ? " for host " + *o.host : "");
  const std::string text =
      Render(m, o.format, o.output.empty() ? TerminalWidth() : kUnlimitedWidth);
  if (o.output.empty()) {
    std::cout << text;
    return kExitOk;
  }
  WriteFileAtomically(o.output, text);
  std::cerr << fmt::format("matrix written to {}\n", o.output);
  return kExitOk;
}

}  // namespace

void AddMatrixCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "matrix",
      "The model x hardware compatibility matrix, only from stored results: key model classes, "
      "then one row per model family (modality).");
  auto o = std::make_shared<MatrixOptions>();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->format, {"md", "table", "html", "json"});
  cmd->add_option(kOutputOptionName, o->output, "write to this file instead of standard output");
  cmd->add_option("--host", o->host, "only results measured on this host");
  cmd->footer(
      "Columns: CUDA, ROCm, MPS (mps, coreml), OpenVINO, Qualcomm (qnn), WebNN, WebGPU, CPU,\n"
      "then any other platform the database holds (tensorrt, xnnpack, wasm, ...).\n"
      "Each configuration (model, platform, precision, graph) counts with its latest result.\n"
      "Cells:\n"
      "  ok 2.4e-06      ran; the worst max abs error of its fp32 results against the CPU fp32\n"
      "                  plain graph (the reference)\n"
      "  ok (reference)  the CPU fp32 plain result itself\n"
      "  failed: KIND    ran and failed (the message is a footnote, or the cell's title in HTML)\n"
      "  skipped         not run: its estimated memory does not fit\n"
      "  unavailable     the platform or execution provider is not there (reason in a footnote)\n"
      "  —               never tried: nothing is stored, nothing is assumed\n"
      "A cell with several precisions or graphs shows the best: ok, then failed, skipped,\n"
      "unavailable; every result is listed in the footnotes, HTML titles and JSON.\n"
      "Family rows count models by their best result: '2 ok ≤ 1e-05, 1 failed'.");
  cmd->callback([selected, o] { *selected = [o] { return RunMatrix(*o); }; });
}

}  // namespace ipfs_accel::cli
