#include "pp_lcnet_builder.h"

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

struct LcLayer {
  int64_t kernel = 3, in = 0, out = 0, stride = 1;
  bool se = false;
};

struct PpLcNetShape {
  std::vector<std::vector<LcLayer>> stages;
  int64_t stem = 16, stem_stride = 2, reduction = 4, divisor = 8, branches = 4;
  double scale = 1.0;
  std::string act = "hardswish";
  bool rep = false;  // layer learnable_rep
};

std::vector<std::vector<LcLayer>> ReadBlocks(const HfConfig& c, bool rep) {
  // PPLCNetConfig's / PPLCNetV3Config's block_configs when the config has none.
  const char* v1 =
      "[[[3,16,32,1,false]],[[3,32,64,2,false],[3,64,64,1,false]],[[3,64,128,2,false],"
      "[3,128,128,1,false]],[[3,128,256,2,false],[5,256,256,1,false],[5,256,256,1,false],"
      "[5,256,256,1,false],[5,256,256,1,false],[5,256,256,1,false]],[[5,256,512,2,true],"
      "[5,512,512,1,true]]]";
  const char* v3 =
      "[[[3,16,32,1,false]],[[3,32,64,2,false],[3,64,64,1,false]],[[3,64,128,2,false],"
      "[3,128,128,1,false]],[[3,128,256,2,false],[5,256,256,1,false],[5,256,256,1,false],"
      "[5,256,256,1,false],[5,256,256,1,false]],[[5,256,512,2,true],[5,512,512,1,true],"
      "[5,512,512,1,false],[5,512,512,1,false]]]";
  const nlohmann::json blocks =
      c.Has("block_configs") ? c.json()["block_configs"] : nlohmann::json::parse(rep ? v3 : v1);
  std::vector<std::vector<LcLayer>> out;
  try {
    for (const auto& stage : blocks) {
      out.emplace_back();
      for (const auto& l : stage) {
        if (l.size() != 5) throw nlohmann::json::type_error::create(302, "five entries", &l);
        out.back().push_back({l.at(0).get<int64_t>(), l.at(1).get<int64_t>(),
                              l.at(2).get<int64_t>(), l.at(3).get<int64_t>(), l.at(4).get<bool>()});
      }
    }
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': block_configs must be stages of [kernel, in, out, stride, se]",
                            c.origin()));
  }
  return out;
}

// A conv-BatchNorm(-activation) layer (PPLCNetConvLayer) padded kernel / 2.
std::string LcNetConvLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                           int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                           const std::string& act) {
  const int64_t pad = kernel / 2;
  return ConvNormAct(g, x, prefix,
                     Conv2dSpec{.in = in,
                                .out = out,
                                .kernel = kernel,
                                .stride = stride,
                                .pads = {pad, pad, pad, pad},
                                .groups = groups},
                     1e-5, act);
}

// One layer of a stage (PPLCNetDepthwiseSeparableConvLayer / its V3 form) under `p`.
std::string SeparableLayer(GraphBuilder& g, const PpLcNetShape& s, const std::string& x,
                           const std::string& p, const LcLayer& l) {
  const double scale = s.scale;
  const int64_t in = MakeDivisible(static_cast<double>(l.in) * scale, s.divisor, s.divisor);
  const int64_t out = MakeDivisible(static_cast<double>(l.out) * scale, s.divisor, s.divisor);
  std::string h = s.rep ? LearnableRepLayer(g, x, p + "depthwise_convolution", in, in, l.kernel,
                                            l.stride, in, s.branches, s.act)
                        : LcNetConvLayer(g, x, p + "depthwise_convolution", in, in, l.kernel,
                                         l.stride, in, s.act);
  if (l.se) {
    const std::string se = p + "squeeze_excitation_module.";
    h = SqueezeExcitation(g, h, se + "convolution1", se + "convolution2", in, in / s.reduction,
                          "relu", "hardsigmoid");
  }
  return s.rep ? LearnableRepLayer(g, h, p + "pointwise_convolution", in, out, 1, 1, 1, s.branches,
                                   s.act)
               : LcNetConvLayer(g, h, p + "pointwise_convolution", in, out, 1, 1, 1, s.act);
}

Dim LcNetSide(const Dim& d, int64_t k, int64_t stride, const std::string& name) {
  if (stride == 1 && k % 2 == 1) return d;
  if (const auto* n = std::get_if<int64_t>(&d)) return (*n + 2 * (k / 2) - k) / stride + 1;
  return name;
}

}  // namespace

std::string LearnableRepLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                              int64_t in, int64_t out, int64_t kernel, int64_t stride,
                              int64_t groups, int64_t branches, const std::string& act) {
  std::vector<std::string> terms;
  if (in == out && stride == 1) terms.push_back(g.BatchNorm(x, prefix + ".identity", in, 1e-5));
  if (kernel > 1)
    terms.push_back(LcNetConvLayer(g, x, prefix + ".conv_1x1", in, out, 1, stride, groups, ""));
  for (int64_t i = 0; i < branches; ++i)
    terms.push_back(LcNetConvLayer(g, x, fmt::format("{}.conv_kxk.{}", prefix, i), in, out, kernel,
                                   stride, groups, ""));
  std::string y = terms.front();
  for (size_t i = 1; i < terms.size(); ++i) y = g.Node("Add", {y, terms[i]});
  y = LearnableAffine(g, y, prefix + ".lab");
  if (stride == 2) {  // PPLCNetV3Act is built (and counted) but not applied
    g.UnusedWeight(prefix + ".act.lab.scale", {1}, WeightInit::kOnes);
    g.UnusedWeight(prefix + ".act.lab.bias", {1}, WeightInit::kZeros);
    return y;
  }
  return LearnableAffine(g, Activation(g, y, act), prefix + ".act.lab");
}

void BuildPpLcNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  PpLcNetShape s;
  const std::string layer = pieces.value("layer", "conv");
  if (layer != "conv" && layer != "learnable_rep")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': pp_lcnet layer '{}' is not built (conv, learnable_rep)",
                            config.origin(), layer));
  s.rep = layer == "learnable_rep";
  s.stages = ReadBlocks(config, s.rep);
  s.scale = config.Double("scale", s.scale);
  s.stem = config.Int("stem_channels", s.stem);
  s.stem_stride = config.Int("stem_stride", s.stem_stride);
  s.reduction = config.Int("reduction", s.reduction);
  s.divisor = config.Int("divisor", s.divisor);
  s.branches = config.Int("conv_kxk_num", s.branches);
  s.act = config.String("hidden_act", s.act);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", 3, height, width});  // HF: 3
  const int64_t stem = MakeDivisible(static_cast<double>(s.stem) * s.scale, s.divisor, s.divisor);
  const std::string x0 = LcNetConvLayer(g, "pixel_values", "embedder.convolution", 3, stem, 3,
                                        s.stem_stride, 1, s.rep ? "" : s.act);
  std::vector<FeatureMap> states = {{x0, stem, LcNetSide(height, 3, s.stem_stride, "stem_height"),
                                     LcNetSide(width, 3, s.stem_stride, "stem_width")}};
  for (size_t i = 0; i < s.stages.size(); ++i) {
    FeatureMap m = states.back();
    for (size_t j = 0; j < s.stages[i].size(); ++j) {
      const LcLayer& l = s.stages[i][j];
      m.x = SeparableLayer(g, s, m.x, fmt::format("encoder.blocks.{}.layers.{}.", i, j), l);
      m.channels = MakeDivisible(static_cast<double>(l.out) * s.scale, s.divisor, s.divisor);
      m.height = LcNetSide(m.height, l.kernel, l.stride, fmt::format("stage{}_height", i + 1));
      m.width = LcNetSide(m.width, l.kernel, l.stride, fmt::format("stage{}_width", i + 1));
    }
    states.push_back(m);
  }
  BackboneOutputs(g, config, states);
}

}  // namespace ipfs_accel::models
