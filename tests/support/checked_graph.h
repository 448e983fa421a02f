#pragma once
// Test helper: a graph a test builds piece by piece (GraphBuilder over `weights`), checked as
// LoadModel checks a model (ONNX checker, strict shape inference) and serialised for a session.

#include <functional>
#include <string>

#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include "ipfs_accel/models/model.h"
#include "models/graph_builder.h"
#include "models/weights.h"

namespace ipfs_accel::testing {

inline models::Model CheckedGraph(models::WeightProvider& weights, const std::string& name,
                                  const std::function<void(models::GraphBuilder&)>& build) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.add_opset_import()->set_version(models::kOpsetVersion);
  proto.mutable_graph()->set_name(name);
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  build(g);
  onnx::checker::check_model(proto);
  onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(true, 1, false));
  models::Model m;
  m.info.name = name;
  EXPECT_TRUE(proto.SerializeToString(&m.onnx_bytes));
  return m;
}

}  // namespace ipfs_accel::testing
