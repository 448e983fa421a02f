#include "gradient_emit.h"

#include "onnx_attr.h"

#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// A one-element tensor of `elem` holding `value` (a scalar when `scalar`, else shape [1]).
onnx::TensorProto ValueTensor(double value, int32_t elem, bool scalar) {
  onnx::TensorProto t;
  t.set_data_type(elem);
  if (!scalar) t.add_dims(1);
  if (elem == onnx::TensorProto::DOUBLE) {
    t.set_raw_data(&value, sizeof value);
  } else if (elem == onnx::TensorProto::FLOAT) {
    const float f = static_cast<float>(value);
    t.set_raw_data(&f, sizeof f);
  } else if (elem == onnx::TensorProto::INT64) {
    const int64_t i = static_cast<int64_t>(value);
    t.set_raw_data(&i, sizeof i);
  } else {
    throw Error(ErrorKind::kUnsupported,
                fmt::format("gradients of element type {} are not supported; build the graph in "
                            "float32 or float64",
                            onnx::TensorProto::DataType_Name(
                                static_cast<onnx::TensorProto::DataType>(elem))));
  }
  return t;
}

}  // namespace

bool IsFloatType(int32_t elem) {
  return elem == onnx::TensorProto::FLOAT || elem == onnx::TensorProto::DOUBLE ||
         elem == onnx::TensorProto::FLOAT16 || elem == onnx::TensorProto::BFLOAT16;
}

GradEmitter::GradEmitter(onnx::GraphProto* graph, std::map<std::string, TensorInfo> info)
    : graph_(graph), info_(std::move(info)) {
  for (const auto& n : graph->node())
    for (const auto& o : n.output()) taken_.insert(o);
  for (const auto& i : graph->input()) taken_.insert(i.name());
  for (const auto& i : graph->initializer()) taken_.insert(i.name());
}

std::string GradEmitter::Fresh(const std::string& base) {
  std::string name;
  do name = fmt::format("grad/{}_{}", base, counter_++);
  while (taken_.count(name) > 0);
  taken_.insert(name);
  return name;
}

std::vector<std::string> GradEmitter::NodeN(const std::string& op,
                                            const std::vector<std::string>& inputs, int num_outputs,
                                            const std::vector<Attr>& attrs) {
  auto* node = graph_->add_node();
  node->set_op_type(op);
  for (const auto& in : inputs) node->add_input(in);
  for (const auto& a : attrs) AddOnnxAttribute(node, a);
  std::vector<std::string> outs;
  for (int i = 0; i < num_outputs; ++i) {
    outs.push_back(Fresh(op));
    node->add_output(outs.back());
  }
  node->set_name(outs.front() + "/node");
  return outs;
}

std::string GradEmitter::Node(const std::string& op, const std::vector<std::string>& inputs,
                              const std::vector<Attr>& attrs) {
  return NodeN(op, inputs, 1, attrs).front();
}

void GradEmitter::Alias(const std::string& tensor, const std::string& name) {
  auto* node = graph_->add_node();
  node->set_op_type("Identity");
  node->add_input(tensor);
  node->add_output(name);
  node->set_name(Fresh("Identity") + "/node");
  taken_.insert(name);
}

std::string GradEmitter::Scalar(double value, int32_t elem) {
  onnx::TensorProto t = ValueTensor(value, elem, true);
  t.set_name(Fresh("const"));
  *graph_->add_initializer() = t;
  return t.name();
}

std::string GradEmitter::Ints(const std::vector<int64_t>& values) {
  onnx::TensorProto t;
  t.set_name(Fresh("const_i64"));
  t.set_data_type(onnx::TensorProto::INT64);
  t.add_dims(static_cast<int64_t>(values.size()));
  t.set_raw_data(values.data(), values.size() * sizeof(int64_t));
  *graph_->add_initializer() = t;
  return t.name();
}

std::string GradEmitter::Fill(const std::string& like, double value) {
  const int32_t elem = Elem(like, "ConstantOfShape");
  const std::string shape = Node("Shape", {like});
  auto* node = graph_->add_node();
  node->set_op_type("ConstantOfShape");
  node->add_input(shape);
  const std::string out = Fresh("ConstantOfShape");
  node->add_output(out);
  node->set_name(out + "/node");
  auto* attr = node->add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  *attr->mutable_t() = ValueTensor(value, elem, false);
  return out;
}

const TensorInfo& GradEmitter::Info(const std::string& name, const std::string& op,
                                    bool need_rank) const {
  auto it = info_.find(name);
  if (it == info_.end() || it->second.elem == onnx::TensorProto::UNDEFINED ||
      (need_rank && !it->second.rank_known))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("cannot differentiate {} at tensor '{}': ONNX shape inference does "
                            "not give its {}",
                            op, name, need_rank ? "rank" : "type"));
  return it->second;
}

std::string GradEmitter::SumTo(const std::string& grad, const std::vector<DimInfo>& grad_dims,
                               const std::string& x, const std::string& op) {
  const TensorInfo& xi = Info(x, op, true);
  const int64_t gr = static_cast<int64_t>(grad_dims.size()), xr = xi.rank();
  if (gr < xr)
    throw Error(ErrorKind::kInternal, fmt::format("{}: gradient of lower rank than '{}'", op, x));
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < gr - xr; ++i) axes.push_back(i);
  for (int64_t i = 0; i < xr; ++i) {
    const DimInfo& xd = xi.dims[i];
    const DimInfo& gd = grad_dims[gr - xr + i];
    if (xd == gd || (xd.value > 1 && gd.value < 0)) continue;  // equal (or broadcast is an error)
    if (xd.value == 1) {
      if (gd.value != 1) axes.push_back(gr - xr + i);
      continue;
    }
    return DynamicSumTo(grad, gr, x, xr);  // shape inference cannot say
  }
  if (axes.empty() && gr == xr) return grad;
  std::string summed = grad;
  if (!axes.empty()) summed = Node("ReduceSum", {grad, Ints(axes)}, {{"keepdims", int64_t{1}}});
  return Node("Reshape", {summed, Node("Shape", {x})});
}

// The axes where x (left-padded with ones) has 1 and the gradient does not, found at run time.
std::string GradEmitter::DynamicSumTo(const std::string& grad, int64_t grad_rank,
                                      const std::string& x, int64_t x_rank) {
  std::string x_shape = Node("Shape", {x});
  if (grad_rank > x_rank)
    x_shape = Node("Concat", {Ints(std::vector<int64_t>(grad_rank - x_rank, 1)), x_shape},
                   {{"axis", int64_t{0}}});
  const std::string one = Ints({1});
  const std::string x_one = Node("Equal", {x_shape, one});
  const std::string g_not_one = Node("Not", {Node("Equal", {Node("Shape", {grad}), one})});
  const std::string axes =
      Node("Reshape", {Node("NonZero", {Node("And", {x_one, g_not_one})}), Ints({-1})});
  const std::string summed = Node("ReduceSum", {grad, axes},
                                  {{"keepdims", int64_t{1}}, {"noop_with_empty_axes", int64_t{1}}});
  return Node("Reshape", {summed, Node("Shape", {x})});
}

}  // namespace ipfs_accel::models
