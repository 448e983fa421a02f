#pragma once
// Opens a session on whichever backend serves the options' platform: ONNX Runtime for the
// native platforms, a headless Chromium page (onnxruntime-web) for wasm, webgpu and webnn.

#include <memory>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::runtime {

// Whether the platform runs in a browser page ("wasm", "webgpu", "webnn").
bool IsBrowserPlatform(const std::string& platform);

// Throws core::Error as OpenOnnxRuntimeSession does, and for browser platforms: kUnsupported
// (a graph with external data), kUnavailable (no Chromium or onnxruntime-web, or the browser
// lacks the platform), kRuntime (the page failed or did not answer; the browser is killed).
std::unique_ptr<Session> OpenSession(const models::Model& model, const SessionOptions& options);

}  // namespace ipfs_accel::runtime
