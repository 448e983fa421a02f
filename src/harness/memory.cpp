#include "ipfs_accel/harness/memory.h"

#include <fstream>
#include <string>

namespace ipfs_accel::harness {

namespace {
int64_t StatusField(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  }
  return 0;
}
}  // namespace

int64_t PeakRssBytes() { return StatusField("VmHWM"); }
int64_t CurrentRssBytes() { return StatusField("VmRSS"); }

bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace ipfs_accel::harness
