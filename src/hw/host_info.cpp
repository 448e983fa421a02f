// DetectHost(): who and what this machine is, for labelling stored results;
// AvailableHostMemoryBytes(): how much memory it has free now.

#include <sys/utsname.h>
#include <unistd.h>

#include <climits>
#include <string>

#include "hw/proc_parse.h"
#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::hw {

HostInfo DetectHost() {
  HostInfo host;
  char name[HOST_NAME_MAX + 1] = {};
  // gethostname may not terminate a truncated name; the extra zero byte does.
  if (gethostname(name, HOST_NAME_MAX) == 0) host.hostname = name;

  // os-release(5): /etc first, /usr/lib as the vendor fallback.
  for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
    if (std::optional<std::string> text = detail::ReadTextFile(path)) {
      host.os = detail::ParseOsReleaseValue(*text, "PRETTY_NAME");
      break;
    }
  }

  utsname uts{};
  if (uname(&uts) == 0) host.kernel = uts.release;
  return host;
}

int64_t AvailableHostMemoryBytes() {
  const std::optional<std::string> meminfo = detail::ReadTextFile("/proc/meminfo");
  return meminfo ? detail::ParseMeminfoBytes(*meminfo, "MemAvailable").value_or(0) : 0;
}

}  // namespace ipfs_accel::hw
