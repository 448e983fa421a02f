// `models`: the catalog of named architectures and sizes.

#include <iostream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/table_printer.h"
#include "ipfs_accel/models/catalog.h"

namespace ipfs_accel::cli {

void AddModelsCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "models",
      "List the catalog: names --model accepts without weights (seeded random weights at the\n"
      "named checkpoint's real shape). --model also takes a Hugging Face folder or an .onnx file.");
  auto format = std::make_shared<std::string>("table");
  cmd->add_option("--format", *format, "table, md, csv or json")->capture_default_str();
  cmd->callback([selected, format] {
    *selected = [format] {
      Table t{{"name", "aliases", "architecture", "modality", "shape_of"}, {}, {}};
      for (const auto& e : models::Catalog())
        t.rows.push_back({e.name, fmt::format("{}", fmt::join(e.aliases, " ")), e.architecture,
                          e.modality, e.hf_id});
      PrintTable(std::cout, t, ParseTableFormat(*format));
      return kExitOk;
    };
  });
}

}  // namespace ipfs_accel::cli
