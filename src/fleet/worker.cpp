#include "ipfs_accel/fleet/worker.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::fleet {
namespace {

using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

// Renews a job's lease every lease_s / 3 on a connection of its own until stopped.
class LeaseKeeper {
 public:
  LeaseKeeper(const WorkerOptions& options, const Job& job)
      : thread_([this, &options, job] { Keep(options, job); }) {}
  ~LeaseKeeper() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

 private:
  void Keep(const WorkerOptions& options, const Job& job) {
    std::unique_ptr<JobQueue> queue;
    const auto period = std::chrono::duration<double>(options.lease_s / 3);
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, period, [this] { return stop_; })) {
      try {
        if (!queue) queue = std::make_unique<JobQueue>(options.url);
        if (!queue->Renew(job, options.info.worker_id, options.lease_s))
          options.log(
              fmt::format("job {}: the lease was lost; its result will be refused", job.job_id));
      } catch (const Error& e) {
        queue.reset();  // a new connection next time
        options.log(fmt::format("job {}: renewing the lease failed: {}", job.job_id, e.what()));
      }
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is built
};

// Stores the job's run and marks it done in one transaction; a lost connection is retried (a
// commit that landed unseen is then refused as no longer ours, and nothing is stored twice).
void StoreJobRun(store::PostgresResultStore& store, const Job& job, const JobOutcome& outcome,
                 const WorkerOptions& options, WorkerSummary& summary) {
  const auto condition =
      JobQueue::CompletionCondition(job, options.info.worker_id, outcome.run->run.run_id);
  for (int attempt = 1;; ++attempt) {
    try {
      store.WriteRunIf(*outcome.run, condition);
      ++summary.done;
      options.log(fmt::format("job {} done: run {}", job.job_id, outcome.run->run.run_id));
      return;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInvalidArgument) {
        ++summary.refused;
        options.log(fmt::format("job {}: {}", job.job_id, e.what()));
        return;
      }
      if (e.kind() != ErrorKind::kUnavailable || attempt == 5) throw;
      options.log(fmt::format("job {}: {}; trying again", job.job_id, e.what()));
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
  }
}

}  // namespace

WorkerSummary RunWorker(const WorkerOptions& options, const RunJob& run_job) {
  auto store = store::PostgresResultStore::Open(options.url, {});
  JobQueue queue(options.url);
  const std::string& me = options.info.worker_id;
  queue.RegisterWorker(options.info);
  WorkerSummary summary;
  auto idle_since = Clock::now();
  while (!options.stop_requested()) {
    if (options.max_jobs > 0 && summary.done + summary.failed + summary.refused >= options.max_jobs)
      break;
    queue.ReclaimExpired();
    const std::optional<Job> job = queue.Claim(me, options.info.platforms, options.lease_s);
    if (!job) {
      queue.WorkerHeartbeat(me, "idle", summary.done);
      const double idle = std::chrono::duration<double>(Clock::now() - idle_since).count();
      if (options.idle_exit_s >= 0 && idle >= options.idle_exit_s &&
          !queue.HasWork(options.info.platforms))
        break;
      std::this_thread::sleep_for(std::chrono::duration<double>(options.poll_s));
      continue;
    }
    queue.WorkerHeartbeat(me, "working", summary.done);
    options.log(fmt::format("job {} (attempt {} of {}): {} on {}", job->job_id, job->attempt,
                            job->max_attempts, job->spec.model, job->spec.platform));
    JobOutcome outcome;
    {
      const LeaseKeeper lease(options, *job);
      outcome = run_job(*job);
    }
    if (outcome.run) {
      StoreJobRun(*store, *job, outcome, options, summary);
    } else {
      ++summary.failed;
      queue.Fail(*job, me, outcome.error, outcome.permanent);
      options.log(fmt::format("job {} failed: {}", job->job_id, outcome.error));
    }
    idle_since = Clock::now();
  }
  queue.WorkerHeartbeat(me, "stopped", summary.done);
  return summary;
}

}  // namespace ipfs_accel::fleet
