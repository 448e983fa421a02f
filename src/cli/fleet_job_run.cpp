#include "cli/fleet_job_run.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "cli/content_ids.h"
#include "cli/exit_codes.h"
#include "cli/self_process.h"
#include "ipfs_accel/content/cid.h"
#include "ipfs_accel/content/gateway.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/http_url.h"
#include "ipfs_accel/core/removed_at_exit.h"
#include "ipfs_accel/store/maintenance.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel::cli {
namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

std::string DefaultModelsDir() {
  const char* cache = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path base = cache && *cache ? fs::path(cache)
                        : home && *home ? fs::path(home) / ".cache"
                                        : fs::temp_directory_path();
  return (base / "ipfs-accelerate" / "models").string();
}

// The last non-empty line of a file (a child's stderr: its one-line error).
std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

FleetJobRunner::FleetJobRunner(FleetJobRunnerOptions options) : options_(std::move(options)) {
  if (options_.models_dir.empty()) options_.models_dir = DefaultModelsDir();
}

std::string FleetJobRunner::LocalModel(const fleet::JobSpec& spec) const {
  if (!spec.model_cid) return spec.model;  // a catalog name: nothing to fetch
  const std::string& cid = *spec.model_cid;
  if (fs::exists(spec.model)) {
    auto [it, added] = path_cids_.try_emplace(spec.model);
    if (added) it->second = PathContentCid(spec.model);
    if (it->second == cid) return spec.model;
  }
  // A folder is kept as models/CID; an .onnx file as models/CID/NAME.onnx, since `benchmark`
  // knows a model file by its extension.
  const fs::path folder = fs::path(options_.models_dir) / cid;
  const bool file = fs::path(spec.model).extension() == ".onnx";
  const std::string cached = (file ? folder / fs::path(spec.model).filename() : folder).string();
  if (fs::exists(cached)) return cached;
  if (options_.gateway.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("model {} is not on this machine ({} is absent or other bytes, and "
                            "{} is absent); start the worker with --gateway to fetch it",
                            cid, spec.model, cached));
  fs::create_directories(file ? folder : fs::path(options_.models_dir));
  content::FetchFromGateway(core::ParseHttpUrl(options_.gateway, "the gateway"),
                            content::ParseCid(cid), cached);
  return cached;
}

fleet::JobOutcome FleetJobRunner::Run(const fleet::Job& job) const {
  try {
    const std::string model = LocalModel(job.spec);
    std::string dir = (fs::temp_directory_path() / "ipfs-accelerate-fleet-XXXXXX").string();
    if (!::mkdtemp(dir.data()))
      throw Error(ErrorKind::kIo, fmt::format("cannot create a scratch folder under {}",
                                              fs::temp_directory_path().string()));
    const core::RemovedAtExit cleanup(dir);
    const std::string db = (fs::path(dir) / "job.duckdb").string();
    std::vector<std::string> args = {
        "benchmark",   "--model", model,      "--hardware", job.spec.platform, "--db", db,
        "--lock-wait", "0",       "--format", "json"};
    args.insert(args.end(), job.spec.arguments.begin(), job.spec.arguments.end());
    const SelfExit exit = RunSelf({.args = args,
                                   .timeout_s = options_.timeout_s,
                                   .stdout_path = (fs::path(dir) / "out.json").string(),
                                   .stderr_path = (fs::path(dir) / "err.txt").string()});
    const std::string err = LastLine((fs::path(dir) / "err.txt").string());
    if (exit.timed_out)
      return {std::nullopt, fmt::format("killed after --job-timeout {} s", options_.timeout_s)};
    if (exit.signal != 0) return {std::nullopt, fmt::format("died of signal {}", exit.signal)};
    if (exit.status != 0) {
      // Usage, not found, corrupt input, unsupported: the job is wrong, not the machine.
      const bool permanent = exit.status >= kExitUsage && exit.status <= kExitUnsupported;
      return {std::nullopt, fmt::format("benchmark exited with status {}: {}", exit.status, err),
              permanent};
    }
    auto store = store::ResultStore::Open(db, {.read_only = true, .lock_wait_s = 0});
    const store::QueryResult runs = store->Query("SELECT run_id FROM runs");
    if (runs.rows.size() != 1 || !runs.rows[0][0])
      return {std::nullopt, fmt::format("benchmark stored {} runs, not one", runs.rows.size())};
    return {store::ReadStoredRun(*store, *runs.rows[0][0]), ""};
  } catch (const Error& e) {
    return {std::nullopt, e.what()};
  }
}

}  // namespace ipfs_accel::cli
