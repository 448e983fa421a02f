// `templates`: the architecture templates (data/templates, IPFS_ACCEL_TEMPLATE_PATH), their
// database (schema v9) and their validation: list, show, validate, diff, export, add, report.

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_units.h"
#include "cli/json_diff.h"
#include "cli/table_printer.h"
#include "cli/template_validation_run.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/store/template_records.h"

namespace ipfs_accel::cli {
namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

struct TemplatesOptions {
  DatabaseOption db;
  std::string format = "text";
  std::vector<std::string> names;
  std::string output;
};

// A count as the format shows it: exact in CSV and JSON, rounded (4.4M) elsewhere.
std::optional<std::string> CountCell(std::optional<int64_t> count, TableFormat format) {
  if (!count) return std::nullopt;
  const bool exact = format == TableFormat::kCsv || format == TableFormat::kJson;
  return exact ? std::to_string(*count) : HumanCount(*count);
}

std::optional<std::string> UnlessEmpty(const std::string& text) {
  return text.empty() ? std::nullopt : std::optional(text);
}

// ---- list ----

Table ListTable(TableFormat format,
                const std::map<std::string, store::TemplateValidationRecord>& stored) {
  Table t{{"model_type", "builder", "inherits", "version", "status", "parameters", "validated_at"},
          {false, false, false, true, false, true, false},
          {}};
  for (const auto& tpl : models::Templates()) {
    if (tpl.abstract) continue;
    const auto it = stored.find(tpl.model_type);
    const bool current = it != stored.end() && it->second.version == tpl.version;
    t.rows.push_back({tpl.model_type, tpl.builder, UnlessEmpty(tpl.inherits),
                      std::to_string(tpl.version),
                      current ? std::optional(it->second.status) : std::nullopt,
                      current ? CountCell(it->second.parameters, format) : std::nullopt,
                      current ? std::optional(it->second.validated_at) : std::nullopt});
  }
  return t;
}

int RunTemplatesList(const TemplatesOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  PrintTable(std::cout, ListTable(format, StoredValidations(o.db)), format);
  return kExitOk;
}

// ---- show ----

// Every leaf of the resolved template as a row: key, value (JSON text).
Table LeavesTable(const nlohmann::json& resolved) {
  Table t{{"key", "value"}, {false, false}, {}, {false, true}};
  for (const auto& [key, value] : FlattenJson(resolved)) t.rows.push_back({key, value.dump()});
  return t;
}

int RunTemplatesShow(const TemplatesOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  const models::ArchitectureTemplate& t = TemplateNamed(o.names.at(0));
  if (format == TableFormat::kJson) {
    std::cout << t.resolved.dump(2) << "\n";
    return kExitOk;
  }
  PrintTable(std::cout, LeavesTable(t.resolved), format);
  return kExitOk;
}

// ---- diff ----

// NAME (a template here), FILE (a template file), or NAME@VERSION (stored in the database).
nlohmann::json ResolvedOf(const std::string& spec, const DatabaseOption& db) {
  std::error_code ec;
  if (fs::is_regular_file(spec, ec)) return models::LoadTemplateFile(spec).resolved;
  const auto at = spec.rfind('@');
  if (at == std::string::npos) return TemplateNamed(spec).resolved;
  const std::string name = spec.substr(0, at);
  int64_t version = 0;
  try {
    version = std::stoll(spec.substr(at + 1));
  } catch (const std::exception&) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is not NAME@VERSION (e.g. llama@2)", spec));
  }
  auto store = db.Open(/*read_only=*/true);
  const auto stored = store::FindStoredTemplate(*store, name, version);
  if (!stored)
    throw Error(ErrorKind::kNotFound,
                fmt::format("template '{}' version {} is not stored in database '{}'; `templates "
                            "validate` stores the templates of this tool",
                            name, version, db.Path()));
  return nlohmann::json::parse(stored->resolved_json);
}

int RunTemplatesDiff(const TemplatesOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  const std::string& a = o.names.at(0);
  const std::string& b = o.names.at(1);
  Table t{{"key", a, b}, {false, false, false}, {}, {false, true, true}};
  for (const JsonDifference& d : DiffJson(ResolvedOf(a, o.db), ResolvedOf(b, o.db)))
    t.rows.push_back({d.key, d.a ? std::optional(d.a->dump()) : std::nullopt,
                      d.b ? std::optional(d.b->dump()) : std::nullopt});
  if (t.rows.empty() && format != TableFormat::kJson) {
    std::cout << fmt::format("{} and {} resolve to the same template\n", a, b);
    return kExitOk;
  }
  PrintTable(std::cout, t, format);
  return kExitOk;
}

// ---- export ----

int RunTemplatesExport(const TemplatesOptions& o) {
  std::vector<const models::ArchitectureTemplate*> chosen;
  for (const std::string& name : o.names) chosen.push_back(&TemplateNamed(name));
  if (o.names.empty())
    for (const auto& t : models::Templates()) chosen.push_back(&t);
  std::error_code ec;
  fs::create_directories(o.output, ec);
  if (ec)
    throw Error(ErrorKind::kIo, fmt::format("cannot create folder '{}' ({}); pass --output with a "
                                            "folder you can write",
                                            o.output, ec.message()));
  for (const auto* t : chosen)
    WriteFileAtomically((fs::path(o.output) / (t->model_type + ".json")).string(),
                        t->resolved.dump(2) + "\n");
  std::cout << fmt::format("wrote {} resolved templates to {}\n", chosen.size(), o.output);
  return kExitOk;
}

// ---- report ----

Table ReportTable(TableFormat format,
                  const std::map<std::string, store::TemplateValidationRecord>& stored) {
  Table t{{"model_type", "status", "version", "parameters", "expected_parameters", "reason"},
          {false, false, true, true, true, false},
          {}};
  for (const auto& [model_type, v] : stored)
    t.rows.push_back({model_type, v.status,
                      v.version ? std::optional(std::to_string(*v.version)) : std::nullopt,
                      CountCell(v.parameters, format), CountCell(v.expected_parameters, format),
                      UnlessEmpty(v.reason)});
  return t;
}

int RunTemplatesReport(const TemplatesOptions& o) {
  const TableFormat format = ParseTableFormat(o.format);
  const auto stored = StoredValidations(o.db);
  if (stored.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("database '{}' holds no template validations; run `ipfs-accelerate "
                            "templates validate --all --db {}` first",
                            o.db.Path(), o.db.Path()));
  if (format == TableFormat::kMarkdown) std::cout << ReportHeading(stored) << "\n";
  PrintTable(std::cout, ReportTable(format, stored), format);
  return kExitOk;
}

// ---- registration ----

template <typename Fn>
void OnRun(CLI::App* cmd, CommandFn* selected, std::shared_ptr<TemplatesOptions> o, Fn fn) {
  cmd->callback([selected, o, fn] { *selected = [o, fn] { return fn(*o); }; });
}

void AddList(CLI::App* templates, CommandFn* selected) {
  auto* cmd = templates->add_subcommand(
      "list",
      "Every model type with a template: its builder, parent, version, and the status and\n"
      "parameter count its last `templates validate` stored (blank: not validated at this "
      "version).");
  auto o = std::make_shared<TemplatesOptions>();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->format, kTemplateFormats);
  OnRun(cmd, selected, o, RunTemplatesList);
}

void AddShow(CLI::App* templates, CommandFn* selected) {
  auto* cmd = templates->add_subcommand(
      "show",
      "One template with its inheritance resolved: every key and value (--format json: "
      "the resolved JSON).");
  auto o = std::make_shared<TemplatesOptions>();
  cmd->add_option("name", o->names, "the template's model_type (e.g. mistral)")
      ->required()
      ->expected(1);
  AddFormatOption(cmd, &o->format, kTemplateFormats);
  OnRun(cmd, selected, o, RunTemplatesShow);
}

void AddDiff(CLI::App* templates, CommandFn* selected) {
  auto* cmd = templates->add_subcommand(
      "diff",
      "Key-by-key difference of two resolved templates. Each side is a template's name, a\n"
      "template FILE, or NAME@VERSION as stored in the database (llama@1 llama@2).");
  auto o = std::make_shared<TemplatesOptions>();
  cmd->add_option("a b", o->names, "the two templates")->required()->expected(2);
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->format, kTemplateFormats);
  OnRun(cmd, selected, o, RunTemplatesDiff);
}

void AddExport(CLI::App* templates, CommandFn* selected) {
  auto* cmd = templates->add_subcommand(
      "export", "Write resolved templates (all, or the NAMEs given) as <model_type>.json files.");
  auto o = std::make_shared<TemplatesOptions>();
  cmd->add_option("name", o->names, "templates to write (default: every one)");
  cmd->add_option(std::string(kOutputOptionName) + ",--out", o->output, "folder to write into")
      ->required();
  OnRun(cmd, selected, o, RunTemplatesExport);
}

void AddReport(CLI::App* templates, CommandFn* selected) {
  auto* cmd = templates->add_subcommand(
      "report",
      "The latest validation outcome of every model type, from the database (Markdown adds a\n"
      "heading with the counts: scripts/template_status.sh writes docs/template-status.md).");
  auto o = std::make_shared<TemplatesOptions>();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->format, kTemplateFormats);
  OnRun(cmd, selected, o, RunTemplatesReport);
}

}  // namespace

void AddTemplatesCommand(CLI::App& app, CommandFn* selected) {
  auto* templates = app.add_subcommand(
      "templates",
      "Architecture templates: an architecture as data (the family builder it instantiates, HF's\n"
      "config defaults, its pieces), compiled in from data/templates and read from the folders\n"
      "of IPFS_ACCEL_TEMPLATE_PATH. Templates are stored in the results database with their\n"
      "history; `validate` builds each at its tiny size, runs it on CPU, and compares its\n"
      "parameter count at HF's default config with catalog_truth.json.");
  templates->require_subcommand(1);
  AddList(templates, selected);
  AddShow(templates, selected);
  AddValidateCommands(*templates, selected);
  AddDiff(templates, selected);
  AddExport(templates, selected);
  AddReport(templates, selected);
}

}  // namespace ipfs_accel::cli
