#pragma once
// The content identifiers a benchmark stores (schema v11): what was measured, by its bytes.

#include <optional>
#include <string>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::cli {

// The CID (`ipfs add --cid-version 1`) of the bytes `info` was built from: its folder as a
// UnixFS directory, or its file; nullopt when it has none (a catalog or template model with
// seeded random weights). Reads every byte once, hashing on every core.
std::optional<std::string> ModelContentCid(const models::ModelInfo& info);
// The same for a file or folder by its path (a fleet job's model).
std::string PathContentCid(const std::string& path);

// CIDv1 raw (sha2-256) of the ONNX bytes the runtime is given: `model`'s serialised graph, or
// the .onnx file it names (not its external data).
std::string GraphCid(const models::Model& model);

}  // namespace ipfs_accel::cli
