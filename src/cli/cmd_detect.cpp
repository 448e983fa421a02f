// `detect`: what hardware and backends this machine has.

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/human_units.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/hw/memory_bandwidth.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"

namespace ipfs_accel::cli {

namespace {

int RunDetect(bool json, bool bandwidth) {
  hw::HardwareReport report = hw::Detect();
  if (bandwidth) report.cpu.memory_bandwidth = hw::MeasureMemoryBandwidth(report.cpu);
  const auto platforms = runtime::PlatformAvailability(report);
  const std::string ort_version = runtime::OnnxRuntimeVersion();
  const auto providers = runtime::OnnxRuntimeProviders();
  if (json) {
    nlohmann::json j = report;
    j["onnxruntime"] = {{"version", ort_version}, {"execution_providers", providers}};
    j["platforms"] = nlohmann::json::array();
    for (const auto& p : platforms)
      j["platforms"].push_back(
          {{"platform", p.platform},
           {"execution_provider", p.execution_provider},
           {"available", p.available},
           {"reason", p.reason},
           {"detail", p.detail_json.empty() ? nlohmann::json(nullptr)
                                            : nlohmann::json::parse(p.detail_json)}});
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  const auto& c = report.cpu;
  std::cout << fmt::format("Host      {} — {}, kernel {}\n", report.host.hostname, report.host.os,
                           report.host.kernel);
  std::cout << fmt::format("CPU       {} ({}, {})\n", c.model_name, c.vendor, c.architecture);
  std::cout << fmt::format("          {} physical / {} logical cores, {} socket(s)\n",
                           c.physical_cores, c.logical_cores, c.sockets);
  std::cout << fmt::format("          caches L1d {}, L2 {}, L3 {}\n", HumanBytes(c.l1d_cache_bytes),
                           HumanBytes(c.l2_cache_bytes), HumanBytes(c.l3_cache_bytes));
  std::cout << fmt::format("          memory {} total, {} available\n",
                           HumanBytes(c.memory_total_bytes), HumanBytes(c.memory_available_bytes));
  if (c.memory_bandwidth)
    std::cout << fmt::format(
        "          memory bandwidth {:.1f} GB/s triad, {:.1f} GB/s copy (STREAM, {} threads, "
        "3 x {})\n",
        c.memory_bandwidth->triad_gb_per_s, c.memory_bandwidth->copy_gb_per_s,
        c.memory_bandwidth->threads, HumanBytes(c.memory_bandwidth->array_bytes));
  std::cout << fmt::format("          ISA {}\n", fmt::join(c.isa_features, " "));
  std::cout << fmt::format("ORT       ONNX Runtime {}; execution providers: {}\n", ort_version,
                           fmt::join(providers, ", "));
  if (!report.nvidia.unavailable_reason.empty()) {
    std::cout << fmt::format("NVIDIA    unavailable — {}\n", report.nvidia.unavailable_reason);
  } else {
    std::cout << fmt::format("NVIDIA    driver {}, CUDA {}\n", report.nvidia.driver_version,
                             report.nvidia.cuda_driver_version);
    for (const auto& g : report.nvidia.gpus) {
      std::cout << fmt::format("          GPU {}: {}, {}, compute capability {}.{}\n", g.index,
                               g.name, HumanBytes(g.memory_total_bytes), g.compute_capability_major,
                               g.compute_capability_minor);
      if (g.peak_fp32_gflops > 0 || g.peak_memory_gb_per_s > 0)
        std::cout << fmt::format("          peaks (NVML): {:.1f} fp32 TFLOP/s, {:.0f} GB/s\n",
                                 g.peak_fp32_gflops / 1e3, g.peak_memory_gb_per_s);
    }
  }
  if (report.chromium)
    std::cout << fmt::format("Chromium  {} at {}\n", report.chromium->version,
                             report.chromium->path);
  else
    std::cout << fmt::format("Chromium  unavailable — {}\n", report.chromium_missing_reason);
  if (report.firefox)
    std::cout << fmt::format("Firefox   {} at {} (wasm only: --ep-option browser=firefox)\n",
                             report.firefox->version, report.firefox->path);
  else
    std::cout << fmt::format("Firefox   unavailable — {}\n", report.firefox_missing_reason);
  std::cout << "\nPlatforms\n";
  for (const auto& p : platforms)
    std::cout << fmt::format("  {:<13} {:<12} {}\n", p.platform,
                             p.available ? "available" : "unavailable", p.reason);
  return kExitOk;
}

}  // namespace

void AddDetectCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "detect",
      "Show this machine's hardware (CPU, NVIDIA GPUs via NVML, Chromium), the ONNX Runtime\n"
      "version and providers, and which platforms can run here (with the reason when not).");
  auto json = std::make_shared<bool>(false);
  auto bandwidth = std::make_shared<bool>(false);
  AddFormatOption(cmd, json.get());
  cmd->add_flag("--bandwidth", *bandwidth,
                "also measure main-memory bandwidth (STREAM copy and triad, under a second); "
                "benchmark measures it once per database and stores it with the CPU's row");
  cmd->callback([selected, json, bandwidth] {
    *selected = [json, bandwidth] { return RunDetect(*json, *bandwidth); };
  });
}

}  // namespace ipfs_accel::cli
