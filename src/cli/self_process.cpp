#include "cli/self_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {
namespace {

// In the child, between fork and exec: only async-signal-safe calls.
void RedirectInChild(const std::string& path, int fd) {
  if (path.empty()) return;
  const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (file < 0 || ::dup2(file, fd) < 0) ::_exit(127);
}

}  // namespace

SelfExit RunSelf(const SelfRun& run) {
  const std::string exe = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {exe};
  args.insert(args.end(), run.args.begin(), run.args.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0)
    throw core::Error(core::ErrorKind::kIo, fmt::format("cannot start a worker process ({}): {}",
                                                        exe, std::strerror(errno)));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
    RedirectInChild(run.stdout_path, STDOUT_FILENO);
    RedirectInChild(run.stderr_path, STDERR_FILENO);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  int status = 0;
  SelfExit out;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR)
      throw core::Error(core::ErrorKind::kInternal,
                        fmt::format("waiting for worker {} failed: {}", pid, std::strerror(errno)));
    const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
    if (run.timeout_s > 0 && waited > run.timeout_s && !out.timed_out) {
      ::kill(pid, SIGKILL);
      out.timed_out = true;
    }
    try {
      if (run.tick) run.tick(waited);
    } catch (...) {  // the caller is stopping: its child goes with it
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(waited < 1 ? 10 : 100));
  }
  if (WIFSIGNALED(status)) {
    out.signal = WTERMSIG(status);
    out.core_dumped = WCOREDUMP(status);
  } else {
    out.status = WEXITSTATUS(status);
  }
  return out;
}

}  // namespace ipfs_accel::cli
