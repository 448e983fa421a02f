#include "resnet_builder.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

std::vector<int64_t> ConfigIntList(const HfConfig& c, const std::string& key,
                                   std::vector<int64_t> fallback) {
  if (!c.Has(key)) return fallback;
  const auto& v = c.json()[key];
  if (!v.is_array() || v.empty() ||
      !std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); }))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': '{}' is not a non-empty list of integers", c.origin(), key));
  return v.template get<std::vector<int64_t>>();
}

namespace {

// Where the weights of one ResNetConvLayer / ResNetShortCut live, in either naming.
struct ConvNames {
  std::string conv;  // "<...>.weight" is the kernel
  std::string norm;  // BatchNorm prefix
};

ConvNames StemNames(ResNetNames n) {
  if (n == ResNetNames::kTimm) return {"conv1", "bn1"};
  return {"embedder.embedder.convolution", "embedder.embedder.normalization"};
}

ConvNames LayerConvNames(ResNetNames n, int64_t stage, int64_t layer, int64_t conv) {
  if (n == ResNetNames::kTimm) {
    const std::string block = fmt::format("layer{}.{}", stage + 1, layer);
    return {fmt::format("{}.conv{}", block, conv + 1), fmt::format("{}.bn{}", block, conv + 1)};
  }
  const std::string base = fmt::format("encoder.stages.{}.layers.{}.layer.{}", stage, layer, conv);
  return {base + ".convolution", base + ".normalization"};
}

ConvNames ShortcutNames(ResNetNames n, int64_t stage, int64_t layer) {
  if (n == ResNetNames::kTimm) {
    const std::string block = fmt::format("layer{}.{}.downsample", stage + 1, layer);
    return {block + ".0", block + ".1"};
  }
  const std::string base = fmt::format("encoder.stages.{}.layers.{}.shortcut", stage, layer);
  return {base + ".convolution", base + ".normalization"};
}

// Conv2d(bias=False, padding=kernel // 2) followed by BatchNorm2d in inference form.
std::string ConvNorm(GraphBuilder& g, const std::string& x, const ConvNames& names, int64_t in,
                     int64_t out, int64_t kernel, int64_t stride, const ResNetOptions& o) {
  const std::string w =
      g.Weight(names.conv + ".weight", {out, in, kernel, kernel}, WeightInit::kNormal);
  const int64_t pad = kernel / 2;
  const std::string y = g.Node("Conv", {x, w},
                               {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
                                {"strides", std::vector<int64_t>{stride, stride}},
                                {"pads", std::vector<int64_t>{pad, pad, pad, pad}}});
  auto affine = [&](const std::string& name, WeightInit init) {
    return o.frozen_batch_norm ? g.Buffer(names.norm + "." + name, {out}, init)
                               : g.Weight(names.norm + "." + name, {out}, init);
  };
  const std::string gamma = affine("weight", WeightInit::kOnes);
  const std::string beta = affine("bias", WeightInit::kZeros);
  const std::string mean = g.Buffer(names.norm + ".running_mean", {out}, WeightInit::kZeros);
  const std::string var = g.Buffer(names.norm + ".running_var", {out}, WeightInit::kOnes);
  return g.Node("BatchNormalization", {y, gamma, beta, mean, var},
                {{"epsilon", static_cast<float>(kTorchNormEps)}});
}

// One ResNetBasicLayer / ResNetBottleNeckLayer. Its inner convolutions use ResNetConvLayer's
// default activation (relu) whatever hidden_act says; hidden_act follows the residual sum.
std::string ResidualLayer(GraphBuilder& g, const ResNetShape& s, const std::string& x,
                          int64_t stage, int64_t layer, int64_t in, int64_t out, int64_t stride,
                          const ResNetOptions& o) {
  std::string residual = x;
  if (in != out || stride != 1)
    residual = ConvNorm(g, x, ShortcutNames(s.names, stage, layer), in, out, 1, stride, o);
  auto names = [&](int64_t conv) { return LayerConvNames(s.names, stage, layer, conv); };
  std::string h;
  if (s.bottleneck) {
    const int64_t reduced = out / 4;
    const bool first_strides = s.downsample_in_bottleneck;
    h = g.Node("Relu", {ConvNorm(g, x, names(0), in, reduced, 1, first_strides ? stride : 1, o)});
    h = g.Node("Relu",
               {ConvNorm(g, h, names(1), reduced, reduced, 3, first_strides ? 1 : stride, o)});
    h = ConvNorm(g, h, names(2), reduced, out, 1, 1, o);
  } else {
    h = g.Node("Relu", {ConvNorm(g, x, names(0), in, out, 3, stride, o)});
    h = ConvNorm(g, h, names(1), out, out, 3, 1, o);
  }
  return Activation(g, g.Node("Add", {h, residual}), s.hidden_act);
}

// The side of a feature map after the stem and stages [0, index): every stride-2 convolution
// or pool here maps n to (n - 1) / 2 + 1 (kernel 1 pad 0, kernel 3 pad 1, kernel 7 pad 3).
int64_t FeatureSide(const ResNetShape& s, int64_t side, int64_t index) {
  auto halve = [](int64_t n) { return (n - 1) / 2 + 1; };
  side = halve(side);  // stem convolution
  if (index == 0 && s.names == ResNetNames::kTimm) return side;
  side = halve(side);  // max pool
  for (int64_t stage = 0; stage < index; ++stage)
    if (stage > 0 || s.downsample_in_first_stage) side = halve(side);
  return side;
}

}  // namespace

ResNetShape ReadResNetShape(const HfConfig& c) {
  ResNetShape s;
  s.num_channels = c.Int("num_channels", s.num_channels);
  s.embedding_size = c.Int("embedding_size", s.embedding_size);
  s.hidden_sizes = ConfigIntList(c, "hidden_sizes", s.hidden_sizes);
  s.depths = ConfigIntList(c, "depths", s.depths);
  const std::string layer_type = c.String("layer_type", "bottleneck");
  if (layer_type != "bottleneck" && layer_type != "basic")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: layer_type={} is not supported (ResNet has basic and bottleneck)",
                            c.origin(), layer_type));
  s.bottleneck = layer_type == "bottleneck";
  s.hidden_act = c.String("hidden_act", s.hidden_act);
  s.downsample_in_first_stage = c.Bool("downsample_in_first_stage", false);
  s.downsample_in_bottleneck = c.Bool("downsample_in_bottleneck", false);
  if (s.hidden_sizes.size() != s.depths.size())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_sizes has {} stages but depths has {}", c.origin(),
                            s.hidden_sizes.size(), s.depths.size()));
  const auto positive = [](int64_t v) { return v > 0; };
  if (s.num_channels <= 0 || s.embedding_size <= 0 ||
      !std::all_of(s.hidden_sizes.begin(), s.hidden_sizes.end(), positive) ||
      !std::all_of(s.depths.begin(), s.depths.end(), positive))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': ResNet sizes must be positive", c.origin()));
  if (s.bottleneck &&
      std::any_of(s.hidden_sizes.begin(), s.hidden_sizes.end(), [](int64_t v) { return v < 4; }))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': a bottleneck stage needs hidden_sizes of at least 4 (it "
                            "reduces by 4)",
                            c.origin()));
  // stage_names are stem, stage1..stageN; a backbone hands on the last selected one.
  const int64_t stages = static_cast<int64_t>(s.depths.size());
  s.out_index = stages;
  if (c.Has("out_features") && c.json()["out_features"].is_array() &&
      !c.json()["out_features"].empty()) {
    const auto& last = c.json()["out_features"].back();
    const std::string name = last.is_string() ? last.get<std::string>() : "";
    int64_t index = -1;
    if (name == "stem") index = 0;
    for (int64_t i = 1; i <= stages; ++i)
      if (name == fmt::format("stage{}", i)) index = i;
    if (index < 0)
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': out_features names '{}', which is not "
                                                   "one of stem, stage1..stage{}",
                                                   c.origin(), last.dump(), stages));
    s.out_index = index;
  } else if (c.Has("out_indices")) {
    int64_t index = ConfigIntList(c, "out_indices", {}).back();
    if (index < 0) index += stages + 1;  // a Python index into stage_names
    if (index < 0 || index > stages)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': out_indices {} is outside stem, stage1..stage{}", c.origin(),
                              c.json()["out_indices"].dump(), stages));
    s.out_index = index;
  }
  return s;
}

ResNetShape TimmResNetShape(const std::string& timm_name, const std::string& origin) {
  // timm's resnets are torchvision's: ResNet v1.5 (stride in the 3x3), no deep stem.
  static const std::map<std::string, std::pair<bool, std::vector<int64_t>>> kKnown = {
      {"resnet18", {false, {2, 2, 2, 2}}},  {"resnet34", {false, {3, 4, 6, 3}}},
      {"resnet50", {true, {3, 4, 6, 3}}},   {"resnet101", {true, {3, 4, 23, 3}}},
      {"resnet152", {true, {3, 8, 36, 3}}},
  };
  const auto it = kKnown.find(timm_name);
  if (it == kKnown.end())
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{}: backbone={} is not supported: of timm's backbones only resnet18, "
                            "resnet34, resnet50, resnet101 and resnet152 are built; use a "
                            "backbone_config with use_timm_backbone=false instead",
                            origin, timm_name));
  ResNetShape s;
  s.bottleneck = it->second.first;
  s.depths = it->second.second;
  s.hidden_sizes = s.bottleneck ? std::vector<int64_t>{256, 512, 1024, 2048}
                                : std::vector<int64_t>{64, 128, 256, 512};
  s.names = ResNetNames::kTimm;
  return s;
}

int64_t ResNetFeatureChannels(const ResNetShape& s, int64_t index) {
  return index == 0 ? s.embedding_size : s.hidden_sizes[index - 1];
}

std::vector<std::string> BuildResNetFeatures(GraphBuilder& g, const ResNetShape& s,
                                             const std::string& pixel_values,
                                             const ResNetOptions& o) {
  const std::string stem_act = Activation(
      g, ConvNorm(g, pixel_values, StemNames(s.names), s.num_channels, s.embedding_size, 7, 2, o),
      s.hidden_act);
  std::string h = g.Node("MaxPool", {stem_act},
                         {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"strides", std::vector<int64_t>{2, 2}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
  std::vector<std::string> features = {s.names == ResNetNames::kTimm ? stem_act : h};
  int64_t in = s.embedding_size;
  for (size_t stage = 0; stage < s.depths.size(); ++stage) {
    const int64_t out = s.hidden_sizes[stage];
    const int64_t stride = stage > 0 || s.downsample_in_first_stage ? 2 : 1;
    for (int64_t layer = 0; layer < s.depths[stage]; ++layer) {
      h = ResidualLayer(g, s, h, static_cast<int64_t>(stage), layer, layer == 0 ? in : out, out,
                        layer == 0 ? stride : 1, o);
    }
    features.push_back(h);
    in = out;
  }
  return features;
}

std::pair<Dim, Dim> ImageDims(const HfConfig& config) {
  if (!config.Has("image_size")) return {Dim{std::string("height")}, Dim{std::string("width")}};
  const int64_t side = config.Int("image_size");
  if (side <= 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': image_size {} must be positive", config.origin(), side));
  return {Dim{side}, Dim{side}};
}

void BuildResNet(const HfConfig& config, GraphBuilder& g) {
  const ResNetShape s = ReadResNetShape(config);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.num_channels, height, width});
  const std::vector<std::string> features = BuildResNetFeatures(g, s, "pixel_values");
  const int64_t last = static_cast<int64_t>(s.depths.size());
  auto side = [&](const Dim& d, const char* name) -> Dim {
    if (const auto* n = std::get_if<int64_t>(&d)) return FeatureSide(s, *n, last);
    return std::string(name);
  };
  const int64_t channels = s.hidden_sizes.back();
  g.Node("Identity", {features.back()}, {}, "last_hidden_state");
  g.Node("GlobalAveragePool", {features.back()}, {}, "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {"batch", channels, side(height, "feature_height"), side(width, "feature_width")});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", channels, 1, 1});
}

}  // namespace ipfs_accel::models
