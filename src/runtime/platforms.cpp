#include "ipfs_accel/runtime/platforms.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "browser_session.h"
#include "execution_providers.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::runtime {

namespace {

struct PlatformDef {
  std::string platform;
  std::string provider;
  const ProviderDef* native = nullptr;  // null for browser platforms
};

// Native ORT providers, then the browser platforms (served by a page in Chromium).
const std::vector<PlatformDef>& Platforms() {
  static const std::vector<PlatformDef> defs = [] {
    std::vector<PlatformDef> v;
    for (const auto& d : NativeProviders()) v.push_back({d.platform, d.provider, &d});
    v.push_back({"webgpu", "WebGpuExecutionProvider (onnxruntime-web)", nullptr});
    v.push_back({"webnn", "WebNNExecutionProvider (onnxruntime-web)", nullptr});
    v.push_back({"wasm", "WasmExecutionProvider (onnxruntime-web)", nullptr});
    return v;
  }();
  return defs;
}

// A browser platform's status from the probe page: wasm needs the page to run, webgpu an
// adapter (labelled when it is a software fallback such as SwiftShader), webnn a context.
void CheckBrowser(const std::string& p, PlatformStatus& s) {
  const BrowserProbe& probe = ProbeBrowserOnce();
  if (!probe.error.empty()) {
    s.reason = probe.error;
    return;
  }
  const nlohmann::json& page = probe.page;
  const bool isolated = page.value("cross_origin_isolated", false);
  nlohmann::json detail = {{"browser", probe.browser},
                           {"user_agent", page.value("user_agent", "")},
                           {"cross_origin_isolated", isolated},
                           {"hardware_concurrency", page.value("hardware_concurrency", 0)}};
  if (p == "wasm") {
    s.available = true;
    s.reason =
        fmt::format("{} headless, onnxruntime-web wasm ({}, {} hardware threads)", probe.browser,
                    isolated ? "cross-origin isolated: multi-threaded"
                             : "not cross-origin isolated: one thread only",
                    page.value("hardware_concurrency", 0));
  } else if (p == "webgpu") {
    const nlohmann::json gpu = page.value("webgpu", nlohmann::json::object());
    detail["adapter"] = gpu;
    if (!gpu.value("available", false)) {
      s.reason = fmt::format("{} has no WebGPU adapter: {}", probe.browser,
                             gpu.value("error", std::string("no reason given")));
    } else {
      const std::string description = gpu.value("description", "");
      const bool fallback = gpu.value("is_fallback", false) ||
                            description.find("SwiftShader") != std::string::npos ||
                            gpu.value("architecture", "") == "swiftshader";
      detail["adapter"]["is_fallback"] = fallback;
      s.software_renderer = fallback;
      s.available = true;
      std::vector<std::string> names;
      for (const char* key : {"vendor", "architecture", "description", "device"})
        if (const std::string v = gpu.value(key, ""); !v.empty()) names.push_back(v);
      s.reason = fmt::format(
          "{} WebGPU adapter {}{}", probe.browser, fmt::join(names, " / "),
          fallback ? " — a FALLBACK adapter (software rendering on the CPU, e.g. SwiftShader): "
                     "its figures measure a software renderer, not a GPU"
                   : "");
    }
  } else {  // webnn
    const nlohmann::json nn = page.value("webnn", nlohmann::json::object());
    detail["webnn"] = nn;
    if (nn.value("available", false)) {
      s.available = true;
      s.reason = fmt::format("{} WebNN context (deviceType {})", probe.browser,
                             nn.value("device_type", "cpu"));
    } else {
      s.reason = fmt::format(
          "{} has no WebNN backend: navigator.ml.createContext({{deviceType: "
          "'{}'}}) failed with \"{}\"",
          probe.browser, nn.value("device_type", "cpu"),
          nn.value("error", std::string("no reason given")));
    }
  }
  s.detail_json = detail.dump();
}

// Attaching the provider is the test: it loads the provider's library and what that needs.
void Probe(const ProviderDef& def, PlatformStatus& s, const std::string& what_runs_it) {
  if (auto reason = ProbeProvider(def)) {
    s.reason = *reason;
  } else {
    s.available = true;
    s.reason = what_runs_it;
  }
}

bool HasVulkanLoader() {
  void* loader = ::dlopen("libvulkan.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (loader) ::dlclose(loader);
  return loader != nullptr;
}

PlatformStatus Check(const PlatformDef& def, const hw::HardwareReport& hw) {
  PlatformStatus s{def.platform, def.provider, false, ""};
  const std::string& p = def.platform;
  if (p == "cpu") {
    s.available = true;
    s.reason = fmt::format("{} ({} logical cores) via {}", hw.cpu.model_name, hw.cpu.logical_cores,
                           def.provider);
  } else if (p == "cuda" || p == "tensorrt") {
    if (!hw.nvidia.unavailable_reason.empty())
      s.reason = hw.nvidia.unavailable_reason;
    else if (hw.nvidia.gpus.empty())
      s.reason = "the NVIDIA driver reports no GPU";
    else
      Probe(*def.native, s, fmt::format("{} via {}", hw.nvidia.gpus.front().name, def.provider));
  } else if (p == "rocm") {
    if (!std::filesystem::exists("/dev/kfd"))
      s.reason = "no AMD GPU driver (/dev/kfd not found)";
    else
      Probe(*def.native, s, "AMD GPU via " + def.provider);
  } else if (p == "webgpu-native" && !HasVulkanLoader()) {
    // Dawn (ORT's WebGPU) renders through Vulkan on Linux; without the loader it can only fail,
    // after printing its own warning into our output.
    s.reason =
        "no Vulkan loader (libvulkan.so.1 not found): ONNX Runtime's native WebGPU renders through "
        "Vulkan on Linux; install libvulkan1 and the GPU's Vulkan driver";
  } else if (p == "mps") {
    s.reason = "Apple Metal/CoreML needs macOS on Apple hardware; this is " + hw.host.os;
  } else if (def.native) {
    // Providers that need no probe of ours beyond ORT's (OpenVINO, QNN, XNNPACK, DNNL,
    // native WebGPU): ORT says whether this build has them and their libraries load.
    Probe(*def.native, s, "via " + def.provider);
  } else {  // browser platforms
    if (!hw.chromium)
      s.reason = hw.chromium_missing_reason;
    else
      CheckBrowser(p, s);
  }
  return s;
}

}  // namespace

const std::vector<std::string>& KnownPlatforms() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& d : Platforms()) v.push_back(d.platform);
    return v;
  }();
  return names;
}

std::vector<PlatformStatus> PlatformAvailability(const hw::HardwareReport& hardware) {
  std::vector<PlatformStatus> out;
  for (const auto& def : Platforms()) out.push_back(Check(def, hardware));
  return out;
}

bool RunsContribOps(const std::string& platform) {
  return platform == "cpu" || platform == "cuda" || platform == "rocm";
}

PlatformStatus CheckPlatform(const std::string& platform, const hw::HardwareReport& hardware) {
  const ProviderDef* native = FindNativeProvider(platform);
  const std::string name = native ? native->platform : platform;  // aliases: qualcomm -> qnn
  for (const auto& def : Platforms())
    if (name == def.platform) return Check(def, hardware);
  throw core::Error(core::ErrorKind::kInvalidArgument,
                    fmt::format("unknown hardware platform '{}'; known: {}", platform,
                                fmt::join(KnownPlatforms(), ", ")));
}

}  // namespace ipfs_accel::runtime
