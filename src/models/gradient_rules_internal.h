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

// Elementwise operators, Where, Cast, Expand, HardSigmoid, HardSwish
// (gradient_rules_elementwise.cpp).
void AddElementwiseRules(std::map<std::string, GradRule>& table);
// MatMul, Gemm, Softmax, LayerNormalization, reductions (Sum, Mean, Max, L2, LogSumExp)
// (gradient_rules_math.cpp).
void AddMathRules(std::map<std::string, GradRule>& table);
// Operators that move or select elements: Transpose, Reshape, Gather, Concat, Split, Slice, Pad,
// Tile, Resize, Compress, TopK (gradient_rules_layout.cpp).
void AddLayoutRules(std::map<std::string, GradRule>& table);
// Conv, AveragePool, MaxPool, GlobalAveragePool (gradient_rules_conv.cpp).
void AddConvRules(std::map<std::string, GradRule>& table);
// BatchNormalization (inference form), InstanceNormalization (gradient_rules_norm.cpp).
void AddNormRules(std::map<std::string, GradRule>& table);
// Scan, by a second Scan running backwards over the body's gradient (gradient_rules_scan.cpp).
void AddScanRules(std::map<std::string, GradRule>& table);

}  // namespace ipfs_accel::models
