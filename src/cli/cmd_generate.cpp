// `generate`: the system's on-demand tests and benchmarks. For each model type asked for it
// writes a benchmark spec and a verification spec (spec_file.h) that `benchmark --spec FILE` and
// `verify --spec FILE` run, with the platforms chosen from what this machine has and what the
// stored compatibility results say.

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/spec_file.h"
#include "cli/template_selection.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/platforms.h"

namespace ipfs_accel::cli {

namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

struct GenerateOptions {
  std::string model;   // a model type (template), template:NAME
  std::string family;  // a legacy family or a builder
  bool all_models = false;
  std::vector<std::string> hardware;  // empty: what this machine has
  std::string fixtures;               // folder of reference fixtures (hf-tiny layout)
  std::string out;
  DatabaseOption db;
};

// The settings every generated benchmark has: a tiny model measured briefly.
const nlohmann::json& BenchmarkDefaults() {
  static const nlohmann::json defaults = {{"scenario", "single-stream"},
                                          {"batch-sizes", {1}},
                                          {"precision", {"fp32"}},
                                          {"warmup", 1},
                                          {"iterations", 10},
                                          {"min-time", 0}};
  return defaults;
}
constexpr int64_t kTextSequence = 32;  // text models' sequence length (others: their own)

const models::ArchitectureTemplate& GeneratableTemplate(const std::string& name) {
  const std::string type = name.rfind(models::kTemplateSpecPrefix, 0) == 0
                               ? name.substr(models::kTemplateSpecPrefix.size())
                               : name;
  const auto* t = models::FindTemplate(type);
  if (t == nullptr || t->abstract)
    throw Error(ErrorKind::kNotFound,
                fmt::format("no template for model type '{}'; data/templates/<builder>/ holds "
                            "one file per model type",
                            type));
  return *t;
}

std::vector<const models::ArchitectureTemplate*> Selected(const GenerateOptions& o) {
  if (o.model.empty()) return SelectTemplates(o.family);  // --all-models or --family
  return {&GeneratableTemplate(o.model)};
}

// Platforms this machine can run (what `detect` says is available; a software WebGPU adapter
// left out, as `--hardware all` leaves it), or the ones named.
std::vector<std::string> CandidatePlatforms(const GenerateOptions& o) {
  if (!o.hardware.empty()) return o.hardware;
  std::vector<std::string> out;
  for (const auto& p : runtime::PlatformAvailability(hw::Detect()))
    if (p.available && !p.software_renderer) out.push_back(p.platform);
  return out;
}

// model type -> platform -> why not: the latest stored compatibility result of that model type
// on that platform failed. Empty when there is no database.
std::map<std::string, std::map<std::string, std::string>> StoredFailures(const DatabaseOption& db) {
  std::map<std::string, std::map<std::string, std::string>> out;
  std::error_code ec;
  if (!fs::exists(db.Path(), ec)) return out;
  const auto rows =
      db.Open(/*read_only=*/true)
          ->Query(
              "SELECT m.architecture, h.platform, arg_max(c.status, c.created_at), "
              "arg_max(c.error_message, c.created_at), arg_max(c.run_id, c.created_at) "
              "FROM compatibility_results c JOIN models m USING (model_id) "
              "JOIN hardware_platforms h USING (hardware_id) GROUP BY ALL")
          .rows;
  for (const auto& r : rows)
    if (r.at(2).value_or("") == "failed")
      out[r.at(0).value_or("")][r.at(1).value_or("")] = fmt::format(
          "failed in run {}: {}", r.at(4).value_or("").substr(0, 8), r.at(3).value_or(""));
  return out;
}

struct Written {
  std::string benchmark, verify;
  std::vector<std::string> hardware;
};

Written WriteSpecs(const GenerateOptions& o, const models::ArchitectureTemplate& t,
                   const std::vector<std::string>& candidates,
                   const std::map<std::string, std::string>& failures) {
  const std::string model = std::string(models::kTemplateSpecPrefix) + t.model_type;
  nlohmann::json about = {{"model_type", t.model_type},
                          {"family", t.family},
                          {"builder", t.builder},
                          {"template_version", t.version},
                          {"generated_by", CommandLine()}};
  Written w;
  nlohmann::json excluded = nlohmann::json::object();
  for (const auto& p : candidates) {
    if (auto it = failures.find(p); it != failures.end())
      excluded[p] = it->second;
    else
      w.hardware.push_back(p);
  }
  nlohmann::json bench = BenchmarkDefaults();
  bench["model"] = model;
  bench["hardware"] = w.hardware;
  if (t.modality == "text") bench["seq-lens"] = {kTextSequence};
  nlohmann::json bench_about = about;
  bench_about["hardware_left_out"] = excluded;
  // A template shown exact by a reference fixture is verified against it when it is here.
  nlohmann::json verify = {{"model", model}, {"tolerance", 1e-4}};
  const fs::path reference = fs::path(o.fixtures) / t.reference;
  std::error_code ec;
  if (!o.fixtures.empty() && !t.reference.empty() && fs::is_directory(reference, ec))
    verify["model"] = fs::absolute(reference).string();
  w.benchmark = (fs::path(o.out) / (t.model_type + ".benchmark.json")).string();
  w.verify = (fs::path(o.out) / (t.model_type + ".verify.json")).string();
  WriteFileAtomically(w.benchmark, MakeSpec("benchmark", bench, bench_about).dump(2) + "\n");
  WriteFileAtomically(w.verify, MakeSpec("verify", verify, about).dump(2) + "\n");
  return w;
}

int RunGenerate(const GenerateOptions& o) {
  const auto templates = Selected(o);
  const std::vector<std::string> candidates = CandidatePlatforms(o);
  const auto failures = StoredFailures(o.db);
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec)
    throw Error(ErrorKind::kIo, fmt::format("cannot create --out '{}': {}", o.out, ec.message()));
  static const std::map<std::string, std::string> kNone;
  int without_hardware = 0;
  for (const auto* t : templates) {
    const auto it = failures.find(t->model_type);
    const Written w = WriteSpecs(o, *t, candidates, it == failures.end() ? kNone : it->second);
    without_hardware += w.hardware.empty();
    std::cout << fmt::format(
        "{}: {} ({}), {}\n", t->model_type, w.benchmark,
        w.hardware.empty() ? "no platform" : fmt::format("{}", fmt::join(w.hardware, ",")),
        w.verify);
  }
  std::cerr << fmt::format("ipfs-accelerate: {} model types: {} specs written to {}{}\n",
                           templates.size(), 2 * templates.size(), o.out,
                           without_hardware > 0
                               ? fmt::format(" ({} with no platform left: every candidate failed "
                                             "before, see about.hardware_left_out)",
                                             without_hardware)
                               : "");
  return kExitOk;
}

}  // namespace

void AddGenerateCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "generate",
      "Write, per model type, a benchmark spec and a verification spec (JSON files\n"
      "MODEL_TYPE.benchmark.json and MODEL_TYPE.verify.json in --out) that `benchmark --spec\n"
      "FILE` and `verify --spec FILE` run: the model type's template at its tiny size\n"
      "(template:NAME), on the platforms `detect` finds available here, less those where the\n"
      "latest stored compatibility result of that model type failed (named in the spec's\n"
      "\"about\"). A template with a reference fixture in --fixtures is verified against it.");
  auto o = std::make_shared<GenerateOptions>();
  auto* model = cmd->add_option(kModelOptionName, o->model,
                                "a model type with a template (e.g. mistral, or template:mistral)");
  auto* family = cmd->add_option(
      "--family", o->family,
      "every template of a model family (text_generation, embedding, vision, audio, "
      "multimodal) or of a builder (decoder, bert, vit, ...)");
  auto* all = cmd->add_flag("--all-models", o->all_models, "every template");
  model->excludes(family)->excludes(all);
  family->excludes(all);
  cmd->add_option("--hardware", o->hardware,
                  "platforms, comma-separated (default: those `detect` finds available)")
      ->delimiter(',');
  cmd->add_option("--fixtures", o->fixtures,
                  "folder of reference fixtures (NAME/config.json, model.safetensors, "
                  "io.safetensors, as ../shared/fixtures/hf-tiny)");
  cmd->add_option("-o,--output,--out", o->out, "folder to write the specs to (created if missing)")
      ->required();
  o->db.Add(cmd);
  cmd->callback([selected, o, cmd] {
    if (cmd->count("--model") + cmd->count("--family") + cmd->count("--all-models") == 0)
      throw CLI::ValidationError("--model", "give --model, --family or --all-models");
    for (const auto& p : o->hardware)
      if (std::find(runtime::KnownPlatforms().begin(), runtime::KnownPlatforms().end(), p) ==
          runtime::KnownPlatforms().end())
        throw CLI::ValidationError("--hardware",
                                   fmt::format("unknown platform '{}'; known: {}", p,
                                               fmt::join(runtime::KnownPlatforms(), ", ")));
    *selected = [o] { return RunGenerate(*o); };
  });
}

}  // namespace ipfs_accel::cli
