#include "poolformer_builder.h"

#include <algorithm>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct PoolFormerShape {
  int64_t channels = 3, pool = 3;
  std::vector<int64_t> depths = {2, 2, 6, 2}, hidden = {64, 128, 320, 512}, patch = {7, 3, 3, 3},
                       strides = {4, 2, 2, 2}, padding = {2, 1, 1, 1};
  double mlp_ratio = 4.0;
  std::string act = "gelu";
  bool layer_scale = true;
};

PoolFormerShape ReadPoolFormerShape(const HfConfig& c) {
  PoolFormerShape s;
  s.channels = c.Int("num_channels", s.channels);
  s.pool = c.Int("pool_size", s.pool);
  s.depths = ConfigIntList(c, "depths", s.depths);
  s.hidden = ConfigIntList(c, "hidden_sizes", s.hidden);
  s.patch = ConfigIntList(c, "patch_sizes", s.patch);
  s.strides = ConfigIntList(c, "strides", s.strides);
  s.padding = ConfigIntList(c, "padding", s.padding);
  s.mlp_ratio = c.Double("mlp_ratio", s.mlp_ratio);
  s.act = c.String("hidden_act", s.act);
  s.layer_scale = c.Bool("use_layer_scale", true);
  const size_t n = s.depths.size();
  if (s.hidden.size() != n || s.patch.size() != n || s.strides.size() != n ||
      s.padding.size() != n ||
      c.Int("num_encoder_blocks", static_cast<int64_t>(n)) != static_cast<int64_t>(n))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': depths, hidden_sizes, patch_sizes, strides and padding must "
                            "have num_encoder_blocks entries",
                            c.origin()));
  const auto positive = [](int64_t v) { return v > 0; };
  if (!std::all_of(s.hidden.begin(), s.hidden.end(), positive) ||
      !std::all_of(s.depths.begin(), s.depths.end(), positive) || s.pool <= 0 || s.pool % 2 == 0 ||
      s.mlp_ratio <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': PoolFormer sizes must be positive (pool_size odd)", c.origin()));
  return s;
}

// `prefix.weight` [c] as [c, 1, 1], to scale a [b, c, h, w] map per channel.
std::string PerChannel(GraphBuilder& g, const std::string& name, int64_t c, WeightInit init) {
  return g.Node("Reshape", {g.Weight(name, {c}, init), g.ConstInt64({c, 1, 1})});
}

// PoolFormerGroupNorm: GroupNorm(1, c) over [b, c, h, w] (ONNX 17 has no GroupNormalization).
std::string GroupNorm1(GraphBuilder& g, const std::string& x, const std::string& prefix,
                       int64_t c) {
  const std::vector<Attr> over_all = {{"axes", std::vector<int64_t>{1, 2, 3}},
                                      {"keepdims", int64_t{1}}};
  const std::string centred = g.Node("Sub", {x, g.Node("ReduceMean", {x}, over_all)});
  const std::string var = g.Node("ReduceMean", {g.Node("Mul", {centred, centred})}, over_all);
  const std::string normed =
      g.Node("Div", {centred, g.Node("Sqrt", {g.Node("Add", {var, g.ConstFloat(kTorchNormEps)})})});
  return g.Node("Add",
                {g.Node("Mul", {normed, PerChannel(g, prefix + ".weight", c, WeightInit::kOnes)}),
                 PerChannel(g, prefix + ".bias", c, WeightInit::kZeros)});
}

// One PoolFormerLayer on [b, c, h, w].
std::string Block(GraphBuilder& g, const PoolFormerShape& s, const std::string& p,
                  const std::string& x, int64_t c) {
  auto scaled = [&](const std::string& branch, const char* name) {
    if (!s.layer_scale) return branch;
    return g.Node("Mul", {PerChannel(g, p + name, c, WeightInit::kOnes), branch});
  };
  const std::string normed = GroupNorm1(g, x, p + "before_norm", c);
  const int64_t pad = s.pool / 2;
  // AvgPool2d(count_include_pad=False) - input: ONNX's default leaves the padding out too.
  const std::string pooled =
      g.Node("Sub", {g.Node("AveragePool", {normed},
                            {{"kernel_shape", std::vector<int64_t>{s.pool, s.pool}},
                             {"strides", std::vector<int64_t>{1, 1}},
                             {"pads", std::vector<int64_t>{pad, pad, pad, pad}}}),
                     normed});
  const std::string h = g.Node("Add", {x, scaled(pooled, "layer_scale_1")});
  const auto inner = static_cast<int64_t>(static_cast<double>(c) * s.mlp_ratio);
  std::string m =
      Conv2d(g, GroupNorm1(g, h, p + "after_norm", c), p + "output.conv1", c, inner, 1, 1, 0);
  m = Conv2d(g, Activation(g, m, s.act), p + "output.conv2", inner, c, 1, 1, 0);
  return g.Node("Add", {h, scaled(m, "layer_scale_2")});
}

}  // namespace

void BuildPoolFormer(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the poolformer builder takes no pieces, not {}", config.origin(),
                            pieces.dump()));
  const PoolFormerShape s = ReadPoolFormerShape(config);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, height, width});
  std::string x = "pixel_values";
  Dim h = height, w = width;
  int64_t in = s.channels;
  auto shrink = [](const Dim& d, int64_t k, int64_t st, int64_t pad, const char* name) -> Dim {
    if (const auto* n = std::get_if<int64_t>(&d)) return (*n + 2 * pad - k) / st + 1;
    return std::string(name);
  };
  for (size_t i = 0; i < s.depths.size(); ++i) {
    const int64_t c = s.hidden[i];
    x = Conv2d(g, x, fmt::format("encoder.patch_embeddings.{}.projection", i), in, c, s.patch[i],
               s.strides[i], s.padding[i]);
    h = shrink(h, s.patch[i], s.strides[i], s.padding[i], "feature_height");
    w = shrink(w, s.patch[i], s.strides[i], s.padding[i], "feature_width");
    for (int64_t j = 0; j < s.depths[i]; ++j)
      x = Block(g, s, fmt::format("encoder.block.{}.{}.", i, j), x, c);
    in = c;
  }
  for (const Dim& d : {h, w})
    if (const auto* n = std::get_if<int64_t>(&d); n && *n <= 0)
      throw Error(
          ErrorKind::kCorrupt,
          fmt::format("'{}': image_size is too small for PoolFormer's stages", config.origin()));
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", in, h, w});
}

}  // namespace ipfs_accel::models
