// DetectChromium(): is the browser the web backends drive installed, and which version.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "hw/browser_probe.h"
#include "hw/proc_parse.h"
#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::hw {
namespace detail {
namespace {

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs `<path> --version`; the exit status goes to *status (-1 if it could not run).
std::string RunVersion(const std::string& path, int* status) {
  const std::string command = ShellQuote(path) + " --version </dev/null 2>/dev/null";
  std::string output;
  *status = -1;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return output;
  char buffer[256];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
  const int wait_status = pclose(pipe);
  if (wait_status != -1 && WIFEXITED(wait_status)) *status = WEXITSTATUS(wait_status);
  return output;
}

}  // namespace

std::optional<BrowserInfo> DetectChromiumAt(const std::string& path, std::string* missing_reason) {
  auto fail = [missing_reason](const std::string& reason) -> std::optional<BrowserInfo> {
    if (missing_reason != nullptr) *missing_reason = reason;
    return std::nullopt;
  };
  if (access(path.c_str(), F_OK) != 0) {
    return fail("Chromium not installed (" + path +
                " not found; scripts/bootstrap.sh installs it)");
  }
  if (access(path.c_str(), X_OK) != 0) return fail("Chromium at " + path + " is not executable");

  // A binary that cannot even print its version will not run a page either.
  int status = -1;
  const std::string output = RunVersion(path, &status);
  if (status != 0) {
    return fail("Chromium at " + path + " did not run: `--version` exited with status " +
                std::to_string(status));
  }
  BrowserInfo info{"chromium", path, ParseChromiumVersion(output)};
  if (info.version.empty()) {
    return fail("Chromium at " + path + " printed no version for `--version` (got \"" +
                std::string(Trim(output)).substr(0, 80) + "\")");
  }
  if (missing_reason != nullptr) missing_reason->clear();
  return info;
}

std::optional<BrowserInfo> DetectFirefoxAt(const std::string& path, std::string* missing_reason) {
  auto fail = [missing_reason](const std::string& reason) -> std::optional<BrowserInfo> {
    if (missing_reason != nullptr) *missing_reason = reason;
    return std::nullopt;
  };
  if (access(path.c_str(), X_OK) != 0)
    return fail("Firefox ESR not installed (" + path +
                " not found; scripts/bootstrap.sh installs it)");
  int status = -1;
  const std::string output(Trim(RunVersion(path, &status)));  // "Mozilla Firefox 153.7.0esr"
  const std::string prefix = "Mozilla Firefox ";
  if (status != 0 || output.rfind(prefix, 0) != 0)
    return fail("Firefox at " + path + " did not print its version for `--version` (status " +
                std::to_string(status) + ")");
  if (missing_reason != nullptr) missing_reason->clear();
  return BrowserInfo{"firefox", path, output.substr(prefix.size())};
}

}  // namespace detail

std::optional<BrowserInfo> DetectChromium(std::string* missing_reason) {
  return detail::DetectChromiumAt(detail::kChromiumPath, missing_reason);
}

std::optional<BrowserInfo> DetectFirefox(std::string* missing_reason) {
  return detail::DetectFirefoxAt(detail::kFirefoxPath, missing_reason);
}

}  // namespace ipfs_accel::hw
