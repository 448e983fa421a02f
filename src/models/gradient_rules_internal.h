#pragma once
// Shared by the gradient rule files: attribute readers and the registration of each file's rules.

#include <map>
#include <string>
#include <vector>

#include "gradient_rules.h"

namespace ipfs_accel::models {

int64_t AttrInt(const onnx::NodeProto& node, const std::string& name, int64_t fallback);
std::string AttrString(const onnx::NodeProto& node, const std::string& name,
                       const std::string& fallback);
float AttrFloat(const onnx::NodeProto& node, const std::string& name, float fallback);
// The ints of attribute `name`; `found` says whether it is there.
std::vector<int64_t> AttrInts(const onnx::NodeProto& node, const std::string& name,
                              bool* found = nullptr);
// `axis` made non-negative for rank `rank`.
int64_t NormalizeAxis(int64_t axis, int64_t rank);

// Elementwise operators, Where, Cast, Expand (gradient_rules_elementwise.cpp).
void AddElementwiseRules(std::map<std::string, GradRule>& table);
// MatMul, Gemm, Softmax, LayerNormalization, reductions (gradient_rules_math.cpp).
void AddMathRules(std::map<std::string, GradRule>& table);
// Operators that move or select elements: Transpose, Reshape, Gather, Concat, Split, Slice
// (gradient_rules_layout.cpp).
void AddLayoutRules(std::map<std::string, GradRule>& table);

}  // namespace ipfs_accel::models
