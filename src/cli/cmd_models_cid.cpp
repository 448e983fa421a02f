// `models cid PATH`: the IPFS CID of a model file or folder, as `ipfs add` (or `ipfs add -r`)
// computes it, without an IPFS node.

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "ipfs_accel/content/unixfs.h"

namespace ipfs_accel::cli {

namespace {

struct CidOptions {
  std::string path;
  int cid_version = 0;
  bool json = false;
};

nlohmann::ordered_json ImportedJson(const content::Imported& i) {
  nlohmann::ordered_json j;
  j["cid"] = i.cid.ToString();
  j["size"] = i.size;
  j["dag_size"] = i.dag_size;
  return j;
}

// Text as `ipfs add` prints it: a line per entry, the root last, named as given.
int RunCid(const CidOptions& o) {
  const content::ImportedPath imported =
      content::ImportPath(o.path, {.cid_version = o.cid_version});
  if (o.json) {
    nlohmann::ordered_json j;
    j["path"] = o.path;
    j["cid_version"] = o.cid_version;
    j["directory"] = imported.directory;
    j.update(ImportedJson(imported.root));
    j["entries"] = nlohmann::ordered_json::array();
    for (const auto& e : imported.entries) {
      nlohmann::ordered_json entry{{"path", e.path}, {"directory", e.directory}};
      entry.update(ImportedJson(e.imported));
      j["entries"].push_back(std::move(entry));
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::filesystem::path root = std::filesystem::path(o.path).lexically_normal();
  if (!root.has_filename()) root = root.parent_path();  // "model/"
  const std::string root_name = root.filename().string();
  for (const auto& e : imported.entries)
    std::cout << fmt::format("{}  {}/{}\n", e.imported.cid.ToString(), root_name, e.path);
  std::cout << fmt::format("{}  {}\n", imported.root.cid.ToString(), root_name);
  return kExitOk;
}

}  // namespace

void AddModelsCidCommand(CLI::App& models, CommandFn* selected) {
  auto* cmd = models.add_subcommand(
      "cid",
      "The IPFS CID of a model file or folder (config.json + safetensors shards), exactly as\n"
      "`ipfs add` (or `ipfs add -r`) computes it by default: 256 KiB chunks, balanced DAG of up\n"
      "to 174 links, CIDv0 Qm...; --cid-version 1 as `ipfs add --cid-version 1` (raw leaves,\n"
      "bafy.../bafk...). Hidden entries are left out and symlinks followed. Prints each entry's\n"
      "CID and path, the root last.");
  auto o = std::make_shared<CidOptions>();
  cmd->add_option("PATH", o->path, "a file or folder")->required();
  cmd->add_option("--cid-version", o->cid_version, "0 (Qm..., the default) or 1 (bafy...)")
      ->check(CLI::IsMember({0, 1}))
      ->capture_default_str();
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunCid(*o); }; });
}

}  // namespace ipfs_accel::cli
