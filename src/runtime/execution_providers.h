#pragma once
// Which ONNX Runtime execution provider serves each native platform, and how to attach it
// to a session with the user's provider options. Browser platforms (wasm, webgpu, webnn)
// are not ORT providers of this process and are not in this table.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <onnxruntime_cxx_api.h>

namespace ipfs_accel::runtime {

struct ProviderDef {
  const char* platform;              // our name: "cuda"
  const char* provider;              // ORT's name: "CUDAExecutionProvider"
  std::vector<const char*> aliases;  // other names users type: "qualcomm" for "qnn"
};

// Native platforms in a fixed order (cpu first).
const std::vector<ProviderDef>& NativeProviders();
// The definition for a platform name or alias; nullptr when it is not a native platform.
const ProviderDef* FindNativeProvider(const std::string& name);

// Attaches the platform's provider to `so` (nothing for cpu, which ORT always has).
// Throws core::Error(kUnavailable) with ONNX Runtime's own reason when this build or this
// machine cannot provide it (a missing provider library, CUDA libraries, driver) or when the
// provider rejects an option (ORT's message says which).
void AppendProvider(Ort::SessionOptions& so, const ProviderDef& def,
                    const std::map<std::string, std::string>& provider_options);

// Whether the provider can be attached here: nullopt when it can, else ORT's reason.
// Loads the provider's library (and, for CUDA, the CUDA runtime): call it once per process.
std::optional<std::string> ProbeProvider(const ProviderDef& def);

}  // namespace ipfs_accel::runtime
