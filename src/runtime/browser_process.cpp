#include "browser_process.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::runtime {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

namespace {

std::string ReadWhole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The process group of /proc/<pid> (field 5 of stat, after the parenthesised name), or -1, also
// for a zombie: it holds no memory, and after the browser is reaped its orphans wait for init
// to reap them, which took ~2 s per browser in a VM whose init reaps slowly.
pid_t LiveProcessGroupOf(const fs::path& proc_dir) {
  const std::string stat = ReadWhole(proc_dir / "stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  long ppid = 0, pgrp = -1;
  rest >> state >> ppid >> pgrp;
  if (!rest || state == "Z" || state == "X") return -1;
  return static_cast<pid_t>(pgrp);
}

}  // namespace

BrowserProcess::BrowserProcess(const hw::BrowserInfo& browser, const std::string& url,
                               const std::vector<std::string>& extra_flags)
    : firefox_(browser.name == "firefox") {
  const std::string& binary = browser.path;
  std::string tmpl = (fs::temp_directory_path() / "ipfs_accel_browser_XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    throw Error(ErrorKind::kRuntime,
                fmt::format("could not create a temporary folder for "
                            "the browser's profile under {}: {}",
                            fs::temp_directory_path().string(), std::strerror(errno)));
  temp_dir_ = tmpl;
  profile_dir_ = temp_dir_ + "/profile";
  log_path_ = temp_dir_ + "/browser.log";
  fs::create_directories(profile_dir_);

  std::vector<std::string> argv;
  if (firefox_) {
    std::ofstream(profile_dir_ + "/user.js")
        << "user_pref(\"browser.shell.checkDefaultBrowser\", false);\n"
           "user_pref(\"browser.aboutwelcome.enabled\", false);\n"
           "user_pref(\"datareporting.policy.dataSubmissionEnabled\", false);\n"
           "user_pref(\"toolkit.telemetry.reportingpolicy.firstRun\", false);\n"
           "user_pref(\"app.update.auto\", false);\n"
           "user_pref(\"browser.startup.homepage_override.mstone\", \"ignore\");\n";
    argv = {binary, "--headless", "--no-remote", "--profile", profile_dir_, url};
  } else {
    argv = {binary, "--headless", "--no-sandbox", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            // No spare renderer: after a page's renderer dies, none
            // but Chromium's own UI renderer is left (HasRenderer).
            "--disable-features=SpareRendererForSitePerProcess", "--user-data-dir=" + profile_dir_};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    argv.push_back(url);
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  // Everything the child needs is prepared before fork (no allocation after it).
  const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  pid_ = ::fork();
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(log >= 0 ? log : null, 2);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  if (log >= 0) ::close(log);
  if (null >= 0) ::close(null);
  if (pid_ < 0) {
    std::error_code ec;
    fs::remove_all(temp_dir_, ec);
    throw Error(ErrorKind::kRuntime, fmt::format("could not start the browser ({}): {}", binary,
                                                 std::strerror(fork_errno)));
  }
  ::setpgid(pid_, pid_);  // also here: no race with the child's own call
}

BrowserProcess::~BrowserProcess() {
  Kill();
  std::error_code ec;
  fs::remove_all(temp_dir_, ec);
}

bool BrowserProcess::Exited(std::string* description) {
  if (!reaped_) {
    const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
    if (r == 0) return false;
    reaped_ = true;
  }
  if (description != nullptr) {
    if (WIFEXITED(status_))
      *description = fmt::format("the browser exited with status {}", WEXITSTATUS(status_));
    else if (WIFSIGNALED(status_))
      *description = fmt::format("the browser was ended by signal {}", WTERMSIG(status_));
    else
      *description = "the browser ended";
  }
  return true;
}

std::vector<fs::path> BrowserProcess::GroupProcesses() const {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    if (LiveProcessGroupOf(entry.path()) == pid_) out.push_back(entry.path());
  }
  return out;
}

int64_t BrowserProcess::ResidentBytes() const {
  int64_t total = 0;
  for (const fs::path& process : GroupProcesses()) {
    std::istringstream rollup(ReadWhole(process / "smaps_rollup"));
    std::string line;
    while (std::getline(rollup, line))
      if (line.rfind("Pss:", 0) == 0) total += std::stoll(line.substr(4)) * 1024;  // kB
  }
  return total;
}

bool BrowserProcess::HasRenderer() const {
  for (const fs::path& process : GroupProcesses()) {
    // Chromium's own UI (--top-chrome-webui) has a renderer too; it outlives a page's crash.
    const std::string cmdline = ReadWhole(process / "cmdline");
    if (firefox_) {  // a page's content process: "firefox-esr -contentproc ... tab"
      if (cmdline.find("-contentproc") != std::string::npos) return true;
      continue;
    }
    if (cmdline.find("--type=renderer") != std::string::npos &&
        cmdline.find("--top-chrome-webui") == std::string::npos)
      return true;
  }
  return false;
}

void BrowserProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(-pid_, SIGKILL);  // helpers too (GPU, network, renderers) even after the browser ended
  if (!reaped_) {
    while (::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
  }
  // SIGKILL is asynchronous: wait (briefly) until the helpers have ended too, so that callers
  // see no live process of this profile once Kill() returns.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (!GroupProcesses().empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::string BrowserProcess::LogTail(size_t max_lines) const {
  std::istringstream in(ReadWhole(log_path_));
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    // Chromium's log lines: "[pid:tid:date:ERROR:file.cc(123)] message"; D-Bus noise is not ours.
    if (line.find("ERROR:") == std::string::npos && line.find("FATAL:") == std::string::npos)
      continue;
    if (line.find("dbus") != std::string::npos || line.find("D-Bus") != std::string::npos) continue;
    const size_t close = line.find("] ");
    kept.push_back(close == std::string::npos ? line : line.substr(close + 2));
  }
  if (kept.size() > max_lines) kept.erase(kept.begin(), kept.end() - max_lines);
  std::string out;
  for (const auto& l : kept) out += (out.empty() ? "" : " | ") + l;
  return out;
}

}  // namespace ipfs_accel::runtime
