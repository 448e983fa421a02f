// `verify`: a Hugging Face folder's graph against its reference outputs.

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/table_printer.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::cli {

namespace {

struct VerifyOptions {
  std::string model_dir;
  std::string io_file;  // default: <model_dir>/io.safetensors
  double tolerance = 1e-4;
  int threads = 0;
  bool json = false;
};

int RunVerify(const VerifyOptions& o) {
  const std::string io_path = o.io_file.empty() ? o.model_dir + "/io.safetensors" : o.io_file;
  const models::Model model = models::LoadHfFolder(o.model_dir, WithMemoryLimit({}));
  const harness::ReferenceIo io = harness::LoadReferenceIo(io_path);
  runtime::SessionOptions session;
  session.intra_op_threads = o.threads;
  const harness::VerificationResult r =
      harness::Verify(model, session, io.inputs, io.outputs, o.tolerance);

  if (o.json) {
    nlohmann::json j = {{"model", model.info.name},
                        {"architecture", model.info.architecture},
                        {"parameters", model.info.parameters},
                        {"tolerance", o.tolerance},
                        {"passed", r.passed},
                        {"defaulted_inputs", r.filled_inputs.defaulted},
                        {"generated_inputs", r.filled_inputs.generated},
                        {"outputs", nlohmann::json::array()}};
    for (const auto& c : r.outputs)
      j["outputs"].push_back({{"name", c.name},
                              {"expected_shape", c.expected_shape},
                              {"actual_shape", c.actual_shape},
                              {"max_abs_error", c.max_abs_error},
                              {"max_rel_error", c.max_rel_error},
                              {"passed", c.within_tolerance}});
    std::cout << j.dump(2) << "\n";
  } else {
    Table t{{"output", "shape", "max_abs_error", "max_rel_error", "result"},
            {false, false, true, true, false},
            {}};
    for (const auto& c : r.outputs)
      t.rows.push_back(
          {c.name,
           c.shape_matches ? core::ShapeToString(c.actual_shape)
                           : fmt::format("{} (expected {})", core::ShapeToString(c.actual_shape),
                                         core::ShapeToString(c.expected_shape)),
           fmt::format("{:.3e}", c.max_abs_error), fmt::format("{:.3e}", c.max_rel_error),
           c.within_tolerance ? "ok" : "MISMATCH"});
    PrintTable(std::cout, t, TableFormat::kText);
    for (const auto& line : harness::DescribeFilledInputs(r.filled_inputs))
      std::cout << line << "\n";
    std::cout << fmt::format("{}: {} ({}, {} parameters) against {} within {:g} absolute\n",
                             r.passed ? "PASS" : "FAIL", model.info.name, model.info.architecture,
                             model.info.parameters, io_path, o.tolerance);
  }
  return r.passed ? kExitOk : kExitCheckFailed;
}

}  // namespace

void AddVerifyCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "verify",
      "Build a Hugging Face folder's graph (config.json + model.safetensors), feed it the input.*\n"
      "tensors of io.safetensors, and compare every output.* tensor. Exit 0 only when every\n"
      "output is within tolerance.");
  auto o = std::make_shared<VerifyOptions>();
  cmd->add_option(std::string(kModelOptionName) + ",--model-dir", o->model_dir,
                  "Hugging Face model folder")
      ->required();
  cmd->add_option("--io", o->io_file, "reference tensors (default: MODEL_DIR/io.safetensors)");
  cmd->add_option("--tolerance", o->tolerance, "maximum absolute error allowed")
      ->capture_default_str()
      ->check(FiniteNumber(true, "(absolute error)"));
  cmd->add_option(kThreadsOptionName, o->threads, "intra-op threads (0: runtime default)")
      ->check(ThreadCount());
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunVerify(*o); }; });
}

}  // namespace ipfs_accel::cli
