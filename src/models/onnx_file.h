#pragma once
// An .onnx file from anywhere: read for what generated inputs must respect
// (index ranges of Gather tables, masks), its parameter count and content hash.
// The file itself is handed to the runtime unchanged.

#include <string>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::models {

// Throws core::Error: kNotFound, kCorrupt (not an ONNX protobuf).
Model LoadOnnxFile(const std::string& path);

}  // namespace ipfs_accel::models
