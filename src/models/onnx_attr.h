#pragma once
// An Attr (graph_builder.h) written into an ONNX node: the one place its variant maps to
// AttributeProto's types.

#include <onnx/onnx_pb.h>

#include "graph_builder.h"

namespace ipfs_accel::models {

void AddOnnxAttribute(onnx::NodeProto* node, const Attr& a);

}  // namespace ipfs_accel::models
