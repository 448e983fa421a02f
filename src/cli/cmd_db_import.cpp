// `db import FILE...`: result files (the legacy system's JSON, or this tool's run export) into
// the results database. Every file is read and checked before anything is written, and all of
// them are written in one transaction, so a bad file or a killed import leaves the database as
// it was; a run already stored (same run id) is skipped.

#include <filesystem>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/result_store.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::cli {

namespace {

struct ImportOptions {
  DatabaseOption db;
  std::vector<std::string> files;
  bool json = false;
  bool dry_run = false;
};

struct FileSummary {
  const store::ImportResult* file = nullptr;
  int runs = 0, skipped = 0;
  size_t performance_rows = 0, compatibility_rows = 0;
};

int RunImport(const ImportOptions& o) {
  // Parse and check everything first: a bad file ends the command before any write.
  std::vector<store::ImportResult> files;
  for (const auto& f : o.files) files.push_back(store::ParseResultFile(f));

  std::unique_ptr<store::ResultStore> db;
  if (!o.dry_run)
    db = o.db.Open();
  else if (std::filesystem::exists(o.db.Path()))
    db = o.db.Open(/*read_only=*/true);

  std::vector<FileSummary> summaries;
  std::vector<const store::RunResults*> to_write;
  std::set<std::string> seen;  // the same file twice on one command line
  for (const auto& file : files) {
    FileSummary s{.file = &file};
    for (const auto& run : file.runs) {
      if (seen.count(run.run.run_id) || (db && store::RunIsStored(*db, run.run.run_id))) {
        ++s.skipped;
        continue;
      }
      seen.insert(run.run.run_id);
      to_write.push_back(&run);
      ++s.runs;
      for (const auto& e : run.entries) {
        s.performance_rows += e.performance.size();
        s.compatibility_rows += e.compatibility.size();
      }
    }
    summaries.push_back(s);
  }
  // Every file's runs in one transaction: an import killed or failing halfway leaves the
  // database as it was.
  if (!o.dry_run) db->WriteRuns(to_write);

  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : summaries)
      out.push_back({{"file", s.file->path},
                     {"shape", s.file->shape},
                     {"runs", s.runs},
                     {"already_imported", s.skipped},
                     {"performance_rows", s.performance_rows},
                     {"compatibility_rows", s.compatibility_rows},
                     {"unmapped", s.file->unmapped},
                     {"dry_run", o.dry_run}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& s : summaries) {
    std::cout << fmt::format(
        "{}: {}: {} {} run(s), {} performance row(s), {} compatibility row(s){}\n", s.file->path,
        s.file->shape, o.dry_run ? "would import" : "imported", s.runs, s.performance_rows,
        s.compatibility_rows,
        s.skipped ? fmt::format("; {} run(s) already imported, skipped", s.skipped) : "");
    for (const auto& line : s.file->unmapped) std::cout << "  not mapped: " << line << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddDbImportCommand(CLI::App& db, CommandFn* selected) {
  auto* cmd = db.add_subcommand(
      "import",
      "Import result files (JSON) into the results database: the legacy Python system's three\n"
      "shapes, or this tool's run export. Every file is checked before anything is written;\n"
      "runs already imported are skipped. Imported runs are marked origin = 'imported'.");
  auto o = std::make_shared<ImportOptions>();
  o->db.Add(cmd);
  cmd->add_option("FILE", o->files, "result files to import")->required();
  AddFormatOption(cmd, &o->json);
  cmd->add_flag("--dry-run", o->dry_run, "read and check the files, write nothing");
  cmd->callback([selected, o] { *selected = [o] { return RunImport(*o); }; });
}

}  // namespace ipfs_accel::cli
