#include "server/waiting_bound.h"

namespace ipfs_accel::server {

namespace {
thread_local ShedReason t_waiting_bound_reason = ShedReason::kNone;
}  // namespace

ShedReason ShedReasonNow() { return t_waiting_bound_reason; }

WaitingBoundQueue::WaitingBoundQueue(size_t workers, WaitingLimits limits, ServerCounters* counters)
    : workers_(workers), limits_(limits), counters_(counters) {
  for (size_t i = 0; i < workers; ++i)
    serve_.threads.emplace_back([this] { Work(serve_, ShedReason::kNone); });
  // One thread: answering 503 takes microseconds, unless a client is slow to send its request
  // (then the other shed connections wait for it, the workers do not).
  if (limits_.max_waiting > 0)
    shed_.threads.emplace_back([this] { Work(shed_, ShedReason::kQueueFull); });
}

WaitingBoundQueue::~WaitingBoundQueue() { shutdown(); }

void WaitingBoundQueue::enqueue(std::function<void()> fn) {
  bool room = true;
  {
    std::lock_guard lock(mutex_);
    room = limits_.max_waiting == 0 || Waiting() < limits_.max_waiting;
    (room ? serve_ : shed_).jobs.push_back({std::move(fn), std::chrono::steady_clock::now()});
    counters_->waiting = static_cast<int64_t>(Waiting());
  }
  if (!room) counters_->shed_queue_full.fetch_add(1);
  (room ? serve_ : shed_).ready.notify_one();
}

void WaitingBoundQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  for (Lane* lane : {&serve_, &shed_}) {
    lane->ready.notify_all();
    for (std::thread& t : lane->threads)
      if (t.joinable()) t.join();
  }
}

// Counted against the threads, not the ones blocked in wait(): a worker not yet started, or
// between two connections, takes the next one in microseconds.
size_t WaitingBoundQueue::Waiting() const {
  const size_t free = workers_ - serve_.busy;
  return serve_.jobs.size() > free ? serve_.jobs.size() - free : 0;
}

ShedReason WaitingBoundQueue::ReasonFor(const Job& job, ShedReason lane_reason) const {
  if (lane_reason != ShedReason::kNone || limits_.max_wait.count() == 0) return lane_reason;
  const bool late = std::chrono::steady_clock::now() - job.queued > limits_.max_wait;
  if (late) counters_->shed_waited_too_long.fetch_add(1);
  return late ? ShedReason::kWaitedTooLong : ShedReason::kNone;
}

void WaitingBoundQueue::Work(Lane& lane, ShedReason lane_reason) {
  std::unique_lock lock(mutex_);
  for (;;) {
    lane.ready.wait(lock, [&] { return !lane.jobs.empty() || stopping_; });
    if (lane.jobs.empty()) return;  // stopping, and every queued connection has been run
    Job job = std::move(lane.jobs.front());
    lane.jobs.pop_front();
    ++lane.busy;
    lock.unlock();
    t_waiting_bound_reason = ReasonFor(job, lane_reason);
    job.fn();
    lock.lock();
    --lane.busy;
    counters_->waiting = static_cast<int64_t>(Waiting());
  }
}

}  // namespace ipfs_accel::server
