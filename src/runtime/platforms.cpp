#include "ipfs_accel/runtime/platforms.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"

namespace ipfs_accel::runtime {

namespace {

struct PlatformDef {
  const char* platform;
  const char* provider;
};
// Platform name -> the ONNX Runtime EP that serves it.
constexpr PlatformDef kPlatforms[] = {
    {"cpu", "CPUExecutionProvider"},           {"cuda", "CUDAExecutionProvider"},
    {"rocm", "MIGraphXExecutionProvider"},     {"mps", "CoreMLExecutionProvider"},
    {"openvino", "OpenVINOExecutionProvider"}, {"qnn", "QNNExecutionProvider"},
    {"webgpu", "WebGpuExecutionProvider"},     {"webnn", "WebNNExecutionProvider"},
    {"wasm", "WasmExecutionProvider"},
};

bool Has(const std::vector<std::string>& providers, const std::string& name) {
  return std::find(providers.begin(), providers.end(), name) != providers.end();
}

PlatformStatus Check(const PlatformDef& def, const hw::HardwareReport& hw,
                     const std::vector<std::string>& providers) {
  PlatformStatus s{def.platform, def.provider, false, ""};
  const std::string p = def.platform;
  const std::string ort = "ONNX Runtime " + OnnxRuntimeVersion();
  const std::string no_ep = fmt::format("this {} build has no {}", ort, def.provider);
  if (p == "cpu") {
    s.available = true;
    s.reason = fmt::format("{} ({} logical cores) via {}", hw.cpu.model_name, hw.cpu.logical_cores,
                           def.provider);
  } else if (p == "cuda") {
    if (!hw.nvidia.unavailable_reason.empty())
      s.reason = hw.nvidia.unavailable_reason;
    else if (!Has(providers, def.provider))
      s.reason = fmt::format("{} GPU(s) present, but {}", hw.nvidia.gpus.size(), no_ep);
    else
      s.reason = "CUDA benchmarks are not wired into this version of the tool";
  } else if (p == "rocm") {
    if (!std::filesystem::exists("/dev/kfd"))
      s.reason = "no AMD GPU driver (/dev/kfd not found)";
    else
      s.reason = Has(providers, def.provider) || Has(providers, "ROCMExecutionProvider")
                     ? "ROCm benchmarks are not wired into this version of the tool"
                     : no_ep;
  } else if (p == "mps") {
    s.reason = "Apple Metal/CoreML needs macOS on Apple hardware; this is " + hw.host.os;
  } else if (p == "openvino") {
    s.reason = no_ep;
  } else if (p == "qnn") {
    // Whether a Qualcomm NPU is present is not probed yet; the missing provider decides.
    s.reason = Has(providers, def.provider)
                   ? "QNN benchmarks are not wired into this version of the tool"
                   : no_ep;
  } else {  // browser platforms
    if (!hw.chromium)
      s.reason = hw.chromium_missing_reason;
    else
      s.reason = fmt::format(
          "browser runs are not implemented in this version of the tool "
          "(Chromium {} found at {})",
          hw.chromium->version, hw.chromium->path);
  }
  return s;
}

}  // namespace

const std::vector<std::string>& KnownPlatforms() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& d : kPlatforms) v.emplace_back(d.platform);
    return v;
  }();
  return names;
}

std::vector<PlatformStatus> PlatformAvailability(const hw::HardwareReport& hardware) {
  const auto providers = OnnxRuntimeProviders();
  std::vector<PlatformStatus> out;
  for (const auto& def : kPlatforms) out.push_back(Check(def, hardware, providers));
  return out;
}

bool RunsContribOps(const std::string& platform) {
  return platform == "cpu" || platform == "cuda" || platform == "rocm";
}

PlatformStatus CheckPlatform(const std::string& platform, const hw::HardwareReport& hardware) {
  for (const auto& def : kPlatforms)
    if (platform == def.platform) return Check(def, hardware, OnnxRuntimeProviders());
  throw core::Error(core::ErrorKind::kInvalidArgument,
                    fmt::format("unknown hardware platform '{}'; known: {}", platform,
                                fmt::join(KnownPlatforms(), ", ")));
}

}  // namespace ipfs_accel::runtime
