#pragma once
// The gradient of each operator as ONNX operators: a table from op_type to a rule. A rule gets
// the forward node and the gradient of each of its outputs and returns the gradient of each
// input it is asked for. Rules recompute what they need from the forward tensors (the forward
// graph stays in the training graph, so its intermediates are there to read).

#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "gradient_emit.h"

namespace ipfs_accel::models {

struct GradCall {
  GradEmitter& e;
  const onnx::NodeProto& node;
  // Per output: the gradient tensor's name, "" where no gradient reaches that output.
  std::vector<std::string> dy;
  // Per input: whether its gradient is wanted.
  std::vector<bool> want;
};

// Per input: the gradient's name, "" where not wanted. Throws core::Error(kUnsupported) for an
// attribute or rank the rule does not handle, naming the operator.
using GradRule = std::vector<std::string> (*)(GradCall& call);

// The rule for `op_type` in the default domain; nullptr when there is none.
GradRule FindGradRule(const std::string& op_type);
// Operators whose output does not change under small changes of the input (Floor, Sign, ...):
// no gradient flows through them; they end a path rather than being refused.
bool IsPiecewiseConstant(const std::string& op_type);
// Every operator with a rule, sorted.
std::vector<std::string> GradRuleOperators();

}  // namespace ipfs_accel::models
