#pragma once
// Test helper: what a built graph is made of (ops, inputs, outputs, weights).

#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::testing {

// Nodes of a built model by "domain:op_type" ("" for ONNX's own domain).
inline std::map<std::string, int> OpCounts(const models::Model& model) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(model.onnx_bytes));
  std::map<std::string, int> counts;
  for (const auto& node : proto.graph().node()) ++counts[node.domain() + ":" + node.op_type()];
  return counts;
}

// Nodes of `g` whose op_type is `op` (any domain).
inline int CountOps(const onnx::GraphProto& g, const std::string& op) {
  int n = 0;
  for (const auto& node : g.node()) n += node.op_type() == op ? 1 : 0;
  return n;
}

inline std::vector<std::string> InputNames(const onnx::GraphProto& g) {
  std::vector<std::string> out;
  for (const auto& v : g.input()) out.push_back(v.name());
  return out;
}

inline std::vector<std::string> OutputNames(const onnx::GraphProto& g) {
  std::vector<std::string> out;
  for (const auto& v : g.output()) out.push_back(v.name());
  return out;
}

// Initializers that hold weights: the builder's own constants ("const_*") left out.
inline std::set<std::string> WeightInitializerNames(const onnx::GraphProto& g) {
  std::set<std::string> names;
  for (const auto& t : g.initializer())
    if (t.name().rfind("const_", 0) != 0) names.insert(t.name());
  return names;
}

}  // namespace ipfs_accel::testing
