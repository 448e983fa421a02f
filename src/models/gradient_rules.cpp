#include "gradient_rules.h"

#include <algorithm>

#include "gradient_rules_internal.h"

namespace ipfs_accel::models {

int64_t AttrInt(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

std::string AttrString(const onnx::NodeProto& node, const std::string& name,
                       const std::string& fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.s();
  return fallback;
}

float AttrFloat(const onnx::NodeProto& node, const std::string& name, float fallback) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.f();
  return fallback;
}

std::vector<int64_t> AttrInts(const onnx::NodeProto& node, const std::string& name, bool* found) {
  if (found) *found = false;
  for (const auto& a : node.attribute())
    if (a.name() == name) {
      if (found) *found = true;
      return {a.ints().begin(), a.ints().end()};
    }
  return {};
}

int64_t NormalizeAxis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

namespace {

const std::map<std::string, GradRule>& Table() {
  static const std::map<std::string, GradRule> table = [] {
    std::map<std::string, GradRule> t;
    AddElementwiseRules(t);
    AddMathRules(t);
    AddLayoutRules(t);
    AddConvRules(t);
    AddNormRules(t);
    AddScanRules(t);
    return t;
  }();
  return table;
}

}  // namespace

GradRule FindGradRule(const std::string& op_type) {
  auto it = Table().find(op_type);
  return it == Table().end() ? nullptr : it->second;
}

bool IsPiecewiseConstant(const std::string& op_type) {
  static const char* const kOps[] = {"Floor", "Ceil", "Round", "Sign"};
  return std::find(std::begin(kOps), std::end(kOps), op_type) != std::end(kOps);
}

std::vector<std::string> GradRuleOperators() {
  std::vector<std::string> ops;
  for (const auto& [op, rule] : Table()) ops.push_back(op);
  return ops;
}

}  // namespace ipfs_accel::models
