#include "efficientnet_builder.h"

#include <algorithm>
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

struct EfficientNetShape {
  int64_t channels = 3, image = 600, divisor = 8, hidden_dim = 2560;
  double width = 2.0, depth = 3.1, se_ratio = 0.25, eps = 1e-3;
  std::vector<int64_t> kernels, in, out, strides, repeats, expand, square_padding;
  std::string act = "swish", pooling = "mean";
  bool top_conv = true;
};

[[noreturn]] void Fail(ErrorKind kind, const HfConfig& c, const std::string& what) {
  throw Error(kind, fmt::format("'{}': {}", c.origin(), what));
}

EfficientNetShape ReadEfficientNetShape(const HfConfig& c, const nlohmann::json& pieces) {
  EfficientNetShape s;
  s.channels = c.Int("num_channels", s.channels);
  s.image = c.Int("image_size", s.image);
  s.width = c.Double("width_coefficient", s.width);
  s.depth = c.Double("depth_coefficient", s.depth);
  s.divisor = c.Int("depth_divisor", s.divisor);
  s.kernels = ConfigIntList(c, "kernel_sizes", {3, 3, 5, 3, 5, 5, 3});
  s.in = ConfigIntList(c, "in_channels", {32, 16, 24, 40, 80, 112, 192});
  s.out = ConfigIntList(c, "out_channels", {16, 24, 40, 80, 112, 192, 320});
  s.strides = ConfigIntList(c, "strides", {1, 2, 2, 2, 1, 2, 1});
  s.repeats = ConfigIntList(c, "num_block_repeats", {1, 2, 2, 3, 3, 4, 1});
  s.expand = ConfigIntList(c, "expand_ratios", {1, 6, 6, 6, 6, 6, 6});
  if (c.Has("depthwise_padding")) {  // may be empty: ConfigIntList refuses that
    try {
      s.square_padding = c.json()["depthwise_padding"].get<std::vector<int64_t>>();
    } catch (const nlohmann::json::exception&) {
      Fail(ErrorKind::kCorrupt, c, "depthwise_padding must be a list of block indices");
    }
  }
  s.se_ratio = c.Double("squeeze_expansion_ratio", s.se_ratio);
  s.act = c.String("hidden_act", s.act);
  s.hidden_dim = c.Int("hidden_dim", s.hidden_dim);
  s.pooling = c.String("pooling_type", s.pooling);
  s.eps = c.Double("batch_norm_eps", s.eps);
  s.top_conv = pieces.value("top_conv", true);
  const size_t n = s.in.size();
  if (s.kernels.size() != n || s.out.size() != n || s.strides.size() != n ||
      s.repeats.size() != n || s.expand.size() != n)
    Fail(ErrorKind::kCorrupt, c,
         "kernel_sizes, in_channels, out_channels, strides, num_block_repeats and expand_ratios "
         "must have one entry per stage");
  if (s.pooling != "mean" && s.pooling != "max")
    Fail(ErrorKind::kUnsupported, c, "pooling_type must be mean or max");
  return s;
}

std::string Conv1x1(GraphBuilder& g, const std::string& x, const std::string& name, int64_t in,
                    int64_t out) {
  return Conv2d(g, x, name, Conv2dSpec{.in = in, .out = out, .bias = false});
}

// EfficientNetBlock under `p`; `residual` on a stage's repeats (stride 1, in == out).
std::string Block(GraphBuilder& g, const EfficientNetShape& s, const std::string& x,
                  const std::string& p, int64_t in, int64_t out, size_t stage, int64_t stride,
                  bool adjust, bool residual) {
  std::string h = x;
  int64_t dim = in;
  if (s.expand[stage] != 1) {
    dim = in * s.expand[stage];
    h = Conv1x1(g, h, p + "expansion.expand_conv", in, dim);
    h = Activation(g, g.BatchNorm(h, p + "expansion.expand_bn", dim, s.eps), s.act);
  }
  h = EfficientNetDepthwiseConv(g, h, p + "depthwise_conv.depthwise_conv", dim, s.kernels[stage],
                                stride, adjust);
  h = Activation(g, g.BatchNorm(h, p + "depthwise_conv.depthwise_norm", dim, s.eps), s.act);
  const auto dim_se =
      std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(in) * s.se_ratio));
  h = SqueezeExcitation(g, h, p + "squeeze_excite.reduce", p + "squeeze_excite.expand", dim, dim_se,
                        s.act, "sigmoid");
  h = g.BatchNorm(Conv1x1(g, h, p + "projection.project_conv", dim, out),
                  p + "projection.project_bn", out, s.eps);
  return residual ? g.Node("Add", {h, x}) : h;
}

// The side after EfficientNetDepthwiseConv.
int64_t DepthwiseSide(int64_t side, int64_t k, int64_t stride, bool adjust) {
  if (stride == 1) return side;
  const int64_t pads = adjust ? 2 * (k / 2) - 1 : 2 * (k / 2);
  return (side + pads - k) / stride + 1;
}

}  // namespace

std::string EfficientNetDepthwiseConv(GraphBuilder& g, const std::string& x,
                                      const std::string& prefix, int64_t channels, int64_t kernel,
                                      int64_t stride, bool adjust) {
  const int64_t half = kernel / 2;
  std::vector<int64_t> pads;  // ONNX: top, left, bottom, right
  if (stride != 1)            // nn.ZeroPad2d(correct_pad(kernel, adjust)), then "valid"
    pads = adjust ? std::vector<int64_t>{half - 1, half - 1, half, half}
                  : std::vector<int64_t>{half, half, half, half};
  else  // padding="same": PyTorch puts the odd pixel of an even kernel at the end
    pads = {(kernel - 1) / 2, (kernel - 1) / 2, kernel / 2, kernel / 2};
  return Conv2d(g, x, prefix,
                Conv2dSpec{.in = channels,
                           .out = channels,
                           .kernel = kernel,
                           .stride = stride,
                           .pads = pads,
                           .groups = channels,
                           .bias = false});
}

void BuildEfficientNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  const EfficientNetShape s = ReadEfficientNetShape(config, pieces);
  // round_filters
  auto round = [&](int64_t ch) {
    return MakeDivisible(static_cast<double>(ch) * s.width, s.divisor, s.divisor);
  };
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  const int64_t stem = round(32);
  std::string x = Conv2d(g, "pixel_values", "embeddings.convolution",
                         Conv2dSpec{.in = s.channels,
                                    .out = stem,
                                    .kernel = 3,
                                    .stride = 2,
                                    .pads = {0, 0, 1, 1},
                                    .bias = false});
  x = Activation(g, g.BatchNorm(x, "embeddings.batchnorm", stem, s.eps), s.act);
  int64_t side = (s.image + 1 - 3) / 2 + 1;
  int64_t block = 0, out = stem;
  for (size_t i = 0; i < s.in.size(); ++i) {
    const int64_t repeats =
        static_cast<int64_t>(std::ceil(s.depth * static_cast<double>(s.repeats[i])));
    out = round(s.out[i]);
    for (int64_t j = 0; j < repeats; ++j, ++block) {
      const int64_t stride = j == 0 ? s.strides[i] : 1;
      const bool adjust = std::find(s.square_padding.begin(), s.square_padding.end(), block) ==
                          s.square_padding.end();
      x = Block(g, s, x, fmt::format("encoder.blocks.{}.", block), j == 0 ? round(s.in[i]) : out,
                out, i, stride, adjust, j > 0);
      side = DepthwiseSide(side, s.kernels[i], stride, adjust);
    }
  }
  if (s.top_conv) {
    const int64_t top = round(1280);
    if (top != s.hidden_dim)
      Fail(ErrorKind::kCorrupt, config,
           fmt::format("the top conv has round_filters(1280) = {} channels but top_bn "
                       "hidden_dim = {}",
                       top, s.hidden_dim));
    x = Conv1x1(g, x, "encoder.top_conv", out, top);
    x = Activation(g, g.BatchNorm(x, "encoder.top_bn", top, s.eps), s.act);
    out = top;
  }
  if (side > s.hidden_dim)
    Fail(ErrorKind::kUnsupported, config,
         fmt::format("the final {}x{} map is larger than the pooler's kernel hidden_dim = {}: "
                     "only a pool of one cell is built",
                     side, side, s.hidden_dim));
  g.Node("Identity", {x}, {}, "last_hidden_state");
  const std::string pooled =
      g.Node(s.pooling == "mean" ? "GlobalAveragePool" : "GlobalMaxPool", {x});
  g.Node("Flatten", {pooled}, {{"axis", int64_t{1}}}, "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", out, side, side});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", out});
}

}  // namespace ipfs_accel::models
