// `bundle export --run ID -o FILE.car` / `bundle import FILE.car`: a run's results and the
// configs of the models it measured as one CARv1, a UnixFS directory (CIDv1) that any IPFS tool
// reads:
//   run.json                      the run export (`db export --format run-json`)
//   models/<name>/config.json     each model's config: its folder's config.json byte for byte
//                                 (so its CID is the one inside the model's own CID), or the
//                                 catalog's; none for an .onnx file
// Import checks every block against its CID before using a byte, rebuilds the folder from the
// root, and imports run.json as `db import` does (a run already stored is skipped).

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "ipfs_accel/content/car.h"
#include "ipfs_accel/content/unixfs_extract.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"
#include "ipfs_accel/core/mapped_file.h"
#include "ipfs_accel/core/removed_at_exit.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/store/json_import.h"
#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/run_ref.h"

namespace ipfs_accel::cli {

namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

struct BundleOptions {
  DatabaseOption db;
  std::string run = "latest";
  std::string output;
  std::string car;
  bool json = false;
};

// A folder made in `near`'s folder (export: beside the output, so the CAR's rename stays on one
// file system; import: the system's temporary folder). The caller holds it in a
// core::RemovedAtExit.
fs::path MakeScratchDir(const fs::path& near) {
  const fs::path parent = near.parent_path().empty() ? fs::path(".") : near.parent_path();
  std::string templ = (parent / ".ipfs-accelerate-bundle-XXXXXX").string();
  if (!::mkdtemp(templ.data()))
    throw Error(ErrorKind::kIo, fmt::format("cannot create a scratch folder in '{}': {}",
                                            parent.string(), std::strerror(errno)));
  return templ;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  if (!out.flush()) throw Error(ErrorKind::kIo, fmt::format("cannot write '{}'", path.string()));
}

// The config a stored model was built from, or nullopt (an .onnx file, a folder gone since).
std::optional<std::string> ModelConfig(const std::string& name, const std::string& source,
                                       const std::string& source_path) {
  if (!source_path.empty()) {
    const fs::path config = fs::path(source_path) / "config.json";
    std::error_code ec;
    if (fs::is_regular_file(config, ec)) return core::ReadRegularFile(config.string());
    return std::nullopt;
  }
  if (source == "catalog")
    if (const auto entry = models::FindInCatalog(name)) return entry->config.json().dump(2) + "\n";
  return std::nullopt;
}

// Writes models/<name>/config.json under `dir` for each model of run `run_id`; returns how many.
int WriteModelConfigs(store::ResultStore& db, const std::string& run_id, const fs::path& dir) {
  const auto models = db.Query(
      "SELECT name, source, source_path FROM models WHERE model_id IN (SELECT model_id FROM "
      "performance_results WHERE run_id = $1 UNION SELECT model_id FROM compatibility_results "
      "WHERE run_id = $1) ORDER BY model_id",
      {run_id});
  std::set<std::string> used;
  int written = 0;
  for (const auto& row : models.rows) {
    const std::string name = row[0].value_or("model");
    const auto config = ModelConfig(name, row[1].value_or(""), row[2].value_or(""));
    if (!config) continue;
    std::string base = name;
    for (char& c : base)
      if (c == '/' || c == '\\' || c == '\0') c = '_';
    if (base.empty() || base[0] == '.') base = "model" + base;
    std::string entry = base;
    for (int n = 2; !used.insert(entry).second; ++n) entry = fmt::format("{}-{}", base, n);
    WriteFile(dir / "models" / entry / "config.json", *config);
    ++written;
  }
  return written;
}

int RunBundleExport(const BundleOptions& o) {
  if (fs::exists(o.output))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' exists; give a new file name to -o", o.output));
  auto db = o.db.Open(/*read_only=*/true);
  const std::string run_id = store::ResolveRunRef(*db, o.run);
  const core::RemovedAtExit scratch(MakeScratchDir(fs::absolute(o.output)));
  const fs::path folder = scratch.path() / "bundle";
  fs::create_directories(folder);
  {
    std::ofstream out(folder / "run.json", std::ios::binary);
    store::RunExportWriter writer(out);
    store::WriteStoredRun(*db, run_id, writer);
    if (!out.flush())
      throw Error(ErrorKind::kIo, fmt::format("cannot write the run into '{}'", o.output));
  }
  const int configs = WriteModelConfigs(*db, run_id, folder);
  const content::ImportedPath car =
      content::WriteCarFile(folder.string(), o.output, {.cid_version = 1});
  if (o.json) {
    nlohmann::ordered_json j{{"car", o.output},
                             {"root", car.root.cid.ToString()},
                             {"run_id", run_id},
                             {"model_configs", configs},
                             {"entries", nlohmann::ordered_json::array()}};
    for (const auto& e : car.entries)
      j["entries"].push_back({{"path", e.path}, {"cid", e.imported.cid.ToString()}});
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{}: run {} and {} model config(s) as {}\n", o.output, run_id, configs,
                           car.root.cid.ToString());
  for (const auto& e : car.entries)
    if (!e.directory) std::cout << fmt::format("  {}  {}\n", e.imported.cid.ToString(), e.path);
  return kExitOk;
}

int RunBundleImport(const BundleOptions& o) {
  const core::MappedFile car(o.car);
  content::CarReader reader(car.text(), o.car);
  if (reader.roots().size() != 1)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' has {} roots; a bundle has one", o.car, reader.roots().size()));
  const content::Cid root = reader.roots()[0];
  const content::BlockSet blocks = content::BlockSet::FromCar(reader);  // every block checked
  const core::RemovedAtExit scratch(MakeScratchDir(fs::temp_directory_path() / "bundle"));
  const fs::path folder = scratch.path() / "bundle";
  content::ExtractUnixfs(blocks, root, folder.string());
  const fs::path run_json = folder / "run.json";
  if (!fs::is_regular_file(run_json))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' (root {}) holds no run.json; it is not a results bundle", o.car,
                            root.ToString()));
  const store::ImportResult parsed =
      store::ParseResultText(core::ReadRegularFile(run_json.string(), uint64_t{1} << 40), o.car);
  if (parsed.shape != store::kShapeRunExport)
    throw Error(ErrorKind::kCorrupt, fmt::format("run.json in '{}' is a {} file, not a run export",
                                                 o.car, parsed.shape));
  auto db = o.db.Open();
  std::vector<const store::RunResults*> to_write;
  for (const auto& run : parsed.runs)
    if (!store::RunIsStored(*db, run.run.run_id)) to_write.push_back(&run);
  db->WriteRuns(to_write);
  const size_t skipped = parsed.runs.size() - to_write.size();
  if (o.json) {
    std::cout << nlohmann::ordered_json{{"car", o.car},
                                        {"root", root.ToString()},
                                        {"runs", to_write.size()},
                                        {"already_imported", skipped}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{} ({}): every block verified; imported {} run(s){}\n", o.car,
                           root.ToString(), to_write.size(),
                           skipped ? fmt::format(", {} already stored, skipped", skipped) : "");
  return kExitOk;
}

}  // namespace

void AddBundleCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "bundle",
      "A run's results and its models' configs as one CAR file (CARv1, a UnixFS folder with\n"
      "CIDv1: run.json, models/<name>/config.json), so results travel with the identity of\n"
      "what they measured.");
  cmd->require_subcommand(1);
  auto o = std::make_shared<BundleOptions>();

  auto* exp = cmd->add_subcommand("export", "Write a stored run and its models' configs as a CAR");
  o->db.Add(exp);
  exp->add_option("--run", o->run, "the run: id, unique prefix, latest, latest~N")
      ->capture_default_str();
  exp->add_option(kOutputOptionName, o->output, "the CAR file to write (must not exist)")
      ->required();
  AddFormatOption(exp, &o->json);
  exp->callback([selected, o] { *selected = [o] { return RunBundleExport(*o); }; });

  auto* imp = cmd->add_subcommand(
      "import",
      "Import a bundle's run: every block is checked against its CID first (a tampered block\n"
      "is refused, named); a run already stored is skipped.");
  o->db.Add(imp);
  imp->add_option("CAR", o->car, "the bundle's CAR file")->required();
  AddFormatOption(imp, &o->json);
  imp->callback([selected, o] { *selected = [o] { return RunBundleImport(*o); }; });
}

}  // namespace ipfs_accel::cli
