#pragma once
// Progress on stderr: a line redrawn in place on a terminal, plain lines otherwise.

#include <string>

namespace ipfs_accel::cli {

class Progress {
 public:
  Progress();
  // Starts configuration `index` of `total`, described by `what`.
  void Begin(int index, int total, const std::string& what);
  // Timed runs done so far in the current configuration (drawn at most 10 times a second).
  void Update(int runs, double elapsed_s);
  void End(const std::string& summary);

 private:
  bool tty_;
  std::string prefix_;
  double last_draw_s_ = -1;
};

}  // namespace ipfs_accel::cli
