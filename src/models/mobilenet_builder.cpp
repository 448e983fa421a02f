#include "mobilenet_builder.h"

#include <algorithm>
#include <array>

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

Map ConvLayer(GraphBuilder& g, const MobileNetShape& s, const Map& in, const std::string& prefix,
              int64_t out, int64_t kernel, int64_t stride, bool depthwise) {
  const int64_t groups = depthwise ? in.channels : 1;
  std::array<int64_t, 2> pad = {(kernel - 1) / 2, (kernel - 1) / 2};
  if (s.tf_padding) pad = SamePadding(in.side, kernel, stride);
  const std::string y = ConvNormAct(g, in.x, prefix,
                                    {.in = in.channels,
                                     .out = out,
                                     .kernel = kernel,
                                     .stride = stride,
                                     .pads = {pad[0], pad[0], pad[1], pad[1]},
                                     .groups = groups},
                                    s.eps, s.act);
  return {y, out, (in.side + pad[0] + pad[1] - kernel) / stride + 1};
}

}  // namespace

void BuildMobileNetV1(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the mobilenet_v1 builder takes no pieces, not {}",
                            config.origin(), pieces.dump()));
  MobileNetShape s;
  s.channels = config.Int("num_channels", s.channels);
  s.image = config.Int("image_size", s.image);
  s.min_depth = config.Int("min_depth", s.min_depth);
  s.multiplier = config.Double("depth_multiplier", s.multiplier);
  s.eps = config.Double("layer_norm_eps", s.eps);
  s.act = config.String("hidden_act", s.act);
  s.tf_padding = config.Bool("tf_padding", true);
  if (s.channels <= 0 || s.image < 32 || s.multiplier <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': MobileNetV1 needs positive num_channels and depth_multiplier "
                            "and an image_size of at least 32",
                            config.origin()));
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
  g.Node("Identity", {m.x}, {}, "last_hidden_state");
  g.Node("ReduceMean", {m.x}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{0}}},
         "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", m.channels, m.side, m.side});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", m.channels});
}

}  // namespace ipfs_accel::models
