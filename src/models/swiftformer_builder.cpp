#include "swiftformer_builder.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct SwiftFormerShape {
  int64_t channels = 3, image = 224, patch = 3, stride = 2, pad = 1;
  std::vector<int64_t> depths, dims;
  std::vector<bool> downsamples;
  double mlp_ratio = 4, eps = 1e-5;
  std::string act = "gelu";
  bool layer_scale = true;
};

SwiftFormerShape ReadSwiftFormerShape(const HfConfig& c) {
  SwiftFormerShape s;
  s.channels = c.Int("num_channels", s.channels);
  s.image = c.Int("image_size", s.image);
  s.depths = ConfigIntList(c, "depths", {3, 3, 6, 4});
  s.dims = ConfigIntList(c, "embed_dims", {48, 56, 112, 220});
  s.mlp_ratio = c.Double("mlp_ratio", s.mlp_ratio);
  s.act = c.String("hidden_act", s.act);
  s.patch = c.Int("down_patch_size", s.patch);
  s.stride = c.Int("down_stride", s.stride);
  s.pad = c.Int("down_pad", s.pad);
  s.layer_scale = c.Bool("use_layer_scale", true);
  s.eps = c.Double("batch_norm_eps", s.eps);
  s.downsamples = std::vector<bool>(s.depths.size(), true);
  if (c.Has("downsamples")) {
    try {
      s.downsamples = c.json()["downsamples"].get<std::vector<bool>>();
    } catch (const nlohmann::json::exception&) {
      s.downsamples.clear();
    }
  }
  if (s.dims.size() < s.depths.size() || s.downsamples.size() + 1 < s.depths.size())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': embed_dims and downsamples need an entry per stage of depths",
                            c.origin()));
  return s;
}

std::string SwiftFormerConv(GraphBuilder& g, const std::string& x, const std::string& name,
                            int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t pad,
                            int64_t groups = 1) {
  return Conv2d(g, x, name, in, out, kernel, stride, pad, groups);
}

// SwiftFormerConvEncoder / SwiftFormerLocalRepresentation under `p`: x + layer_scale * (...).
std::string LocalBlock(GraphBuilder& g, const SwiftFormerShape& s, const std::string& x,
                       const std::string& p, int64_t dim, int64_t hidden) {
  std::string h = SwiftFormerConv(g, x, p + "depth_wise_conv", dim, dim, 3, 1, 1, dim);
  h = g.BatchNorm(h, p + "norm", dim, s.eps);
  h = Activation(g, SwiftFormerConv(g, h, p + "point_wise_conv1", dim, hidden, 1, 1, 0), "gelu");
  h = SwiftFormerConv(g, h, p + "point_wise_conv2", hidden, dim, 1, 1, 0);
  const std::string scale = g.Weight(p + "layer_scale", {dim, 1, 1}, WeightInit::kOnes);
  return g.Node("Add", {x, g.Node("Mul", {scale, h})});
}

std::string Scaled(GraphBuilder& g, const SwiftFormerShape& s, const std::string& x,
                   const std::string& name, int64_t dim) {
  if (!s.layer_scale) return x;
  return g.Node("Mul", {g.Weight(name, {dim, 1, 1}, WeightInit::kOnes), x});
}

// SwiftFormerEncoderBlock under `p`.
std::string EncoderBlock(GraphBuilder& g, const SwiftFormerShape& s, const std::string& x,
                         const std::string& p, int64_t dim) {
  std::string h = LocalBlock(g, s, x, p + "local_representation.", dim, dim);
  // [b, c, h, w] -> [b, h w, c] tokens and back.
  const std::string shape = g.Node("Shape", {h});
  std::string t = g.Node("Reshape", {h, g.ConstInt64({0, dim, -1})});
  t = g.Node("Transpose", {t}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  t = SwiftFormerAttention(g, t, p + "attn", dim);
  t = g.Node("Reshape",
             {g.Node("Transpose", {t}, {{"perm", std::vector<int64_t>{0, 2, 1}}}), shape});
  h = g.Node("Add", {h, Scaled(g, s, t, p + "layer_scale_1", dim)});
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * s.mlp_ratio);
  std::string m = g.BatchNorm(h, p + "linear.norm1", dim, s.eps);
  m = Activation(g, SwiftFormerConv(g, m, p + "linear.fc1", dim, hidden, 1, 1, 0), s.act);
  m = SwiftFormerConv(g, m, p + "linear.fc2", hidden, dim, 1, 1, 0);
  return g.Node("Add", {h, Scaled(g, s, m, p + "layer_scale_2", dim)});
}

// F.normalize: x / max(||x||_2, 1e-12) over the last axis.
std::string NormalizeAtLeastEps(GraphBuilder& g, const std::string& x) {
  const std::string sq =
      g.Node("ReduceSum", {g.Node("Mul", {x, x}), g.ConstInt64({-1})}, {{"keepdims", int64_t{1}}});
  return g.Node("Div", {x, g.Node("Max", {g.Node("Sqrt", {sq}), g.ConstFloat(1e-12f)})});
}

}  // namespace

std::string SwiftFormerAttention(GraphBuilder& g, const std::string& x, const std::string& p,
                                 int64_t dim) {
  const std::string q = NormalizeAtLeastEps(g, g.Linear(x, p + ".to_query", dim, dim));
  const std::string k = NormalizeAtLeastEps(g, g.Linear(x, p + ".to_key", dim, dim));
  std::string w = g.Node("MatMul", {q, g.Weight(p + ".w_g", {dim, 1}, WeightInit::kNormal)});
  w = g.Node("Mul", {w, g.ConstFloat(static_cast<float>(1.0 / std::sqrt(dim)))});
  w = g.Node("Softmax", {w}, {{"axis", int64_t{-1}}});
  const std::string global =
      g.Node("ReduceSum", {g.Node("Mul", {w, q}), g.ConstInt64({1})}, {{"keepdims", int64_t{1}}});
  const std::string out =
      g.Node("Add", {g.Linear(g.Node("Mul", {global, k}), p + ".proj", dim, dim), q});
  return g.Linear(out, p + ".final", dim, dim);
}

void BuildSwiftFormer(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the swiftformer builder takes no pieces, not {}",
                            config.origin(), pieces.dump()));
  const SwiftFormerShape s = ReadSwiftFormerShape(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  const int64_t half = s.dims[0] / 2;
  std::string x = SwiftFormerConv(g, "pixel_values", "patch_embed.patch_embedding.0", s.channels,
                                  half, 3, 2, 1);
  x = g.Node("Relu", {g.BatchNorm(x, "patch_embed.patch_embedding.1", half, s.eps)});
  x = SwiftFormerConv(g, x, "patch_embed.patch_embedding.3", half, s.dims[0], 3, 2, 1);
  x = g.Node("Relu", {g.BatchNorm(x, "patch_embed.patch_embedding.4", s.dims[0], s.eps)});
  int64_t side = ((s.image - 1) / 2) / 2 + 1, k = 0;
  for (size_t i = 0; i < s.depths.size(); ++i, ++k) {
    const int64_t dim = s.dims[i];
    const auto hidden = static_cast<int64_t>(s.mlp_ratio * static_cast<double>(dim));
    for (int64_t b = 0; b < s.depths[i]; ++b) {
      const std::string p = fmt::format("encoder.network.{}.blocks.{}.", k, b);
      x = b + 1 == s.depths[i] ? EncoderBlock(g, s, x, p, dim)
                               : LocalBlock(g, s, x, p, dim, hidden);
    }
    if (i + 1 == s.depths.size() || !(s.downsamples[i] || dim != s.dims[i + 1])) continue;
    const std::string p = fmt::format("encoder.network.{}.", ++k);
    x = SwiftFormerConv(g, x, p + "proj", dim, s.dims[i + 1], s.patch, s.stride, s.pad);
    x = g.BatchNorm(x, p + "norm", s.dims[i + 1], s.eps);
    side = (side + 2 * s.pad - s.patch) / s.stride + 1;
  }
  const int64_t c = s.dims[s.depths.size() - 1];
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", c, side, side});
}

}  // namespace ipfs_accel::models
