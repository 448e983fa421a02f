// DetectCpu(): ISA features from the CPU itself (cpuid / HWCAP), everything else from the
// kernel (/proc, /sys, sysconf, uname).

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "hw/proc_parse.h"
#include "ipfs_accel/hw/hardware.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace ipfs_accel::hw {
namespace {

namespace fs = std::filesystem;
using detail::ReadTextFile;
using detail::Trim;

constexpr char kSysCpu[] = "/sys/devices/system/cpu";

#if defined(__x86_64__) || defined(__i386__)

bool Bit(unsigned reg, int bit) { return ((reg >> bit) & 1u) != 0; }

// XCR0: which register state the OS saves on context switch. A CPU feature whose registers
// the OS does not save is unusable, so cpuid alone is not enough.
uint64_t ReadXcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t{edx} << 32) | eax;
}

// Names follow the kernel's /proc/cpuinfo flags, so the two can be compared.
std::vector<std::string> IsaFeatures() {
  std::vector<std::string> out;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return out;
  const unsigned ecx1 = c;
  const bool osxsave = Bit(ecx1, 27);
  const uint64_t xcr0 = osxsave ? ReadXcr0() : 0;
  const bool os_avx = (xcr0 & 0x6) == 0x6;          // XMM | YMM
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;     // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG | XTILEDATA

  unsigned ebx7 = 0, ecx7 = 0, edx7 = 0, eax7_1 = 0;
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, ebx7, ecx7, edx7);
    if (a >= 1) __cpuid_count(7, 1, eax7_1, b, c, d);
  }

  auto add = [&out](bool present, const char* name) {
    if (present) out.emplace_back(name);
  };
  add(Bit(ecx1, 19), "sse4_1");
  add(Bit(ecx1, 20), "sse4_2");
  add(os_avx && Bit(ecx1, 28), "avx");
  add(os_avx && Bit(ebx7, 5), "avx2");
  add(os_avx && Bit(ecx1, 12), "fma");
  add(os_avx && Bit(ecx1, 29), "f16c");
  add(os_avx && Bit(eax7_1, 4), "avx_vnni");
  add(os_avx512 && Bit(ebx7, 16), "avx512f");
  add(os_avx512 && Bit(ebx7, 17), "avx512dq");
  add(os_avx512 && Bit(ebx7, 30), "avx512bw");
  add(os_avx512 && Bit(ebx7, 31), "avx512vl");
  add(os_avx512 && Bit(ecx7, 11), "avx512_vnni");
  add(os_avx512 && Bit(eax7_1, 5), "avx512_bf16");
  add(os_avx512 && Bit(edx7, 23), "avx512_fp16");
  // Linux additionally wants arch_prctl(ARCH_REQ_XCOMP_PERM) before a process touches AMX
  // tiles; the runtime that uses them asks for that. Here we report what the OS supports.
  add(os_amx && Bit(edx7, 24), "amx_tile");
  add(os_amx && Bit(edx7, 25), "amx_int8");
  add(os_amx && Bit(edx7, 22), "amx_bf16");
  return out;
}

#elif defined(__aarch64__)

std::vector<std::string> IsaFeatures() {
  std::vector<std::string> out;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  auto add = [&out](bool present, const char* name) {
    if (present) out.emplace_back(name);
  };
  // Missing macros mean headers older than the feature; then it is not reported.
#ifdef HWCAP_ASIMD
  add(hwcap & HWCAP_ASIMD, "neon");
#endif
#ifdef HWCAP_ASIMDHP
  add(hwcap & HWCAP_ASIMDHP, "fp16");
#endif
#ifdef HWCAP_ASIMDDP
  add(hwcap & HWCAP_ASIMDDP, "dotprod");
#endif
#ifdef HWCAP_SVE
  add(hwcap & HWCAP_SVE, "sve");
#endif
#ifdef HWCAP2_SVE2
  add(hwcap2 & HWCAP2_SVE2, "sve2");
#endif
#ifdef HWCAP2_I8MM
  add(hwcap2 & HWCAP2_I8MM, "i8mm");
#endif
#ifdef HWCAP2_BF16
  add(hwcap2 & HWCAP2_BF16, "bf16");
#endif
  (void)hwcap2;
  return out;
}

#else

std::vector<std::string> IsaFeatures() { return {}; }

#endif

// aarch64 /proc/cpuinfo has no vendor or model name, only MIDR fields; the implementer
// codes are assigned by Arm.
std::string ArmImplementerName(const std::string& code) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"0x41", "ARM"},       {"0x42", "Broadcom"}, {"0x43", "Cavium"},
      {"0x48", "HiSilicon"}, {"0x4e", "NVIDIA"},   {"0x50", "APM"},
      {"0x51", "Qualcomm"},  {"0x61", "Apple"},    {"0xc0", "Ampere"},
  };
  for (const auto& [hex, name] : kNames) {
    if (code == hex) return name;
  }
  return code.empty() ? "" : "implementer " + code;
}

std::string ReadTrimmed(const fs::path& path) {
  std::optional<std::string> text = ReadTextFile(path.string());
  return text ? std::string(Trim(*text)) : "";
}

// Physical cores are distinct (package, core) pairs over the online CPUs; sysfs first, then
// /proc/cpuinfo's "physical id"/"core id". Zero when neither source says.
void CountCoresAndSockets(const std::vector<detail::CpuinfoBlock>& cpuinfo, CpuInfo& cpu) {
  std::set<std::pair<std::string, std::string>> cores;
  std::set<std::string> packages;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(kSysCpu, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 4 || name.compare(0, 3, "cpu") != 0 ||
        !std::all_of(name.begin() + 3, name.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    if (ReadTrimmed(entry.path() / "online") == "0") continue;
    std::string package = ReadTrimmed(entry.path() / "topology/physical_package_id");
    std::string core = ReadTrimmed(entry.path() / "topology/core_id");
    if (package.empty() || core.empty()) continue;
    cores.emplace(package, core);
    packages.insert(package);
  }
  if (cores.empty()) {
    for (const detail::CpuinfoBlock& block : cpuinfo) {
      auto package = block.find("physical id");
      auto core = block.find("core id");
      if (package == block.end() || core == block.end()) continue;
      cores.emplace(package->second, core->second);
      packages.insert(package->second);
    }
  }
  cpu.physical_cores = static_cast<int>(cores.size());
  cpu.sockets = static_cast<int>(packages.size());
}

// cpu0's caches; other cores have the same sizes on every machine we target.
void ReadCaches(CpuInfo& cpu) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(fs::path(kSysCpu) / "cpu0/cache", ec)) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    const std::string level = ReadTrimmed(entry.path() / "level");
    const std::string type = ReadTrimmed(entry.path() / "type");
    const int64_t bytes = detail::ParseCacheSize(ReadTrimmed(entry.path() / "size")).value_or(0);
    if (type == "Instruction") continue;
    if (level == "1") cpu.l1d_cache_bytes = bytes;
    if (level == "2") cpu.l2_cache_bytes = bytes;
    if (level == "3") cpu.l3_cache_bytes = bytes;
  }
}

// Where sysfs has no cache folder (a Firecracker VM has none), glibc's sysconf, which asks
// CPUID on x86; a size it does not know stays 0.
void ReadCachesFromSysconf(CpuInfo& cpu) {
  const auto size = [](int name) {
    const long v = sysconf(name);
    return v > 0 ? int64_t{v} : int64_t{0};
  };
  if (cpu.l1d_cache_bytes == 0) cpu.l1d_cache_bytes = size(_SC_LEVEL1_DCACHE_SIZE);
  if (cpu.l2_cache_bytes == 0) cpu.l2_cache_bytes = size(_SC_LEVEL2_CACHE_SIZE);
  if (cpu.l3_cache_bytes == 0) cpu.l3_cache_bytes = size(_SC_LEVEL3_CACHE_SIZE);
}

std::string Field(const std::vector<detail::CpuinfoBlock>& blocks, const std::string& key) {
  for (const detail::CpuinfoBlock& block : blocks) {
    auto it = block.find(key);
    if (it != block.end() && !it->second.empty()) return it->second;
  }
  return "";
}

}  // namespace

bool CpuInfo::HasFeature(const std::string& feature) const {
  return std::find(isa_features.begin(), isa_features.end(), feature) != isa_features.end();
}

CpuInfo DetectCpu() {
  CpuInfo cpu;
  utsname uts{};
  if (uname(&uts) == 0) cpu.architecture = uts.machine;

  const std::vector<detail::CpuinfoBlock> cpuinfo =
      detail::ParseCpuinfo(ReadTextFile("/proc/cpuinfo").value_or(""));
  cpu.model_name = Field(cpuinfo, "model name");
  cpu.vendor = Field(cpuinfo, "vendor_id");
  if (cpu.vendor.empty()) cpu.vendor = ArmImplementerName(Field(cpuinfo, "CPU implementer"));
  if (cpu.model_name.empty() && !Field(cpuinfo, "CPU part").empty()) {
    cpu.model_name = cpu.vendor + " CPU part " + Field(cpuinfo, "CPU part");
  }

  cpu.isa_features = IsaFeatures();
  const long online = sysconf(_SC_NPROCESSORS_ONLN);
  cpu.logical_cores = online > 0 ? static_cast<int>(online) : 0;
  CountCoresAndSockets(cpuinfo, cpu);
  ReadCaches(cpu);
  ReadCachesFromSysconf(cpu);

  const std::string meminfo = ReadTextFile("/proc/meminfo").value_or("");
  cpu.memory_total_bytes = detail::ParseMeminfoBytes(meminfo, "MemTotal").value_or(0);
  cpu.memory_available_bytes = detail::ParseMeminfoBytes(meminfo, "MemAvailable").value_or(0);
  return cpu;
}

}  // namespace ipfs_accel::hw
