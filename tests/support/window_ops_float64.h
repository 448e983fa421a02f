#pragma once
// ONNX Runtime's CPU build has Conv, ConvTranspose, AveragePool, GlobalAveragePool and
// InstanceNormalization for float32 only, so a float64 graph holding them cannot run. For the
// finite-difference checks, each such node of a float64 graph is rewritten into operators that
// have float64 kernels, with the shapes a float32 run of the same graph shows:
//   Conv / ConvTranspose / AveragePool: x [n, c, s] times a 0/1 (or 1/divisor) matrix of the
//   window positions (im2col as MatMul), then the channel mixing as a batched MatMul;
//   GlobalAveragePool: ReduceMean; InstanceNormalization: its formula; Softplus (an activation
//   with a float32 kernel only): log(1 + exp(x)).
// The rewrite is checked against ONNX Runtime's float32 kernels (window_ops_float64_test.cpp).

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/backend.h"
#include "support/gradient_check.h"

namespace ipfs_accel::testing {

inline bool IsLoweredWindowOp(const std::string& op) {
  return op == "Conv" || op == "ConvTranspose" || op == "AveragePool" ||
         op == "GlobalAveragePool" || op == "InstanceNormalization";
}

// The run-time shapes of the inputs of every window op of float32 model `bytes` fed `feeds`.
inline std::map<std::string, core::Shape> WindowOpShapes(
    const std::string& bytes, const std::map<std::string, core::Tensor>& feeds) {
  onnx::ModelProto m;
  m.ParseFromString(bytes);
  std::map<std::string, core::Shape> shapes;
  for (const auto& t : m.graph().initializer())
    shapes[t.name()] = {t.dims().begin(), t.dims().end()};
  for (const auto& [name, t] : feeds) shapes[name] = t.shape;
  std::set<std::string> outputs;
  for (const auto& o : m.graph().output()) outputs.insert(o.name());
  for (const auto& n : m.graph().node())
    if (IsLoweredWindowOp(n.op_type()))
      for (const auto& in : n.input())
        if (!in.empty() && !shapes.count(in) && outputs.insert(in).second) {
          auto* v = m.mutable_graph()->add_output();
          v->set_name(in);
          v->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
        }
  models::Model model;
  model.info.name = "window op shapes";
  m.SerializeToString(&model.onnx_bytes);
  for (const auto& [name, t] : runtime::OpenSession(model, {})->Run(feeds)) shapes[name] = t.shape;
  return shapes;
}

// Emits the replacement nodes of one window op into a graph.
class WindowOpLowering {
 public:
  WindowOpLowering(onnx::GraphProto* g, std::string prefix) : g_(g), prefix_(std::move(prefix)) {}

  std::string Node(const std::string& op, const std::vector<std::string>& in, std::string out = "",
                   std::function<void(onnx::NodeProto*)> attrs = {}) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(prefix_ + "/" + std::to_string(counter_));
    for (const auto& i : in) n->add_input(i);
    if (out.empty()) out = prefix_ + "/t" + std::to_string(counter_);
    ++counter_;
    n->add_output(out);
    if (attrs) attrs(n);
    return out;
  }
  std::string Ints(std::vector<int64_t> v) {
    core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, {static_cast<int64_t>(v.size())});
    std::copy(v.begin(), v.end(), t.values<int64_t>().begin());
    return Const(t);
  }
  std::string Const(const core::Tensor& t) {
    auto* p = g_->add_initializer();
    p->set_name(prefix_ + "/k" + std::to_string(counter_++));
    p->set_data_type(t.dtype == core::DType::kInt64 ? onnx::TensorProto::INT64
                                                    : onnx::TensorProto::DOUBLE);
    for (int64_t d : t.shape) p->add_dims(d);
    p->set_raw_data(t.bytes.data(), t.bytes.size());
    return p->name();
  }
  static void SetInts(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }

 private:
  onnx::GraphProto* g_;
  std::string prefix_;
  int counter_ = 0;
};

inline std::vector<int64_t> WindowAttr(const onnx::NodeProto& n, const std::string& name,
                                       std::vector<int64_t> fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return {a.ints().begin(), a.ints().end()};
  return fallback;
}

inline int64_t WindowAttrInt(const onnx::NodeProto& n, const std::string& name, int64_t fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

inline int64_t WindowProduct(const std::vector<int64_t>& v, size_t from = 0) {
  int64_t p = 1;
  for (size_t i = from; i < v.size(); ++i) p *= v[i];
  return p;
}

// A window op's geometry over input spatial sizes `in`.
struct WindowGeometry {
  std::vector<int64_t> in, kernel, strides, pads, dilations, out;
  WindowGeometry(const onnx::NodeProto& n, std::vector<int64_t> in_sizes, std::vector<int64_t> k)
      : in(std::move(in_sizes)), kernel(std::move(k)) {
    const size_t nd = kernel.size();
    strides = WindowAttr(n, "strides", std::vector<int64_t>(nd, 1));
    pads = WindowAttr(n, "pads", std::vector<int64_t>(2 * nd, 0));
    dilations = WindowAttr(n, "dilations", std::vector<int64_t>(nd, 1));
    for (size_t i = 0; i < nd; ++i)
      out.push_back(
          (in[i] + pads[i] + pads[nd + i] - dilations[i] * (kernel[i] - 1) - 1) / strides[i] + 1);
  }
  // Calls f(input flat index, kernel flat index, output flat index) for each in-range tap.
  void ForEachTap(const std::function<void(int64_t, int64_t, int64_t)>& f) const {
    const size_t nd = kernel.size();
    const int64_t K = WindowProduct(kernel), O = WindowProduct(out);
    for (int64_t o = 0; o < O; ++o)
      for (int64_t k = 0; k < K; ++k) {
        int64_t orest = o, krest = k, flat = 0;
        bool inside = true;
        std::vector<int64_t> oi(nd), ki(nd);
        for (size_t i = nd; i-- > 0;) {
          oi[i] = orest % out[i], orest /= out[i];
          ki[i] = krest % kernel[i], krest /= kernel[i];
        }
        for (size_t i = 0; i < nd; ++i) {
          const int64_t pos = oi[i] * strides[i] + ki[i] * dilations[i] - pads[i];
          inside = inside && pos >= 0 && pos < in[i];
          flat = flat * in[i] + pos;
        }
        if (inside) f(flat, k, o);
      }
  }
  // [S, K * O] (or its transpose): 1 where input s meets kernel tap k at output o.
  core::Tensor Im2Col(bool transposed) const {
    const int64_t S = WindowProduct(in), KO = WindowProduct(kernel) * WindowProduct(out),
                  O = WindowProduct(out);
    std::vector<double> v(S * KO, 0.0);
    ForEachTap([&](int64_t s, int64_t k, int64_t o) {
      v[transposed ? (k * O + o) * S + s : s * KO + k * O + o] = 1;
    });
    return core::Tensor::FromDoubles(core::DType::kFloat64,
                                     transposed ? core::Shape{KO, S} : core::Shape{S, KO}, v);
  }
};

inline std::vector<int64_t> WindowConcat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// y [n, m, out] from the columns [n, g, cg * K, O]: W [m, cg, kernel] as [g, m / g, cg * K].
inline void LowerConv(WindowOpLowering& w, const onnx::NodeProto& n,
                      const std::map<std::string, core::Shape>& shapes) {
  const core::Shape& x = shapes.at(n.input(0));
  const core::Shape& k = shapes.at(n.input(1));
  const int64_t g = WindowAttrInt(n, "group", 1), N = x[0], C = x[1], M = k[0];
  const WindowGeometry geo(n, {x.begin() + 2, x.end()}, {k.begin() + 2, k.end()});
  const int64_t K = WindowProduct(geo.kernel), O = WindowProduct(geo.out),
                S = WindowProduct(geo.in);
  const std::string cols = w.Node(
      "MatMul", {w.Node("Reshape", {n.input(0), w.Ints({N, C, S})}), w.Const(geo.Im2Col(false))});
  const std::string grouped = w.Node("Reshape", {cols, w.Ints({N, g, C / g * K, O})});
  const std::string kernel = w.Node("Reshape", {n.input(1), w.Ints({g, M / g, C / g * K})});
  std::string y = w.Node(
      "Reshape", {w.Node("MatMul", {kernel, grouped}), w.Ints(WindowConcat({N, M}, geo.out))});
  if (n.input_size() > 2 && !n.input(2).empty())
    y = w.Node(
        "Add",
        {y, w.Node("Reshape", {n.input(2), w.Ints(WindowConcat(
                                               {M}, std::vector<int64_t>(geo.out.size(), 1)))})});
  w.Node("Identity", {y}, n.output(0));
}

// The adjoint of the Conv from the output's sizes back to dy's: the same matrices transposed.
inline void LowerConvTranspose(WindowOpLowering& w, const onnx::NodeProto& n,
                               const std::map<std::string, core::Shape>& shapes) {
  const core::Shape& dy = shapes.at(n.input(0));
  const core::Shape& k = shapes.at(n.input(1));
  const int64_t g = WindowAttrInt(n, "group", 1), N = dy[0], M = k[0], Cg = k[1];
  const std::vector<int64_t> kernel(k.begin() + 2, k.end());
  const size_t nd = kernel.size();
  const auto strides = WindowAttr(n, "strides", std::vector<int64_t>(nd, 1));
  const auto pads = WindowAttr(n, "pads", std::vector<int64_t>(2 * nd, 0));
  const auto dil = WindowAttr(n, "dilations", std::vector<int64_t>(nd, 1));
  const auto extra = WindowAttr(n, "output_padding", std::vector<int64_t>(nd, 0));
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < nd; ++i)
    sizes.push_back(strides[i] * (dy[2 + i] - 1) + extra[i] + dil[i] * (kernel[i] - 1) + 1 -
                    pads[i] - pads[nd + i]);
  const WindowGeometry geo(n, sizes, kernel);
  const int64_t K = WindowProduct(kernel), O = WindowProduct(geo.out);
  const std::string kt =
      w.Node("Transpose", {w.Node("Reshape", {n.input(1), w.Ints({g, M / g, Cg * K})})}, "",
             [](onnx::NodeProto* p) {
               WindowOpLowering::SetInts(p, "perm", {0, 2, 1});
             });
  const std::string cols =
      w.Node("MatMul", {kt, w.Node("Reshape", {n.input(0), w.Ints({N, g, M / g, O})})});
  const std::string flat = w.Node("Reshape", {cols, w.Ints({N, g * Cg, K * O})});
  std::string y = w.Node("Reshape", {w.Node("MatMul", {flat, w.Const(geo.Im2Col(true))}),
                                     w.Ints(WindowConcat({N, g * Cg}, sizes))});
  if (n.input_size() > 2 && !n.input(2).empty())
    y = w.Node(
        "Add",
        {y, w.Node("Reshape",
                   {n.input(2), w.Ints(WindowConcat({g * Cg}, std::vector<int64_t>(nd, 1)))})});
  w.Node("Identity", {y}, n.output(0));
}

// x [n, c, s] times [S, O]: 1 / divisor where s is in window o.
inline void LowerAveragePool(WindowOpLowering& w, const onnx::NodeProto& n,
                             const std::map<std::string, core::Shape>& shapes) {
  const core::Shape& x = shapes.at(n.input(0));
  const WindowGeometry geo(n, {x.begin() + 2, x.end()}, WindowAttr(n, "kernel_shape", {}));
  const int64_t S = WindowProduct(geo.in), O = WindowProduct(geo.out);
  std::vector<double> count(O, 0.0), v(S * O, 0.0);
  geo.ForEachTap([&](int64_t, int64_t, int64_t o) { count[o] += 1; });
  const bool include_pad = WindowAttrInt(n, "count_include_pad", 0) != 0;
  geo.ForEachTap([&](int64_t s, int64_t, int64_t o) {
    v[s * O + o] += 1.0 / (include_pad ? WindowProduct(geo.kernel) : count[o]);
  });
  const std::string a = w.Const(core::Tensor::FromDoubles(core::DType::kFloat64, {S, O}, v));
  const std::string y =
      w.Node("MatMul", {w.Node("Reshape", {n.input(0), w.Ints({x[0], x[1], S})}), a});
  w.Node("Reshape", {y, w.Ints(WindowConcat({x[0], x[1]}, geo.out))}, n.output(0));
}

inline void LowerInstanceNorm(WindowOpLowering& w, const onnx::NodeProto& n,
                              const std::map<std::string, core::Shape>& shapes) {
  const int64_t rank = static_cast<int64_t>(shapes.at(n.input(0)).size());
  std::vector<int64_t> axes, per_channel;
  for (int64_t i = 2; i < rank; ++i) axes.push_back(i), per_channel.push_back(i - 1);
  const auto mean = [&](const std::string& t) {
    return w.Node("ReduceMean", {t}, "",
                  [&](onnx::NodeProto* p) { WindowOpLowering::SetInts(p, "axes", axes); });
  };
  double eps = 1e-5;
  for (const auto& a : n.attribute())
    if (a.name() == "epsilon") eps = a.f();
  const std::string xc = w.Node("Sub", {n.input(0), mean(n.input(0))});
  const std::string var = mean(w.Node("Mul", {xc, xc}));
  const std::string deviation = w.Node(
      "Sqrt", {w.Node("Add", {var, w.Const(core::Tensor::FromDoubles(core::DType::kFloat64, {},
                                                                     std::vector<double>{eps}))})});
  const std::string scaled = w.Node(
      "Mul",
      {w.Node("Div", {xc, deviation}), w.Node("Unsqueeze", {n.input(1), w.Ints(per_channel)})});
  w.Node("Add", {scaled, w.Node("Unsqueeze", {n.input(2), w.Ints(per_channel)})}, n.output(0));
}

// Float32 model `bytes32` (fed `feeds32`) made float64, its window ops rewritten.
inline std::string LowerWindowOpsToFloat64(const std::string& bytes32,
                                           const std::map<std::string, core::Tensor>& feeds32) {
  const auto shapes = WindowOpShapes(bytes32, feeds32);
  onnx::ModelProto m;
  m.ParseFromString(ModelToFloat64(bytes32));
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  nodes.Swap(m.mutable_graph()->mutable_node());
  int index = 0;
  for (const auto& n : nodes) {
    WindowOpLowering w(m.mutable_graph(), "lowered/" + std::to_string(index++));
    if (n.op_type() == "Conv") {
      LowerConv(w, n, shapes);
    } else if (n.op_type() == "ConvTranspose") {
      LowerConvTranspose(w, n, shapes);
    } else if (n.op_type() == "AveragePool") {
      LowerAveragePool(w, n, shapes);
    } else if (n.op_type() == "GlobalAveragePool") {
      const int64_t rank = static_cast<int64_t>(shapes.at(n.input(0)).size());
      std::vector<int64_t> axes;
      for (int64_t i = 2; i < rank; ++i) axes.push_back(i);
      w.Node("ReduceMean", {n.input(0)}, n.output(0),
             [&](onnx::NodeProto* p) { WindowOpLowering::SetInts(p, "axes", axes); });
    } else if (n.op_type() == "InstanceNormalization") {
      LowerInstanceNorm(w, n, shapes);
    } else if (n.op_type() == "Softplus") {  // log(1 + exp(x)): small x in these graphs
      const std::string one =
          w.Const(core::Tensor::FromDoubles(core::DType::kFloat64, {}, std::vector<double>{1.0}));
      w.Node("Log", {w.Node("Add", {w.Node("Exp", {n.input(0)}), one})}, n.output(0));
    } else {
      *m.mutable_graph()->add_node() = n;
    }
  }
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// Float32 feeds as float64 (other types unchanged).
inline std::map<std::string, core::Tensor> FeedsToFloat64(
    std::map<std::string, core::Tensor> feeds) {
  for (auto& [name, t] : feeds)
    if (t.dtype == core::DType::kFloat32)
      t = core::Tensor::FromDoubles(core::DType::kFloat64, t.shape, t.ToDoubles());
  return feeds;
}

}  // namespace ipfs_accel::testing
