#pragma once
// Progress of a sweep on stderr: on a terminal one line redrawn in place with the
// configuration, its runs so far, the sweep's elapsed time and an estimate of the time
// left; plain lines (one when a configuration starts, one when it ends) otherwise.

#include <chrono>
#include <string>

namespace ipfs_accel::cli {

class Progress {
 public:
  Progress();
  // Starts configuration `index` (1-based) of `total`, described by `what`.
  void Begin(int index, int total, const std::string& what);
  // Timed runs done so far in the current configuration (drawn at most 10 times a second).
  void Update(int runs, double elapsed_s);
  // Time spent waiting on an isolated worker (drawn at most 10 times a second).
  void Waiting(double elapsed_s);
  void End(const std::string& summary);

  // "1:05", "2:03:07"
  static std::string Clock(double seconds);

 private:
  std::string Prefix() const;
  void Draw(const std::string& status);

  using SteadyClock = std::chrono::steady_clock;
  bool tty_;
  SteadyClock::time_point sweep_start_ = SteadyClock::now();
  SteadyClock::time_point config_start_ = SteadyClock::now();
  int index_ = 0, total_ = 0;
  std::string what_;
  double last_draw_s_ = -1;
};

}  // namespace ipfs_accel::cli
