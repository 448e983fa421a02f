#pragma once
// Hugging Face activation names (ACT2FN) as ONNX subgraphs.

#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// Throws core::Error(kUnsupported) for an activation this builder does not know.
std::string Activation(GraphBuilder& g, const std::string& x, const std::string& hf_name);

}  // namespace ipfs_accel::models
