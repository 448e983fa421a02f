#pragma once
// The ONNX Runtime backend: one process-wide environment, sessions on its
// execution providers.

#include <memory>
#include <string>
#include <vector>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::runtime {

std::string OnnxRuntimeVersion();
// Execution providers compiled into the loaded ONNX Runtime library.
std::vector<std::string> OnnxRuntimeProviders();

// Opens `model` on the options' platform. Throws core::Error: kUnavailable (the
// platform's provider is not in this build), kCorrupt (the runtime rejects the
// model), kRuntime.
std::unique_ptr<Session> OpenOnnxRuntimeSession(const models::Model& model,
                                                const SessionOptions& options);

}  // namespace ipfs_accel::runtime
