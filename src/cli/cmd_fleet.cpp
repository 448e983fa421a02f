// `fleet submit|worker|status`: a benchmark sweep as jobs on the PostgreSQL store, workers on
// any machine that take the jobs their hardware can run, and the queue's state (fleet/).

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/content_ids.h"
#include "cli/exit_codes.h"
#include "cli/fleet_job_run.h"
#include "cli/interrupt.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/fleet/job_queue.h"
#include "ipfs_accel/fleet/worker.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/runtime/platforms.h"
#include "ipfs_accel/store/postgres_store.h"

namespace ipfs_accel::cli {
namespace {

using core::Error;
using core::ErrorKind;
namespace fs = std::filesystem;

// The fleet works on a PostgreSQL store only: a DuckDB file has one machine's lock.
std::string FleetUrl(const DatabaseOption& db) {
  const std::string url = db.Path();
  if (!store::IsPostgresUrl(url))
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("the fleet needs a PostgreSQL store, not '{}'; pass --db "
                    "postgresql://HOST/DB (see scripts/postgres_cluster.sh for a local one)",
                    url));
  return url;
}

struct SubmitOptions {
  DatabaseOption db;
  std::string model;
  std::vector<std::string> hardware = {"cpu"};
  std::vector<int> batch_sizes = {1};
  std::vector<int> seq_lens = {128};
  std::vector<std::string> precisions = {"fp32"};
  std::vector<std::string> graphs = {"plain"};
  int max_attempts = 3;
  std::vector<std::string> benchmark_args;
  bool json = false;
};

int RunSubmit(const SubmitOptions& o) {
  const std::string url = FleetUrl(o.db);
  std::optional<std::string> cid;
  if (fs::exists(o.model)) cid = PathContentCid(o.model);
  std::vector<fleet::JobSpec> jobs;
  for (const auto& hardware : o.hardware)
    for (int batch : o.batch_sizes)
      for (int seq : o.seq_lens)
        for (const auto& precision : o.precisions)
          for (const auto& graph : o.graphs) {
            std::vector<std::string> args = {"--batch-size", std::to_string(batch),
                                             "--seq-len",    std::to_string(seq),
                                             "--precision",  precision,
                                             "--graph",      graph};
            args.insert(args.end(), o.benchmark_args.begin(), o.benchmark_args.end());
            jobs.push_back({o.model, cid, hardware, args});
          }
  store::ResultStore::Open(url, o.db.Options());  // creates or migrates the schema
  const std::string sweep = fleet::JobQueue(url).Submit(jobs, o.max_attempts);
  if (o.json) {
    std::cout << nlohmann::ordered_json{{"sweep_id", sweep},
                                        {"jobs", jobs.size()},
                                        {"model", o.model},
                                        {"model_cid", cid ? nlohmann::json(*cid) : nullptr},
                                        {"store", store::RedactedUrl(url)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("{}: {} jobs for {}{} queued on {}\n", sweep, jobs.size(), o.model,
                             cid ? " (" + *cid + ")" : std::string(" (no bytes: generated)"),
                             store::RedactedUrl(url));
  }
  return kExitOk;
}

struct WorkerCliOptions {
  DatabaseOption db;
  std::vector<std::string> hardware;  // empty: every platform available here
  std::string worker_id;
  std::string models_dir;
  std::string gateway;
  double lease_s = 30;
  double poll_s = 1;
  double job_timeout_s = 3600;
  int64_t max_jobs = 0;
  double idle_exit_s = -1;
};

std::vector<std::string> AvailablePlatforms(const hw::HardwareReport& report) {
  std::vector<std::string> platforms;
  for (const auto& p : runtime::PlatformAvailability(report))
    if (p.available) platforms.push_back(p.platform);
  return platforms;
}

int RunWorkerCommand(const WorkerCliOptions& o) {
  const std::string url = FleetUrl(o.db);
  const hw::HardwareReport report = hw::Detect();
  fleet::WorkerOptions w;
  w.url = url;
  w.info.hostname = report.host.hostname;
  w.info.worker_id =
      o.worker_id.empty() ? fmt::format("{}-{}", report.host.hostname, ::getpid()) : o.worker_id;
  w.info.platforms = o.hardware.empty() ? AvailablePlatforms(report) : o.hardware;
  w.info.hardware_json = nlohmann::json(report).dump();
  w.lease_s = o.lease_s;
  w.poll_s = o.poll_s;
  w.max_jobs = o.max_jobs;
  w.idle_exit_s = o.idle_exit_s;
  const InterruptGuard interrupts;
  w.stop_requested = [] { return PendingInterrupt() != 0; };
  w.log = [](const std::string& line) { std::cerr << "fleet worker: " << line << "\n"; };
  std::cerr << fmt::format("fleet worker {}: platforms {} on {}\n", w.info.worker_id,
                           fmt::join(w.info.platforms, ","), store::RedactedUrl(url));
  const FleetJobRunner runner(
      {.models_dir = o.models_dir, .gateway = o.gateway, .timeout_s = o.job_timeout_s});
  const fleet::WorkerSummary s =
      fleet::RunWorker(w, [&](const fleet::Job& job) { return runner.Run(job); });
  std::cerr << fmt::format("fleet worker {}: {} done, {} failed, {} refused (lease lost)\n",
                           w.info.worker_id, s.done, s.failed, s.refused);
  return kExitOk;
}

struct StatusOptions {
  DatabaseOption db;
  bool json = false;
};

nlohmann::ordered_json StatusJson(const fleet::QueueStatus& s) {
  nlohmann::ordered_json j = {
      {"jobs", {{"queued", s.queued}, {"running", s.running}, {"done", s.done}, {"dead", s.dead}}},
      {"workers", nlohmann::json::array()},
      {"unfinished", nlohmann::json::array()}};
  for (const auto& w : s.workers)
    j["workers"].push_back({{"worker_id", w.worker_id},
                            {"hostname", w.hostname},
                            {"platforms", w.platforms},
                            {"devices", w.devices},
                            {"state", w.state},
                            {"jobs_done", w.jobs_done},
                            {"heartbeat_at", w.heartbeat_at},
                            {"heartbeat_age_s", w.heartbeat_age_s}});
  for (const auto& job : s.jobs)
    j["unfinished"].push_back({{"job_id", job.job_id},
                               {"model", job.model},
                               {"platform", job.platform},
                               {"state", job.state},
                               {"attempts", job.attempts},
                               {"worker_id", job.worker_id},
                               {"last_error", job.last_error}});
  return j;
}

int RunStatus(const StatusOptions& o) {
  const std::string url = FleetUrl(o.db);
  store::ResultStore::Open(url, o.db.Options(/*read_only=*/true));  // the schema is there
  const fleet::QueueStatus s = fleet::JobQueue(url).Status();
  if (o.json) {
    std::cout << StatusJson(s).dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("jobs: {} queued, {} running, {} done, {} dead\n", s.queued, s.running,
                           s.done, s.dead);
  std::cout << fmt::format("workers ({}):\n", s.workers.size());
  for (const auto& w : s.workers)
    std::cout << fmt::format(
        "  {:<24} {:<8} {:>5} done  platforms {:<16} heartbeat {:.0f} s ago  on {} ({})\n",
        w.worker_id, w.state, w.jobs_done, w.platforms, w.heartbeat_age_s, w.hostname, w.devices);
  if (!s.jobs.empty()) std::cout << "unfinished jobs (first 50):\n";
  for (const auto& job : s.jobs)
    std::cout << fmt::format("  #{:<6} {:<8} attempt {} {} on {}{}\n", job.job_id, job.state,
                             job.attempts, job.model, job.platform,
                             job.last_error.empty() ? "" : ": " + job.last_error);
  return kExitOk;
}

void AddSubmit(CLI::App& fleet, CommandFn* selected) {
  auto* cmd = fleet.add_subcommand(
      "submit",
      "Queue a benchmark sweep as jobs on the fleet store: one job per hardware x batch size x\n"
      "sequence length x precision x graph, naming the model by the CID of its bytes. Options\n"
      "after `--` go to every job's `benchmark` (e.g. -- --iterations 32 --min-time 0).");
  auto o = std::make_shared<SubmitOptions>();
  o->db.Add(cmd);
  cmd->add_option(kModelOptionName, o->model,
                  "a model folder or .onnx file (its CID is stored with each job), or a catalog "
                  "name (generated weights: no CID)")
      ->required();
  cmd->add_option("--hardware", o->hardware, "platforms, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("-b,--batch-sizes", o->batch_sizes)->delimiter(',')->capture_default_str();
  cmd->add_option("-s,--seq-lens", o->seq_lens)->delimiter(',')->capture_default_str();
  cmd->add_option("--precisions", o->precisions)->delimiter(',')->capture_default_str();
  cmd->add_option("--graphs", o->graphs)->delimiter(',')->capture_default_str();
  cmd->add_option("--max-attempts", o->max_attempts,
                  "attempts before a job is dead (a failure or an expired lease uses one)")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  cmd->allow_extras();  // after `--`: the benchmark's own options
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o, cmd] {
    for (const auto& arg : cmd->remaining())
      if (arg != "--") o->benchmark_args.push_back(arg);
    *selected = [o] { return RunSubmit(*o); };
  });
}

void AddWorker(CLI::App& fleet, CommandFn* selected) {
  auto* cmd = fleet.add_subcommand(
      "worker",
      "Take jobs from the fleet store and run them, each `benchmark` in a process of its own,\n"
      "storing each job's run in the transaction that marks it done. The lease on a job is\n"
      "renewed while it runs; a worker that dies loses it and the job is retried elsewhere.\n"
      "Ctrl-C stops after the job under way.");
  auto o = std::make_shared<WorkerCliOptions>();
  o->db.Add(cmd);
  cmd->add_option("--hardware", o->hardware,
                  "platforms to take jobs for (default: every platform `detect` finds usable)")
      ->delimiter(',');
  cmd->add_option("--worker-id", o->worker_id, "this worker's name (default: HOSTNAME-PID)");
  cmd->add_option("--models-dir", o->models_dir,
                  "where models fetched by CID are kept (default: "
                  "$XDG_CACHE_HOME/ipfs-accelerate/models)");
  cmd->add_option("--gateway", o->gateway,
                  "http://HOST:PORT of an IPFS gateway to fetch models this machine lacks");
  cmd->add_option("--lease", o->lease_s, "seconds a job stays this worker's without a heartbeat")
      ->check(CLI::Range(1.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--poll", o->poll_s, "seconds between looks at an empty queue")
      ->check(CLI::Range(0.01, 3600.0))
      ->capture_default_str();
  cmd->add_option("--job-timeout", o->job_timeout_s, "seconds before a job's process is killed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-jobs", o->max_jobs, "stop after this many jobs (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--idle-exit", o->idle_exit_s,
                  "stop once nothing for this worker is queued or running for this many seconds");
  cmd->callback([selected, o] { *selected = [o] { return RunWorkerCommand(*o); }; });
}

void AddStatus(CLI::App& fleet, CommandFn* selected) {
  auto* cmd = fleet.add_subcommand(
      "status",
      "Jobs by state, the workers with their platforms and last heartbeat, and the\n"
      "jobs not done yet with their last error.");
  auto o = std::make_shared<StatusOptions>();
  o->db.Add(cmd);
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunStatus(*o); }; });
}

}  // namespace

void AddFleetCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "fleet",
      "Benchmarks across machines: a job queue on the PostgreSQL store (--db postgresql://...).");
  cmd->require_subcommand(1);
  AddSubmit(*cmd, selected);
  AddWorker(*cmd, selected);
  AddStatus(*cmd, selected);
}

}  // namespace ipfs_accel::cli
