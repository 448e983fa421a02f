#include "rt_detr_resnet_builder.h"

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

// RTDetrResNetConvLayer: conv (padding kernel / 2) - BatchNorm - activation ("" none).
std::string RtDetrConvLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                            int64_t in, int64_t out, int64_t kernel, int64_t stride,
                            const std::string& act) {
  const int64_t pad = kernel / 2;
  return ConvNormAct(
      g, x, prefix,
      Conv2dSpec{
          .in = in, .out = out, .kernel = kernel, .stride = stride, .pads = {pad, pad, pad, pad}},
      1e-5, act);
}

// nn.AvgPool2d(2, 2, 0, ceil_mode=True): a last partial window averages what it covers.
std::string AvgPool2x2(GraphBuilder& g, const std::string& x) {
  return g.Node("AveragePool", {x},
                {{"kernel_shape", std::vector<int64_t>{2, 2}},
                 {"strides", std::vector<int64_t>{2, 2}},
                 {"ceil_mode", int64_t{1}},
                 {"count_include_pad", int64_t{0}}});
}

std::string Shortcut(GraphBuilder& g, const std::string& x, const std::string& p,
                     const RtDetrResNetLayerSpec& l) {
  const bool bottleneck = l.bottleneck;
  // Bottleneck: pool when strided, project when the shape changes. Basic: only a stage's first
  // layer has a shortcut, pooled whenever the channels change.
  const bool project = bottleneck ? (l.in != l.out || l.stride != 1) : l.first;
  const bool pool = bottleneck ? l.stride == 2 : (l.first && l.in != l.out);
  if (pool)
    return project ? RtDetrConvLayer(g, AvgPool2x2(g, x), p + "shortcut.1", l.in, l.out, 1, 1, "")
                   : AvgPool2x2(g, x);
  return project ? RtDetrConvLayer(g, x, p + "shortcut", l.in, l.out, 1, l.stride, "") : x;
}

Dim Halve(const Dim& d, const std::string& name) {
  if (const auto* n = std::get_if<int64_t>(&d)) return (*n - 1) / 2 + 1;
  return name;
}

}  // namespace

std::string RtDetrResNetLayer(GraphBuilder& g, const std::string& x, const std::string& p,
                              const RtDetrResNetLayerSpec& l, const std::string& act) {
  std::string h;
  if (l.bottleneck) {
    const int64_t r = l.out / 4;
    const bool first = l.downsample_in_bottleneck;
    h = RtDetrConvLayer(g, x, p + "layer.0", l.in, r, 1, first ? l.stride : 1, "relu");
    h = RtDetrConvLayer(g, h, p + "layer.1", r, r, 3, first ? 1 : l.stride, "relu");
    h = RtDetrConvLayer(g, h, p + "layer.2", r, l.out, 1, 1, "");
  } else {
    h = RtDetrConvLayer(g, x, p + "layer.0", l.in, l.out, 3, l.stride, "relu");
    h = RtDetrConvLayer(g, h, p + "layer.1", l.out, l.out, 3, 1, "");
  }
  return Activation(g, g.Node("Add", {h, Shortcut(g, x, p, l)}), act);
}

void BuildRtDetrResNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the rt_detr_resnet builder takes no pieces, not {}",
                            config.origin(), pieces.dump()));
  const ResNetShape s = ReadResNetShape(config);  // the same keys and checks as ResNetConfig
  const int64_t e = s.embedding_size;
  if (!s.bottleneck && !s.downsample_in_first_stage && e != s.hidden_sizes[0])
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': a basic first stage of embedding_size {} != hidden_sizes[0] {} "
                            "pools its shortcut but not its path",
                            config.origin(), e, s.hidden_sizes[0]));
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.num_channels, height, width});
  std::string x = RtDetrConvLayer(g, "pixel_values", "embedder.embedder.0", s.num_channels, e / 2,
                                  3, 2, s.hidden_act);
  x = RtDetrConvLayer(g, x, "embedder.embedder.1", e / 2, e / 2, 3, 1, s.hidden_act);
  x = RtDetrConvLayer(g, x, "embedder.embedder.2", e / 2, e, 3, 1, s.hidden_act);
  x = g.Node("MaxPool", {x},
             {{"kernel_shape", std::vector<int64_t>{3, 3}},
              {"strides", std::vector<int64_t>{2, 2}},
              {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  std::vector<FeatureMap> states = {{x, e, Halve(Halve(height, "stem_height"), "stem_height"),
                                     Halve(Halve(width, "stem_width"), "stem_width")}};
  for (size_t i = 0; i < s.depths.size(); ++i) {
    FeatureMap m = states.back();
    const int64_t stride = i > 0 || s.downsample_in_first_stage ? 2 : 1;
    for (int64_t j = 0; j < s.depths[i]; ++j) {
      const RtDetrResNetLayerSpec l{j == 0 ? m.channels : s.hidden_sizes[i],
                                    s.hidden_sizes[i],
                                    j == 0 ? stride : 1,
                                    j == 0,
                                    s.bottleneck,
                                    s.downsample_in_bottleneck};
      m.x = RtDetrResNetLayer(g, m.x, fmt::format("encoder.stages.{}.layers.{}.", i, j), l,
                              s.hidden_act);
    }
    m.channels = s.hidden_sizes[i];
    if (stride == 2) {
      m.height = Halve(m.height, fmt::format("stage{}_height", i + 1));
      m.width = Halve(m.width, fmt::format("stage{}_width", i + 1));
    }
    states.push_back(m);
  }
  BackboneOutputs(g, config, states);
}

}  // namespace ipfs_accel::models
