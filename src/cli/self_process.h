#pragma once
// This program run again as a child process (`_configuration` workers, fleet jobs), waited for
// with a time limit. The child dies with its parent (PR_SET_PDEATHSIG): a worker killed with
// SIGKILL leaves no measurement running behind it.

#include <functional>
#include <string>
#include <vector>

namespace ipfs_accel::cli {

struct SelfExit {
  bool timed_out = false;  // killed after timeout_s
  int signal = 0;          // the signal that ended it, or 0
  bool core_dumped = false;
  int status = 0;  // its exit status when it exited
};

struct SelfRun {
  std::vector<std::string> args;  // after the program's name
  double timeout_s = 0;           // > 0: SIGKILL after this many seconds
  std::string stdout_path = {};   // where its stdout goes (empty: ours)
  std::string stderr_path = {};   // where its stderr goes (empty: ours)
  // Called about ten times a second with the seconds waited. An exception from it kills the
  // child, waits for it and is rethrown.
  std::function<void(double)> tick = nullptr;
};

// Throws core::Error(kIo) when the child cannot be started.
SelfExit RunSelf(const SelfRun& run);

}  // namespace ipfs_accel::cli
