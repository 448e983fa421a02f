#pragma once
// The task queue cpp-httplib hands accepted connections to (Server::new_task_queue), with a
// bound on the connections waiting for a worker. `workers` threads serve connections; at most
// `max_waiting` wait for one (0: no bound). A connection beyond that is run on a shedding thread
// of its own instead, where IsShedding() is true, so that the server answers it 503 at once
// (HttpServer's handlers) rather than leaving the client to time out. shutdown() runs what is
// queued (cpp-httplib closes those connections once the server is stopped) and joins every thread.

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "ipfs_accel/server/http_server.h"

namespace ipfs_accel::server {

// True on a WaitingBoundQueue's shedding thread: the connection being run found no room.
bool IsShedding();

class WaitingBoundQueue final : public httplib::TaskQueue {
 public:
  // Counts into `counters` (shed, waiting), which must outlive the queue.
  WaitingBoundQueue(size_t workers, size_t max_waiting, ServerCounters* counters);
  ~WaitingBoundQueue() override;
  WaitingBoundQueue(const WaitingBoundQueue&) = delete;
  WaitingBoundQueue& operator=(const WaitingBoundQueue&) = delete;

  void enqueue(std::function<void()> fn) override;
  void shutdown() override;

 private:
  struct Lane {
    std::deque<std::function<void()>> jobs;
    size_t busy = 0;  // threads running a job; a job the others will take does not wait
    std::condition_variable ready;
    std::vector<std::thread> threads;
  };
  void Work(Lane& lane, bool shedding);
  size_t Waiting() const;  // under mutex_

  const size_t workers_, max_waiting_;
  ServerCounters* counters_;
  std::mutex mutex_;
  Lane serve_, shed_;
  bool stopping_ = false;
};

}  // namespace ipfs_accel::server
