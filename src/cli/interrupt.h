#pragma once
// Ctrl-C and SIGTERM during a sweep: the first one is noted (the sweep stops after storing what
// it finished and says so); a second one kills the process as the signal normally would, and
// what was already stored stays stored.

namespace ipfs_accel::cli {

// Thrown where a sweep notices the signal (between configurations, or from a progress
// callback inside one): the configuration under way is abandoned.
struct Interrupted {
  int signal;
};

// Installs the handlers for SIGINT and SIGTERM for the object's lifetime.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
};

// The signal received since the guard was installed, or 0.
int PendingInterrupt();
// Throws Interrupted when a signal is pending.
void ThrowIfInterrupted();

}  // namespace ipfs_accel::cli
