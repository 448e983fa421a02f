// `models`: the catalog of named architectures and sizes.

#include <algorithm>
#include <iostream>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_units.h"
#include "cli/table_printer.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::cli {

namespace {

struct Listed {
  const models::CatalogEntry* entry;
  std::optional<int64_t> parameters;  // unset when the architecture cannot be built here
};

std::optional<int64_t> ParametersOf(const models::CatalogEntry& e) {
  try {
    return models::CountParameters(e.config);
  } catch (const core::Error&) {
    return std::nullopt;
  }
}

// The catalog by family (modality, then architecture), then size.
std::vector<Listed> SortedCatalog() {
  std::vector<Listed> listed;
  for (const auto& e : models::Catalog()) listed.push_back({&e, ParametersOf(e)});
  std::stable_sort(listed.begin(), listed.end(), [](const Listed& a, const Listed& b) {
    return std::tie(a.entry->modality, a.entry->architecture, a.parameters) <
           std::tie(b.entry->modality, b.entry->architecture, b.parameters);
  });
  return listed;
}

// JSON gets the aliases as a list, the other formats as words; text and Markdown round the
// parameter counts (4.4M), CSV and JSON keep them exact.
Table CatalogTable(TableFormat format) {
  const bool json = format == TableFormat::kJson;
  const bool exact = json || format == TableFormat::kCsv;
  Table t{{"name", "aliases", "architecture", "modality", "parameters", "fp32_size", "shape_of"},
          {false, false, false, false, true, false, false},
          {},
          {false, json, false, false, false, false, false}};
  for (const auto& [e, parameters] : SortedCatalog()) {
    const std::string aliases =
        json ? nlohmann::json(e->aliases).dump() : fmt::format("{}", fmt::join(e->aliases, " "));
    t.rows.push_back(
        {e->name, aliases, e->architecture, e->modality,
         parameters ? std::optional(exact ? std::to_string(*parameters) : HumanCount(*parameters))
                    : std::nullopt,
         parameters ? std::optional(HumanBytes(static_cast<uint64_t>(*parameters) * 4))
                    : std::nullopt,
         e->hf_id});
  }
  return t;
}

}  // namespace

void AddModelsCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "models",
      "List the catalog: names --model accepts without weights (seeded random weights at the\n"
      "named checkpoint's real shape), by family then size, with their parameters and fp32\n"
      "weight size. --model also takes a Hugging Face folder or an .onnx file.");
  auto format = std::make_shared<std::string>("table");
  AddFormatOption(cmd, format.get(), {"table", "md", "csv", "json"});
  AddModelsCidCommand(*cmd, selected);
  AddModelsFetchCommand(*cmd, selected);
  // CLI11 runs this after a subcommand's callback: the subcommand's choice stands.
  cmd->callback([selected, format, cmd] {
    if (!cmd->get_subcommands().empty()) return;
    *selected = [format] {
      const TableFormat table_format = ParseTableFormat(*format);
      PrintTable(std::cout, CatalogTable(table_format), table_format);
      return kExitOk;
    };
  });
}

}  // namespace ipfs_accel::cli
