// Gradients of MatMul, Gemm, Softmax, LogSoftmax, LayerNormalization and the reductions.

#include <numeric>

#include <fmt/format.h>

#include "gradient_rules_internal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

std::vector<int64_t> SwapLastTwo(int64_t rank) {
  std::vector<int64_t> perm(rank);
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[rank - 1], perm[rank - 2]);
  return perm;
}

// y = a @ b over batched matrices: da = dy @ b^T, db = a^T @ dy, each summed over the batch
// axes its operand was broadcast along.
std::vector<std::string> MatMulGrad(GradCall& c) {
  const auto& a = c.e.Info(c.node.input(0), "MatMul", true);
  const auto& b = c.e.Info(c.node.input(1), "MatMul", true);
  const auto& y = c.e.Info(c.node.output(0), "MatMul", true);
  if (a.rank() < 2 || b.rank() < 2)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("no gradient for MatMul '{}' with a 1-D operand; reshape it to 2-D",
                            c.node.name()));
  const int64_t r = y.rank();
  std::vector<std::string> out(2);
  if (c.want[0]) {
    const std::string bt =
        c.e.Node("Transpose", {c.node.input(1)}, {{"perm", SwapLastTwo(b.rank())}});
    std::vector<DimInfo> dims(y.dims.begin(), y.dims.end() - 2);
    dims.push_back(y.dims[r - 2]);
    dims.push_back(a.dims[a.rank() - 1]);
    out[0] = c.e.SumTo(c.e.Node("MatMul", {c.dy[0], bt}), dims, c.node.input(0), "MatMul");
  }
  if (c.want[1]) {
    const std::string at =
        c.e.Node("Transpose", {c.node.input(0)}, {{"perm", SwapLastTwo(a.rank())}});
    std::vector<DimInfo> dims(y.dims.begin(), y.dims.end() - 2);
    dims.push_back(b.dims[b.rank() - 2]);
    dims.push_back(y.dims[r - 1]);
    out[1] = c.e.SumTo(c.e.Node("MatMul", {at, c.dy[0]}), dims, c.node.input(1), "MatMul");
  }
  return out;
}

// y = alpha op(a) op(b) + beta c, op a transpose when transA / transB.
std::vector<std::string> GemmGrad(GradCall& c) {
  const float alpha = AttrFloat(c.node, "alpha", 1.0f), beta = AttrFloat(c.node, "beta", 1.0f);
  const bool ta = AttrInt(c.node, "transA", 0) != 0, tb = AttrInt(c.node, "transB", 0) != 0;
  const int32_t elem = c.e.Elem(c.node.output(0), "Gemm");
  const std::string dy =
      alpha == 1.0f ? c.dy[0] : c.e.Node("Mul", {c.dy[0], c.e.Scalar(alpha, elem)});
  std::vector<std::string> out(c.node.input_size());
  const std::string& a = c.node.input(0);
  const std::string& b = c.node.input(1);
  if (c.want[0])  // d op(a) = dy op(b)^T; da its transpose when transA
    out[0] =
        ta ? c.e.Node("Gemm", {b, dy}, {{"transA", int64_t{tb ? 1 : 0}}, {"transB", int64_t{1}}})
           : c.e.Node("Gemm", {dy, b}, {{"transB", int64_t{tb ? 0 : 1}}});
  if (c.want[1])  // d op(b) = op(a)^T dy
    out[1] =
        tb ? c.e.Node("Gemm", {dy, a}, {{"transA", int64_t{1}}, {"transB", int64_t{ta ? 1 : 0}}})
           : c.e.Node("Gemm", {a, dy}, {{"transA", int64_t{ta ? 0 : 1}}});
  if (c.node.input_size() > 2 && c.want[2]) {
    const auto& y = c.e.Info(c.node.output(0), "Gemm", true);
    std::string dc = beta == 1.0f ? c.dy[0] : c.e.Node("Mul", {c.dy[0], c.e.Scalar(beta, elem)});
    out[2] = c.e.SumTo(dc, y.dims, c.node.input(2), "Gemm");
  }
  return out;
}

// y = softmax(x): dx = y (dy - sum(dy y)) along the axis.
std::vector<std::string> SoftmaxGrad(GradCall& c) {
  const int64_t axis = AttrInt(c.node, "axis", -1);
  const std::string& y = c.node.output(0);
  const std::string dot = c.e.Node("ReduceSum", {c.e.Node("Mul", {c.dy[0], y}), c.e.Ints({axis})},
                                   {{"keepdims", int64_t{1}}});
  return {c.e.Node("Mul", {y, c.e.Node("Sub", {c.dy[0], dot})})};
}

// y = x - logsumexp(x): dx = dy - softmax(x) sum(dy) along the axis.
std::vector<std::string> LogSoftmaxGrad(GradCall& c) {
  const int64_t axis = AttrInt(c.node, "axis", -1);
  const std::string total =
      c.e.Node("ReduceSum", {c.dy[0], c.e.Ints({axis})}, {{"keepdims", int64_t{1}}});
  const std::string p = c.e.Node("Exp", {c.node.output(0)});
  return {c.e.Node("Sub", {c.dy[0], c.e.Node("Mul", {p, total})})};
}

// LayerNormalization over axes [axis, rank): x^ = (x - mean) / sqrt(var + eps), y = x^ s + b.
// dx = rstd (g - mean(g) - x^ mean(g x^)) with g = dy s; ds = sum(dy x^); db = sum(dy).
std::vector<std::string> LayerNormGrad(GradCall& c) {
  if (c.node.output_size() > 1 && c.dy.size() > 1 && (!c.dy[1].empty() || !c.dy[2].empty()))
    throw Error(ErrorKind::kUnsupported,
                "no gradient through LayerNormalization's Mean or InvStdDev outputs");
  const std::string& x = c.node.input(0);
  const auto& xi = c.e.Info(x, "LayerNormalization", true);
  const int64_t axis = NormalizeAxis(AttrInt(c.node, "axis", -1), xi.rank());
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < xi.rank(); ++a) axes.push_back(a);
  const Attr mean_attrs{"axes", axes};
  const auto mean = [&](const std::string& t) {
    return c.e.Node("ReduceMean", {t}, {mean_attrs, {"keepdims", int64_t{1}}});
  };
  const int32_t elem = xi.elem;
  const std::string xc = c.e.Node("Sub", {x, mean(x)});
  const std::string var = mean(c.e.Node("Mul", {xc, xc}));
  const double eps = AttrFloat(c.node, "epsilon", 1e-5f);
  const std::string rstd =
      c.e.Node("Reciprocal", {c.e.Node("Sqrt", {c.e.Node("Add", {var, c.e.Scalar(eps, elem)})})});
  const std::string xhat = c.e.Node("Mul", {xc, rstd});
  std::vector<std::string> out(c.node.input_size());
  const auto& y = c.e.Info(c.node.output(0), "LayerNormalization", true);
  if (c.want[0]) {
    const std::string g = c.e.Node("Mul", {c.dy[0], c.node.input(1)});
    const std::string centered = c.e.Node("Sub", {g, mean(g)});
    const std::string proj = c.e.Node("Mul", {xhat, mean(c.e.Node("Mul", {g, xhat}))});
    out[0] = c.e.Node("Mul", {rstd, c.e.Node("Sub", {centered, proj})});
  }
  if (c.want[1])
    out[1] =
        c.e.SumTo(c.e.Node("Mul", {c.dy[0], xhat}), y.dims, c.node.input(1), "LayerNormalization");
  if (c.node.input_size() > 2 && c.want[2])
    out[2] = c.e.SumTo(c.dy[0], y.dims, c.node.input(2), "LayerNormalization");
  return out;
}

// The reduced axes of a ReduceSum (input) or ReduceMean (attribute, opset < 18) node; empty
// means all. Throws for axes that are not a constant the rule can read.
std::string ReducedAxes(GradCall& c, bool* all) {
  bool found = false;
  std::vector<int64_t> axes = AttrInts(c.node, "axes", &found);
  *all = false;
  if (found) return c.e.Ints(axes);
  if (c.node.input_size() > 1 && !c.node.input(1).empty()) return c.node.input(1);
  *all = true;
  return "";
}

// `t` (of the output's shape: dy or y) broadcast back over the reduced axes to x's shape.
std::string SpreadBack(GradCall& c, const std::string& t) {
  const std::string& x = c.node.input(0);
  std::string dy = t;
  bool all = false;
  const std::string axes = ReducedAxes(c, &all);
  if (AttrInt(c.node, "keepdims", 1) == 0) {
    if (all && c.node.op_type() == "ReduceSum" && AttrInt(c.node, "noop_with_empty_axes", 0))
      return dy;
    const int64_t rank = c.e.Info(x, c.node.op_type(), true).rank();
    std::vector<int64_t> every(rank);
    std::iota(every.begin(), every.end(), 0);
    dy = c.e.Node("Unsqueeze", {dy, all ? c.e.Ints(every) : axes});
  }
  return c.e.Node("Expand", {dy, c.e.Node("Shape", {x})});
}

std::vector<std::string> ReduceSumGrad(GradCall& c) {
  std::vector<std::string> out(c.node.input_size());
  out[0] = SpreadBack(c, c.dy[0]);
  return out;
}

std::vector<std::string> ReduceMeanGrad(GradCall& c) {
  const int32_t elem = c.e.Elem(c.node.output(0), "ReduceMean");
  const auto size = [&](const std::string& t) {
    return c.e.Node("Cast", {c.e.Node("Size", {t})}, {{"to", int64_t{elem}}});
  };
  const std::string count = c.e.Node("Div", {size(c.node.input(0)), size(c.node.output(0))});
  std::vector<std::string> out(c.node.input_size());
  out[0] = c.e.Node("Div", {SpreadBack(c, c.dy[0]), count});
  return out;
}

// y = sqrt(sum x^2): dx = dy x / y.
std::vector<std::string> ReduceL2Grad(GradCall& c) {
  std::vector<std::string> out(c.node.input_size());
  const std::string ratio = c.e.Node("Div", {c.node.input(0), SpreadBack(c, c.node.output(0))});
  out[0] = c.e.Node("Mul", {SpreadBack(c, c.dy[0]), ratio});
  return out;
}

// y = log(sum exp x): dx = dy exp(x - y).
std::vector<std::string> ReduceLogSumExpGrad(GradCall& c) {
  std::vector<std::string> out(c.node.input_size());
  const std::string share =
      c.e.Node("Exp", {c.e.Node("Sub", {c.node.input(0), SpreadBack(c, c.node.output(0))})});
  out[0] = c.e.Node("Mul", {SpreadBack(c, c.dy[0]), share});
  return out;
}

// y = max x: dy to the maxima, shared evenly among ties (as torch's amax).
std::vector<std::string> ReduceMaxGrad(GradCall& c) {
  const int32_t elem = c.e.Elem(c.node.output(0), "ReduceMax");
  const std::string hit =
      c.e.Node("Cast", {c.e.Node("Equal", {c.node.input(0), SpreadBack(c, c.node.output(0))})},
               {{"to", int64_t{elem}}});
  bool all = false;
  const std::string axes = ReducedAxes(c, &all);
  std::vector<std::string> count_inputs = {hit};
  if (!all) count_inputs.push_back(axes);
  const std::string count = c.e.Node("ReduceSum", count_inputs, {{"keepdims", int64_t{1}}});
  std::vector<std::string> out(c.node.input_size());
  out[0] = c.e.Node("Mul", {SpreadBack(c, c.dy[0]), c.e.Node("Div", {hit, count})});
  return out;
}

}  // namespace

void AddMathRules(std::map<std::string, GradRule>& t) {
  t["MatMul"] = MatMulGrad;
  t["Gemm"] = GemmGrad;
  t["Softmax"] = SoftmaxGrad;
  t["LogSoftmax"] = LogSoftmaxGrad;
  t["LayerNormalization"] = LayerNormGrad;
  t["ReduceSum"] = ReduceSumGrad;
  t["ReduceMean"] = ReduceMeanGrad;
  t["ReduceL2"] = ReduceL2Grad;
  t["ReduceMax"] = ReduceMaxGrad;
  t["ReduceLogSumExp"] = ReduceLogSumExpGrad;
}

}  // namespace ipfs_accel::models
