// `templates validate` and `templates add`: validation outcomes printed, and stored with the
// templates they validated.

#include "cli/template_validation_run.h"

#include <chrono>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/atomic_file.h"
#include "cli/exit_codes.h"
#include "cli/progress.h"
#include "cli/table_printer.h"
#include "cli/template_records.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"
#include "ipfs_accel/harness/template_validation.h"
#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::cli {
namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

const std::vector<std::string> kStatuses = {"exact", "structural", "failed", "unsupported"};

struct ValidateOptions {
  DatabaseOption db;
  std::string format = "text";
  std::vector<std::string> names;  // validate: model types or template files; add: the file
  bool all = false;
  std::optional<std::string> truth;
};

// The shared fixtures of this checkout (the IPFS_ACCEL_SHARED_DIR build definition).
std::string SharedFixture(const std::string& relative) {
  return (fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures" / relative).string();
}

// --truth FILE, else the checkout's catalog_truth.json where it exists, else none.
std::optional<harness::CatalogTruth> LoadTruth(const std::optional<std::string>& path) {
  if (path) return harness::LoadCatalogTruth(*path);
  const std::string fallback = SharedFixture("hf-catalog/catalog_truth.json");
  std::error_code ec;
  if (fs::is_regular_file(fallback, ec)) return harness::LoadCatalogTruth(fallback);
  return std::nullopt;
}

Table OutcomeTable(const std::vector<harness::TemplateOutcome>& outcomes) {
  Table t{
      {"model_type", "status", "version", "parameters", "expected_parameters", "reason", "seconds"},
      {false, false, true, true, true, false, true},
      {}};
  const auto number = [](std::optional<int64_t> n) {
    return n ? std::optional(std::to_string(*n)) : std::nullopt;
  };
  for (const auto& o : outcomes)
    t.rows.push_back({o.model_type, o.status, number(o.version), number(o.parameters),
                      number(o.expected_parameters), o.reason,
                      o.status == "unsupported" ? std::nullopt
                                                : std::optional(fmt::format("{:.2f}", o.seconds))});
  return t;
}

std::map<std::string, int> CountByStatus(const std::vector<std::string>& statuses) {
  std::map<std::string, int> out;
  for (const auto& s : statuses) ++out[s];
  return out;
}

std::string CountsText(const std::map<std::string, int>& counts) {
  std::vector<std::string> parts;
  for (const auto& s : kStatuses)
    parts.push_back(fmt::format("{} {}", counts.count(s) ? counts.at(s) : 0, s));
  return fmt::format("{}", fmt::join(parts, ", "));
}

// Each named model type (a template, or one without) or template file, or every model type.
struct Selection {
  std::vector<std::string> model_types;
  std::vector<models::ArchitectureTemplate> files;
};

Selection Select(const ValidateOptions& o, const harness::ValidationOptions& v) {
  Selection s;
  if (o.all || o.names.empty()) s.model_types = harness::EveryModelType(v);
  for (const std::string& name : o.names) {
    std::error_code ec;
    if (fs::is_regular_file(name, ec))
      s.files.push_back(models::LoadTemplateFile(name));
    else if (models::FindTemplate(name) || (v.truth && v.truth->model_types.count(name)) ||
             models::UnsupportedModelTypes().count(name))
      s.model_types.push_back(name);
    else
      TemplateNamed(name);  // throws, naming it
  }
  return s;
}

// Validates the selection, telling progress on stderr for every template built.
std::vector<harness::TemplateOutcome> ValidateSelection(const Selection& s,
                                                        const harness::ValidationOptions& v) {
  const auto templated = [](const std::string& name) {
    const auto* t = models::FindTemplate(name);
    return t && !t->abstract;
  };
  int total = static_cast<int>(s.files.size());
  for (const auto& name : s.model_types) total += templated(name) ? 1 : 0;
  Progress progress;
  int index = 0;
  std::vector<harness::TemplateOutcome> out;
  const auto run = [&](const std::string& what, const auto& validate) {
    progress.Begin(++index, total, what);
    out.push_back(validate());
    progress.End(out.back().status);
  };
  for (const auto& name : s.model_types) {
    if (!templated(name)) {
      out.push_back(harness::UnsupportedOutcome(name, v));
      continue;
    }
    run(name, [&] { return harness::ValidateModelType(name, v); });
  }
  for (const auto& t : s.files) run(t.source, [&] { return harness::ValidateTemplate(t, v); });
  return out;
}

// Stores every template of this tool and `files`: a template changed under a stored version
// is refused here (core::Error naming it).
void StoreTemplates(store::ResultStore& store,
                    const std::vector<models::ArchitectureTemplate>& files) {
  std::vector<store::TemplateRecord> templates = AllTemplateRecords();
  for (const auto& t : files) templates.push_back(TemplateRecordOf(t));
  store.WriteTemplates(templates, build_info::kGitCommit);
}

void StoreOutcomes(store::ResultStore& store,
                   const std::vector<harness::TemplateOutcome>& outcomes) {
  std::vector<store::TemplateValidationRecord> records;
  const std::string now = store::UtcNow();
  for (const auto& o : outcomes)
    records.push_back(ValidationRecordOf(o, now, build_info::kGitCommit));
  store.WriteTemplateValidations(records);
}

harness::ValidationOptions ValidationOptionsFor(const std::optional<harness::CatalogTruth>& truth) {
  return {.truth = truth ? &*truth : nullptr, .fixtures_dir = SharedFixture("hf-tiny"), .seed = 42};
}

int RunValidate(const ValidateOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  const auto start = std::chrono::steady_clock::now();
  const std::optional<harness::CatalogTruth> truth = LoadTruth(o.truth);
  const harness::ValidationOptions v = ValidationOptionsFor(truth);
  const Selection selection = Select(o, v);
  // Templates are stored first: one changed under a stored version stops here, before the
  // validation's minutes.
  StoreTemplates(*o.db.Open(), selection.files);
  const auto outcomes = ValidateSelection(selection, v);
  StoreOutcomes(*o.db.Open(), outcomes);
  PrintTable(std::cout, OutcomeTable(outcomes), format);
  std::vector<std::string> statuses;
  for (const auto& out : outcomes) statuses.push_back(out.status);
  const auto counts = CountByStatus(statuses);
  std::cerr << fmt::format(
      "{} model types in {:.1f} s: {}; stored in {}\n", outcomes.size(),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
      CountsText(counts), o.db.Path());
  if (!truth) std::cerr << "no catalog_truth.json found: parameter counts were not compared\n";
  return counts.count("failed") ? kExitCheckFailed : kExitOk;
}

// Where `templates add` puts a file: the first folder templates are read from.
fs::path UserTemplateFolder() {
  const std::vector<fs::path> folders = models::UserTemplateFolders();
  if (folders.empty())
    throw Error(ErrorKind::kNotFound,
                "no folder for user templates: set IPFS_ACCEL_TEMPLATE_PATH (or XDG_DATA_HOME or "
                "HOME)");
  return folders.front();
}

fs::path CopyIntoUserFolder(const std::string& file, const models::ArchitectureTemplate& t) {
  const fs::path folder = UserTemplateFolder();
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec)
    throw Error(ErrorKind::kIo, fmt::format("cannot create template folder '{}' ({})",
                                            folder.string(), ec.message()));
  const fs::path target = folder / (t.model_type + ".json");
  WriteFileAtomically(target.string(), core::ReadRegularFile(file));
  return target;
}

// Validates the file as `validate` does; a failing one is refused with its reason and nothing
// is copied or stored. Otherwise it is stored, then copied where Templates() reads it.
int RunAdd(const ValidateOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  const std::string& file = o.names.at(0);
  const std::optional<harness::CatalogTruth> truth = LoadTruth(o.truth);
  const models::ArchitectureTemplate t = models::LoadTemplateFile(file);
  const harness::TemplateOutcome outcome =
      harness::ValidateTemplate(t, ValidationOptionsFor(truth));
  PrintTable(std::cout, OutcomeTable({outcome}), format);
  if (outcome.status == "failed")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("template file '{}' ({}) is refused: {}; nothing was copied", file,
                            t.model_type, outcome.reason));
  auto store = o.db.Open();
  StoreTemplates(*store, {t});
  const fs::path target = CopyIntoUserFolder(file, t);
  StoreOutcomes(*store, {outcome});
  std::cerr << fmt::format("added template '{}' version {} ({}): {}\n", t.model_type, t.version,
                           outcome.status, target.string());
  return kExitOk;
}

}  // namespace

const models::ArchitectureTemplate& TemplateNamed(const std::string& name) {
  if (const auto* t = models::FindTemplate(name)) return *t;
  const auto& unsupported = models::UnsupportedModelTypes();
  if (const auto it = unsupported.find(name); it != unsupported.end())
    throw Error(ErrorKind::kNotFound,
                fmt::format("model type '{}' has no template: {}", name, it->second));
  throw Error(
      ErrorKind::kNotFound,
      fmt::format("no template named '{}'; `ipfs-accelerate templates list` lists them", name));
}

std::map<std::string, store::TemplateValidationRecord> StoredValidations(const DatabaseOption& db) {
  std::error_code ec;
  if (!fs::exists(db.Path(), ec)) return {};
  auto store = db.Open(/*read_only=*/true);
  if (store->SchemaVersion() < 9) return {};
  return store::LatestTemplateValidations(*store);
}

std::string ReportHeading(const std::map<std::string, store::TemplateValidationRecord>& stored) {
  std::vector<std::string> statuses;
  int compared = 0, equal = 0;
  for (const auto& [model_type, v] : stored) {
    statuses.push_back(v.status);
    if (v.parameters && v.expected_parameters) {
      ++compared;
      equal += *v.parameters == *v.expected_parameters ? 1 : 0;
    }
  }
  return fmt::format(
      "# Template status\n\n"
      "Generated from the results database by `scripts/template_status.sh` (`ipfs-accelerate "
      "templates validate --all`, then `templates report --format markdown`); do not edit by "
      "hand.\n\n"
      "{} model types: {}. Parameter counts at Hugging Face's default config equal "
      "catalog_truth.json's for {} of the {} compared.\n",
      stored.size(), CountsText(CountByStatus(statuses)), equal, compared);
}

void AddValidateCommands(CLI::App& templates, CommandFn* selected) {
  auto* cmd = templates.add_subcommand(
      "validate",
      "Validate templates: build each at its tiny size (ONNX checker, strict shape inference),\n"
      "run it once on CPU (outputs finite, of the declared shapes), and count its parameters at\n"
      "HF's default config against catalog_truth.json. Every model type of catalog_truth.json\n"
      "gets a row: exact (matches its reference fixture), structural, failed (with the reason),\n"
      "or unsupported (no template, with the reason). Outcomes and templates are stored in the\n"
      "database. Exit status 1 when a template failed.");
  auto o = std::make_shared<ValidateOptions>();
  cmd->add_option("name", o->names, "model types or template files (default: --all)");
  cmd->add_flag("--all", o->all, "every model type (the default without names)");
  cmd->add_option("--truth", o->truth,
                  "catalog_truth.json with HF's parameter counts (default: the checkout's "
                  "hf-catalog fixture, when it exists)");
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->format, kTemplateFormats);
  cmd->callback([selected, o] { *selected = [o] { return RunValidate(*o); }; });

  auto* add = templates.add_subcommand(
      "add",
      "Add a template from a file: validated as `validate` does; a failing file is refused with\n"
      "its reason and nothing is copied. Otherwise it is stored in the database and copied into\n"
      "the first folder of IPFS_ACCEL_TEMPLATE_PATH, else $XDG_DATA_HOME/ipfs-accelerate/\n"
      "templates (~/.local/share/ipfs-accelerate/templates), where every command reads it.");
  auto a = std::make_shared<ValidateOptions>();
  add->add_option("file", a->names, "the template file (docs/templates.md)")
      ->required()
      ->expected(1);
  add->add_option("--truth", a->truth, "catalog_truth.json (as for validate)");
  a->db.Add(add);
  AddFormatOption(add, &a->format, kTemplateFormats);
  add->callback([selected, a] { *selected = [a] { return RunAdd(*a); }; });
}

}  // namespace ipfs_accel::cli
