#include "conv2d.h"

#include "activation.h"

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

}  // namespace ipfs_accel::models
