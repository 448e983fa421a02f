#pragma once
// The task queue cpp-httplib hands accepted connections to (Server::new_task_queue), with
// bounds on the connections waiting for a worker. `workers` threads serve connections. At most
// `limits.max_waiting` wait for one (0: no bound): a connection beyond that is run on a shedding
// thread of its own instead. A connection that waited longer than `limits.max_wait` (0: no
// limit) is run by the worker that takes it, but shed. While a shed connection runs,
// ShedReasonNow() says why, so that the server answers it 503 at once (HttpServer's handlers)
// rather than leaving the client to time out, or serving a client that gave up. shutdown() runs
// what is queued (cpp-httplib closes those connections once the server is stopped) and joins
// every thread.

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "ipfs_accel/server/http_server.h"

namespace ipfs_accel::server {

enum class ShedReason { kNone, kQueueFull, kWaitedTooLong };

// Why the connection this thread runs is shed; kNone outside a WaitingBoundQueue's shed runs.
ShedReason ShedReasonNow();

struct WaitingLimits {
  size_t max_waiting = 0;
  std::chrono::milliseconds max_wait{0};
};

class WaitingBoundQueue final : public httplib::TaskQueue {
 public:
  // Counts into `counters` (shed by reason, waiting), which must outlive the queue.
  WaitingBoundQueue(size_t workers, WaitingLimits limits, ServerCounters* counters);
  ~WaitingBoundQueue() override;
  WaitingBoundQueue(const WaitingBoundQueue&) = delete;
  WaitingBoundQueue& operator=(const WaitingBoundQueue&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  struct Job {
    std::function<void()> fn;
    std::chrono::steady_clock::time_point queued;
  };
  struct Lane {
    std::deque<Job> jobs;
    size_t busy = 0;  // threads running a job; a job the others will take does not wait
    std::condition_variable ready;
    std::vector<std::thread> threads;
  };
  void Work(Lane& lane, ShedReason lane_reason);
  ShedReason ReasonFor(const Job& job, ShedReason lane_reason) const;
  size_t Waiting() const;  // under mutex_

  const size_t workers_;
  const WaitingLimits limits_;
  ServerCounters* counters_;
  std::mutex mutex_;
  Lane serve_, shed_;
  bool stopping_ = false;
};

}  // namespace ipfs_accel::server
