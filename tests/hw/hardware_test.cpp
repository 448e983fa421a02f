#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/hw/memory_bandwidth.h"

#include <dlfcn.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hw/browser_probe.h"
#include "hw/proc_parse.h"

namespace ipfs_accel::hw {
namespace hardware_test {

using ::testing::HasSubstr;

// Read directly, not through the code under test, so the comparison is between two sources.
std::string FirstLineStartingWith(const std::string& path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return "";
}

std::string FileLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// ---- parsers, on literal text ----

TEST(ProcParseTest, CacheSizes) {
  EXPECT_EQ(detail::ParseCacheSize("48K"), 48 * 1024);
  EXPECT_EQ(detail::ParseCacheSize("2048K\n"), 2048 * 1024);
  EXPECT_EQ(detail::ParseCacheSize("32M"), 32 * 1024 * 1024);
  EXPECT_EQ(detail::ParseCacheSize("1G"), int64_t{1} << 30);
  EXPECT_EQ(detail::ParseCacheSize("512"), 512);
  EXPECT_EQ(detail::ParseCacheSize(""), std::nullopt);
  EXPECT_EQ(detail::ParseCacheSize("K"), std::nullopt);
  EXPECT_EQ(detail::ParseCacheSize("-4K"), std::nullopt);
  EXPECT_EQ(detail::ParseCacheSize("12Q"), std::nullopt);
  EXPECT_EQ(detail::ParseCacheSize("4 K"), std::nullopt);
  EXPECT_EQ(detail::ParseCacheSize("99999999999999999999K"), std::nullopt);
}

TEST(ProcParseTest, CpuinfoBlocks) {
  const char* text =
      "processor\t: 0\n"
      "vendor_id\t: GenuineIntel\n"
      "model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
      "physical id\t: 0\n"
      "core id\t\t: 3\n"
      "flags\t\t: fpu sse4_2 avx2\n"
      "power management:\n"
      "\n"
      "processor\t: 1\n"
      "physical id\t: 1\n"
      "\n\n";
  std::vector<detail::CpuinfoBlock> blocks = detail::ParseCpuinfo(text);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0]["model name"], "Intel(R) Xeon(R) Platinum 8480+");
  EXPECT_EQ(blocks[0]["core id"], "3");
  EXPECT_EQ(blocks[0]["power management"], "");
  EXPECT_EQ(detail::SplitWords(blocks[0]["flags"]),
            (std::vector<std::string>{"fpu", "sse4_2", "avx2"}));
  EXPECT_EQ(blocks[1]["physical id"], "1");
  EXPECT_EQ(blocks[1].count("model name"), 0u);
  EXPECT_TRUE(detail::ParseCpuinfo("").empty());
}

TEST(ProcParseTest, Meminfo) {
  const char* text =
      "MemTotal:       24684084 kB\n"
      "MemFree:        23579188 kB\n"
      "MemAvailable:   24310212 kB\n"
      "HugePages_Total:       4\n";
  EXPECT_EQ(detail::ParseMeminfoBytes(text, "MemTotal"), int64_t{24684084} * 1024);
  EXPECT_EQ(detail::ParseMeminfoBytes(text, "MemAvailable"), int64_t{24310212} * 1024);
  EXPECT_EQ(detail::ParseMeminfoBytes(text, "HugePages_Total"), 4);
  EXPECT_EQ(detail::ParseMeminfoBytes(text, "Mem"), std::nullopt);  // no prefix matches
  EXPECT_EQ(detail::ParseMeminfoBytes(text, "SwapTotal"), std::nullopt);
  EXPECT_EQ(detail::ParseMeminfoBytes("MemTotal: lots kB\n", "MemTotal"), std::nullopt);
}

TEST(ProcParseTest, OsRelease) {
  const char* text =
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
      "NAME='Debian GNU/Linux'\n"
      "ID=debian\n"
      "QUOTED=\"say \\\"hi\\\"\"\n";
  EXPECT_EQ(detail::ParseOsReleaseValue(text, "PRETTY_NAME"), "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(detail::ParseOsReleaseValue(text, "NAME"), "Debian GNU/Linux");
  EXPECT_EQ(detail::ParseOsReleaseValue(text, "ID"), "debian");
  EXPECT_EQ(detail::ParseOsReleaseValue(text, "QUOTED"), "say \"hi\"");
  EXPECT_EQ(detail::ParseOsReleaseValue(text, "VERSION_ID"), "");
}

TEST(ProcParseTest, ChromiumVersion) {
  EXPECT_EQ(detail::ParseChromiumVersion("Chromium 156.0.8078.108 \n"), "156.0.8078.108");
  EXPECT_EQ(detail::ParseChromiumVersion(
                "Chromium 120.0.6099.224 built on Debian 12.4, running on Debian 12.5\n"),
            "120.0.6099.224");
  EXPECT_EQ(detail::ParseChromiumVersion("Google Chrome 131.0.6778.85"), "131.0.6778.85");
  EXPECT_EQ(detail::ParseChromiumVersion("Chromium 1..2 3."), "");
  EXPECT_EQ(detail::ParseChromiumVersion(""), "");
}

// ---- detection, against independent sources on this machine ----

TEST(DetectCpuTest, CountsAgreeWithTheKernel) {
  const CpuInfo cpu = DetectCpu();
  EXPECT_EQ(cpu.logical_cores, sysconf(_SC_NPROCESSORS_ONLN));
  EXPECT_GE(cpu.physical_cores, 1);
  EXPECT_LE(cpu.physical_cores, cpu.logical_cores);
  EXPECT_GE(cpu.sockets, 1);
  EXPECT_LE(cpu.sockets, cpu.physical_cores);
}

TEST(DetectCpuTest, NamesAndArchitecture) {
  const CpuInfo cpu = DetectCpu();
  EXPECT_FALSE(cpu.model_name.empty());
  EXPECT_FALSE(cpu.vendor.empty());
  utsname uts{};
  ASSERT_EQ(uname(&uts), 0);
  EXPECT_EQ(cpu.architecture, uts.machine);
}

TEST(DetectCpuTest, CountsMemoryAndKnowsTheCachesWhereSysfsOrCpuidTellThem) {
  const CpuInfo cpu = DetectCpu();
  EXPECT_GT(cpu.memory_total_bytes, 0);
  EXPECT_GT(cpu.memory_available_bytes, 0);
  EXPECT_GE(cpu.memory_total_bytes, cpu.memory_available_bytes);
  // sysinfo(2) counts the same RAM in pages; a container's virtualized /proc/meminfo
  // (lxcfs) may show less, never more.
  const int64_t physical = sysconf(_SC_PHYS_PAGES) * int64_t{sysconf(_SC_PAGESIZE)};
  EXPECT_LE(cpu.memory_total_bytes, physical);
  // Sizes come from sysfs, else (a Firecracker VM has no cache folder) from glibc's sysconf.
  const bool sysfs = std::filesystem::is_directory("/sys/devices/system/cpu/cpu0/cache");
  if (!sysfs) {
    EXPECT_EQ(cpu.l1d_cache_bytes, std::max(sysconf(_SC_LEVEL1_DCACHE_SIZE), 0L));
  }
  if (sysfs || sysconf(_SC_LEVEL1_DCACHE_SIZE) > 0) {
    EXPECT_GT(cpu.l1d_cache_bytes, 0);
    EXPECT_GT(cpu.l2_cache_bytes, 0);
    EXPECT_GT(cpu.l3_cache_bytes, 0);
    EXPECT_LT(cpu.l1d_cache_bytes, cpu.l2_cache_bytes);
  }
  const auto l1d = detail::ParseCacheSize(
      FileLine("/sys/devices/system/cpu/cpu0/cache/index0/size"));  // L1d on x86 and arm64
  if (FileLine("/sys/devices/system/cpu/cpu0/cache/index0/type") == "Data") {
    EXPECT_EQ(cpu.l1d_cache_bytes, l1d);
  }
}

TEST(AvailableHostMemoryTest, WithinTheMachinesMemory) {
  const int64_t available = AvailableHostMemoryBytes();
  EXPECT_GT(available, 0);
  EXPECT_LE(available, DetectCpu().memory_total_bytes);
}

TEST(DetectCpuTest, FeaturesAgreeWithProcCpuinfo) {
  const CpuInfo cpu = DetectCpu();
  const std::set<std::string> names(cpu.isa_features.begin(), cpu.isa_features.end());
  EXPECT_EQ(names.size(), cpu.isa_features.size()) << "duplicate feature names";
  EXPECT_FALSE(cpu.HasFeature("not_a_feature"));
#if defined(__x86_64__)
  std::string line = FirstLineStartingWith("/proc/cpuinfo", "flags");
  ASSERT_FALSE(line.empty());
  std::istringstream words(line.substr(line.find(':') + 1));
  const std::set<std::string> flags{std::istream_iterator<std::string>(words), {}};
  // The kernel hides a flag whose register state it does not enable, as we do with xgetbv.
  for (const char* f :
       {"sse4_2", "avx2", "avx", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni"}) {
    EXPECT_EQ(cpu.HasFeature(f), flags.count(f) == 1) << f;
  }
  EXPECT_TRUE(cpu.HasFeature("sse4_2"));  // every x86-64 we support (x86-64-v2)
#elif defined(__aarch64__)
  const std::string line = FirstLineStartingWith("/proc/cpuinfo", "Features");
  EXPECT_EQ(cpu.HasFeature("neon"), line.find(" asimd") != std::string::npos);
#endif
}

TEST(DetectNvidiaTest, ReasonOrGpus) {
  const NvidiaInfo info = DetectNvidia();
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    EXPECT_THAT(info.unavailable_reason, HasSubstr("no NVIDIA driver"));
    EXPECT_TRUE(info.gpus.empty());
    EXPECT_TRUE(info.driver_version.empty());
    return;
  }
  dlclose(lib);
  // Driver present: either usable GPUs with readable fields, or a reason, never both or neither.
  EXPECT_NE(info.gpus.empty(), info.unavailable_reason.empty()) << info.unavailable_reason;
  for (size_t i = 0; i < info.gpus.size(); ++i) {
    const NvidiaGpu& gpu = info.gpus[i];
    EXPECT_EQ(gpu.index, static_cast<int>(i));
    EXPECT_FALSE(gpu.name.empty());
    EXPECT_THAT(gpu.uuid, HasSubstr("GPU-"));
    EXPECT_GT(gpu.memory_total_bytes, 0);
    EXPECT_GE(gpu.compute_capability_major, 3);
  }
  if (!info.gpus.empty()) {
    EXPECT_TRUE(std::regex_match(info.cuda_driver_version, std::regex(R"(\d+\.\d+)")))
        << info.cuda_driver_version;
  }
}

TEST(DetectChromiumTest, VersionWhenInstalled) {
  std::string reason = "stale";
  const std::optional<BrowserInfo> chromium = DetectChromium(&reason);
  if (!std::filesystem::exists(detail::kChromiumPath)) {
    EXPECT_FALSE(chromium.has_value());
    EXPECT_THAT(reason, HasSubstr("Chromium not installed"));
    return;
  }
  ASSERT_TRUE(chromium.has_value()) << reason;
  EXPECT_TRUE(reason.empty());
  EXPECT_EQ(chromium->name, "chromium");
  EXPECT_EQ(chromium->path, detail::kChromiumPath);
  EXPECT_TRUE(std::regex_match(chromium->version, std::regex(R"(\d+(\.\d+)+)")))
      << chromium->version;
}

// A small executable (or not) in a fresh temporary folder.
std::string WriteScript(const std::string& name, const std::string& body, bool executable) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("hw_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  std::filesystem::permissions(
      path, executable ? std::filesystem::perms(0755) : std::filesystem::perms(0644));
  return path.string();
}

TEST(DetectChromiumTest, MissingOrWrongBinaryGivesReason) {
  std::string reason;
  EXPECT_FALSE(detail::DetectChromiumAt("/nonexistent/chromium", &reason).has_value());
  EXPECT_EQ(reason,
            "Chromium not installed (/nonexistent/chromium not found; scripts/bootstrap.sh "
            "installs it)");

  EXPECT_FALSE(
      detail::DetectChromiumAt(WriteScript("silent", "echo hello", true), &reason).has_value());
  EXPECT_THAT(reason, HasSubstr("printed no version"));
  EXPECT_FALSE(detail::DetectChromiumAt(WriteScript("fails", "exit 3", true), &reason).has_value());
  EXPECT_THAT(reason, HasSubstr("exited with status 3"));
  EXPECT_FALSE(detail::DetectChromiumAt(WriteScript("plain", "", false), &reason).has_value());
  EXPECT_THAT(reason, HasSubstr("not executable"));

  std::string fake = WriteScript("chromium's", "echo 'Chromium 1.2.3.4 '", true);
  const std::optional<BrowserInfo> found = detail::DetectChromiumAt(fake, &reason);
  ASSERT_TRUE(found.has_value()) << reason;
  EXPECT_EQ(found->version, "1.2.3.4");
  EXPECT_EQ(found->path, fake);
  std::filesystem::remove_all(std::filesystem::path(fake).parent_path());
}

TEST(DetectHostTest, AgreesWithProcSys) {
  const HostInfo host = DetectHost();
  EXPECT_EQ(host.hostname, FileLine("/proc/sys/kernel/hostname"));
  EXPECT_EQ(host.kernel, FileLine("/proc/sys/kernel/osrelease"));
  if (std::filesystem::exists("/etc/os-release")) {
    EXPECT_FALSE(host.os.empty());
  }
}

// ---- JSON ----

TEST(HardwareJsonTest, ReportHasEveryField) {
  const HardwareReport report = Detect();
  const nlohmann::json j = report;
  const nlohmann::json back = nlohmann::json::parse(j.dump());
  EXPECT_EQ(back, j);
  for (const char* key : {"host", "cpu", "nvidia", "chromium", "chromium_missing_reason", "firefox",
                          "firefox_missing_reason"}) {
    EXPECT_TRUE(back.contains(key)) << key;
  }
  for (const char* key : {"hostname", "os", "kernel"}) EXPECT_TRUE(back["host"].contains(key));
  for (const char* key : {"model_name", "vendor", "architecture", "isa_features", "physical_cores",
                          "logical_cores", "sockets", "l1d_cache_bytes", "l2_cache_bytes",
                          "l3_cache_bytes", "memory_total_bytes", "memory_available_bytes"}) {
    EXPECT_TRUE(back["cpu"].contains(key)) << key;
  }
  EXPECT_EQ(back["cpu"].size(), 12u);
  for (const char* key : {"unavailable_reason", "driver_version", "cuda_driver_version", "gpus"}) {
    EXPECT_TRUE(back["nvidia"].contains(key)) << key;
  }
  EXPECT_EQ(back["cpu"]["logical_cores"].get<int>(), report.cpu.logical_cores);
  EXPECT_EQ(back["cpu"]["memory_total_bytes"].get<int64_t>(), report.cpu.memory_total_bytes);
  EXPECT_EQ(back["cpu"]["isa_features"].get<std::vector<std::string>>(), report.cpu.isa_features);
  EXPECT_EQ(back["nvidia"]["unavailable_reason"], report.nvidia.unavailable_reason);
  if (report.chromium) {
    EXPECT_EQ(back["chromium"]["version"], report.chromium->version);
  } else {
    EXPECT_TRUE(back["chromium"].is_null());
    EXPECT_FALSE(back["chromium_missing_reason"].get<std::string>().empty());
  }
  if (report.firefox) {
    EXPECT_EQ(back["firefox"]["version"], report.firefox->version);
    EXPECT_EQ(back["firefox"]["name"], "firefox");
  } else {
    EXPECT_TRUE(back["firefox"].is_null());
    EXPECT_FALSE(back["firefox_missing_reason"].get<std::string>().empty());
  }
}

// NVIDIA's H100 SXM5 datasheet: 67 TFLOPS fp32 and 3.35 TB/s from 16896 CUDA cores at a
// 1980 MHz boost clock and 5120-bit HBM3 at 2619 MHz, the figures NVML reports for it.
TEST(NvidiaPeaksTest, ReproduceTheH100Datasheet) {
  EXPECT_NEAR(PeakFp32Gflops(16896, 1980) / 1e3, 67.0, 0.5);
  EXPECT_NEAR(PeakMemoryGbPerS(5120, 2619) / 1e3, 3.35, 0.01);
}

// The probe's figures are those of this machine's memory: more than a slow DIMM's worth and
// less than any machine's caches; triad moves 24 bytes per element against copy's 16, so its
// rate is within a factor of two of copy's.
TEST(MemoryBandwidthTest, MeasuresCopyAndTriadPastTheLastLevelCache) {
  const CpuInfo cpu = DetectCpu();
  const MemoryBandwidth m = MeasureMemoryBandwidth(cpu);
  EXPECT_GE(m.array_bytes, std::min<int64_t>(int64_t{32} << 20, cpu.memory_available_bytes / 8));
  EXPECT_GE(m.array_bytes, std::min<int64_t>(4 * cpu.l3_cache_bytes, int64_t{256} << 20));
  EXPECT_EQ(m.threads, cpu.logical_cores);
  EXPECT_GT(m.copy_gb_per_s, 0.5);
  EXPECT_LT(m.copy_gb_per_s, 2000);
  EXPECT_GT(m.triad_gb_per_s, m.copy_gb_per_s / 2);
  EXPECT_LT(m.triad_gb_per_s, m.copy_gb_per_s * 2);
  const nlohmann::json j = m;
  EXPECT_EQ(j["method"], "stream");
  EXPECT_DOUBLE_EQ(j.get<MemoryBandwidth>().triad_gb_per_s, m.triad_gb_per_s);
}

TEST(HardwareJsonTest, GpuFields) {
  NvidiaInfo info;
  info.driver_version = "580.65.06";
  info.cuda_driver_version = "13.0";
  info.gpus.push_back({0, "NVIDIA H100 80GB HBM3", "GPU-1234", int64_t{85} << 30, 9, 0});
  const nlohmann::json j = info;
  ASSERT_EQ(j["gpus"].size(), 1u);
  const nlohmann::json& gpu = j["gpus"][0];
  EXPECT_EQ(gpu["index"], 0);
  EXPECT_EQ(gpu["name"], "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(gpu["uuid"], "GPU-1234");
  EXPECT_EQ(gpu["memory_total_bytes"].get<int64_t>(), int64_t{85} << 30);
  EXPECT_EQ(gpu["compute_capability_major"], 9);
  EXPECT_EQ(gpu["compute_capability_minor"], 0);
  EXPECT_EQ(j["cuda_driver_version"], "13.0");
}

}  // namespace hardware_test
}  // namespace ipfs_accel::hw
