// Tensor types and shapes for the gradient transform: ONNX shape inference, then a pass that
// fills in the ranks (and the dimensions it can) where inference gave up. ONNX 1.12 leaves a
// Slice with computed ends untyped in shape, and everything downstream of it (a BERT's
// embeddings, so every layer) with it; the rules need ranks, which such ops keep.

#include <algorithm>
#include <set>

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include "gradient_emit.h"
#include "gradient_rules_internal.h"

namespace ipfs_accel::models {

namespace {

TensorInfo FromType(const onnx::TypeProto& type) {
  TensorInfo t;
  if (!type.has_tensor_type()) return t;
  t.elem = type.tensor_type().elem_type();
  if (!type.tensor_type().has_shape()) return t;
  t.rank_known = true;
  for (const auto& d : type.tensor_type().shape().dim()) {
    DimInfo dim;
    if (d.has_dim_value()) dim.value = d.dim_value();
    if (d.has_dim_param()) dim.param = d.dim_param();
    t.dims.push_back(dim);
  }
  return t;
}

// Numpy broadcasting of known-rank dims; a dimension stays unknown unless some operand fixes it.
std::vector<DimInfo> Broadcast(const std::vector<const TensorInfo*>& ins) {
  size_t rank = 0;
  for (const auto* t : ins) rank = std::max(rank, t->dims.size());
  std::vector<DimInfo> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    bool all_same = true;
    const DimInfo* first = nullptr;
    for (const auto* t : ins) {
      if (t->dims.size() + i < rank) continue;
      const DimInfo& d = t->dims[t->dims.size() - rank + i];
      if (d.value > 1) out[i] = d;
      if (!first)
        first = &d;
      else
        all_same = all_same && d == *first;
    }
    if (!out[i].Known() && first && all_same) out[i] = *first;
  }
  return out;
}

bool IsElementwise(const std::string& op) {
  static const std::set<std::string> kOps = {"Add",      "Sub",        "Mul",
                                             "Div",      "Pow",        "Where",
                                             "Max",      "Min",        "Sum",
                                             "Equal",    "Greater",    "Less",
                                             "And",      "Or",         "Not",
                                             "Neg",      "Erf",        "Tanh",
                                             "Sigmoid",  "Exp",        "Log",
                                             "Sqrt",     "Reciprocal", "Relu",
                                             "Sin",      "Cos",        "Softplus",
                                             "Abs",      "Cast",       "Identity",
                                             "Softmax",  "LogSoftmax", "LayerNormalization",
                                             "Floor",    "Ceil",       "Round",
                                             "Sign",     "Clip",       "HardSigmoid",
                                             "HardSwish"};
  return kOps.count(op) > 0;
}

// The output info of `n` from its inputs', where inference gave none; rank_known false if not.
TensorInfo Complete(const onnx::NodeProto& n, const std::map<std::string, TensorInfo>& info,
                    int32_t elem) {
  TensorInfo out;
  out.elem = elem;
  std::vector<const TensorInfo*> ins;
  for (const auto& name : n.input()) {
    auto it = info.find(name);
    if (name.empty()) continue;
    if (it == info.end() || !it->second.rank_known) return out;
    ins.push_back(&it->second);
  }
  if (ins.empty()) return out;
  const std::string& op = n.op_type();
  if (IsElementwise(op)) {
    std::vector<const TensorInfo*> operands = ins;
    if (op == "LayerNormalization") operands = {ins[0]};
    out.dims = Broadcast(operands);
  } else if (op == "BatchNormalization" || op == "InstanceNormalization") {
    out.dims = ins[0]->dims;
  } else if (op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "AveragePool" ||
             op == "GlobalAveragePool" || op == "Resize" || op == "TopK") {
    out.dims = std::vector<DimInfo>(ins[0]->dims.size());  // batch and channels kept, sizes not
  } else if (op == "Slice" || op == "Concat" || op == "Split" || op == "Tile" || op == "Pad" ||
             ((op == "ReduceSum" || op == "ReduceMean" || op == "ReduceMax" || op == "ReduceL2") &&
              AttrInt(n, "keepdims", 1) == 1)) {
    out.dims = std::vector<DimInfo>(ins[0]->dims.size());
  } else if (op == "MatMul" && ins[0]->rank() >= 2 && ins[1]->rank() >= 2) {
    TensorInfo a = *ins[0], b = *ins[1];
    a.dims.resize(a.dims.size() - 2);
    b.dims.resize(b.dims.size() - 2);
    out.dims = Broadcast({&a, &b});
    out.dims.push_back(ins[0]->dims[ins[0]->rank() - 2]);
    out.dims.push_back(ins[1]->dims.back());
  } else if (op == "Transpose") {
    out.dims = std::vector<DimInfo>(ins[0]->dims.size());
    for (size_t i = 0; i < out.dims.size(); ++i) {
      bool found = false;
      const std::vector<int64_t> perm = AttrInts(n, "perm", &found);
      out.dims[i] = found ? ins[0]->dims[perm[i]] : ins[0]->dims[out.dims.size() - 1 - i];
    }
  } else if (op == "GatherND" && ins[1]->rank() >= 1 && ins[1]->dims.back().value >= 0) {
    // q + r - k - 1 - batch_dims for data of rank r, indices of rank q, tuples of length k.
    const int64_t rank = ins[0]->rank() + ins[1]->rank() - ins[1]->dims.back().value - 1 -
                         AttrInt(n, "batch_dims", 0);
    if (rank < 0) return out;
    out.dims = std::vector<DimInfo>(rank);
  } else if (op == "Expand" && ins[1]->rank() == 1 && ins[1]->dims[0].value >= 0) {
    out.dims = std::vector<DimInfo>(std::max(ins[0]->rank(), ins[1]->dims[0].value));
  } else if (op == "Compress") {  // flattened without an axis
    bool has_axis = false;
    for (const auto& a : n.attribute()) has_axis = has_axis || a.name() == "axis";
    out.dims = std::vector<DimInfo>(has_axis ? ins[0]->rank() : 1);
  } else if (op == "Gather") {
    out.dims = std::vector<DimInfo>(ins[0]->dims.size() + ins[1]->dims.size() - 1);
  } else if ((op == "Squeeze" || op == "Unsqueeze" || op == "Reshape") && ins.size() == 2 &&
             ins[1]->rank() == 1 && ins[1]->dims[0].value >= 0) {
    // The count of axes (or of the new shape's dims) is the length of the second input.
    const int64_t k = ins[1]->dims[0].value;
    const int64_t rank = op == "Reshape"   ? k
                         : op == "Squeeze" ? ins[0]->rank() - k
                                           : ins[0]->rank() + k;
    if (rank < 0) return out;
    out.dims = std::vector<DimInfo>(rank);
  } else {
    return out;
  }
  out.rank_known = true;
  return out;
}

// `model` without the values of its large initializers (weights): inference needs their types
// and shapes only, and a copy of a BERT-base's weights per inference would cost 440 MB each.
onnx::ModelProto WithoutWeightValues(const onnx::ModelProto& model) {
  onnx::ModelProto copy;
  copy.set_ir_version(model.ir_version());
  *copy.mutable_opset_import() = model.opset_import();
  const onnx::GraphProto& from = model.graph();
  onnx::GraphProto* to = copy.mutable_graph();
  to->set_name(from.name());
  *to->mutable_node() = from.node();
  *to->mutable_input() = from.input();
  *to->mutable_output() = from.output();
  *to->mutable_value_info() = from.value_info();
  for (const auto& t : from.initializer()) {
    if (t.raw_data().size() <= 4096) {
      *to->add_initializer() = t;
      continue;
    }
    auto* shell = to->add_initializer();
    shell->set_name(t.name());
    shell->set_data_type(t.data_type());
    *shell->mutable_dims() = t.dims();
  }
  return copy;
}

}  // namespace

std::map<std::string, TensorInfo> InferTensorInfo(const onnx::ModelProto& model) {
  const onnx::ModelProto shapes_only = WithoutWeightValues(model);
  onnx::ModelProto copy = shapes_only;
  try {
    onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(false, 0, true));
  } catch (const std::exception&) {
    copy = shapes_only;  // data propagation gave up: types without its extra shapes
    onnx::shape_inference::InferShapes(copy);
  }
  std::map<std::string, TensorInfo> info;
  const auto& g = copy.graph();
  for (const auto& v : g.input()) info[v.name()] = FromType(v.type());
  for (const auto& v : g.value_info()) info[v.name()] = FromType(v.type());
  for (const auto& v : g.output()) info[v.name()] = FromType(v.type());
  for (const auto& init : g.initializer()) {
    TensorInfo t;
    t.elem = init.data_type();
    t.rank_known = true;
    for (int64_t d : init.dims()) t.dims.push_back({d, ""});
    info[init.name()] = t;
  }
  for (const auto& n : g.node())
    for (const auto& o : n.output()) {
      auto it = info.find(o);
      if (it != info.end() && it->second.rank_known) continue;
      const int32_t elem = it == info.end() ? onnx::TensorProto::UNDEFINED : it->second.elem;
      TensorInfo t = Complete(n, info, elem);
      if (t.rank_known && elem != onnx::TensorProto::UNDEFINED) info[o] = t;
    }
  return info;
}

}  // namespace ipfs_accel::models
