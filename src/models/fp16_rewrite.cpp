// The fp16 variant: weights and activations in float16, with fp32 islands for the
// operations whose accuracy needs it (normalisations, softmax, transcendental
// functions, position arithmetic). Graph inputs and outputs keep their fp32 types.

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/float16.h"
#include "precision_rewrite.h"

namespace ipfs_accel::models {

namespace {

using onnx::TensorProto;

// Ops that compute well in float16; every other op with float inputs runs in fp32.
const std::set<std::string>& Fp16Ops() {
  static const std::set<std::string> ops = {
      "MatMul",  "Gemm",      "Add",       "Sub",    "Mul",      "Div",   "Neg",
      "Relu",    "Reshape",   "Transpose", "Concat", "Split",    "Slice", "Gather",
      "Squeeze", "Unsqueeze", "Expand",    "Where",  "Identity", "Shape", "Flatten"};
  return ops;
}

bool IsFloat(int32_t t) { return t == TensorProto::FLOAT || t == TensorProto::FLOAT16; }

void ConvertInitializer(TensorProto& t) {
  if (t.data_type() != TensorProto::FLOAT) return;
  std::vector<float> values;
  if (t.has_raw_data()) {
    values.resize(t.raw_data().size() / 4);
    std::memcpy(values.data(), t.raw_data().data(), values.size() * 4);
  } else {
    values.assign(t.float_data().begin(), t.float_data().end());
  }
  std::vector<uint16_t> half(values.size());
  for (size_t i = 0; i < values.size(); ++i) half[i] = core::FloatToHalf(values[i]);
  t.clear_float_data();
  t.set_data_type(TensorProto::FLOAT16);
  // Shape-only weights (no data) stay without data.
  if (!values.empty() || !t.has_raw_data()) {
    if (!values.empty()) t.set_raw_data(half.data(), half.size() * 2);
  } else {
    t.set_raw_data(std::string());
  }
}

}  // namespace

void RewriteToFp16(onnx::ModelProto& proto) {
  auto* g = proto.mutable_graph();
  // Element types of every named tensor (shape inference filled value_info when built).
  std::map<std::string, int32_t> type;
  for (const auto& v : g->input()) type[v.name()] = v.type().tensor_type().elem_type();
  for (const auto& v : g->value_info()) type[v.name()] = v.type().tensor_type().elem_type();
  for (const auto& v : g->output()) type[v.name()] = v.type().tensor_type().elem_type();
  for (auto& t : *g->mutable_initializer()) {
    if (t.data_type() == TensorProto::FLOAT) {
      ConvertInitializer(t);
      type[t.name()] = TensorProto::FLOAT16;
    }
  }
  // The float type each tensor has after the rewrite, as it is produced.
  std::map<std::string, int32_t> now;
  for (const auto& v : g->input())
    if (IsFloat(type[v.name()])) now[v.name()] = TensorProto::FLOAT;
  for (const auto& t : g->initializer())
    if (t.data_type() == TensorProto::FLOAT16) now[t.name()] = TensorProto::FLOAT16;

  std::vector<onnx::NodeProto> nodes;
  std::map<std::pair<std::string, int32_t>, std::string> casts;  // (tensor, to) -> cast output
  int counter = 0;
  auto as = [&](const std::string& tensor, int32_t to) -> std::string {
    auto it = now.find(tensor);
    if (it == now.end() || it->second == to) return tensor;
    auto [c, fresh] = casts.emplace(std::make_pair(tensor, to), "");
    if (fresh) {
      c->second = fmt::format("{}_as_{}_{}", tensor, to == TensorProto::FLOAT16 ? "fp16" : "fp32",
                              counter++);
      onnx::NodeProto cast;
      cast.set_op_type("Cast");
      cast.set_name(c->second + "/node");
      cast.add_input(tensor);
      cast.add_output(c->second);
      auto* a = cast.add_attribute();
      a->set_name("to");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(to);
      nodes.push_back(cast);
      now[c->second] = to;
    }
    return c->second;
  };

  for (const auto& original : g->node()) {
    onnx::NodeProto n = original;
    if (n.op_type() == "Cast") {
      // A cast to float now casts to the type its consumers will get.
      for (auto& a : *n.mutable_attribute())
        if (a.name() == "to" && a.i() == TensorProto::FLOAT) a.set_i(TensorProto::FLOAT16);
      for (const auto& out : n.output())
        if (IsFloat(type[out])) now[out] = TensorProto::FLOAT16;
      nodes.push_back(n);
      continue;
    }
    const bool half = n.domain().empty() && Fp16Ops().count(n.op_type()) > 0;
    const int32_t want = half ? TensorProto::FLOAT16 : TensorProto::FLOAT;
    bool float_input = false;
    for (auto& in : *n.mutable_input())
      if (!in.empty() && now.count(in)) {
        in = as(in, want);
        float_input = true;
      }
    // ONNX's shape inference knows no com.microsoft op, so their outputs have no recorded
    // type; those ops compute in their float input's type, which is what they get here.
    for (const auto& out : n.output())
      if (IsFloat(type[out]) || (type[out] == TensorProto::UNDEFINED && float_input))
        now[out] = want;
    nodes.push_back(n);
  }
  // Graph outputs keep float32: the last producer's output is renamed and cast back.
  for (const auto& out : g->output()) {
    if (!IsFloat(type[out.name()]) || now[out.name()] == TensorProto::FLOAT) continue;
    const std::string inner = out.name() + "_fp16";
    for (auto& n : nodes)
      for (auto& o : *n.mutable_output())
        if (o == out.name()) o = inner;
    for (auto& n : nodes)
      for (auto& i : *n.mutable_input())
        if (i == out.name()) i = inner;
    onnx::NodeProto cast;
    cast.set_op_type("Cast");
    cast.set_name(out.name() + "/fp32");
    cast.add_input(inner);
    cast.add_output(out.name());
    auto* a = cast.add_attribute();
    a->set_name("to");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(TensorProto::FLOAT);
    nodes.push_back(cast);
  }
  g->clear_node();
  for (auto& n : nodes) *g->add_node() = std::move(n);
  g->clear_value_info();  // the types changed; runtimes infer them again
}

}  // namespace ipfs_accel::models
