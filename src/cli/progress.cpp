#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace ipfs_accel::cli {

Progress::Progress() : tty_(isatty(STDERR_FILENO) != 0) {}

void Progress::Begin(int index, int total, const std::string& what) {
  prefix_ = fmt::format("[{}/{}] {}", index, total, what);
  last_draw_s_ = -1;
  if (tty_)
    fmt::print(stderr, "\r\033[K{}: loading", prefix_);
  else
    fmt::print(stderr, "{}\n", prefix_);
}

void Progress::Update(int runs, double elapsed_s) {
  if (!tty_ || elapsed_s - last_draw_s_ < 0.1) return;
  last_draw_s_ = elapsed_s;
  fmt::print(stderr, "\r\033[K{}: {} runs, {:.1f} s", prefix_, runs, elapsed_s);
}

void Progress::End(const std::string& summary) {
  if (tty_)
    fmt::print(stderr, "\r\033[K{}: {}\n", prefix_, summary);
  else
    fmt::print(stderr, "  {}\n", summary);
}

}  // namespace ipfs_accel::cli
