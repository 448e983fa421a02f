// Assembles a training step: forward + head + loss, parameters lifted from initializers to
// inputs, backward (gradient_graph.h), optimizer update (training_optimizer.cpp).

#include <cstring>

#include <fmt/format.h>
#include <onnx/checker.h>

#include "gradient_graph.h"
#include "gradient_rules.h"
#include "graph_builder.h"
#include "ipfs_accel/core/error.h"
#include "training_parts.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

core::DType DTypeOf(int32_t elem) {
  switch (elem) {
    case onnx::TensorProto::FLOAT:
      return core::DType::kFloat32;
    case onnx::TensorProto::DOUBLE:
      return core::DType::kFloat64;
    case onnx::TensorProto::INT64:
      return core::DType::kInt64;
    case onnx::TensorProto::INT32:
      return core::DType::kInt32;
    case onnx::TensorProto::BOOL:
      return core::DType::kBool;
    default:
      throw Error(
          ErrorKind::kUnsupported,
          fmt::format("training graphs hold float32 or float64 weights, not type {}", elem));
  }
}

int32_t ElemOf(core::DType d) {
  switch (d) {
    case core::DType::kFloat32:
      return onnx::TensorProto::FLOAT;
    case core::DType::kFloat64:
      return onnx::TensorProto::DOUBLE;
    case core::DType::kInt64:
      return onnx::TensorProto::INT64;
    case core::DType::kInt32:
      return onnx::TensorProto::INT32;
    case core::DType::kBool:
      return onnx::TensorProto::BOOL;
    default:
      throw Error(ErrorKind::kInternal, "unexpected tensor type in a training graph");
  }
}

void SetDims(onnx::ValueInfoProto* v, int32_t elem, const std::vector<DimInfo>& dims) {
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem);
  auto* shape = tt->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (d.value >= 0)
      dim->set_dim_value(d.value);
    else if (!d.param.empty())
      dim->set_dim_param(d.param);
  }
}

// The parameters to train: those asked for, else every floating weight but the builders'
// constants; in both cases only those the loss depends on.
std::vector<std::string> ChooseParameters(const onnx::ModelProto& model, const std::string& loss,
                                          const TrainingOptions& o) {
  std::vector<std::string> candidates = o.parameters;
  if (candidates.empty()) {
    for (const auto& t : model.graph().initializer())
      if (t.doc_string() == kParameterDoc) candidates.push_back(t.name());
  } else {
    for (const auto& p : candidates) {
      bool found = false;
      for (const auto& t : model.graph().initializer()) found = found || t.name() == p;
      if (!found)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("'{}' is not a weight of the graph; cannot train it", p));
    }
  }
  return ReachingLoss(model, loss, candidates);
}

// Moves each parameter from the initializers to the graph inputs; returns their values.
std::map<std::string, core::Tensor> LiftParameters(onnx::GraphProto* g,
                                                   const std::vector<std::string>& params) {
  std::map<std::string, core::Tensor> values;
  std::set<std::string> wanted(params.begin(), params.end());
  google::protobuf::RepeatedPtrField<onnx::TensorProto> kept;
  for (auto& t : *g->mutable_initializer()) {
    if (!wanted.count(t.name())) {
      *kept.Add() = std::move(t);
      continue;
    }
    std::vector<DimInfo> dims;
    for (int64_t d : t.dims()) dims.push_back({d, ""});
    DeclareInput(g, t.name(), t.data_type(), dims);
    values[t.name()] = TensorOf(t);
  }
  g->mutable_initializer()->Swap(&kept);
  return values;
}

// The gradients grad.<p> outputs (sums) and the update reads (for_update).
struct Accumulated {
  std::map<std::string, std::string> sums, for_update;
};

// steps > 1: sums = gradient + input accumulated.grad.<p>; for_update = sums / steps.
Accumulated Accumulate(GradEmitter& e, const std::vector<std::string>& params,
                       const std::map<std::string, std::string>& grads,
                       const std::map<std::string, TensorInfo>& info, int32_t elem, int64_t steps) {
  if (steps == 1) return {grads, grads};
  Accumulated out;
  const std::string inverse = e.Scalar(1.0 / static_cast<double>(steps), elem);
  for (const auto& p : params) {
    const std::string earlier = "accumulated.grad." + p;
    DeclareInput(e.graph(), earlier, elem, info.at(p).dims);
    out.sums[p] = e.Node("Add", {grads.at(p), earlier});
    out.for_update[p] = e.Node("Mul", {out.sums[p], inverse});
  }
  return out;
}

}  // namespace

void DeclareInput(onnx::GraphProto* g, const std::string& name, int32_t elem,
                  const std::vector<DimInfo>& dims) {
  auto* v = g->add_input();
  v->set_name(name);
  SetDims(v, elem, dims);
}

void DeclareOutput(onnx::GraphProto* g, const std::string& name, int32_t elem,
                   const std::vector<DimInfo>& dims) {
  auto* v = g->add_output();
  v->set_name(name);
  SetDims(v, elem, dims);
}

core::Tensor TensorOf(const onnx::TensorProto& t) {
  core::Shape shape(t.dims().begin(), t.dims().end());
  core::Tensor out = core::Tensor::Zeros(DTypeOf(t.data_type()), shape);
  if (t.has_raw_data()) {
    if (t.raw_data().size() != out.bytes.size())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("weight '{}' holds the wrong byte count", t.name()));
    std::memcpy(out.bytes.data(), t.raw_data().data(), out.bytes.size());
  } else if (t.float_data_size() == out.element_count()) {
    std::memcpy(out.bytes.data(), t.float_data().data(), out.bytes.size());
  } else if (t.double_data_size() == out.element_count()) {
    std::memcpy(out.bytes.data(), t.double_data().data(), out.bytes.size());
  } else if (t.int64_data_size() == out.element_count()) {
    std::memcpy(out.bytes.data(), t.int64_data().data(), out.bytes.size());
  } else {
    throw Error(ErrorKind::kCorrupt, fmt::format("weight '{}' holds no values", t.name()));
  }
  return out;
}

onnx::TensorProto ProtoOf(const std::string& name, const core::Tensor& t) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(ElemOf(t.dtype));
  for (int64_t d : t.shape) p.add_dims(d);
  p.set_raw_data(t.bytes.data(), t.bytes.size());
  return p;
}

std::vector<std::string> DifferentiableOperators() { return GradRuleOperators(); }

TrainingGraph BuildTrainingStep(const Model& forward, const TrainingOptions& o) {
  if (o.accumulation_steps < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("gradient accumulation over {} micro-batches; give 1 or more",
                            o.accumulation_steps));
  if (forward.onnx_bytes.empty())
    throw Error(ErrorKind::kUnsupported,
                "training graphs are built from graphs held in memory, not from .onnx files "
                "or graphs over 2 GB");
  onnx::ModelProto model;
  if (!model.ParseFromString(forward.onnx_bytes))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("the graph of '{}' does not parse", forward.info.name));
  TrainingGraph out;
  const std::string loss = AddHeadAndLoss(model, o, &out.parameters, &out.classes);
  out.parameters = ChooseParameters(model, loss, o);
  if (out.parameters.empty())
    throw Error(ErrorKind::kInvalidArgument, "the loss depends on no trainable weight");
  out.state = LiftParameters(model.mutable_graph(), out.parameters);
  const std::map<std::string, std::string> grads = AddGradients(model, loss, out.parameters);
  std::map<std::string, TensorInfo> info = InferTensorInfo(model);
  const int32_t elem = info.at(out.parameters.front()).elem;
  auto* g = model.mutable_graph();
  g->clear_output();
  GradEmitter e(g, info);
  e.Alias(loss, "loss");
  DeclareOutput(g, "loss", elem, {});
  for (const auto& p : out.parameters)
    if (info.at(p).elem != elem)
      throw Error(ErrorKind::kUnsupported, "training graphs need every parameter of one type");
  const Accumulated acc = Accumulate(e, out.parameters, grads, info, elem, o.accumulation_steps);
  const bool gradients = o.gradient_outputs || o.optimizer.kind == OptimizerKind::kNone;
  for (const auto& p : out.parameters) {
    if (!gradients) break;
    e.Alias(acc.sums.at(p), "grad." + p);
    DeclareOutput(g, "grad." + p, elem, info.at(p).dims);
  }
  AddOptimizer(e, o.optimizer, out.parameters, acc.for_update, info, elem, out);
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& ex) {
    throw Error(ErrorKind::kInternal,
                fmt::format("the training graph of '{}' fails ONNX checks: {}", forward.info.name,
                            core::OneLine(ex.what())));
  }
  out.model.info = forward.info;
  out.model.info.name = forward.info.name + " (training step)";
  out.model.input_hints = forward.input_hints;
  out.model.dim_roles = forward.dim_roles;
  if (!model.SerializeToString(&out.model.onnx_bytes))
    throw Error(ErrorKind::kUnsupported, "the training graph is over protobuf's 2 GB");
  return out;
}

}  // namespace ipfs_accel::models
