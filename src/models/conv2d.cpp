#include "conv2d.h"

#include <algorithm>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& prefix,
                   const Conv2dSpec& s) {
  std::vector<std::string> inputs = {
      x, g.Weight(prefix + ".weight", {s.out, s.in / s.groups, s.kernel, s.kernel},
                  WeightInit::kNormal)};
  if (s.bias) inputs.push_back(g.Weight(prefix + ".bias", {s.out}, WeightInit::kZeros));
  std::vector<Attr> attrs = {{"kernel_shape", std::vector<int64_t>{s.kernel, s.kernel}},
                             {"strides", std::vector<int64_t>{s.stride, s.stride}},
                             {"pads", s.pads},
                             {"group", s.groups}};
  if (s.dilation != 1) attrs.push_back({"dilations", std::vector<int64_t>{s.dilation, s.dilation}});
  return g.Node("Conv", inputs, attrs);
}

std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                   int64_t out, int64_t kernel, int64_t stride, int64_t pad, int64_t groups) {
  return Conv2d(g, x, prefix,
                Conv2dSpec{.in = in,
                           .out = out,
                           .kernel = kernel,
                           .stride = stride,
                           .pads = {pad, pad, pad, pad},
                           .groups = groups});
}

std::string ConvNormAct(GraphBuilder& g, const std::string& x, const std::string& prefix,
                        Conv2dSpec spec, double eps, const std::string& act) {
  spec.bias = false;
  const std::string y = Conv2d(g, x, prefix + ".convolution", spec);
  const std::string n = prefix + ".normalization.";
  const int64_t out = spec.out;
  const std::string normed = g.Node("BatchNormalization",
                                    {y, g.Weight(n + "weight", {out}, WeightInit::kOnes),
                                     g.Weight(n + "bias", {out}, WeightInit::kZeros),
                                     g.Buffer(n + "running_mean", {out}, WeightInit::kZeros),
                                     g.Buffer(n + "running_var", {out}, WeightInit::kOnes)},
                                    {{"epsilon", static_cast<float>(eps)}});
  if (act.empty()) return normed;
  if (act == "relu6") return g.Node("Clip", {normed, g.ConstFloat(0.0f), g.ConstFloat(6.0f)});
  return Activation(g, normed, act);
}

void FeatureMapOutputs(GraphBuilder& g, const std::string& x, int64_t channels, const Dim& height,
                       const Dim& width) {
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Node("GlobalAveragePool", {x}, {}, "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", channels, height, width});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", channels, 1, 1});
}

std::string SqueezeExcitation(GraphBuilder& g, const std::string& x, const std::string& reduce,
                              const std::string& expand, int64_t dim, int64_t squeezed,
                              const std::string& act, const std::string& gate) {
  std::string h = g.Node("GlobalAveragePool", {x});
  h = Activation(g, Conv2d(g, h, reduce, dim, squeezed, 1, 1, 0), act);
  h = Conv2d(g, h, expand, squeezed, dim, 1, 1, 0);
  h = gate == "hardsigmoid" ? g.Node("HardSigmoid", {h}, {{"alpha", 1.0f / 6.0f}, {"beta", 0.5f}})
                            : g.Node("Sigmoid", {h});
  return g.Node("Mul", {x, h});
}

std::string LearnableAffine(GraphBuilder& g, const std::string& x, const std::string& prefix) {
  const std::string y = g.Node("Mul", {x, g.Weight(prefix + ".scale", {1}, WeightInit::kOnes)});
  return g.Node("Add", {y, g.Weight(prefix + ".bias", {1}, WeightInit::kZeros)});
}

int64_t MakeDivisible(double value, int64_t divisor, int64_t min_value) {
  int64_t v = std::max(min_value, static_cast<int64_t>(value + static_cast<double>(divisor) / 2) /
                                      divisor * divisor);
  if (static_cast<double>(v) < 0.9 * value) v += divisor;
  return v;
}

std::vector<int64_t> BackboneOutIndices(const HfConfig& c, int64_t stages) {
  auto corrupt = [&](const std::string& what) {
    return core::Error(
        core::ErrorKind::kCorrupt,
        fmt::format("'{}': {} is not one of stem, stage1..stage{}", c.origin(), what, stages));
  };
  std::vector<int64_t> out;
  if (c.Has("out_features") && c.json()["out_features"].is_array() &&
      !c.json()["out_features"].empty()) {
    for (const auto& name : c.json()["out_features"]) {
      const std::string s = name.is_string() ? name.get<std::string>() : name.dump();
      int64_t index = s == "stem" ? 0 : -1;
      for (int64_t i = 1; i <= stages; ++i)
        if (s == fmt::format("stage{}", i)) index = i;
      if (index < 0) throw corrupt(fmt::format("out_features '{}'", s));
      out.push_back(index);
    }
    return out;
  }
  if (c.Has("out_indices") && c.json()["out_indices"].is_array() &&
      !c.json()["out_indices"].empty()) {
    for (const auto& v : c.json()["out_indices"]) {
      int64_t index = v.is_number_integer() ? v.get<int64_t>() : stages + 1;
      if (index < 0) index += stages + 1;  // a Python index into stage_names
      if (index < 0 || index > stages) throw corrupt(fmt::format("out_indices {}", v.dump()));
      out.push_back(index);
    }
    return out;
  }
  return {stages};
}

void BackboneOutputs(GraphBuilder& g, const HfConfig& config,
                     const std::vector<FeatureMap>& states) {
  const auto indices = BackboneOutIndices(config, static_cast<int64_t>(states.size()) - 1);
  for (size_t k = 0; k < indices.size(); ++k) {
    const FeatureMap& m = states[static_cast<size_t>(indices[k])];
    const std::string name = fmt::format("feature_maps.{}", k);
    g.Node("Identity", {m.x}, {}, name);
    g.Output(name, onnx::TensorProto::FLOAT, {"batch", m.channels, m.height, m.width});
  }
}

std::string ToChannelsLast(GraphBuilder& g, const std::string& x) {
  return g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});
}

std::string ToChannelsFirst(GraphBuilder& g, const std::string& x) {
  return g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 3, 1, 2}}});
}

std::string ChannelsFirstNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                              int64_t channels, double eps) {
  return ToChannelsFirst(g, g.LayerNorm(ToChannelsLast(g, x), prefix, channels, eps));
}

}  // namespace ipfs_accel::models
