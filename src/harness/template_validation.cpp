#include "ipfs_accel/harness/template_validation.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/json.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/backend.h"

namespace ipfs_accel::harness {
namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

constexpr double kReferenceTolerance = 1e-4;  // verify's

std::optional<int64_t> CountOrUnset(const nlohmann::json& row, const char* key) {
  const auto it = row.find(key);
  if (it == row.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// The output not empty, its values all finite, and its shape of the rank and fixed sizes the
// graph declares.
void CheckOutput(const runtime::TensorSpec& spec, const core::Tensor& tensor) {
  bool shape_ok = tensor.shape.size() == spec.shape.size();
  for (size_t i = 0; shape_ok && i < spec.shape.size(); ++i)
    shape_ok = spec.shape[i] < 0 || spec.shape[i] == tensor.shape[i];
  if (!shape_ok)
    throw Error(ErrorKind::kRuntime,
                fmt::format("output '{}' has shape {}, the graph declares {}", spec.name,
                            core::ShapeToString(tensor.shape), core::ShapeToString(spec.shape)));
  if (tensor.element_count() == 0)
    throw Error(ErrorKind::kRuntime, fmt::format("output '{}' is empty", spec.name));
  if (const std::string bad = FirstNonFinite(tensor); !bad.empty())
    throw Error(ErrorKind::kRuntime, fmt::format("output '{}' holds {}", spec.name, bad));
}

// The input sizes the tiny build runs at: the template's tiny_inputs ({"sequence": N,
// "shapes": {dim or input: [sizes]}}), else the commands' defaults.
ShapeRequest TinyShape(const models::ArchitectureTemplate& t) {
  ShapeRequest request;
  request.seq_len = t.tiny_inputs.value("sequence", request.seq_len);
  if (const auto shapes = t.tiny_inputs.find("shapes"); shapes != t.tiny_inputs.end())
    for (const auto& [name, sizes] : shapes->items())
      request.overrides[name] = sizes.get<std::vector<int64_t>>();
  return request;
}

// Builds the template at its tiny size with seeded weights (checker and strict shape inference
// run as the model is built) and runs it once on CPU.
void BuildAndRunTiny(const models::ArchitectureTemplate& t, uint64_t seed) {
  models::LoadOptions load;
  load.seed = seed;
  const models::Model model = models::BuildTemplate(t, models::TinyConfig(t), load);
  runtime::SessionOptions cpu;
  cpu.intra_op_threads = 1;
  const auto session = runtime::OpenSession(model, cpu);
  const auto shapes = ResolveShapes(session->inputs(), model.dim_roles, TinyShape(t));
  const auto outputs =
      session->Run(GenerateInputs(session->inputs(), shapes, model.input_hints, seed));
  for (const runtime::TensorSpec& spec : session->outputs()) {
    const auto it = outputs.find(spec.name);
    if (it == outputs.end())
      throw Error(ErrorKind::kRuntime, fmt::format("output '{}' was not produced", spec.name));
    CheckOutput(spec, it->second);
  }
}

// The reference fixture's outputs against the graph built from its folder; "" when they match,
// else why not.
std::string CheckReference(const std::string& dir) {
  const models::Model model = models::LoadHfFolder(dir);
  const ReferenceIo io = LoadReferenceIo((fs::path(dir) / "io.safetensors").string());
  const VerificationResult r =
      Verify(model, runtime::SessionOptions{}, io.inputs, io.outputs, kReferenceTolerance);
  if (r.passed) return "";
  for (const OutputComparison& c : r.outputs)
    if (!c.within_tolerance || !c.shape_matches)
      return fmt::format(
          "differs from reference fixture '{}': output '{}' max abs error {:.3g} "
          "(tolerance {:g}){}",
          dir, c.name, c.max_abs_error, kReferenceTolerance,
          c.shape_matches ? "" : ", shape differs");
  return fmt::format("differs from reference fixture '{}'", dir);
}

std::optional<int64_t> ExpectedCount(const models::ArchitectureTemplate& t,
                                     const CatalogTruth& truth) {
  const auto it = truth.model_types.find(t.model_type);
  if (it == truth.model_types.end()) return std::nullopt;
  return t.parameters_class == "causal_lm" ? it->second.causal_lm_params : it->second.base_params;
}

// Sets the outcome's counts and its status from them: structural, or failed with both counts.
void CompareCounts(const models::ArchitectureTemplate& t, const ValidationOptions& options,
                   TemplateOutcome& out) {
  out.status = "structural";
  try {
    out.parameters = models::CountTemplateParameters(t, models::DefaultConfig(t));
  } catch (const core::Error& e) {
    // HF's own default cannot run for some (DeepSeek-V2's null experts per token); the template
    // says which setting its count needs.
    if (t.parameters_differ.empty()) throw;
    out.reason =
        fmt::format("not counted at HF's default config ({}); {}", e.what(), t.parameters_differ);
    return;
  }
  if (!options.truth) {
    out.reason = "parameter count not compared: no catalog_truth.json (pass --truth FILE)";
    return;
  }
  out.expected_parameters = ExpectedCount(t, *options.truth);
  if (!out.expected_parameters) {
    out.reason = fmt::format("parameter count not compared: {} has no {} count for '{}'",
                             options.truth->path, t.parameters_class, t.model_type);
    return;
  }
  if (*out.parameters == *out.expected_parameters) return;
  if (!t.parameters_differ.empty()) {
    out.reason = "parameters differ: " + t.parameters_differ;
    return;
  }
  out.status = "failed";
  out.reason = fmt::format("{} parameters at HF's default config, HF's {} class has {}",
                           *out.parameters, t.parameters_class, *out.expected_parameters);
}

// exact when the template's reference fixture is found and matches; else the outcome stays
// structural and its reason says the fixture was not checked.
void CheckExactness(const models::ArchitectureTemplate& t, const ValidationOptions& options,
                    TemplateOutcome& out) {
  if (t.reference.empty() || out.status != "structural") return;
  const fs::path dir = fs::path(options.fixtures_dir) / t.reference;
  std::error_code ec;
  if (options.fixtures_dir.empty() || !fs::is_directory(dir, ec)) {
    const std::string note =
        fmt::format("reference fixture '{}' not found here: not checked", t.reference);
    out.reason = out.reason.empty() ? note : out.reason + "; " + note;
    return;
  }
  if (const std::string why = CheckReference(dir.string()); !why.empty()) {
    out.status = "failed";
    out.reason = why;
    return;
  }
  out.status = "exact";
}

}  // namespace

CatalogTruth LoadCatalogTruth(const std::string& path) {
  const nlohmann::json doc = core::ReadJsonFile(path);
  const auto models = doc.find("models");
  if (!doc.is_object() || models == doc.end() || !models->is_object())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' has no \"models\" object of model types; pass the "
                            "catalog_truth.json of the hf-catalog fixtures",
                            path));
  CatalogTruth truth{.model_types = {}, .path = path};
  for (const auto& [model_type, row] : models->items()) {
    if (!row.is_object())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': model type '{}' is not an object", path, model_type));
    truth.model_types[model_type] = {CountOrUnset(row, "base_params"),
                                     CountOrUnset(row, "causal_lm_params")};
  }
  return truth;
}

TemplateOutcome ValidateTemplate(const models::ArchitectureTemplate& t,
                                 const ValidationOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  TemplateOutcome out{.model_type = t.model_type, .version = t.version};
  try {
    BuildAndRunTiny(t, options.seed);
    CompareCounts(t, options, out);
    CheckExactness(t, options, out);
  } catch (const std::exception& e) {
    out.status = "failed";
    out.reason = e.what();
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

TemplateOutcome UnsupportedOutcome(const std::string& model_type,
                                   const ValidationOptions& options) {
  const auto& unsupported = models::UnsupportedModelTypes();
  const auto why = unsupported.find(model_type);
  TemplateOutcome out{.model_type = model_type,
                      .status = "unsupported",
                      .reason = why == unsupported.end() ? "no template yet" : why->second};
  if (options.truth) {
    if (const auto it = options.truth->model_types.find(model_type);
        it != options.truth->model_types.end())
      out.expected_parameters = it->second.base_params;
  }
  return out;
}

std::vector<std::string> EveryModelType(const ValidationOptions& options) {
  std::set<std::string> names;
  if (options.truth)
    for (const auto& [model_type, counts] : options.truth->model_types) names.insert(model_type);
  for (const auto& t : models::Templates())
    if (!t.abstract) names.insert(t.model_type);
  return {names.begin(), names.end()};
}

TemplateOutcome ValidateModelType(const std::string& model_type, const ValidationOptions& options) {
  const models::ArchitectureTemplate* t = models::FindTemplate(model_type);
  return t && !t->abstract ? ValidateTemplate(*t, options)
                           : UnsupportedOutcome(model_type, options);
}

}  // namespace ipfs_accel::harness
