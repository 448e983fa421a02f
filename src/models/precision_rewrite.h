#pragma once
// The precision rewrite on a graph being built (see include/ipfs_accel/models/precision.h).

#include <string>

#include <onnx/onnx_pb.h>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

// Rewrites `proto`'s MatMuls with float initializer weights at `precision`; `name` is
// for error messages. Throws core::Error(kInternal) if the result fails the checker.
void RewritePrecision(onnx::ModelProto& proto, Precision precision, const std::string& name);

// The fp16 variant (fp16_rewrite.cpp). REQUIRES: value_info holds the element type of
// every intermediate tensor (shape inference ran).
void RewriteToFp16(onnx::ModelProto& proto);

}  // namespace ipfs_accel::models
