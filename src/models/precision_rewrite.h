#pragma once
// The precision rewrite on a graph being built (see include/ipfs_accel/models/precision.h).

#include <string>

#include <onnx/onnx_pb.h>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

// Rewrites `proto`'s MatMuls with float initializer weights at `precision`; `name` is
// for error messages. Throws core::Error(kInternal) if the result fails the checker.
void RewritePrecision(onnx::ModelProto& proto, Precision precision, const std::string& name);

}  // namespace ipfs_accel::models
