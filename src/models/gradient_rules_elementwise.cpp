// Gradients of elementwise operators. Binary ones broadcast, so each operand's gradient is
// summed back to its own shape (GradEmitter::SumTo).

#include <cmath>

#include "gradient_rules_internal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

const std::string& In(const GradCall& c, int i) { return c.node.input(i); }
const std::string& Out(const GradCall& c) { return c.node.output(0); }
int32_t ElemOf(const GradCall& c) { return c.e.Elem(Out(c), c.node.op_type()); }
std::string Const(GradCall& c, double v) { return c.e.Scalar(v, ElemOf(c)); }

// Input i's gradient from the broadcast-shaped `g`.
std::string Reduce(GradCall& c, const std::string& g, int i) {
  const auto& out = c.e.Info(Out(c), c.node.op_type(), true);
  return c.e.SumTo(g, out.dims, In(c, i), c.node.op_type());
}

// A rule for binary ops: `partial(c, i)` is the broadcast-shaped gradient of input i.
template <std::string (*partial)(GradCall&, int)>
std::vector<std::string> Binary(GradCall& c) {
  std::vector<std::string> out(c.node.input_size());
  for (int i = 0; i < 2; ++i)
    if (c.want[i]) out[i] = Reduce(c, partial(c, i), i);
  return out;
}

std::string AddPartial(GradCall& c, int) { return c.dy[0]; }
std::string SubPartial(GradCall& c, int i) { return i == 0 ? c.dy[0] : c.e.Node("Neg", {c.dy[0]}); }
std::string MulPartial(GradCall& c, int i) { return c.e.Node("Mul", {c.dy[0], In(c, 1 - i)}); }
std::string DivPartial(GradCall& c, int i) {  // y = a / b: da = dy / b, db = -dy y / b
  if (i == 0) return c.e.Node("Div", {c.dy[0], In(c, 1)});
  return c.e.Node("Neg", {c.e.Node("Div", {c.e.Node("Mul", {c.dy[0], Out(c)}), In(c, 1)})});
}
std::string PowPartial(GradCall& c, int i) {  // y = a^b: da = dy b a^(b-1), db = dy y ln a
  if (i == 1)
    return c.e.Node("Mul", {c.dy[0], c.e.Node("Mul", {Out(c), c.e.Node("Log", {In(c, 0)})})});
  const int32_t b_elem = c.e.Elem(In(c, 1), "Pow");
  const std::string b =
      b_elem == ElemOf(c) ? In(c, 1) : c.e.Node("Cast", {In(c, 1)}, {{"to", int64_t{ElemOf(c)}}});
  const std::string b_minus_1 = c.e.Node("Sub", {b, Const(c, 1.0)});
  return c.e.Node("Mul", {c.dy[0], c.e.Node("Mul", {b, c.e.Node("Pow", {In(c, 0), b_minus_1})})});
}

// A rule for unary ops: `local(c)` is dy times the derivative.
template <std::string (*local)(GradCall&)>
std::vector<std::string> Unary(GradCall& c) {
  std::vector<std::string> out(c.node.input_size());
  if (c.want[0]) out[0] = local(c);
  return out;
}

std::string DyTimes(GradCall& c, const std::string& d) { return c.e.Node("Mul", {c.dy[0], d}); }

std::string NegGrad(GradCall& c) { return c.e.Node("Neg", {c.dy[0]}); }
std::string IdentityGrad(GradCall& c) { return c.dy[0]; }
std::string ErfGrad(GradCall& c) {  // 2 / sqrt(pi) exp(-x^2)
  const std::string x2 = c.e.Node("Mul", {In(c, 0), In(c, 0)});
  const std::string e = c.e.Node("Exp", {c.e.Node("Neg", {x2})});
  return DyTimes(c, c.e.Node("Mul", {e, Const(c, 2.0 / std::sqrt(M_PI))}));
}
std::string TanhGrad(GradCall& c) {  // 1 - y^2
  return DyTimes(c, c.e.Node("Sub", {Const(c, 1.0), c.e.Node("Mul", {Out(c), Out(c)})}));
}
std::string SigmoidGrad(GradCall& c) {  // y (1 - y)
  return DyTimes(c, c.e.Node("Mul", {Out(c), c.e.Node("Sub", {Const(c, 1.0), Out(c)})}));
}
std::string ExpGrad(GradCall& c) { return DyTimes(c, Out(c)); }
std::string LogGrad(GradCall& c) { return c.e.Node("Div", {c.dy[0], In(c, 0)}); }
std::string SqrtGrad(GradCall& c) {  // 1 / (2 y)
  return c.e.Node("Div", {c.dy[0], c.e.Node("Mul", {Out(c), Const(c, 2.0)})});
}
std::string ReciprocalGrad(GradCall& c) {  // -y^2
  return c.e.Node("Neg", {DyTimes(c, c.e.Node("Mul", {Out(c), Out(c)}))});
}
std::string ReluGrad(GradCall& c) {
  const std::string positive = c.e.Node("Greater", {In(c, 0), Const(c, 0.0)});
  return c.e.Node("Where", {positive, c.dy[0], Const(c, 0.0)});
}
std::string SinGrad(GradCall& c) { return DyTimes(c, c.e.Node("Cos", {In(c, 0)})); }
std::string CosGrad(GradCall& c) {
  return c.e.Node("Neg", {DyTimes(c, c.e.Node("Sin", {In(c, 0)}))});
}
std::string SoftplusGrad(GradCall& c) { return DyTimes(c, c.e.Node("Sigmoid", {In(c, 0)})); }
std::string AbsGrad(GradCall& c) { return DyTimes(c, c.e.Node("Sign", {In(c, 0)})); }
std::string CastGrad(GradCall& c) {  // back to the input's float type
  return c.e.Node("Cast", {c.dy[0]}, {{"to", int64_t{c.e.Elem(In(c, 0), "Cast")}}});
}
std::string ExpandGrad(GradCall& c) { return Reduce(c, c.dy[0], 0); }

std::vector<std::string> WhereGrad(GradCall& c) {  // inputs: condition, x, y
  std::vector<std::string> out(3);
  const std::string zero = Const(c, 0.0);
  if (c.want[1]) out[1] = Reduce(c, c.e.Node("Where", {In(c, 0), c.dy[0], zero}), 1);
  if (c.want[2]) out[2] = Reduce(c, c.e.Node("Where", {In(c, 0), zero, c.dy[0]}), 2);
  return out;
}

// Max / Min of two: the gradient goes to the operand chosen (the first on ties).
template <bool kMax>
std::vector<std::string> ExtremumGrad(GradCall& c) {
  if (c.node.input_size() != 2)
    throw core::Error(core::ErrorKind::kUnsupported,
                      "no gradient for " + c.node.op_type() + " of other than two inputs");
  const std::string first = c.e.Node(kMax ? "GreaterOrEqual" : "LessOrEqual", {In(c, 0), In(c, 1)});
  std::vector<std::string> out(2);
  const std::string zero = Const(c, 0.0);
  if (c.want[0]) out[0] = Reduce(c, c.e.Node("Where", {first, c.dy[0], zero}), 0);
  if (c.want[1]) out[1] = Reduce(c, c.e.Node("Where", {first, zero, c.dy[0]}), 1);
  return out;
}

// Clip(x, lo, hi): dy where lo <= x <= hi (bounds optional), else 0.
std::vector<std::string> ClipGrad(GradCall& c) {
  std::string inside;
  const auto both = [&](const std::string& m) {
    inside = inside.empty() ? m : c.e.Node("And", {inside, m});
  };
  if (c.node.input_size() > 1 && !In(c, 1).empty())
    both(c.e.Node("GreaterOrEqual", {In(c, 0), In(c, 1)}));
  if (c.node.input_size() > 2 && !In(c, 2).empty())
    both(c.e.Node("LessOrEqual", {In(c, 0), In(c, 2)}));
  std::vector<std::string> out(c.node.input_size());
  if (c.want[0])
    out[0] = inside.empty() ? c.dy[0] : c.e.Node("Where", {inside, c.dy[0], Const(c, 0.0)});
  return out;
}

// 1 where lo < t < hi, else 0, in the output's type.
std::string HardInsideOf(GradCall& c, const std::string& t, double lo, double hi) {
  const std::string inside = c.e.Node(
      "And", {c.e.Node("Greater", {t, Const(c, lo)}), c.e.Node("Less", {t, Const(c, hi)})});
  return c.e.Node("Cast", {inside}, {{"to", int64_t{ElemOf(c)}}});
}

// y = max(0, min(1, alpha x + beta)): dx = dy alpha where 0 < alpha x + beta < 1.
std::string HardSigmoidGrad(GradCall& c) {
  const double alpha = AttrFloat(c.node, "alpha", 0.2f), beta = AttrFloat(c.node, "beta", 0.5f);
  const std::string z =
      c.e.Node("Add", {c.e.Node("Mul", {In(c, 0), Const(c, alpha)}), Const(c, beta)});
  return DyTimes(c, c.e.Node("Mul", {HardInsideOf(c, z, 0, 1), Const(c, alpha)}));
}

// y = x h(x), h = max(0, min(1, x / 6 + 1 / 2)): dx = dy (h + x / 6 where -3 < x < 3).
std::string HardSwishGrad(GradCall& c) {
  const std::string z =
      c.e.Node("Add", {c.e.Node("Mul", {In(c, 0), Const(c, 1.0 / 6)}), Const(c, 0.5)});
  const std::string h = c.e.Node("Clip", {z, Const(c, 0), Const(c, 1)});
  const std::string slope =
      c.e.Node("Mul", {c.e.Node("Mul", {In(c, 0), Const(c, 1.0 / 6)}), HardInsideOf(c, z, 0, 1)});
  return DyTimes(c, c.e.Node("Add", {h, slope}));
}

}  // namespace

void AddElementwiseRules(std::map<std::string, GradRule>& t) {
  t["Add"] = Binary<AddPartial>;
  t["Sub"] = Binary<SubPartial>;
  t["Mul"] = Binary<MulPartial>;
  t["Div"] = Binary<DivPartial>;
  t["Pow"] = Binary<PowPartial>;
  t["Neg"] = Unary<NegGrad>;
  t["Identity"] = Unary<IdentityGrad>;
  t["Erf"] = Unary<ErfGrad>;
  t["Tanh"] = Unary<TanhGrad>;
  t["Sigmoid"] = Unary<SigmoidGrad>;
  t["Exp"] = Unary<ExpGrad>;
  t["Log"] = Unary<LogGrad>;
  t["Sqrt"] = Unary<SqrtGrad>;
  t["Reciprocal"] = Unary<ReciprocalGrad>;
  t["Relu"] = Unary<ReluGrad>;
  t["Sin"] = Unary<SinGrad>;
  t["Cos"] = Unary<CosGrad>;
  t["Softplus"] = Unary<SoftplusGrad>;
  t["Abs"] = Unary<AbsGrad>;
  t["Cast"] = Unary<CastGrad>;
  t["Expand"] = Unary<ExpandGrad>;
  t["Where"] = WhereGrad;
  t["Max"] = ExtremumGrad<true>;
  t["Min"] = ExtremumGrad<false>;
  t["Clip"] = ClipGrad;
  t["HardSigmoid"] = Unary<HardSigmoidGrad>;
  t["HardSwish"] = Unary<HardSwishGrad>;
}

}  // namespace ipfs_accel::models
