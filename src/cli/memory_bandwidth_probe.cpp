#include "cli/memory_bandwidth_probe.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/atomic_file.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"
#include "ipfs_accel/hw/memory_bandwidth.h"

namespace ipfs_accel::cli {

namespace {

namespace fs = std::filesystem;

// Read-only: a database that does not exist yet is not created before the run is.
std::optional<hw::MemoryBandwidth> Stored(const DatabaseOption& db, const hw::HardwareReport& h) {
  std::unique_ptr<store::ResultStore> store;
  try {
    store = db.Open(/*read_only=*/true);
  } catch (const core::Error& e) {
    if (e.kind() == core::ErrorKind::kNotFound) return std::nullopt;
    throw;
  }
  const auto r = store->Query(
      "SELECT CAST(details->'memory_bandwidth' AS VARCHAR) FROM hardware_platforms "
      "WHERE platform = 'cpu' AND device_name = ? AND hostname = ?",
      {h.cpu.model_name, h.host.hostname});
  if (r.rows.empty() || !r.rows[0][0]) return std::nullopt;
  const auto j = nlohmann::json::parse(*r.rows[0][0], nullptr, false);
  if (!j.is_object() || !j.contains("triad_gb_per_s")) return std::nullopt;
  return j.get<hw::MemoryBandwidth>();
}

// The machine's figure kept beside the user's other caches ($XDG_CACHE_HOME, else ~/.cache), so
// a new database on the same machine does not measure it again; empty where there is no home.
fs::path CacheFile() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "ipfs-accelerate" / "memory_bandwidth.json";
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "ipfs-accelerate" / "memory_bandwidth.json";
  return {};
}

// What says the cached figure is this machine's.
nlohmann::json MachineKey(const hw::HardwareReport& h) {
  return {{"hostname", h.host.hostname},
          {"cpu", h.cpu.model_name},
          {"logical_cores", h.cpu.logical_cores},
          {"memory_total_bytes", h.cpu.memory_total_bytes}};
}

std::optional<hw::MemoryBandwidth> Cached(const hw::HardwareReport& h) {
  const fs::path path = CacheFile();
  if (path.empty()) return std::nullopt;
  std::string text;
  try {
    text = core::ReadRegularFile(path.string(), 1 << 20);
  } catch (const core::Error&) {
    return std::nullopt;  // none yet, or unreadable: measure again
  }
  const auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("machine", nlohmann::json()) != MachineKey(h) ||
      !j.contains("memory_bandwidth"))
    return std::nullopt;
  try {
    return j.at("memory_bandwidth").get<hw::MemoryBandwidth>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

void Cache(const hw::HardwareReport& h, const hw::MemoryBandwidth& m) {
  const fs::path path = CacheFile();
  if (path.empty()) return;
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  try {
    WriteFileAtomically(path.string(),
                        nlohmann::json{{"machine", MachineKey(h)}, {"memory_bandwidth", m}}.dump());
  } catch (const core::Error&) {
    // An unwritable cache only means measuring again next time.
  }
}

}  // namespace

void RecallOrMeasureMemoryBandwidth(const DatabaseOption& db,
                                    const std::vector<std::string>& platforms,
                                    hw::HardwareReport& hardware) {
  const bool host_memory = std::any_of(platforms.begin(), platforms.end(),
                                       [](const auto& p) { return p == "cpu" || p == "wasm"; });
  if (!host_memory) return;
  hardware.cpu.memory_bandwidth = Stored(db, hardware);
  if (!hardware.cpu.memory_bandwidth) hardware.cpu.memory_bandwidth = Cached(hardware);
  if (hardware.cpu.memory_bandwidth) return;
  try {
    hardware.cpu.memory_bandwidth = hw::MeasureMemoryBandwidth(hardware.cpu);
    Cache(hardware, *hardware.cpu.memory_bandwidth);
  } catch (const core::Error&) {
    // Too little memory for the probe's arrays: the run goes on without the figure.
  }
}

}  // namespace ipfs_accel::cli
