#include "convnext_builder.h"

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
using nlohmann::json;

constexpr double kConvNextNormEps = 1e-6;  // ConvNextLayerNorm's, hard-coded in HF's ConvNeXt

// HF's weight names in either naming.
struct ConvNextNames {
  std::string stem_conv, stem_norm;
  std::string down_norm, down_conv;  // of stage i > 0
  std::string dwconv, norm, pw1, pw2, grn, scale;
  std::string final_norm;
};

ConvNextNames Names(const ConvNextVariant& v, int64_t stage, int64_t layer) {
  if (v.names == "dinov3") {
    const std::string st = fmt::format("stages.{}.", stage);
    const std::string l = fmt::format("{}layers.{}.", st, layer);
    return {st + "downsample_layers.0",
            st + "downsample_layers.1",
            st + "downsample_layers.0",
            st + "downsample_layers.1",
            l + "depthwise_conv",
            l + "layer_norm",
            l + "pointwise_conv1",
            l + "pointwise_conv2",
            l + "grn",
            l + "gamma",
            "layer_norm"};
  }
  const std::string st = fmt::format("encoder.stages.{}.", stage);
  const std::string l = fmt::format("{}layers.{}.", st, layer);
  return {"embeddings.patch_embeddings",
          "embeddings.layernorm",
          st + "downsampling_layer.0",
          st + "downsampling_layer.1",
          l + "dwconv",
          l + "layernorm",
          l + "pwconv1",
          l + "pwconv2",
          l + "grn",
          l + "layer_scale_parameter",
          "layernorm"};
}

// ConvNextV2GRN over channels-last x [b, h, w, c]: w * (x * nx) + b + x, nx = gx / (mean_c gx +
// 1e-6), gx the L2 norm of x over h and w.
std::string GlobalResponseNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                               int64_t channels) {
  const std::string gx =
      g.Node("ReduceL2", {x}, {{"axes", std::vector<int64_t>{1, 2}}, {"keepdims", int64_t{1}}});
  const std::string mean =
      g.Node("ReduceMean", {gx}, {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  const std::string nx = g.Node("Div", {gx, g.Node("Add", {mean, g.ConstFloat(1e-6f)})});
  const std::string w = g.Weight(prefix + ".weight", {1, 1, 1, channels}, WeightInit::kZeros);
  const std::string b = g.Weight(prefix + ".bias", {1, 1, 1, channels}, WeightInit::kZeros);
  const std::string scaled = g.Node("Mul", {w, g.Node("Mul", {x, nx})});
  return g.Node("Add", {g.Node("Add", {scaled, b}), x});
}

// One ConvNextLayer / ConvNextV2Layer / DINOv3ConvNextLayer on [b, dim, h, w].
std::string Block(GraphBuilder& g, const ConvNextShape& s, const ConvNextVariant& v,
                  const ConvNextNames& n, const std::string& x, int64_t dim) {
  const double eps = v.names == "dinov3" ? s.eps : kConvNextNormEps;
  std::string h = ToChannelsLast(g, Conv2d(g, x, n.dwconv, dim, dim, 7, 1, 3, dim));
  h = g.Linear(g.LayerNorm(h, n.norm, dim, eps), n.pw1, dim, 4 * dim);
  h = Activation(g, h, s.act);
  if (v.block == "grn") h = GlobalResponseNorm(g, h, n.grn, 4 * dim);
  h = g.Linear(h, n.pw2, 4 * dim, dim);
  if (v.block == "layer_scale" && s.layer_scale)
    h = g.Node("Mul", {h, g.Weight(n.scale, {dim}, WeightInit::kOnes)});
  return g.Node("Add", {x, ToChannelsFirst(g, h)});
}

// The feature map after the last stage.
std::string Stages(GraphBuilder& g, const ConvNextShape& s, const ConvNextVariant& v,
                   std::string x) {
  const double eps = v.names == "dinov3" ? s.eps : kConvNextNormEps;
  const ConvNextNames stem = Names(v, 0, 0);
  x = Conv2d(g, x, stem.stem_conv, s.num_channels, s.hidden_sizes[0], s.patch_size, s.patch_size,
             0);
  x = ChannelsFirstNorm(g, x, stem.stem_norm, s.hidden_sizes[0], eps);
  for (size_t i = 0; i < s.depths.size(); ++i) {
    const int64_t stage = static_cast<int64_t>(i), dim = s.hidden_sizes[i];
    if (i > 0) {
      const ConvNextNames d = Names(v, stage, 0);
      const int64_t in = s.hidden_sizes[i - 1];
      x = Conv2d(g, ChannelsFirstNorm(g, x, d.down_norm, in, eps), d.down_conv, in, dim, 2, 2, 0);
    }
    for (int64_t l = 0; l < s.depths[i]; ++l) x = Block(g, s, v, Names(v, stage, l), x, dim);
  }
  return x;
}

// The map's side after the stem (kernel = stride = patch) and the stride-2 downsamplings.
Dim MapSide(const Dim& side, const ConvNextShape& s, const char* symbol) {
  const auto* n = std::get_if<int64_t>(&side);
  if (!n) return std::string(symbol);
  int64_t m = (*n - s.patch_size) / s.patch_size + 1;
  for (size_t i = 1; i < s.depths.size(); ++i) m = (m - 2) / 2 + 1;
  return m;
}

}  // namespace

ConvNextVariant ReadConvNextVariant(const json& pieces, const HfConfig& c) {
  ConvNextVariant v;
  auto bad = [&](const std::string& key, const json& value) {
    return Error(ErrorKind::kCorrupt,
                 fmt::format("'{}': the convnext builder's piece {} = {} is not one it knows "
                             "(docs/templates.md)",
                             c.origin(), key, value.dump()));
  };
  if (!pieces.is_object()) throw bad("pieces", pieces);
  for (const auto& [key, value] : pieces.items()) {
    const std::string s = value.is_string() ? value.get<std::string>() : "";
    if (key == "names" && (s == "convnext" || s == "dinov3")) {
      v.names = s;
    } else if (key == "block" && (s == "layer_scale" || s == "grn")) {
      v.block = s;
    } else {
      throw bad(key, value);
    }
  }
  return v;
}

ConvNextShape ReadConvNextShape(const HfConfig& c, const ConvNextVariant& v) {
  ConvNextShape s;
  s.num_channels = c.Int("num_channels", s.num_channels);
  s.patch_size = v.names == "dinov3" ? 4 : c.Int("patch_size", s.patch_size);
  s.hidden_sizes = ConfigIntList(c, "hidden_sizes", s.hidden_sizes);
  s.depths = ConfigIntList(c, "depths", s.depths);
  s.act = c.String("hidden_act", s.act);
  s.eps = c.Double("layer_norm_eps", v.names == "dinov3" ? 1e-6 : 1e-12);
  s.layer_scale = c.Double("layer_scale_init_value", 1e-6) > 0;
  const int64_t stages = c.Int("num_stages", static_cast<int64_t>(s.depths.size()));
  if (s.hidden_sizes.size() != s.depths.size() || stages != static_cast<int64_t>(s.depths.size()))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_sizes has {} stages, depths {} and num_stages {}; they "
                            "must agree",
                            c.origin(), s.hidden_sizes.size(), s.depths.size(), stages));
  const auto positive = [](int64_t x) { return x > 0; };
  if (s.num_channels <= 0 || s.patch_size <= 0 ||
      !std::all_of(s.hidden_sizes.begin(), s.hidden_sizes.end(), positive) ||
      !std::all_of(s.depths.begin(), s.depths.end(), positive))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': ConvNeXt sizes must be positive", c.origin()));
  return s;
}

void BuildConvNext(const HfConfig& config, const ConvNextVariant& v, GraphBuilder& g) {
  const ConvNextShape s = ReadConvNextShape(config, v);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.num_channels, height, width});
  const std::string map = Stages(g, s, v, "pixel_values");
  const int64_t c = s.hidden_sizes.back();
  const Dim h = MapSide(height, s, "feature_height"), w = MapSide(width, s, "feature_width");
  const std::string mean =
      g.Node("ReduceMean", {map}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{0}}});
  if (v.names == "dinov3") {
    // [mean; map tokens] [b, 1 + h*w, c], normalised; the mean's row is the pooled output.
    const std::string tokens =
        g.Node("Transpose", {g.Node("Reshape", {map, g.ConstInt64({0, c, -1})})},
               {{"perm", std::vector<int64_t>{0, 2, 1}}});
    const std::string all = g.Node(
        "Concat", {g.Node("Unsqueeze", {mean, g.ConstInt64({1})}), tokens}, {{"axis", int64_t{1}}});
    const std::string normed = g.LayerNorm(all, Names(v, 0, 0).final_norm, c, s.eps);
    g.Node("Identity", {normed}, {}, "last_hidden_state");
    const std::string first = g.Node("Gather", {normed, g.ConstInt64({0})}, {{"axis", int64_t{1}}});
    g.Node("Squeeze", {first, g.ConstInt64({1})}, {}, "pooler_output");
    Dim count = std::string("tokens");
    if (std::holds_alternative<int64_t>(h) && std::holds_alternative<int64_t>(w))
      count = 1 + std::get<int64_t>(h) * std::get<int64_t>(w);
    g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", count, c});
  } else {
    g.Node("Identity", {map}, {}, "last_hidden_state");
    g.Node("Identity", {g.LayerNorm(mean, "layernorm", c, s.eps)}, {}, "pooler_output");
    g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", c, h, w});
  }
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", c});
}

}  // namespace ipfs_accel::models
