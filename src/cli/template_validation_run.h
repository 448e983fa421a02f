#pragma once
// `templates validate` and `templates add` (template_validation_run.cpp), and what the other
// `templates` subcommands share with them.

#include <map>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/store/template_records.h"

namespace ipfs_accel::cli {

// The --format values of every `templates` subcommand.
inline const std::vector<std::string> kTemplateFormats = {"text", "table", "markdown",
                                                          "md",   "csv",   "json"};

// The template `name` (a model_type or an abstract root). Throws core::Error(kNotFound) naming
// it and saying where the list is.
const models::ArchitectureTemplate& TemplateNamed(const std::string& name);

// The latest stored validation of each model type; none when the database does not exist yet
// or predates templates (schema < 9). Opens it read-only.
std::map<std::string, store::TemplateValidationRecord> StoredValidations(const DatabaseOption& db);

// The Markdown heading of `templates report`: what the table is, where it came from, and the
// count of each status.
std::string ReportHeading(const std::map<std::string, store::TemplateValidationRecord>& stored);

// Registers `validate` and `add` under `templates`.
void AddValidateCommands(CLI::App& templates, CommandFn* selected);

}  // namespace ipfs_accel::cli
