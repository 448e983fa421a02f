#pragma once
// Dynamic batching for one session. Requests (each a map of input tensors whose axis 0 is the
// batch, 1 or more rows) wait in a queue; one worker thread takes the oldest, waits up to
// max_batch_delay_ms from its arrival for more requests of the same shape (same input names,
// dtypes and dimensions past axis 0: different sequence lengths are never mixed or padded),
// concatenates up to max_batch rows along axis 0, runs them once and splits the outputs back.
// A request of max_batch rows or more runs alone. If a batch of several requests fails, each is
// run again alone, so one bad request fails only itself.
//
// Thread-safe. The run function is only ever called from the worker thread, one call at a
// time, so it may use a session that is not thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::serving {

using TensorMap = std::map<std::string, core::Tensor>;
using Clock = std::chrono::steady_clock;

struct BatcherOptions {
  int64_t max_batch = 8;            // rows per run; 1: one request at a time
  double max_batch_delay_ms = 2.0;  // how long the oldest request waits for company
  size_t max_queue = 256;           // requests waiting (not yet running) before Submit refuses
};

// What one request got back, and how it was run.
struct BatchedResult {
  TensorMap outputs;
  int batch_requests = 1;  // requests that shared the run (1: ran alone)
  int64_t batch_rows = 1;  // rows in the run
  double queue_ms = 0;     // from Run() to the start of its run
  double run_ms = 0;       // the run itself, shared by the batch
};

// Totals since construction. requests counts those answered with outputs.
struct BatcherStats {
  int64_t requests = 0, batches = 0, rows = 0;
  int64_t failed = 0;  // answered with an error from the run
  int64_t queue_full = 0, deadline_exceeded = 0, stopped = 0;
  size_t queued = 0;  // waiting now
  bool running = false;
  double run_ms_total = 0;      // sum over runs
  double request_ms_total = 0;  // sum over answered requests, queue included
};

// a + b for the totals; queued and running are b's (the newer).
BatcherStats SumStats(const BatcherStats& a, const BatcherStats& b);

enum class StopMode {
  kDrain,  // run everything queued, then stop
  kFail,   // fail what is queued (ServingError kStopped); the run in progress finishes
};

class DynamicBatcher {
 public:
  // Runs a batch; returns every output with the batch on axis 0. Exceptions reach the callers.
  using RunFn = std::function<TensorMap(const TensorMap& inputs)>;

  // Throws core::Error(kInvalidArgument) for max_batch < 1, a negative delay or max_queue 0.
  DynamicBatcher(RunFn run, BatcherOptions options);
  ~DynamicBatcher();  // Stop(StopMode::kFail)
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // Queues the request and blocks until its outputs are ready. Throws ServingError kQueueFull
  // (max_queue requests already wait), kDeadline (the deadline passed before its outputs were
  // ready; a run already started is not interrupted, its outputs are dropped), kStopped (Stop()
  // was called); core::Error(kInvalidArgument) for inputs without a common axis 0; and whatever
  // the run function throws.
  BatchedResult Run(TensorMap inputs, std::optional<Clock::time_point> deadline = std::nullopt);

  // Stops taking requests; returns when the worker has ended. Idempotent.
  void Stop(StopMode mode);

  BatcherStats Stats() const;
  // Nothing queued and nothing running.
  bool Idle() const;
  const BatcherOptions& options() const { return options_; }

 private:
  struct Pending;
  void Work();
  std::vector<std::shared_ptr<Pending>> TakeBatch(std::unique_lock<std::mutex>& lock);
  void Execute(const std::vector<std::shared_ptr<Pending>>& batch);
  void RunTogether(const std::vector<std::shared_ptr<Pending>>& batch);
  void Fail(Pending& p, std::exception_ptr error, bool run_failure);

  RunFn run_;
  const BatcherOptions options_;
  std::mutex stop_mutex_;  // Stop() from several threads joins once
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Pending>> queue_;
  BatcherStats stats_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace ipfs_accel::serving
