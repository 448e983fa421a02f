// Gradients of the channel normalisations of convolutional graphs: BatchNormalization in
// inference form (fixed running statistics: an affine map per channel) and
// InstanceNormalization (each image's channel normalised over its positions).

#include <fmt/format.h>

#include "gradient_rules_internal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// A per-channel vector [c] shaped [c, 1, ...] to broadcast against [n, c, spatial] of `rank`.
std::string NormPerChannel(GradEmitter& e, const std::string& v, int64_t rank) {
  if (rank <= 2) return v;
  std::vector<int64_t> axes;
  for (int64_t i = 1; i < rank - 1; ++i) axes.push_back(i);
  return e.Node("Unsqueeze", {v, e.Ints(axes)});
}

// Every axis but the channel axis 1.
std::vector<int64_t> NormAllButChannels(int64_t rank) {
  std::vector<int64_t> axes = {0};
  for (int64_t i = 2; i < rank; ++i) axes.push_back(i);
  return axes;
}

std::string NormSumOverChannels(GradEmitter& e, const std::string& t, int64_t rank) {
  return e.Node("ReduceSum", {t, e.Ints(NormAllButChannels(rank))}, {{"keepdims", int64_t{0}}});
}

// y = (x - mean) rstd scale + bias, rstd = 1 / sqrt(var + eps): dx = dy scale rstd,
// dscale = sum(dy (x - mean) rstd), dbias = sum(dy); the statistics are buffers, not trained.
std::vector<std::string> BatchNormGrad(GradCall& c) {
  if (AttrInt(c.node, "training_mode", 0) != 0 || c.want[3] || c.want[4])
    throw Error(ErrorKind::kUnsupported,
                fmt::format("no gradient for BatchNormalization '{}' in training mode or with "
                            "respect to its running statistics",
                            c.node.name()));
  const std::string& x = c.node.input(0);
  const auto& xi = c.e.Info(x, "BatchNormalization", true);
  const int64_t r = xi.rank();
  const double eps = AttrFloat(c.node, "epsilon", 1e-5f);
  const std::string rstd =
      c.e.Node("Reciprocal",
               {c.e.Node("Sqrt", {c.e.Node("Add", {c.node.input(4), c.e.Scalar(eps, xi.elem)})})});
  std::vector<std::string> out(c.node.input_size());
  if (c.want[0])
    out[0] = c.e.Node("Mul",
                      {c.dy[0], NormPerChannel(c.e, c.e.Node("Mul", {c.node.input(1), rstd}), r)});
  if (c.want[1]) {
    const std::string xhat =
        c.e.Node("Mul", {c.e.Node("Sub", {x, NormPerChannel(c.e, c.node.input(3), r)}),
                         NormPerChannel(c.e, rstd, r)});
    out[1] = NormSumOverChannels(c.e, c.e.Node("Mul", {c.dy[0], xhat}), r);
  }
  if (c.want[2]) out[2] = NormSumOverChannels(c.e, c.dy[0], r);
  return out;
}

// x^ = (x - mean) / sqrt(var + eps) over the positions of each image's channel, y = x^ s + b:
// dx = rstd (g - mean(g) - x^ mean(g x^)) with g = dy s; ds = sum(dy x^); db = sum(dy).
std::vector<std::string> InstanceNormGrad(GradCall& c) {
  const std::string& x = c.node.input(0);
  const auto& xi = c.e.Info(x, "InstanceNormalization", true);
  const int64_t r = xi.rank();
  std::vector<int64_t> axes;
  for (int64_t a = 2; a < r; ++a) axes.push_back(a);
  const auto mean = [&](const std::string& t) {
    return c.e.Node("ReduceMean", {t}, {{"axes", axes}, {"keepdims", int64_t{1}}});
  };
  const std::string xc = c.e.Node("Sub", {x, mean(x)});
  const std::string var = mean(c.e.Node("Mul", {xc, xc}));
  const double eps = AttrFloat(c.node, "epsilon", 1e-5f);
  const std::string rstd = c.e.Node(
      "Reciprocal", {c.e.Node("Sqrt", {c.e.Node("Add", {var, c.e.Scalar(eps, xi.elem)})})});
  const std::string xhat = c.e.Node("Mul", {xc, rstd});
  std::vector<std::string> out(c.node.input_size());
  if (c.want[0]) {
    const std::string g = c.e.Node("Mul", {c.dy[0], NormPerChannel(c.e, c.node.input(1), r)});
    const std::string centered = c.e.Node("Sub", {g, mean(g)});
    const std::string proj = c.e.Node("Mul", {xhat, mean(c.e.Node("Mul", {g, xhat}))});
    out[0] = c.e.Node("Mul", {rstd, c.e.Node("Sub", {centered, proj})});
  }
  if (c.want[1]) out[1] = NormSumOverChannels(c.e, c.e.Node("Mul", {c.dy[0], xhat}), r);
  if (c.want[2]) out[2] = NormSumOverChannels(c.e, c.dy[0], r);
  return out;
}

}  // namespace

void AddNormRules(std::map<std::string, GradRule>& t) {
  t["BatchNormalization"] = BatchNormGrad;
  t["InstanceNormalization"] = InstanceNormGrad;
}

}  // namespace ipfs_accel::models
