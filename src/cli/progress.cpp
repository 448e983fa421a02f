#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace ipfs_accel::cli {

namespace {
double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

Progress::Progress() : tty_(isatty(STDERR_FILENO) != 0) {}

std::string Progress::Clock(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
                   : fmt::format("{}:{:02}", s / 60, s % 60);
}

// "[3/12 0:42, ~1:10 left] what": the estimate is the mean time of the configurations done so
// far times those not done, so it appears from the second configuration on.
std::string Progress::Prefix() const {
  const double elapsed = Since(sweep_start_);
  std::string eta;
  if (index_ > 1) {
    const double per = (elapsed - Since(config_start_)) / (index_ - 1);
    const double left = per * (total_ - index_ + 1) - Since(config_start_);
    eta = fmt::format(", ~{} left", Clock(left > 0 ? left : 0));
  }
  return fmt::format("[{}/{} {}{}] {}", index_, total_, Clock(elapsed), eta, what_);
}

void Progress::Draw(const std::string& status) {
  fmt::print(stderr, "\r\033[K{}: {}", Prefix(), status);
}

void Progress::Begin(int index, int total, const std::string& what) {
  index_ = index;
  total_ = total;
  what_ = what;
  config_start_ = SteadyClock::now();
  last_draw_s_ = -1;
  if (tty_)
    Draw("loading");
  else
    fmt::print(stderr, "{}\n", Prefix());
}

void Progress::Update(int runs, double elapsed_s) {
  if (!tty_ || elapsed_s - last_draw_s_ < 0.1) return;
  last_draw_s_ = elapsed_s;
  Draw(fmt::format("{} runs, {:.1f} s", runs, elapsed_s));
}

void Progress::Waiting(double elapsed_s) {
  if (!tty_ || elapsed_s - last_draw_s_ < 0.1) return;
  last_draw_s_ = elapsed_s;
  Draw(fmt::format("running in its own process, {:.1f} s", elapsed_s));
}

void Progress::End(const std::string& summary) {
  const double took = Since(config_start_);
  if (tty_)
    fmt::print(stderr, "\r\033[K{}: {} ({:.1f} s)\n", Prefix(), summary, took);
  else
    fmt::print(stderr, "  {} ({:.1f} s)\n", summary, took);
}

}  // namespace ipfs_accel::cli
