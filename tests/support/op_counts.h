#pragma once
// Test helper: what a built graph is made of.

#include <map>
#include <string>

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

}  // namespace ipfs_accel::testing
