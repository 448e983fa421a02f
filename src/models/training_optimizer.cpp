// Optimizer updates as graph nodes, following torch.optim's documented algorithms:
//   SGD (momentum mu, weight decay wd, dampening 0): g += wd p; b = mu b + g; p -= lr b
//     (torch starts b at g on the first step; b = 0 initially gives the same).
//   AdamW: p *= 1 - lr wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//     p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

#include "training_parts.h"

namespace ipfs_accel::models {

namespace {

// One state tensor of a parameter: input `name` (zeros at first), output updated.<name>.
struct StateIo {
  GradEmitter& e;
  const TensorInfo& like;
  int32_t elem;
  TrainingGraph& out;

  std::string In(const std::string& name) {
    DeclareInput(e.graph(), name, elem, like.dims);
    core::Shape shape;
    for (const auto& d : like.dims) shape.push_back(d.value);
    out.state[name] = core::Tensor::Zeros(
        elem == onnx::TensorProto::DOUBLE ? core::DType::kFloat64 : core::DType::kFloat32, shape);
    return name;
  }
  void Out(const std::string& tensor, const std::string& input) {
    const std::string name = "updated." + input;
    e.Alias(tensor, name);
    DeclareOutput(e.graph(), name, elem, like.dims);
    out.carry.emplace_back(name, input);
  }
};

void SgdMomentum(GradEmitter& e, const OptimizerOptions& o, const std::string& p,
                 const std::string& grad, const std::string& lr, StateIo io) {
  std::string g = grad;
  if (o.weight_decay != 0)
    g = e.Node("Add", {g, e.Node("Mul", {p, e.Scalar(o.weight_decay, io.elem)})});
  const std::string buf_in = io.In("optimizer.momentum_buffer." + p);
  const std::string buf =
      e.Node("Add", {e.Node("Mul", {buf_in, e.Scalar(o.momentum, io.elem)}), g});
  io.Out(buf, buf_in);
  io.Out(e.Node("Sub", {p, e.Node("Mul", {buf, lr})}), p);
}

// Bias corrections 1 - beta1^t and sqrt(1 - beta2^t) for step t.
struct Corrections {
  std::string c1, sqrt_c2;
};

void AdamW(GradEmitter& e, const OptimizerOptions& o, const std::string& p, const std::string& g,
           const std::string& lr, const Corrections& bc, StateIo io) {
  const auto k = [&](double v) { return e.Scalar(v, io.elem); };
  const std::string decayed =
      e.Node("Mul", {p, e.Node("Sub", {k(1.0), e.Node("Mul", {lr, k(o.weight_decay)})})});
  const std::string m_in = io.In("optimizer.exp_avg." + p);
  const std::string v_in = io.In("optimizer.exp_avg_sq." + p);
  const std::string m =
      e.Node("Add", {e.Node("Mul", {m_in, k(o.beta1)}), e.Node("Mul", {g, k(1.0 - o.beta1)})});
  const std::string v = e.Node("Add", {e.Node("Mul", {v_in, k(o.beta2)}),
                                       e.Node("Mul", {e.Node("Mul", {g, g}), k(1.0 - o.beta2)})});
  const std::string denom =
      e.Node("Add", {e.Node("Div", {e.Node("Sqrt", {v}), bc.sqrt_c2}), k(o.eps)});
  const std::string step_size = e.Node("Div", {lr, bc.c1});
  io.Out(m, m_in);
  io.Out(v, v_in);
  io.Out(e.Node("Sub", {decayed, e.Node("Mul", {step_size, e.Node("Div", {m, denom})})}), p);
}

Corrections StepCorrections(GradEmitter& e, const OptimizerOptions& o, int32_t elem,
                            TrainingGraph& out) {
  const std::string step = "optimizer.step";
  DeclareInput(e.graph(), step, onnx::TensorProto::INT64, {});
  out.state[step] = core::Tensor::Zeros(core::DType::kInt64, {});
  out.state[step].values<int64_t>()[0] = 1;
  const std::string next = e.Node("Add", {step, e.Scalar(1, onnx::TensorProto::INT64)});
  e.Alias(next, "updated." + step);
  DeclareOutput(e.graph(), "updated." + step, onnx::TensorProto::INT64, {});
  out.carry.emplace_back("updated." + step, step);
  const std::string t = e.Node("Cast", {step}, {{"to", int64_t{elem}}});
  const auto one_minus_pow = [&](double beta) {
    return e.Node("Sub", {e.Scalar(1.0, elem), e.Node("Pow", {e.Scalar(beta, elem), t})});
  };
  return {one_minus_pow(o.beta1), e.Node("Sqrt", {one_minus_pow(o.beta2)})};
}

}  // namespace

void AddOptimizer(GradEmitter& e, const OptimizerOptions& o,
                  const std::vector<std::string>& parameters,
                  const std::map<std::string, std::string>& grads,
                  const std::map<std::string, TensorInfo>& info, int32_t elem, TrainingGraph& out) {
  if (o.kind == OptimizerKind::kNone) return;
  const std::string lr = "optimizer.lr";
  DeclareInput(e.graph(), lr, elem, {});
  out.state[lr] = core::Tensor::FromDoubles(
      elem == onnx::TensorProto::DOUBLE ? core::DType::kFloat64 : core::DType::kFloat32, {},
      std::vector<double>{o.lr});
  Corrections bc;
  if (o.kind == OptimizerKind::kAdamW) bc = StepCorrections(e, o, elem, out);
  for (const auto& p : parameters) {
    StateIo io{e, info.at(p), elem, out};
    if (o.kind == OptimizerKind::kSgdMomentum)
      SgdMomentum(e, o, p, grads.at(p), lr, io);
    else
      AdamW(e, o, p, grads.at(p), lr, bc, io);
  }
}

}  // namespace ipfs_accel::models
