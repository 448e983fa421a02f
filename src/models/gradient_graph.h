#pragma once
// Reverse-mode differentiation of an ONNX graph, in place: the nodes computing d sum(loss) / d x
// for each x of `wrt` are appended after the forward nodes.
//
// Only what lies between `wrt` and `loss` is differentiated. A tensor is on that path when it
// has a floating type, depends on some x of wrt, and loss depends on it; integer tensors
// (shapes, token ids, masks before their Cast) end a path, as do piecewise-constant operators
// (Floor, Sign, ...). Every other operator on the path must have a rule (gradient_rules.h): one
// without is refused, never skipped.

#include <map>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

namespace ipfs_accel::models {

// Returns, for each x of `wrt` (graph inputs or initializers of a floating type), the name of its
// gradient tensor; zeros for an x that `loss` does not depend on. `seed`: the gradient of loss
// ("" : ones, so the result is the gradient of the sum of loss's elements).
// Throws core::Error: kInvalidArgument (loss or an x of wrt not in the graph, or not floating),
// kUnsupported (an operator on the path without a gradient rule, naming it and its node; a
// rank or attribute a rule cannot handle).
std::map<std::string, std::string> AddGradients(onnx::ModelProto& model, const std::string& loss,
                                                const std::vector<std::string>& wrt,
                                                const std::string& seed = "");

// The float initializers and inputs through which `loss` depends on `candidates`, in the order
// given (the parameters a training step updates).
std::vector<std::string> ReachingLoss(const onnx::ModelProto& model, const std::string& loss,
                                      const std::vector<std::string>& candidates);

}  // namespace ipfs_accel::models
