#pragma once
// The fleet's job queue on the PostgreSQL store (tables fleet_jobs and fleet_workers of the
// results schema, v13). A job is one benchmark configuration for one platform, naming its model
// by CID. Workers claim jobs with SELECT ... FOR UPDATE SKIP LOCKED, hold them under a lease
// they renew by heartbeat, and complete a job in the same transaction that stores its run
// (CompletionCondition), so a job's result is stored exactly once: a worker whose lease
// expired (killed, cut off) loses the job to the next claim, and its late result is refused.
// A job that fails, or whose lease expires, is queued again until max_attempts; then it is
// 'dead' with its last error. A done job keeps the error of an earlier attempt, as history.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/store/postgres_store.h"

namespace ipfs_accel::fleet {

struct JobSpec {
  std::string model;                     // as given to submit (a path, or a catalog name)
  std::optional<std::string> model_cid;  // the model's bytes (none for seeded catalog models)
  std::string platform;                  // the platform a worker must have (cpu, cuda, ...)
  std::vector<std::string> arguments;    // the benchmark's other options
};

struct Job {
  int64_t job_id = 0;
  std::string sweep_id;
  JobSpec spec;
  int attempt = 0;  // 1 for the first claim
  int max_attempts = 0;
};

struct WorkerInfo {
  std::string worker_id;
  std::string hostname;
  std::vector<std::string> platforms;
  std::string hardware_json;  // what `detect` found
};

// What fleet status shows.
struct QueueStatus {
  int64_t queued = 0, running = 0, done = 0, dead = 0;
  struct WorkerRow {
    std::string worker_id, hostname, platforms, state, heartbeat_at;
    std::string devices;  // its CPU and GPUs, from what `detect` found
    int64_t jobs_done = 0;
    double heartbeat_age_s = 0;
  };
  std::vector<WorkerRow> workers;
  struct JobRow {
    int64_t job_id = 0;
    std::string model, platform, state, worker_id, last_error, run_id;
    int attempts = 0;
  };
  std::vector<JobRow> jobs;  // not done, oldest first (at most 50)
};

class JobQueue {
 public:
  // A queue on the store at `url` (which must hold the results schema: open it with
  // ResultStore::Open first). Throws as PostgresSession::Connect does.
  explicit JobQueue(const std::string& url);

  // Stores `jobs` as one sweep (its id returned) in one statement: all or none.
  std::string Submit(const std::vector<JobSpec>& jobs, int max_attempts);

  // Jobs whose lease expired are queued again, or 'dead' when they used every attempt. Any
  // worker may run it; it is idempotent. Returns how many were taken back.
  int64_t ReclaimExpired();
  // The oldest queued job for one of `platforms`, now this worker's for `lease_s` seconds.
  std::optional<Job> Claim(const std::string& worker_id, const std::vector<std::string>& platforms,
                           double lease_s);
  // Extends the lease; false when the job is no longer this attempt's (taken back).
  bool Renew(const Job& job, const std::string& worker_id, double lease_s);
  // The attempt failed: queued again, or 'dead' at max_attempts or when `permanent`. False
  // when no longer ours.
  bool Fail(const Job& job, const std::string& worker_id, const std::string& error, bool permanent);
  // The statement that marks the job done with `run_id`, to run in the transaction that stores
  // that run (PostgresResultStore::WriteRunIf).
  static store::CommitCondition CompletionCondition(const Job& job, const std::string& worker_id,
                                                    const std::string& run_id);

  void RegisterWorker(const WorkerInfo& worker);
  void WorkerHeartbeat(const std::string& worker_id, const std::string& state, int64_t jobs_done);

  QueueStatus Status();
  // Whether a job for one of `platforms` is queued or running.
  bool HasWork(const std::vector<std::string>& platforms);

  int BackendPid();

 private:
  void SubmitOnce(const std::string& sweep, const std::string& rows, int max_attempts);
  store::QueryResult Execute(const std::string& sql, const store::TextParams& params);

  std::string url_;
  std::unique_ptr<store::PostgresSession> session_;
};

}  // namespace ipfs_accel::fleet
