#include "server/waiting_bound.h"

namespace ipfs_accel::server {

namespace {
thread_local bool t_waiting_bound_shedding = false;
}  // namespace

bool IsShedding() { return t_waiting_bound_shedding; }

WaitingBoundQueue::WaitingBoundQueue(size_t workers, size_t max_waiting, ServerCounters* counters)
    : workers_(workers), max_waiting_(max_waiting), counters_(counters) {
  for (size_t i = 0; i < workers; ++i) serve_.threads.emplace_back([this] { Work(serve_, false); });
  // One thread: answering 503 takes microseconds, unless a client is slow to send its request
  // (then the other shed connections wait for it, the workers do not).
  if (max_waiting_ > 0) shed_.threads.emplace_back([this] { Work(shed_, true); });
}

WaitingBoundQueue::~WaitingBoundQueue() { shutdown(); }

void WaitingBoundQueue::enqueue(std::function<void()> fn) {
  bool room = true;
  {
    std::lock_guard lock(mutex_);
    room = max_waiting_ == 0 || Waiting() < max_waiting_;
    (room ? serve_ : shed_).jobs.push_back(std::move(fn));
    counters_->waiting = static_cast<int64_t>(Waiting());
  }
  if (!room) counters_->shed.fetch_add(1);
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

void WaitingBoundQueue::Work(Lane& lane, bool shedding) {
  t_waiting_bound_shedding = shedding;
  std::unique_lock lock(mutex_);
  for (;;) {
    lane.ready.wait(lock, [&] { return !lane.jobs.empty() || stopping_; });
    if (lane.jobs.empty()) return;  // stopping, and every queued connection has been run
    std::function<void()> fn = std::move(lane.jobs.front());
    lane.jobs.pop_front();
    ++lane.busy;
    lock.unlock();
    fn();
    lock.lock();
    --lane.busy;
    counters_->waiting = static_cast<int64_t>(Waiting());
  }
}

}  // namespace ipfs_accel::server
