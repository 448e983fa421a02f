#include "graph_builder.h"

#include "onnx_attr.h"

#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {
void SetType(onnx::ValueInfoProto* info, onnx::TensorProto::DataType type,
             const std::vector<Dim>& dims) {
  auto* tensor_type = info->mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(type);
  auto* shape = tensor_type->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (std::holds_alternative<int64_t>(d))
      dim->set_dim_value(std::get<int64_t>(d));
    else
      dim->set_dim_param(std::get<std::string>(d));
  }
}

onnx::TensorProto::DataType ToOnnx(core::DType d) {
  switch (d) {
    case core::DType::kFloat32:
      return onnx::TensorProto::FLOAT;
    case core::DType::kFloat16:
      return onnx::TensorProto::FLOAT16;
    case core::DType::kBFloat16:
      return onnx::TensorProto::BFLOAT16;
    case core::DType::kFloat64:
      return onnx::TensorProto::DOUBLE;
    case core::DType::kInt64:
      return onnx::TensorProto::INT64;
    case core::DType::kInt32:
      return onnx::TensorProto::INT32;
    case core::DType::kInt16:
      return onnx::TensorProto::INT16;
    case core::DType::kInt8:
      return onnx::TensorProto::INT8;
    case core::DType::kUInt8:
      return onnx::TensorProto::UINT8;
    case core::DType::kBool:
      return onnx::TensorProto::BOOL;
  }
  return onnx::TensorProto::UNDEFINED;
}

core::Tensor Transpose2d(const core::Tensor& t) {
  const int64_t rows = t.shape[0], cols = t.shape[1];
  if (t.bytes.empty()) return core::Tensor{t.dtype, {cols, rows}, {}};  // shape-only weights
  core::Tensor out = core::Tensor::Zeros(t.dtype, {cols, rows});
  auto src = t.values<float>();
  auto dst = out.values<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  return out;
}
}  // namespace

std::string GraphBuilder::Fresh(const std::string& base) {
  return fmt::format("{}_{}", base, counter_++);
}

void GraphBuilder::Grow() {
  if (++elements_ > kMaxGraphElements)
    throw core::Error(core::ErrorKind::kUnsupported,
                      fmt::format("the config asks for a graph of more than {} nodes, inputs and "
                                  "weights, far past any real model's; check its layer counts "
                                  "(num_hidden_layers and the like)",
                                  kMaxGraphElements));
}

void GraphBuilder::Input(const std::string& name, onnx::TensorProto::DataType type,
                         const std::vector<Dim>& dims) {
  Grow();
  auto* info = graph_->add_input();
  info->set_name(name);
  SetType(info, type, dims);
}

void GraphBuilder::Output(const std::string& name, onnx::TensorProto::DataType type,
                          const std::vector<Dim>& dims) {
  Grow();
  auto* info = graph_->add_output();
  info->set_name(name);
  SetType(info, type, dims);
}

std::string GraphBuilder::Initializer(const std::string& name, const core::Tensor& t) {
  Grow();
  auto* init = graph_->add_initializer();
  init->set_name(name);
  init->set_data_type(ToOnnx(t.dtype));
  for (int64_t d : t.shape) init->add_dims(d);
  // Shape-only weights (ShapeOnlyWeights) leave the data out: such a graph is for counting.
  if (!t.bytes.empty() || core::ElementCount(t.shape) == 0)
    init->set_raw_data(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return name;
}

std::string GraphBuilder::Weight(const std::string& hf_name, const core::Shape& shape,
                                 WeightInit init, bool transpose) {
  const std::string name = weight_prefix_ + hf_name;
  core::Tensor t = weights_->Get(name, shape, init);
  if (transpose) t = Transpose2d(t);
  Initializer(name, t);
  // Marks a trainable parameter, as opposed to buffers and constants (gradient.h reads it).
  graph_->mutable_initializer(graph_->initializer_size() - 1)->set_doc_string(kParameterDoc);
  return name;
}

void GraphBuilder::UnusedWeight(const std::string& hf_name, const core::Shape& shape,
                                WeightInit init) {
  weights_->Get(weight_prefix_ + hf_name, shape, init);
}

std::string GraphBuilder::FrozenParameter(const std::string& hf_name, const core::Tensor& values) {
  const std::string name = weight_prefix_ + hf_name;
  weights_->Count(name, values.shape);
  return Initializer(name, values);
}

std::string GraphBuilder::Buffer(const std::string& hf_name, const core::Shape& shape,
                                 WeightInit init) {
  const std::string name = weight_prefix_ + hf_name;
  return Initializer(name, weights_->GetBuffer(name, shape, init));
}

std::string GraphBuilder::ConstInt64(const std::vector<int64_t>& values) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, {static_cast<int64_t>(values.size())});
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return Initializer(Fresh("const_i64"), t);
}

std::string GraphBuilder::ConstFloat(float value) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, {});
  t.values<float>()[0] = value;
  return Initializer(Fresh("const_f32"), t);
}

void AddOnnxAttribute(onnx::NodeProto* node, const Attr& a) {
  auto* attr = node->add_attribute();
  attr->set_name(a.name);
  if (const auto* i = std::get_if<int64_t>(&a.value)) {
    attr->set_type(onnx::AttributeProto::INT);
    attr->set_i(*i);
  } else if (const auto* f = std::get_if<float>(&a.value)) {
    attr->set_type(onnx::AttributeProto::FLOAT);
    attr->set_f(*f);
  } else if (const auto* v = std::get_if<std::vector<int64_t>>(&a.value)) {
    attr->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : *v) attr->add_ints(x);
  } else if (const auto* fv = std::get_if<std::vector<float>>(&a.value)) {
    attr->set_type(onnx::AttributeProto::FLOATS);
    for (float x : *fv) attr->add_floats(x);
  } else {
    attr->set_type(onnx::AttributeProto::STRING);
    attr->set_s(std::get<std::string>(a.value));
  }
}

onnx::NodeProto* GraphBuilder::AddNode(const std::string& op,
                                       const std::vector<std::string>& inputs,
                                       const std::vector<Attr>& attrs) {
  Grow();
  auto* node = graph_->add_node();
  node->set_op_type(op);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& a : attrs) AddOnnxAttribute(node, a);
  return node;
}

std::string GraphBuilder::Node(const std::string& op, const std::vector<std::string>& inputs,
                               const std::vector<Attr>& attrs, const std::string& output_name) {
  auto* node = AddNode(op, inputs, attrs);
  const std::string out = output_name.empty() ? Fresh(op) : output_name;
  node->set_name(out + "/node");
  node->add_output(out);
  return out;
}

std::string GraphBuilder::NodeIn(const std::string& domain, const std::string& op,
                                 const std::vector<std::string>& inputs,
                                 const std::vector<Attr>& attrs, const std::string& output_name) {
  const std::string out = Node(op, inputs, attrs, output_name);
  graph_->mutable_node(graph_->node_size() - 1)->set_domain(domain);
  domains_.insert(domain);
  return out;
}

std::vector<std::string> GraphBuilder::NodeN(const std::string& op,
                                             const std::vector<std::string>& inputs,
                                             int num_outputs, const std::vector<Attr>& attrs) {
  auto* node = AddNode(op, inputs, attrs);
  std::vector<std::string> outs;
  for (int i = 0; i < num_outputs; ++i) {
    outs.push_back(Fresh(op));
    node->add_output(outs.back());
  }
  node->set_name(outs.empty() ? Fresh(op) + "/node" : outs.front() + "/node");
  return outs;
}

std::vector<std::string> GraphBuilder::NodeWithGraph(
    const std::string& op, const std::vector<std::string>& inputs, int num_outputs,
    const std::vector<Attr>& attrs, const std::string& graph_name, const onnx::GraphProto& body) {
  const std::vector<std::string> outs = NodeN(op, inputs, num_outputs, attrs);
  auto* attr = graph_->mutable_node(graph_->node_size() - 1)->add_attribute();
  attr->set_name(graph_name);
  attr->set_type(onnx::AttributeProto::GRAPH);
  *attr->mutable_g() = body;
  return outs;
}

std::string GraphBuilder::Linear(const std::string& x, const std::string& prefix, int64_t in,
                                 int64_t out, bool bias) {
  const std::string w = Weight(prefix + ".weight", {out, in}, WeightInit::kNormal, true);
  std::string y = Node("MatMul", {x, w});
  if (bias) y = Node("Add", {y, Weight(prefix + ".bias", {out}, WeightInit::kZeros)});
  return y;
}

std::string GraphBuilder::LayerNorm(const std::string& x, const std::string& prefix, int64_t size,
                                    double eps) {
  const std::string gamma = Weight(prefix + ".weight", {size}, WeightInit::kOnes);
  const std::string beta = Weight(prefix + ".bias", {size}, WeightInit::kZeros);
  return Node("LayerNormalization", {x, gamma, beta},
              {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(eps)}});
}

std::string GraphBuilder::BatchNorm(const std::string& x, const std::string& prefix,
                                    int64_t channels, double eps) {
  const std::string scale = Weight(prefix + ".weight", {channels}, WeightInit::kOnes);
  const std::string bias = Weight(prefix + ".bias", {channels}, WeightInit::kZeros);
  const std::string mean = Buffer(prefix + ".running_mean", {channels}, WeightInit::kZeros);
  const std::string var = Buffer(prefix + ".running_var", {channels}, WeightInit::kOnes);
  return Node("BatchNormalization", {x, scale, bias, mean, var},
              {{"epsilon", static_cast<float>(eps)}});
}

std::string Transpose(GraphBuilder& g, const std::string& x, std::vector<int64_t> perm) {
  return g.Node("Transpose", {x}, {{"perm", std::move(perm)}});
}

std::string ScalarInt64(GraphBuilder& g, int64_t value) {
  return g.Node("Squeeze", {g.ConstInt64({value}), g.ConstInt64({0})});
}

std::string SqueezeToScalar(GraphBuilder& g, const std::string& one_element) {
  return g.Node("Squeeze", {one_element, g.ConstInt64({0})});
}

}  // namespace ipfs_accel::models
