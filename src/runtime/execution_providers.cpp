#include "execution_providers.h"

#include <memory>
#include <unordered_map>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
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
      Ort::CUDAProviderOptions cuda;
      cuda.Update(Unordered(provider_options));
      so.AppendExecutionProvider_CUDA_V2(*cuda);
    } else if (platform == "tensorrt") {
      Ort::TensorRTProviderOptions trt;
      trt.Update(Unordered(provider_options));
      so.AppendExecutionProvider_TensorRT_V2(*trt);
    } else if (platform == "openvino") {
      so.AppendExecutionProvider_OpenVINO_V2(Unordered(provider_options));
    } else if (platform == "dnnl") {
      AppendDnnl(so, provider_options);
    } else if (const char* name = GenericName(platform)) {
      so.AppendExecutionProvider(name, Unordered(provider_options));
    }
  } catch (const Ort::Exception& e) {
    std::string reason = e.what();  // ORT's messages may span lines; ours are one line
    for (char& c : reason)
      if (c == '\n' || c == '\r') c = ' ';
    reason.erase(reason.find_last_not_of(' ') + 1);
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
