// `verify`: a Hugging Face folder's graph against its reference outputs.

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "cli/spec_file.h"
#include "cli/table_printer.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::cli {

namespace {

struct VerifyOptions {
  std::string spec;       // a spec file (spec_file.h) giving the options below
  std::string model_dir;  // a Hugging Face folder, or a model with no reference (template:NAME)
  std::string io_file;    // default: <model_dir>/io.safetensors
  double tolerance = 1e-4;
  int threads = 0;
  bool json = false;
};

void PrintJson(const models::Model& model, const VerifyOptions& o,
               const harness::VerificationResult& r, const std::string& reference) {
  nlohmann::json j = {
      {"model", model.info.name},
      {"architecture", model.info.architecture},
      {"parameters", model.info.parameters},
      {"reference", reference.empty() ? nlohmann::json(nullptr) : nlohmann::json(reference)},
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
}

// A model with no reference outputs (template:NAME, a catalog name): built, run once on
// generated inputs, every output finite; said to be a structural check only.
int RunStructuralCheck(const VerifyOptions& o) {
  const models::Model model = LoadModelHere(o.model_dir);
  runtime::SessionOptions session;
  session.intra_op_threads = o.threads;
  const harness::VerificationResult r = harness::CheckOutputsFinite(model, session, 0);
  if (o.json) {
    PrintJson(model, o, r, "");
  } else {
    Table t{{"output", "shape", "result"}, {false, false, false}, {}};
    for (const auto& c : r.outputs)
      t.rows.push_back({c.name, core::ShapeToString(c.actual_shape),
                        c.within_tolerance ? "finite" : "NOT FINITE"});
    PrintTable(std::cout, t, TableFormat::kText);
    std::cout << fmt::format(
        "{}: {} ({}, {} parameters) builds and runs on generated inputs{}; no reference outputs "
        "to compare with (a structural check)\n",
        r.passed ? "PASS" : "FAIL", model.info.name, model.info.architecture, model.info.parameters,
        r.passed ? " with finite outputs" : ", but not every output is finite");
  }
  return r.passed ? kExitOk : kExitCheckFailed;
}

// A name rather than a path: a template or catalog model, which has no reference outputs.
bool NamesModelWithoutReference(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::symlink_status(spec, ec).type() != std::filesystem::file_type::not_found)
    return false;
  return spec.rfind(models::kTemplateSpecPrefix, 0) == 0 || models::FindInCatalog(spec);
}

int RunVerify(const VerifyOptions& o) {
  if (NamesModelWithoutReference(o.model_dir)) return RunStructuralCheck(o);
  const std::string io_path = o.io_file.empty() ? o.model_dir + "/io.safetensors" : o.io_file;
  models::HfConfig::Load(o.model_dir);  // the folder's own errors come before the reference's
  const harness::ReferenceIo io = harness::LoadReferenceIo(io_path);
  // A graph whose structure depends on an input (an image grid) is built for the reference's.
  const models::Model model = models::LoadHfFolder(
      o.model_dir, WithMemoryLimit({.structure_inputs = models::StructureInputsOf(io.inputs)}));
  runtime::SessionOptions session;
  session.intra_op_threads = o.threads;
  const harness::VerificationResult r =
      harness::Verify(model, session, io.inputs, io.outputs, o.tolerance);

  if (o.json) {
    PrintJson(model, o, r, io_path);
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
      "output is within tolerance. A graph whose structure depends on an input (Qwen2-VL's\n"
      "image_grid_thw) is built for the reference inputs' size.");
  auto o = std::make_shared<VerifyOptions>();
  cmd->add_option(std::string(kModelOptionName) + ",--model-dir", o->model_dir,
                  "Hugging Face model folder; a model without reference outputs (template:NAME, "
                  "a catalog name) is built, run on generated inputs and checked for finite "
                  "outputs only");
  cmd->add_option("--spec", o->spec,
                  "a verification spec (JSON, as `generate` writes) giving these options; "
                  "options typed here win");
  cmd->add_option("--io", o->io_file, "reference tensors (default: MODEL_DIR/io.safetensors)");
  cmd->add_option("--tolerance", o->tolerance, "maximum absolute error allowed")
      ->capture_default_str()
      ->check(FiniteNumber(true, "(absolute error)"));
  cmd->add_option(kThreadsOptionName, o->threads, "intra-op threads (0: runtime default)")
      ->check(ThreadCount());
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o, cmd] {
    if (!o->spec.empty()) ApplySpecFile(cmd, o->spec);
    if (o->model_dir.empty()) throw CLI::ValidationError("--model", "give --model or --spec");
    *selected = [o] { return RunVerify(*o); };
  });
}

}  // namespace ipfs_accel::cli
