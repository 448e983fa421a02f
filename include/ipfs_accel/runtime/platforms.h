#pragma once
// The hardware platforms the project knows, and whether each can run here. A
// platform is available only when both the hardware/driver and the runtime
// support are present; otherwise the reason says which is missing.

#include <string>
#include <vector>

#include "ipfs_accel/hw/hardware.h"

namespace ipfs_accel::runtime {

struct PlatformStatus {
  std::string
      platform;  // "cpu", "cuda", "rocm", "mps", "openvino", "qnn", "webgpu", "webnn", "wasm"
  std::string execution_provider;  // ORT EP that serves it, e.g. "CUDAExecutionProvider"
  bool available = false;
  std::string reason;  // why not, or what it runs on
  // Browser platforms: what the probe page saw, as JSON (browser, cross-origin isolation,
  // WebGPU adapter and whether it is a fallback adapter, WebNN's createContext() error);
  // empty for native platforms.
  std::string detail_json = {};
  // webgpu: the adapter renders in software on the CPU (a fallback adapter, e.g. SwiftShader),
  // so its figures measure a software renderer, not a GPU.
  bool software_renderer = false;
};

// Every known platform, in a fixed order.
const std::vector<std::string>& KnownPlatforms();
std::vector<PlatformStatus> PlatformAvailability(const hw::HardwareReport& hardware);
// Whether the platform's runtime executes ONNX Runtime's com.microsoft contrib ops (the
// fused graph variant): native ORT on CPU, CUDA, ROCm; not browsers or the partitioning EPs
// (OpenVINO, QNN, CoreML), which get the plain graph.
bool RunsContribOps(const std::string& platform);
// One platform's status; throws core::Error(kInvalidArgument) for an unknown name.
PlatformStatus CheckPlatform(const std::string& platform, const hw::HardwareReport& hardware);

}  // namespace ipfs_accel::runtime
