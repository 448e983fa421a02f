#include "execution_providers.h"

#include <dlfcn.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "runtime/ort_error.h"
#include "ort_session.h"

namespace ipfs_accel::runtime {

using core::Error;
using core::ErrorKind;

const std::vector<ProviderDef>& NativeProviders() {
  static const std::vector<ProviderDef> defs = {
      {"cpu", "CPUExecutionProvider", {}},
      {"cuda", "CUDAExecutionProvider", {}},
      {"tensorrt", "TensorrtExecutionProvider", {"trt"}},
      {"rocm", "MIGraphXExecutionProvider", {"migraphx"}},
      {"openvino", "OpenVINOExecutionProvider", {}},
      {"qnn", "QNNExecutionProvider", {"qualcomm"}},
      {"mps", "CoreMLExecutionProvider", {"coreml", "apple"}},
      {"xnnpack", "XnnpackExecutionProvider", {}},
      {"dnnl", "DnnlExecutionProvider", {"onednn"}},
      {"webgpu-native", "WebGpuExecutionProvider", {}},
  };
  return defs;
}

const ProviderDef* FindNativeProvider(const std::string& name) {
  for (const auto& d : NativeProviders()) {
    if (name == d.platform) return &d;
    for (const char* a : d.aliases)
      if (name == a) return &d;
  }
  return nullptr;
}

namespace {

std::unordered_map<std::string, std::string> Unordered(
    const std::map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

void AppendDnnl(Ort::SessionOptions& so, const std::map<std::string, std::string>& options) {
  const OrtApi& api = Ort::GetApi();
  OrtDnnlProviderOptions* dnnl = nullptr;
  Ort::ThrowOnError(api.CreateDnnlProviderOptions(&dnnl));
  std::unique_ptr<OrtDnnlProviderOptions, void (*)(OrtDnnlProviderOptions*)> owner(
      dnnl, [](OrtDnnlProviderOptions* p) { Ort::GetApi().ReleaseDnnlProviderOptions(p); });
  std::vector<const char*> keys, values;
  for (const auto& [k, v] : options) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  Ort::ThrowOnError(api.UpdateDnnlProviderOptions(dnnl, keys.data(), values.data(), keys.size()));
  Ort::ThrowOnError(api.SessionOptionsAppendExecutionProvider_Dnnl(so, dnnl));
}

// ORT's own provider names for the generic AppendExecutionProvider entry point.
const char* GenericName(const std::string& platform) {
  if (platform == "qnn") return "QNN";
  if (platform == "mps") return "CoreML";
  if (platform == "xnnpack") return "XNNPACK";
  if (platform == "webgpu-native") return "WebGPU";
  if (platform == "rocm") return "MIGraphX";
  return nullptr;
}

// The provider's shared library beside the loaded libonnxruntime (where ORT's packages put it).
std::string LibraryBesideOnnxRuntime(const std::string& file) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<const void*>(&OrtGetApiBase), &info) == 0 || !info.dli_fname)
    return file;
  return (std::filesystem::path(info.dli_fname).parent_path() / file).string();
}

// ORT builds without CUDA (the CPU package) take the separately shipped CUDA/TensorRT provider
// as a plugin: register its library with the environment once, then attach the devices it
// offers. Builds with CUDA take the classic entry point; this is tried when that one says the
// build lacks it.
void AppendPluginProvider(Ort::SessionOptions& so, const ProviderDef& def,
                          const std::map<std::string, std::string>& options,
                          const std::string& library) {
  static std::mutex mutex;
  static std::set<std::string> registered;
  Ort::Env& env = OrtEnvironment();
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!registered.count(def.provider)) {
      const std::string path = LibraryBesideOnnxRuntime(library);
      if (!std::filesystem::exists(path))
        throw Error(ErrorKind::kUnavailable,
                    fmt::format("platform '{}' ({}) cannot be used here: this ONNX Runtime build "
                                "has no {} and its provider library {} is not installed",
                                def.platform, def.provider, def.provider, path));
      env.RegisterExecutionProviderLibrary(def.provider, path);
      registered.insert(def.provider);
    }
  }
  std::vector<Ort::ConstEpDevice> devices;
  for (const auto& d : env.GetEpDevices())
    if (std::string(d.EpName()) == def.provider) devices.push_back(d);
  if (devices.empty())
    throw Error(ErrorKind::kUnavailable,
                fmt::format("platform '{}' ({}) cannot be used here: its provider library loaded "
                            "but offers no device",
                            def.platform, def.provider));
  // One device: the one device_id names (default 0), as the classic provider options do.
  size_t index = 0;
  if (auto it = options.find("device_id"); it != options.end()) index = std::stoul(it->second);
  if (index >= devices.size())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("{} device_id {} does not exist ({} device(s))", def.provider, index,
                            devices.size()));
  std::unordered_map<std::string, std::string> rest(options.begin(), options.end());
  rest.erase("device_id");
  so.AppendExecutionProvider_V2(env, {devices[index]}, rest);
}

bool NotInThisBuild(const Ort::Exception& e) {
  const std::string m = e.what();
  return m.find("not enabled in this build") != std::string::npos ||
         m.find("not supported in this build") != std::string::npos;
}

}  // namespace

void AppendProvider(Ort::SessionOptions& so, const ProviderDef& def,
                    const std::map<std::string, std::string>& provider_options) {
  const std::string platform = def.platform;
  try {
    if (platform == "cpu") {
      if (!provider_options.empty())
        throw Error(ErrorKind::kInvalidArgument,
                    "the CPU execution provider takes no provider options; use --threads for "
                    "its thread count");
    } else if (platform == "cuda") {
      try {
        Ort::CUDAProviderOptions cuda;
        cuda.Update(Unordered(provider_options));
        so.AppendExecutionProvider_CUDA_V2(*cuda);
      } catch (const Ort::Exception& e) {
        if (!NotInThisBuild(e)) throw;
        AppendPluginProvider(so, def, provider_options, "libonnxruntime_providers_cuda.so");
      }
    } else if (platform == "tensorrt") {
      try {
        Ort::TensorRTProviderOptions trt;
        trt.Update(Unordered(provider_options));
        so.AppendExecutionProvider_TensorRT_V2(*trt);
      } catch (const Ort::Exception& e) {
        if (!NotInThisBuild(e)) throw;
        AppendPluginProvider(so, def, provider_options, "libonnxruntime_providers_tensorrt.so");
      }
    } else if (platform == "openvino") {
      so.AppendExecutionProvider_OpenVINO_V2(Unordered(provider_options));
    } else if (platform == "dnnl") {
      AppendDnnl(so, provider_options);
    } else if (const char* name = GenericName(platform)) {
      so.AppendExecutionProvider(name, Unordered(provider_options));
    }
  } catch (const Ort::Exception& e) {
    const std::string reason = OrtErrorText(e.what());
    throw Error(ErrorKind::kUnavailable, fmt::format("platform '{}' ({}) cannot be used here: {}",
                                                     def.platform, def.provider, reason));
  }
}

std::optional<std::string> ProbeProvider(const ProviderDef& def) {
  OrtEnvironment();  // providers log through the environment's logger while they load
  try {
    Ort::SessionOptions so;
    AppendProvider(so, def, {});
    return std::nullopt;
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace ipfs_accel::runtime
