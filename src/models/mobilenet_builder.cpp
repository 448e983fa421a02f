#include "mobilenet_builder.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "conv2d.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct MobileNetShape {
  int64_t channels = 3, image = 224, min_depth = 8;
  double multiplier = 1.0, eps = 1e-3;
  std::string act = "relu6";
  bool tf_padding = true;
};

// One MobileNetV1ConvLayer on a [b, in, side, side] map: its output and side.
struct Map {
  std::string x;
  int64_t channels, side;
};

// TensorFlow's "SAME" padding of one axis (apply_tf_padding): [before, after].
std::array<int64_t, 2> SamePadding(int64_t side, int64_t kernel, int64_t stride) {
  const int64_t pad = std::max(kernel - (side % stride != 0 ? side % stride : stride), int64_t{0});
  return {pad / 2, pad - pad / 2};
}

// One MobileNetV1ConvLayer / MobileNetV2ConvLayer; `act` false leaves the activation out.
Map ConvLayer(GraphBuilder& g, const MobileNetShape& s, const Map& in, const std::string& prefix,
              int64_t out, int64_t kernel, int64_t stride, bool depthwise, bool act = true,
              int64_t dilation = 1) {
  const int64_t groups = depthwise ? in.channels : 1;
  std::array<int64_t, 2> pad = {(kernel - 1) / 2 * dilation, (kernel - 1) / 2 * dilation};
  if (s.tf_padding) {
    pad = SamePadding(in.side, kernel, stride);
    pad = {pad[0] * dilation, pad[1] * dilation};
  }
  const std::string y = ConvNormAct(g, in.x, prefix,
                                    {.in = in.channels,
                                     .out = out,
                                     .kernel = kernel,
                                     .stride = stride,
                                     .pads = {pad[0], pad[0], pad[1], pad[1]},
                                     .groups = groups,
                                     .dilation = dilation},
                                    s.eps, act ? s.act : "");
  return {y, out, (in.side + pad[0] + pad[1] - dilation * (kernel - 1) - 1) / stride + 1};
}

void ReadCommon(const HfConfig& config, const nlohmann::json& pieces, const char* builder,
                MobileNetShape& s) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': the {} builder takes no pieces, not {}",
                                                 config.origin(), builder, pieces.dump()));
  s.channels = config.Int("num_channels", s.channels);
  s.image = config.Int("image_size", s.image);
  s.min_depth = config.Int("min_depth", s.min_depth);
  s.multiplier = config.Double("depth_multiplier", s.multiplier);
  s.eps = config.Double("layer_norm_eps", s.eps);
  s.act = config.String("hidden_act", s.act);
  s.tf_padding = config.Bool("tf_padding", true);
  if (s.channels <= 0 || s.image < 32 || s.multiplier <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': MobileNet needs positive num_channels and depth_multiplier "
                            "and an image_size of at least 32",
                            config.origin()));
}

void Outputs(GraphBuilder& g, const Map& m) {
  g.Node("Identity", {m.x}, {}, "last_hidden_state");
  g.Node("ReduceMean", {m.x}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{0}}},
         "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", m.channels, m.side, m.side});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", m.channels});
}

}  // namespace

void BuildMobileNetV1(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  MobileNetShape s;
  ReadCommon(config, pieces, "mobilenet_v1", s);
  auto width = [&](int64_t depth) {
    return std::max(static_cast<int64_t>(static_cast<double>(depth) * s.multiplier), s.min_depth);
  };
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  int64_t depth = 32;
  Map m = ConvLayer(g, s, {"pixel_values", s.channels, s.image}, "conv_stem", width(depth), 3, 2,
                    false);
  const std::array<int64_t, 13> strides = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
  for (size_t i = 0; i < strides.size(); ++i) {
    if (strides[i] == 2 || i == 0) depth *= 2;
    m = ConvLayer(g, s, m, fmt::format("layer.{}", 2 * i), m.channels, 3, strides[i], true);
    m = ConvLayer(g, s, m, fmt::format("layer.{}", 2 * i + 1), width(depth), 1, 1, false);
  }
  Outputs(g, m);
}

void BuildMobileNetV2(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  MobileNetShape s;
  ReadCommon(config, pieces, "mobilenet_v2", s);
  const int64_t divisible_by = config.Int("depth_divisible_by", 8);
  const double expand_ratio = config.Double("expand_ratio", 6.0);
  const int64_t output_stride = config.Int("output_stride", 32);
  if (divisible_by <= 0 || expand_ratio <= 0 || output_stride <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': depth_divisible_by, expand_ratio and output_stride must be "
                            "positive",
                            config.origin()));
  auto depth = [&](int64_t c) {
    return MakeDivisible(std::nearbyint(static_cast<double>(c) * s.multiplier), divisible_by,
                         s.min_depth);
  };
  std::vector<int64_t> channels;
  for (const int64_t c : {16, 24, 24, 32, 32, 32, 64, 64, 64, 64, 96, 96, 96, 160, 160, 160, 320})
    channels.push_back(depth(c));
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.image, s.image});
  // MobileNetV2Stem: 3x3 stride 2, [1x1 expand], 3x3 depthwise, 1x1 reduce without activation.
  const int64_t expanded = depth(32);
  Map m = ConvLayer(g, s, {"pixel_values", s.channels, s.image}, "conv_stem.first_conv", expanded,
                    3, 2, false);
  if (!config.Bool("first_layer_is_expansion", true))
    m = ConvLayer(g, s, m, "conv_stem.expand_1x1", expanded, 1, 1, false);
  m = ConvLayer(g, s, m, "conv_stem.conv_3x3", expanded, 3, 1, true);
  m = ConvLayer(g, s, m, "conv_stem.reduce_1x1", channels[0], 1, 1, false, false);
  const std::array<int64_t, 16> strides = {2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1};
  int64_t current_stride = 2, dilation = 1;
  for (size_t i = 0; i < strides.size(); ++i) {
    // Past output_stride the maps keep their size and the convolutions dilate instead.
    int64_t stride = strides[i], layer_dilation = 1;
    if (current_stride == output_stride) {
      layer_dilation = dilation;
      dilation *= stride;
      stride = 1;
    } else {
      current_stride *= stride;
    }
    const std::string p = fmt::format("layer.{}.", i);
    const Map in = m;
    const int64_t inner = MakeDivisible(
        std::nearbyint(static_cast<double>(channels[i]) * expand_ratio), divisible_by, s.min_depth);
    m = ConvLayer(g, s, m, p + "expand_1x1", inner, 1, 1, false);
    m = ConvLayer(g, s, m, p + "conv_3x3", inner, 3, stride, true, true, layer_dilation);
    m = ConvLayer(g, s, m, p + "reduce_1x1", channels[i + 1], 1, 1, false, false);
    if (stride == 1 && in.channels == m.channels) m.x = g.Node("Add", {in.x, m.x});
  }
  const bool finegrained = config.Bool("finegrained_output", true) && s.multiplier < 1.0;
  m = ConvLayer(g, s, m, "conv_1x1", finegrained ? 1280 : depth(1280), 1, 1, false);
  Outputs(g, m);
}

}  // namespace ipfs_accel::models
