#pragma once
// Hugging Face activation names (ACT2FN) as ONNX subgraphs.

#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// Throws core::Error(kUnsupported) for an activation this builder does not know.
std::string Activation(GraphBuilder& g, const std::string& x, const std::string& hf_name);

// Activation() and the ones with learned parameters, which live under `prefix` (Apertus'
// xIELU: `prefix.alpha_p`, `prefix.alpha_n`, each of shape [1]).
std::string ActivationWithParameters(GraphBuilder& g, const std::string& x,
                                     const std::string& hf_name, const std::string& prefix);

}  // namespace ipfs_accel::models
