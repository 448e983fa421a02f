#pragma once
// Hand-built ONNX graphs for tests that need a graph whose every tensor they know: value infos
// with fixed or symbolic dimensions, nodes, float initializers, an opset-17 model, and the
// models::Model that carries it.

#include <cctype>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::testing::onnx_protos {

// A dimension that starts with a digit is fixed, any other is a symbol.
inline void AddValueInfo(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
                         const std::string& name, int32_t type,
                         const std::vector<std::string>& dims) {
  auto* info = list->Add();
  info->set_name(name);
  auto* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(type);
  for (const auto& d : dims) {
    auto* dim = tensor->mutable_shape()->add_dim();
    if (std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

inline onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op,
                                const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs,
                                const std::string& name = "") {
  auto* node = g->add_node();
  node->set_op_type(op);
  node->set_name(name);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& out : outputs) node->add_output(out);
  return node;
}

inline onnx::TensorProto FloatTensor(const std::string& name, const std::vector<int64_t>& dims) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  int64_t n = 1;
  for (int64_t d : dims) {
    t.add_dims(d);
    n *= d;
  }
  t.set_raw_data(std::string(static_cast<size_t>(n) * 4, '\x01'));
  return t;
}

inline onnx::ModelProto NewModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(17);
  return m;
}

inline models::Model FromProto(const onnx::ModelProto& proto) {
  models::Model m;
  m.info.name = "hand-built";
  EXPECT_TRUE(proto.SerializeToString(&m.onnx_bytes));
  return m;
}

}  // namespace ipfs_accel::testing::onnx_protos
