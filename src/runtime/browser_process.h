#pragma once
// Headless Chromium (or Firefox ESR) in a process group of its own with a fresh profile, so that it
// can be killed whole (browser, renderers, GPU and network helpers) and leaves nothing behind.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::runtime {

class BrowserProcess {
 public:
  // Starts `browser` (hw's BrowserInfo) headless on `url` with a new profile in a temporary
  // folder and stderr to a log file there. Chromium gets ARCHITECTURE.md's base flags plus
  // `extra_flags`; Firefox (name "firefox") gets --headless --no-remote and a profile whose prefs
  // skip first-run pages, telemetry and updates (`extra_flags` are Chromium's, not passed).
  // Throws core::Error(kRuntime) when it cannot start.
  BrowserProcess(const hw::BrowserInfo& browser, const std::string& url,
                 const std::vector<std::string>& extra_flags);
  ~BrowserProcess();  // Kill(), then removes the temporary folder
  BrowserProcess(const BrowserProcess&) = delete;
  BrowserProcess& operator=(const BrowserProcess&) = delete;

  pid_t pid() const { return pid_; }  // also the process group's id
  const std::string& profile_dir() const { return profile_dir_; }
  // Whether the browser process has exited (reaps it); *description says how, when it has.
  bool Exited(std::string* description = nullptr);
  // Whether a page's renderer process of this browser is alive (false after a renderer crash).
  bool HasRenderer() const;
  // The memory the browser's processes (browser, renderers, GPU and utility processes) hold now:
  // the sum of their proportional set sizes (PSS: a page shared by n processes counts 1/n in
  // each), so the binary they all map is counted once, not once per process.
  int64_t ResidentBytes() const;
  // SIGKILL to the whole group, reaps the browser and waits (up to 3 s) until the rest of the
  // group has ended (zombies left to init count as ended). Idempotent.
  void Kill();
  // The last `max_lines` lines of Chromium's stderr that look like errors, joined by " | ".
  std::string LogTail(size_t max_lines = 3) const;

 private:
  // The /proc folders of the live (not zombie) processes in the browser's group.
  std::vector<std::filesystem::path> GroupProcesses() const;

  bool firefox_ = false;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string temp_dir_, profile_dir_, log_path_;
};

}  // namespace ipfs_accel::runtime
