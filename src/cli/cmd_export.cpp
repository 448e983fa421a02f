// `export`: write the ONNX graph a model spec builds, for other tools (Netron,
// onnxruntime_perf_test, a browser) to use.

#include <iostream>

#include <fmt/format.h>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/precision.h"

namespace ipfs_accel::cli {

namespace {

struct GraphExportOptions {
  std::string model;
  std::string output;
  std::string graph = "plain";
  std::string precision = "fp32";
  uint64_t seed = 42;
};

int RunGraphExport(const GraphExportOptions& o) {
  if (o.graph != "plain" && o.graph != "fused")
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("unknown graph variant '{}'; use plain or fused", o.graph));
  const models::Model m =
      LoadModelHere(o.model, {.seed = o.seed,
                              .fused = o.graph == "fused",
                              .precision = models::ParsePrecision(o.precision)});
  if (m.onnx_bytes.empty())
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("'{}' is over 2 GB or an .onnx file already ({}); copy that "
                                  "file and its weights instead",
                                  o.model, m.onnx_path));
  WriteFileAtomically(o.output, m.onnx_bytes);
  std::cerr << fmt::format("{} ({} parameters, {} {}) written to {} ({} bytes)\n", m.info.name,
                           m.info.parameters, o.graph, o.precision, o.output, m.onnx_bytes.size());
  return kExitOk;
}

}  // namespace

void AddExportCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "export",
      "Write the ONNX graph a model builds (catalog name, template:NAME or Hugging Face "
      "folder).");
  auto o = std::make_shared<GraphExportOptions>();
  cmd->add_option(kModelOptionName, o->model, "catalog name, template:NAME, or Hugging Face folder")
      ->required();
  cmd->add_option(kOutputOptionName, o->output, "the .onnx file to write")->required();
  cmd->add_option("--graph", o->graph, "plain or fused")->capture_default_str();
  cmd->add_option("--precision", o->precision, "fp32, fp16, int8 or int4")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of random weights for catalog names")
      ->check(Seed())
      ->capture_default_str();
  cmd->callback([selected, o] { *selected = [o] { return RunGraphExport(*o); }; });
}

}  // namespace ipfs_accel::cli
