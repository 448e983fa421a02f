#include "ipfs_accel/fleet/job_queue.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <random>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::fleet {
namespace {

using core::Error;
using core::ErrorKind;

std::string Joined(const std::vector<std::string>& items, const char* separator) {
  return fmt::format("{}", fmt::join(items, separator));
}

// A PostgreSQL array literal of plain words (platform names): {cpu,cuda}.
std::string TextArray(const std::vector<std::string>& items) {
  return "{" + Joined(items, ",") + "}";
}

std::string NewSweepId() {
  std::random_device device;
  return fmt::format("sweep-{:08x}{:08x}", device(), device());
}

const std::string& Cell(const store::QueryResult& r, size_t row, size_t column) {
  static const std::string kEmpty;
  const auto& cell = r.rows.at(row).at(column);
  return cell ? *cell : kEmpty;
}

}  // namespace

JobQueue::JobQueue(const std::string& url)
    : url_(url), session_(store::PostgresSession::Connect(url)) {}

int JobQueue::BackendPid() { return session_->BackendPid(); }

store::QueryResult JobQueue::Execute(const std::string& sql, const store::TextParams& params) {
  try {
    return session_->Execute(sql, params);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnavailable) throw;
    // The connection was cut: one new one. Every statement here is safe to run again (a claim
    // that landed unseen expires and is reclaimed).
    session_ = store::PostgresSession::Connect(url_);
    return session_->Execute(sql, params);
  }
}

std::string JobQueue::Submit(const std::vector<JobSpec>& jobs, int max_attempts) {
  const std::string sweep = NewSweepId();
  nlohmann::json rows = nlohmann::json::array();
  for (const JobSpec& j : jobs)
    rows.push_back({{"model", j.model},
                    {"model_cid", j.model_cid ? nlohmann::json(*j.model_cid) : nlohmann::json()},
                    {"platform", j.platform},
                    {"arguments", nlohmann::json(j.arguments).dump()}});
  // One statement: the sweep lands whole. Ids continue from the highest; two submits at once
  // may pick the same ones, and the second then fails on the primary key and tries again.
  for (int attempt = 1;; ++attempt) {
    try {
      SubmitOnce(sweep, rows.dump(), max_attempts);
      return sweep;
    } catch (const Error& e) {
      if (attempt == 5 || std::string(e.what()).find("duplicate key") == std::string::npos) throw;
    }
  }
}

void JobQueue::SubmitOnce(const std::string& sweep, const std::string& rows, int max_attempts) {
  session_->Execute(
      "WITH base AS (SELECT COALESCE(max(job_id), 0) AS id FROM fleet_jobs) "
      "INSERT INTO fleet_jobs (job_id, sweep_id, model, model_cid, platform, arguments, state, "
      "attempts, max_attempts, submitted_at) "
      "SELECT base.id + row_number() OVER (), $1, r.model, r.model_cid, r.platform, r.arguments, "
      "'queued', 0, $2, "
      "now() AT TIME ZONE 'UTC' FROM base, json_to_recordset($3::json) "
      "AS r(model text, model_cid text, platform text, arguments text)",
      {sweep, std::to_string(max_attempts), rows});
}

int64_t JobQueue::ReclaimExpired() {
  const auto r = Execute(
      "UPDATE fleet_jobs SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE "
      "'queued' END, last_error = 'the lease of worker ' || worker_id || ' expired (the worker "
      "stopped or lost its connection)', worker_id = NULL, lease_expires_at = NULL "
      "WHERE state = 'running' AND lease_expires_at < now() AT TIME ZONE 'UTC' RETURNING job_id",
      {});
  return static_cast<int64_t>(r.rows.size());
}

std::optional<Job> JobQueue::Claim(const std::string& worker_id,
                                   const std::vector<std::string>& platforms, double lease_s) {
  const auto r = Execute(
      "UPDATE fleet_jobs j SET state = 'running', worker_id = $1, attempts = j.attempts + 1, "
      "started_at = now() AT TIME ZONE 'UTC', "
      "lease_expires_at = now() AT TIME ZONE 'UTC' + make_interval(secs => $3::float8) "
      "FROM (SELECT job_id FROM fleet_jobs WHERE state = 'queued' AND platform = ANY($2::text[]) "
      "ORDER BY job_id LIMIT 1 FOR UPDATE SKIP LOCKED) c WHERE j.job_id = c.job_id "
      "RETURNING j.job_id, j.sweep_id, j.model, j.model_cid, j.platform, j.arguments, "
      "j.attempts, j.max_attempts",
      {worker_id, TextArray(platforms), fmt::format("{}", lease_s)});
  if (r.rows.empty()) return std::nullopt;
  Job job;
  job.job_id = std::stoll(Cell(r, 0, 0));
  job.sweep_id = Cell(r, 0, 1);
  job.spec.model = Cell(r, 0, 2);
  if (r.rows[0][3]) job.spec.model_cid = *r.rows[0][3];
  job.spec.platform = Cell(r, 0, 4);
  job.spec.arguments = nlohmann::json::parse(Cell(r, 0, 5)).get<std::vector<std::string>>();
  job.attempt = std::stoi(Cell(r, 0, 6));
  job.max_attempts = std::stoi(Cell(r, 0, 7));
  return job;
}

bool JobQueue::Renew(const Job& job, const std::string& worker_id, double lease_s) {
  const auto r = Execute(
      "UPDATE fleet_jobs SET lease_expires_at = now() AT TIME ZONE 'UTC' + "
      "make_interval(secs => $4::float8) WHERE job_id = $1 AND worker_id = $2 AND attempts = $3 "
      "AND state = 'running' RETURNING job_id",
      {std::to_string(job.job_id), worker_id, std::to_string(job.attempt),
       fmt::format("{}", lease_s)});
  return !r.rows.empty();
}

bool JobQueue::Fail(const Job& job, const std::string& worker_id, const std::string& error,
                    bool permanent) {
  const auto r = Execute(
      "UPDATE fleet_jobs SET state = CASE WHEN attempts >= max_attempts OR $5::boolean THEN "
      "'dead' ELSE 'queued' END, last_error = $4, worker_id = NULL, lease_expires_at = NULL, "
      "finished_at = CASE WHEN attempts >= max_attempts OR $5::boolean THEN "
      "now() AT TIME ZONE 'UTC' END "
      "WHERE job_id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running' "
      "RETURNING job_id",
      {std::to_string(job.job_id), worker_id, std::to_string(job.attempt), error,
       permanent ? "true" : "false"});
  return !r.rows.empty();
}

store::CommitCondition JobQueue::CompletionCondition(const Job& job, const std::string& worker_id,
                                                     const std::string& run_id) {
  return {
      "UPDATE fleet_jobs SET state = 'done', run_id = $4, "
      "lease_expires_at = NULL, finished_at = now() AT TIME ZONE 'UTC' "
      "WHERE job_id = $1 AND worker_id = $2 AND attempts = $3 AND state = 'running'",
      {std::to_string(job.job_id), worker_id, std::to_string(job.attempt), run_id},
      fmt::format("job {} is no longer this worker's (its lease expired and it was taken "
                  "back); its result was not stored",
                  job.job_id)};
}

void JobQueue::RegisterWorker(const WorkerInfo& worker) {
  Execute(
      "INSERT INTO fleet_workers (worker_id, hostname, platforms, hardware, started_at, "
      "heartbeat_at, jobs_done, state) VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'UTC', "
      "now() AT TIME ZONE 'UTC', 0, 'idle') ON CONFLICT (worker_id) DO UPDATE SET "
      "hostname = $2, platforms = $3, hardware = $4, heartbeat_at = now() AT TIME ZONE 'UTC', "
      "state = 'idle'",
      {worker.worker_id, worker.hostname, Joined(worker.platforms, ","), worker.hardware_json});
}

void JobQueue::WorkerHeartbeat(const std::string& worker_id, const std::string& state,
                               int64_t jobs_done) {
  Execute(
      "UPDATE fleet_workers SET heartbeat_at = now() AT TIME ZONE 'UTC', state = $2, "
      "jobs_done = $3 WHERE worker_id = $1",
      {worker_id, state, std::to_string(jobs_done)});
}

bool JobQueue::HasWork(const std::vector<std::string>& platforms) {
  const auto r = Execute(
      "SELECT count(*) FROM fleet_jobs WHERE state IN ('queued', 'running') "
      "AND platform = ANY($1::text[])",
      {TextArray(platforms)});
  return Cell(r, 0, 0) != "0";
}

QueueStatus JobQueue::Status() {
  QueueStatus status;
  const auto counts = Execute("SELECT state, count(*) FROM fleet_jobs GROUP BY state", {});
  for (size_t i = 0; i < counts.rows.size(); ++i) {
    const int64_t n = std::stoll(Cell(counts, i, 1));
    const std::string& state = Cell(counts, i, 0);
    (state == "queued"    ? status.queued
     : state == "running" ? status.running
     : state == "done"    ? status.done
                          : status.dead) = n;
  }
  const auto workers = Execute(
      "SELECT worker_id, hostname, platforms, state, CAST(heartbeat_at AS text), jobs_done, "
      "EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC' - heartbeat_at)), "
      "concat_ws(', ', CAST(hardware AS jsonb)->'cpu'->>'model_name', (SELECT "
      "string_agg(g->>'name', ', ') FROM jsonb_array_elements(COALESCE(CAST(hardware AS "
      "jsonb)->'nvidia'->'gpus', '[]')) AS g)) FROM fleet_workers "
      "ORDER BY started_at, worker_id",
      {});
  for (size_t i = 0; i < workers.rows.size(); ++i)
    status.workers.push_back({Cell(workers, i, 0), Cell(workers, i, 1), Cell(workers, i, 2),
                              Cell(workers, i, 3), Cell(workers, i, 4), Cell(workers, i, 7),
                              std::stoll(Cell(workers, i, 5)), std::stod(Cell(workers, i, 6))});
  const auto jobs = Execute(
      "SELECT job_id, model, platform, state, COALESCE(worker_id, ''), "
      "COALESCE(last_error, ''), COALESCE(run_id, ''), attempts FROM fleet_jobs "
      "WHERE state <> 'done' ORDER BY job_id LIMIT 50",
      {});
  for (size_t i = 0; i < jobs.rows.size(); ++i)
    status.jobs.push_back({std::stoll(Cell(jobs, i, 0)), Cell(jobs, i, 1), Cell(jobs, i, 2),
                           Cell(jobs, i, 3), Cell(jobs, i, 4), Cell(jobs, i, 5), Cell(jobs, i, 6),
                           std::stoi(Cell(jobs, i, 7))});
  return status;
}

}  // namespace ipfs_accel::fleet
