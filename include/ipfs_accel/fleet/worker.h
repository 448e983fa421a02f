#pragma once
// A fleet worker: claims the jobs its platforms can run, keeps each one's lease alive from a
// heartbeat thread while it runs, and stores each job's run in the transaction that marks the
// job done (job_queue.h). How a job is run is the caller's (the CLI runs the benchmark in a
// child process); this loop only knows the queue and the store.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "ipfs_accel/fleet/job_queue.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel::fleet {

struct JobOutcome {
  std::optional<store::RunResults> run;  // what the job measured
  std::string error;                     // else why not, one line
  // The job itself is wrong (a usage error, a model that cannot run that configuration):
  // another attempt would fail the same way, so the job is dead at once.
  bool permanent = false;
};
using RunJob = std::function<JobOutcome(const Job&)>;

struct WorkerOptions {
  std::string url;  // the PostgreSQL store
  WorkerInfo info;
  double lease_s = 30;   // renewed every lease_s / 3 while a job runs
  double poll_s = 1;     // pause when nothing is queued
  int64_t max_jobs = 0;  // stop after this many jobs (done or failed); 0: no limit
  // Stop when nothing for this worker is queued or running for this long; < 0: never.
  double idle_exit_s = -1;
  std::function<bool()> stop_requested = [] { return false; };
  std::function<void(const std::string&)> log = [](const std::string&) {};
};

struct WorkerSummary {
  int64_t done = 0;     // jobs whose run this worker stored
  int64_t failed = 0;   // attempts that failed (requeued or dead)
  int64_t refused = 0;  // results refused because the lease had expired
};

// Runs until stop_requested(), max_jobs, or idle_exit_s. Throws core::Error(kUnavailable)
// when the store cannot be reached at start; a connection lost later is opened again.
WorkerSummary RunWorker(const WorkerOptions& options, const RunJob& run_job);

}  // namespace ipfs_accel::fleet
