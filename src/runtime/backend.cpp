#include "ipfs_accel/runtime/backend.h"

#include <chrono>

#include "browser_session.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"

namespace ipfs_accel::runtime {

double Session::RunBoundTimed() {
  const auto t0 = std::chrono::steady_clock::now();
  RunBound();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

Session::TensorView Session::BoundInputView(const std::string& name) const {
  throw core::Error(core::ErrorKind::kUnsupported,
                    "input '" + name + "': this platform's sessions cannot share inputs in place");
}

void Session::SetBoundInputView(const std::string& name, const TensorView&) {
  throw core::Error(core::ErrorKind::kUnsupported,
                    "input '" + name + "': this platform's sessions cannot share inputs in place");
}

bool IsBrowserPlatform(const std::string& platform) {
  return platform == "wasm" || platform == "webgpu" || platform == "webnn";
}

std::unique_ptr<Session> OpenSession(const models::Model& model, const SessionOptions& options) {
  if (IsBrowserPlatform(options.platform)) return std::make_unique<BrowserSession>(model, options);
  return OpenOnnxRuntimeSession(model, options);
}

}  // namespace ipfs_accel::runtime
