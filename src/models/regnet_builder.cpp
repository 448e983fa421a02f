#include "regnet_builder.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "activation.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct RegNetShape {
  int64_t channels = 3, embedding = 32, groups_width = 64;
  std::vector<int64_t> hidden = {128, 192, 512, 1088}, depths = {2, 6, 12, 2};
  bool squeeze_excite = true;  // layer_type "y"
  bool downsample_first = true;
  std::string act = "relu";
};

Conv2dSpec Spec(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups = 1) {
  const int64_t pad = kernel / 2;
  return {.in = in,
          .out = out,
          .kernel = kernel,
          .stride = stride,
          .pads = {pad, pad, pad, pad},
          .groups = groups};
}

// RegNetSELayer: x * sigmoid(conv(relu(conv(mean(x))))), over `c` channels through `reduced`.
std::string SqueezeExcite(GraphBuilder& g, const std::string& x, const std::string& p, int64_t c,
                          int64_t reduced) {
  std::string a =
      g.Node("ReduceMean", {x}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{1}}});
  a = g.Node("Relu", {Conv2d(g, a, p + "attention.0", c, reduced, 1, 1, 0)});
  a = g.Node("Sigmoid", {Conv2d(g, a, p + "attention.2", reduced, c, 1, 1, 0)});
  return g.Node("Mul", {x, a});
}

// One RegNetXLayer / RegNetYLayer.
std::string Layer(GraphBuilder& g, const RegNetShape& s, const std::string& x, const std::string& p,
                  int64_t in, int64_t out, int64_t stride) {
  std::string residual = x;
  if (in != out || stride != 1)
    residual = ConvNormAct(g, x, p + "shortcut", Spec(in, out, 1, stride), kTorchNormEps, "");
  const int64_t groups = std::max<int64_t>(1, out / s.groups_width);
  std::string h = ConvNormAct(g, x, p + "layer.0", Spec(in, out, 1, 1), kTorchNormEps, s.act);
  h = ConvNormAct(g, h, p + "layer.1", Spec(out, out, 3, stride, groups), kTorchNormEps, s.act);
  int64_t last = 2;
  if (s.squeeze_excite) {
    const auto reduced = static_cast<int64_t>(std::nearbyint(static_cast<double>(in) / 4));
    h = SqueezeExcite(g, h, p + "layer.2.", out, reduced);
    last = 3;
  }
  h = ConvNormAct(g, h, fmt::format("{}layer.{}", p, last), Spec(out, out, 1, 1), kTorchNormEps,
                  "");
  return Activation(g, g.Node("Add", {h, residual}), s.act);
}

RegNetShape ReadRegNetShape(const HfConfig& c) {
  RegNetShape s;
  s.channels = c.Int("num_channels", s.channels);
  s.embedding = c.Int("embedding_size", s.embedding);
  s.groups_width = c.Int("groups_width", s.groups_width);
  s.hidden = ConfigIntList(c, "hidden_sizes", s.hidden);
  s.depths = ConfigIntList(c, "depths", s.depths);
  s.act = c.String("hidden_act", s.act);
  s.downsample_first = c.Bool("downsample_in_first_stage", true);
  const std::string type = c.String("layer_type", "y");
  if (type != "x" && type != "y")
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("'{}': layer_type={} is not supported (RegNet has x and y)", c.origin(), type));
  s.squeeze_excite = type == "y";
  const auto positive = [](int64_t v) { return v > 0; };
  if (s.hidden.size() != s.depths.size() || s.channels <= 0 || s.embedding <= 0 ||
      s.groups_width <= 0 || !std::all_of(s.hidden.begin(), s.hidden.end(), positive) ||
      !std::all_of(s.depths.begin(), s.depths.end(), positive))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': RegNet sizes must be positive and hidden_sizes and depths of "
                            "one length",
                            c.origin()));
  return s;
}

}  // namespace

void BuildRegNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': the regnet builder takes no pieces, not {}",
                                                 config.origin(), pieces.dump()));
  const RegNetShape s = ReadRegNetShape(config);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, height, width});
  std::string x = ConvNormAct(g, "pixel_values", "embedder.embedder",
                              Spec(s.channels, s.embedding, 3, 2), kTorchNormEps, s.act);
  int64_t in = s.embedding, halvings = 1;
  for (size_t i = 0; i < s.depths.size(); ++i) {
    const int64_t stride = i > 0 || s.downsample_first ? 2 : 1;
    halvings += stride == 2 ? 1 : 0;
    for (int64_t j = 0; j < s.depths[i]; ++j)
      x = Layer(g, s, x, fmt::format("encoder.stages.{}.layers.{}.", i, j),
                j == 0 ? in : s.hidden[i], s.hidden[i], j == 0 ? stride : 1);
    in = s.hidden[i];
  }
  auto side = [&](const Dim& d, const char* name) -> Dim {
    const auto* n = std::get_if<int64_t>(&d);
    if (!n) return std::string(name);
    int64_t v = *n;
    for (int64_t k = 0; k < halvings; ++k) v = (v - 1) / 2 + 1;  // 3x3 or 1x1, padded, stride 2
    return v;
  };
  FeatureMapOutputs(g, x, in, side(height, "feature_height"), side(width, "feature_width"));
}

}  // namespace ipfs_accel::models
