#include "ipfs_accel/runtime/onnxruntime_backend.h"

#include <onnxruntime_cxx_api.h>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "runtime/ort_error.h"
#include "ort_session.h"

namespace ipfs_accel::runtime {

using core::Error;
using core::ErrorKind;

std::string OnnxRuntimeVersion() { return Ort::GetVersionString(); }

std::vector<std::string> OnnxRuntimeProviders() { return Ort::GetAvailableProviders(); }

std::unique_ptr<Session> OpenOnnxRuntimeSession(const models::Model& model,
                                                const SessionOptions& options) {
  try {
    return std::make_unique<OrtSession>(model, options);
  } catch (const Ort::Exception& e) {
    throw Error(ErrorKind::kRuntime, fmt::format("ONNX Runtime: {}", OrtErrorText(e.what())));
  }
}

}  // namespace ipfs_accel::runtime
