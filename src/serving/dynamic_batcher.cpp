#include "ipfs_accel/serving/dynamic_batcher.h"

#include <algorithm>
#include <future>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/serving/serving_error.h"
#include "tensor_batching.h"

namespace ipfs_accel::serving {

using core::Error;
using core::ErrorKind;

struct DynamicBatcher::Pending {
  TensorMap inputs;
  std::string key;
  int64_t rows = 0;
  Clock::time_point arrived;
  std::optional<Clock::time_point> deadline;
  std::promise<BatchedResult> promise;
};

namespace {

double MsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

BatcherStats SumStats(const BatcherStats& a, const BatcherStats& b) {
  BatcherStats s = b;
  s.requests += a.requests;
  s.batches += a.batches;
  s.rows += a.rows;
  s.failed += a.failed;
  s.queue_full += a.queue_full;
  s.deadline_exceeded += a.deadline_exceeded;
  s.stopped += a.stopped;
  s.run_ms_total += a.run_ms_total;
  s.request_ms_total += a.request_ms_total;
  return s;
}

DynamicBatcher::DynamicBatcher(RunFn run, BatcherOptions options)
    : run_(std::move(run)), options_(options) {
  if (options_.max_batch < 1 || options_.max_batch_delay_ms < 0 || options_.max_queue == 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("batching needs max_batch >= 1, a delay >= 0 and a queue of at least "
                            "1 (got {}, {} ms, {})",
                            options_.max_batch, options_.max_batch_delay_ms, options_.max_queue));
  worker_ = std::thread([this] { Work(); });
}

DynamicBatcher::~DynamicBatcher() { Stop(StopMode::kFail); }

BatchedResult DynamicBatcher::Run(TensorMap inputs, std::optional<Clock::time_point> deadline) {
  auto p = std::make_shared<Pending>();
  p->rows = detail::RowsOf(inputs);
  p->key = detail::BatchKey(inputs);
  p->inputs = std::move(inputs);
  p->arrived = Clock::now();
  p->deadline = deadline;
  std::future<BatchedResult> result = p->promise.get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      ++stats_.stopped;
      throw ServingError(RefusalReason::kStopped,
                         "the server is stopping: the request was not run; retry elsewhere");
    }
    if (queue_.size() >= options_.max_queue) {
      ++stats_.queue_full;
      throw ServingError(RefusalReason::kQueueFull,
                         fmt::format("queue full: {} requests already wait for this model's "
                                     "session; retry later",
                                     queue_.size()));
    }
    queue_.push_back(p);
  }
  wake_.notify_all();
  if (deadline && result.wait_until(*deadline) == std::future_status::timeout) {
    std::lock_guard lock(mutex_);
    if (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      const auto it = std::find(queue_.begin(), queue_.end(), p);
      const bool queued = it != queue_.end();
      if (queued) queue_.erase(it);
      ++stats_.deadline_exceeded;
      throw ServingError(
          RefusalReason::kDeadline,
          fmt::format("deadline passed after {:.1f} ms {}", MsBetween(p->arrived, Clock::now()),
                      queued ? "waiting in the queue: the request was not run"
                             : "while its batch was running: outputs dropped"));
    }
  }
  return result.get();
}

void DynamicBatcher::Stop(StopMode mode) {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (mode == StopMode::kFail) {
      for (const auto& p : queue_) {
        ++stats_.stopped;
        p->promise.set_exception(std::make_exception_ptr(
            ServingError(RefusalReason::kStopped,
                         "the server is stopping: the request was queued but not "
                         "run; retry elsewhere")));
      }
      queue_.clear();
    }
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
}

BatcherStats DynamicBatcher::Stats() const {
  std::lock_guard lock(mutex_);
  BatcherStats s = stats_;
  s.queued = queue_.size();
  return s;
}

bool DynamicBatcher::Idle() const {
  std::lock_guard lock(mutex_);
  return queue_.empty() && !stats_.running;
}

void DynamicBatcher::Work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to drain
    std::vector<std::shared_ptr<Pending>> batch = TakeBatch(lock);
    if (batch.empty()) continue;
    stats_.running = true;
    lock.unlock();
    Execute(batch);
    lock.lock();
    stats_.running = false;
  }
}

// The oldest request and those of its shape that fit beside it, once the batch is full or the
// oldest has waited max_batch_delay_ms; requests past their deadline are failed on the way.
std::vector<std::shared_ptr<DynamicBatcher::Pending>> DynamicBatcher::TakeBatch(
    std::unique_lock<std::mutex>& lock) {
  const Clock::time_point now = Clock::now();
  std::erase_if(queue_, [&](const std::shared_ptr<Pending>& p) {
    if (!p->deadline || *p->deadline > now) return false;
    ++stats_.deadline_exceeded;
    p->promise.set_exception(std::make_exception_ptr(ServingError(
        RefusalReason::kDeadline,
        fmt::format("deadline passed after {:.1f} ms waiting in the queue: the request was not "
                    "run",
                    MsBetween(p->arrived, now)))));
    return true;
  });
  if (queue_.empty()) return {};
  const std::shared_ptr<Pending> head = queue_.front();
  auto rows_like_head = [&] {
    int64_t rows = 0;
    for (const auto& p : queue_)
      if (p->key == head->key) rows += p->rows;
    return rows;
  };
  const auto until =
      head->arrived + std::chrono::duration_cast<Clock::duration>(
                          std::chrono::duration<double, std::milli>(options_.max_batch_delay_ms));
  wake_.wait_until(lock, until, [&] {
    return stopping_ || rows_like_head() >= options_.max_batch || queue_.empty() ||
           queue_.front() != head;
  });
  if (queue_.empty() || queue_.front() != head) return {};  // its caller gave up meanwhile
  std::vector<std::shared_ptr<Pending>> batch;
  int64_t rows = 0;
  for (auto it = queue_.begin(); it != queue_.end() && rows < options_.max_batch;) {
    const bool fits =
        batch.empty() || ((*it)->key == head->key && rows + (*it)->rows <= options_.max_batch);
    if (!fits) {
      ++it;
      continue;
    }
    rows += (*it)->rows;
    batch.push_back(*it);
    it = queue_.erase(it);
  }
  return batch;
}

void DynamicBatcher::Fail(Pending& p, std::exception_ptr error, bool run_failure) {
  {
    std::lock_guard lock(mutex_);
    if (run_failure) ++stats_.failed;
  }
  p.promise.set_exception(std::move(error));
}

void DynamicBatcher::Execute(const std::vector<std::shared_ptr<Pending>>& batch) {
  if (batch.size() > 1) {
    try {
      RunTogether(batch);
      return;
    } catch (...) {
      // Fall through: run each alone, so only the request that cannot run fails.
    }
  }
  for (const auto& p : batch) {
    try {
      RunTogether({p});
    } catch (...) {
      Fail(*p, std::current_exception(), true);
    }
  }
}

// One run of the batch's rows; each request's promise gets its rows. Throws what the run or
// the split throws, before any promise is set.
void DynamicBatcher::RunTogether(const std::vector<std::shared_ptr<Pending>>& batch) {
  const Clock::time_point start = Clock::now();
  std::vector<int64_t> rows;
  TensorMap outputs;
  if (batch.size() == 1) {
    rows.push_back(batch.front()->rows);
    outputs = run_(batch.front()->inputs);
  } else {
    std::vector<const TensorMap*> parts;
    for (const auto& p : batch) {
      parts.push_back(&p->inputs);
      rows.push_back(p->rows);
    }
    outputs = run_(detail::ConcatRows(parts));
  }
  const Clock::time_point end = Clock::now();
  std::vector<TensorMap> pieces;
  if (batch.size() == 1)
    pieces.push_back(std::move(outputs));
  else
    pieces = detail::SplitRows(outputs, rows);
  int64_t total_rows = 0;
  for (int64_t r : rows) total_rows += r;
  {
    std::lock_guard lock(mutex_);
    ++stats_.batches;
    stats_.rows += total_rows;
    stats_.requests += static_cast<int64_t>(batch.size());
    stats_.run_ms_total += MsBetween(start, end);
    for (const auto& p : batch) stats_.request_ms_total += MsBetween(p->arrived, end);
  }
  for (size_t i = 0; i < batch.size(); ++i)
    batch[i]->promise.set_value({.outputs = std::move(pieces[i]),
                                 .batch_requests = static_cast<int>(batch.size()),
                                 .batch_rows = total_rows,
                                 .queue_ms = MsBetween(batch[i]->arrived, start),
                                 .run_ms = MsBetween(start, end)});
}

}  // namespace ipfs_accel::serving
