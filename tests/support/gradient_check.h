#pragma once
// Helpers for checking gradient graphs against central finite differences: a float32 graph
// made float64 (so differences of 1e-5 are far above rounding), and the finite-difference
// derivative of a graph's scalar output along a direction.

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::testing {

// A float tensor proto made float64 in place.
inline void TensorToFloat64(onnx::TensorProto& t) {
  if (t.data_type() != onnx::TensorProto::FLOAT) return;
  std::vector<float> values;
  if (t.has_raw_data()) {
    values.resize(t.raw_data().size() / sizeof(float));
    std::memcpy(values.data(), t.raw_data().data(), t.raw_data().size());
  } else {
    values.assign(t.float_data().begin(), t.float_data().end());
  }
  std::vector<double> wide(values.begin(), values.end());
  t.clear_float_data();
  t.set_data_type(onnx::TensorProto::DOUBLE);
  t.set_raw_data(wide.data(), wide.size() * sizeof(double));
}

// Every float32 tensor, type and Cast of `g` and of its subgraphs (a Scan's body) made float64.
inline void GraphToFloat64(onnx::GraphProto& g) {
  for (auto& t : *g.mutable_initializer()) TensorToFloat64(t);
  const auto widen = [](onnx::ValueInfoProto& v) {
    auto* tt = v.mutable_type()->mutable_tensor_type();
    if (tt->elem_type() == onnx::TensorProto::FLOAT) tt->set_elem_type(onnx::TensorProto::DOUBLE);
  };
  for (auto& v : *g.mutable_input()) widen(v);
  for (auto& v : *g.mutable_output()) widen(v);
  g.clear_value_info();  // re-inferred
  for (auto& n : *g.mutable_node()) {
    if (n.op_type() == "ConstantOfShape" && n.attribute_size() == 0) {  // float32 0 by default
      auto* value = n.add_attribute();
      value->set_name("value");
      value->set_type(onnx::AttributeProto::TENSOR);
      value->mutable_t()->set_data_type(onnx::TensorProto::DOUBLE);
      value->mutable_t()->add_dims(1);
      value->mutable_t()->add_double_data(0.0);
    }
    for (auto& a : *n.mutable_attribute()) {
      if (n.op_type() == "Cast" && a.name() == "to" && a.i() == onnx::TensorProto::FLOAT)
        a.set_i(onnx::TensorProto::DOUBLE);
      if (a.has_t()) TensorToFloat64(*a.mutable_t());
      if (a.has_g()) GraphToFloat64(*a.mutable_g());
      for (auto& sub : *a.mutable_graphs()) GraphToFloat64(sub);
    }
  }
}

// Every float32 tensor, type and Cast of a serialized model made float64.
inline std::string ModelToFloat64(const std::string& bytes) {
  onnx::ModelProto m;
  m.ParseFromString(bytes);
  GraphToFloat64(*m.mutable_graph());
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// A float64 tensor of uniform values in [lo, hi) from `rng`.
inline core::Tensor RandomDoubles(core::Shape shape, std::mt19937_64& rng, double lo = -1,
                                  double hi = 1) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(core::ElementCount(shape));
  for (double& x : v) x = u(rng);
  return core::Tensor::FromDoubles(core::DType::kFloat64, std::move(shape), v);
}

inline double Dot(const core::Tensor& a, const core::Tensor& b) {
  const auto x = a.ToDoubles(), y = b.ToDoubles();
  double s = 0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
  return s;
}

// x + h d for float64 tensors.
inline core::Tensor Step(const core::Tensor& x, const core::Tensor& d, double h) {
  auto v = x.ToDoubles();
  const auto dv = d.ToDoubles();
  for (size_t i = 0; i < v.size(); ++i) v[i] += h * dv[i];
  return core::Tensor::FromDoubles(x.dtype, x.shape, v);
}

// (L(x + h d) - L(x - h d)) / 2h for input `name` of `feeds`, L the scalar output `loss`.
inline double CentralDifference(runtime::Session& s, std::map<std::string, core::Tensor> feeds,
                                const std::string& name, const core::Tensor& d,
                                const std::string& loss = "loss", double h = 1e-5) {
  const core::Tensor x = feeds.at(name);
  feeds[name] = Step(x, d, h);
  const double plus = s.Run(feeds).at(loss).ToDoubles().at(0);
  feeds[name] = Step(x, d, -h);
  const double minus = s.Run(feeds).at(loss).ToDoubles().at(0);
  return (plus - minus) / (2 * h);
}

// floor: the magnitude below which differences count as absolute (finite differences of a loss
// near 10 in float64 with a step of 1e-5 carry noise near 1e-10).
inline double RelativeError(double a, double b, double floor = 1e-3) {
  return std::fabs(a - b) / std::max({std::fabs(a), std::fabs(b), floor});
}

}  // namespace ipfs_accel::testing
