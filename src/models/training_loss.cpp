// Heads (tied LM projection, linear classifier) and losses (cross-entropy, MSE) of a training step.

#include <cmath>
#include <random>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "training_parts.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

const onnx::TensorProto* FindInitializer(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

// classifier.weight [hidden, classes] uniform in +-1/sqrt(hidden) (torch Linear's bound), from
// mt19937_64's raw bits so every platform makes the same values; classifier.bias zeros.
void AddClassifierWeights(onnx::GraphProto* g, int64_t hidden, int64_t classes, uint64_t seed,
                          int32_t elem) {
  std::mt19937_64 rng(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  std::vector<double> w(hidden * classes);
  for (double& v : w) v = (static_cast<double>(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0) * bound;
  const core::DType dtype =
      elem == onnx::TensorProto::DOUBLE ? core::DType::kFloat64 : core::DType::kFloat32;
  *g->add_initializer() =
      ProtoOf("classifier.weight", core::Tensor::FromDoubles(dtype, {hidden, classes}, w));
  *g->add_initializer() = ProtoOf("classifier.bias", core::Tensor::Zeros(dtype, {classes}));
  for (int i : {2, 1})
    g->mutable_initializer(g->initializer_size() - i)->set_doc_string(kParameterDoc);
}

std::string Head(GradEmitter& e, const TrainingOptions& o, const std::string& output,
                 const TensorInfo& out_info, std::vector<std::string>* new_parameters) {
  if (!o.tied_head.empty()) {
    if (!FindInitializer(*e.graph(), o.tied_head))
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("the tied head's table '{}' is not a weight of the graph", o.tied_head));
    const std::string table_t =
        e.Node("Transpose", {o.tied_head}, {{"perm", std::vector<int64_t>{1, 0}}});
    return e.Node("MatMul", {output, table_t});
  }
  if (o.classes <= 0) return output;
  const DimInfo hidden = out_info.dims.empty() ? DimInfo{} : out_info.dims.back();
  if (hidden.value <= 0)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("a classifier needs '{}' to end in a fixed hidden size", output));
  AddClassifierWeights(e.graph(), hidden.value, o.classes, o.seed, out_info.elem);
  new_parameters->push_back("classifier.weight");
  new_parameters->push_back("classifier.bias");
  return e.Node("Add", {e.Node("MatMul", {output, "classifier.weight"}), "classifier.bias"});
}

// The size of the axis cross-entropy labels index: the tied table's rows, the classifier's
// classes, or the output's last axis (-1 when symbolic).
int64_t LabelClasses(const onnx::GraphProto& g, const TrainingOptions& o,
                     const TensorInfo& out_info) {
  if (!o.tied_head.empty()) {
    const onnx::TensorProto* table = FindInitializer(g, o.tied_head);
    return table && table->dims_size() > 0 ? table->dims(0) : -1;
  }
  if (o.classes > 0) return o.classes;
  return out_info.dims.empty() ? -1 : out_info.dims.back().value;
}

// Mean over labels != -100 of -log softmax(logits)[label].
std::string CrossEntropy(GradEmitter& e, const std::string& logits, int32_t elem) {
  const std::string log_p = e.Node("LogSoftmax", {logits}, {{"axis", int64_t{-1}}});
  const std::string valid =
      e.Node("Not", {e.Node("Equal", {"labels", e.Scalar(-100, onnx::TensorProto::INT64)})});
  const std::string safe =
      e.Node("Where", {valid, "labels", e.Scalar(0, onnx::TensorProto::INT64)});
  const std::string picked =
      e.Node("GatherElements", {log_p, e.Node("Unsqueeze", {safe, e.Ints({-1})})},
             {{"axis", int64_t{-1}}});
  const std::string weight = e.Node("Cast", {valid}, {{"to", int64_t{elem}}});
  const Attr scalar{"keepdims", int64_t{0}};
  const std::string total = e.Node(
      "ReduceSum", {e.Node("Mul", {e.Node("Squeeze", {picked, e.Ints({-1})}), weight})}, {scalar});
  const std::string count =
      e.Node("Max", {e.Node("ReduceSum", {weight}, {scalar}), e.Scalar(1.0, elem)});
  return e.Node("Neg", {e.Node("Div", {total, count})});
}

std::string Mse(GradEmitter& e, const std::string& prediction) {
  const std::string d = e.Node("Sub", {prediction, "labels"});
  return e.Node("ReduceMean", {e.Node("Mul", {d, d})}, {{"keepdims", int64_t{0}}});
}

}  // namespace

std::string AddHeadAndLoss(onnx::ModelProto& model, const TrainingOptions& o,
                           std::vector<std::string>* new_parameters, int64_t* classes) {
  auto* g = model.mutable_graph();
  const std::string output = o.output.empty() ? g->output(0).name() : o.output;
  std::map<std::string, TensorInfo> info = InferTensorInfo(model);
  auto it = info.find(output);
  if (it == info.end() || !IsFloatType(it->second.elem) || !it->second.rank_known)
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("the graph has no floating output '{}' of known rank to train on", output));
  const TensorInfo out_info = it->second;
  GradEmitter e(g, std::move(info));
  const std::string prediction = Head(e, o, output, out_info, new_parameters);
  std::vector<DimInfo> label_dims = out_info.dims;
  if (o.loss == LossKind::kMse) {
    if (!o.tied_head.empty() || o.classes > 0)
      throw Error(ErrorKind::kInvalidArgument, "an MSE loss reads the output itself, not a head");
    DeclareInput(g, "labels", out_info.elem, label_dims);
    *classes = 0;
    return Mse(e, prediction);
  }
  *classes = LabelClasses(*g, o, out_info);
  label_dims.pop_back();
  DeclareInput(g, "labels", onnx::TensorProto::INT64, label_dims);
  return CrossEntropy(e, prediction, out_info.elem);
}

}  // namespace ipfs_accel::models
