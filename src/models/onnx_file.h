#pragma once
// An .onnx file from anywhere: read for what generated inputs must respect
// (index ranges of Gather tables, masks), its parameter count and content hash.
// The file itself is handed to the runtime unchanged.

#include <string>
#include <string_view>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

// Throws core::Error: kNotFound, kInvalidArgument (not a regular file), kCorrupt (not an ONNX
// protobuf, or initializers whose sizes are negative or overflow), kUnsupported (over 2 GB).
Model LoadOnnxFile(const std::string& path);

// The description LoadOnnxFile gives, from the file's bytes (no content hash); `path` names it.
Model DescribeOnnx(std::string_view bytes, const std::string& path);

}  // namespace ipfs_accel::models
