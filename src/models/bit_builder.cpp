#include "bit_builder.h"

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

constexpr double kStandardizeEps = 1e-8;  // every WeightStandardizedConv2d of BitModel

struct BitShape {
  int64_t channels = 3, embedding = 64, groups = 32, output_stride = 32;
  std::vector<int64_t> hidden = {256, 512, 1024, 2048}, depths = {3, 4, 6, 3};
  bool preactivation = true;  // layer_type "preactivation"; false: "bottleneck"
  std::string act = "relu";
};

[[noreturn]] void Refuse(const HfConfig& c, ErrorKind kind, const std::string& what) {
  throw Error(kind, fmt::format("'{}': {}", c.origin(), what));
}

void CheckUnbuiltOptions(const HfConfig& c) {
  if (c.Has("global_padding") && !c.json()["global_padding"].is_null())
    Refuse(c, ErrorKind::kUnsupported, "global_padding (TF 'SAME' dynamic padding) is not built");
  if (c.Bool("embedding_dynamic_padding", false))
    Refuse(c, ErrorKind::kUnsupported, "embedding_dynamic_padding is not built");
  if (c.Int("width_factor", 1) != 1)
    Refuse(c, ErrorKind::kUnsupported, "width_factor other than 1 is not built");
}

BitShape ReadBitShape(const HfConfig& c) {
  CheckUnbuiltOptions(c);
  BitShape s;
  s.channels = c.Int("num_channels", s.channels);
  s.embedding = c.Int("embedding_size", s.embedding);
  s.groups = c.Int("num_groups", s.groups);
  s.output_stride = c.Int("output_stride", s.output_stride);
  s.hidden = ConfigIntList(c, "hidden_sizes", s.hidden);
  s.depths = ConfigIntList(c, "depths", s.depths);
  s.act = c.String("hidden_act", s.act);
  const std::string type = c.String("layer_type", "preactivation");
  if (type != "preactivation" && type != "bottleneck")
    Refuse(c, ErrorKind::kUnsupported, fmt::format("layer_type '{}' is not built", type));
  s.preactivation = type == "preactivation";
  const auto positive = [](int64_t v) { return v > 0; };
  if (std::min({s.channels, s.embedding, s.groups, s.output_stride}) <= 0 ||
      s.hidden.size() != s.depths.size() ||
      !std::all_of(s.hidden.begin(), s.hidden.end(), positive) ||
      !std::all_of(s.depths.begin(), s.depths.end(), positive))
    Refuse(c, ErrorKind::kCorrupt, "BiT sizes must be positive, hidden_sizes and depths alike");
  for (const int64_t h : s.hidden)
    if (h % s.groups != 0 || MakeDivisible(0.25 * static_cast<double>(h), 8, 8) % s.groups != 0)
      Refuse(c, ErrorKind::kCorrupt,
             fmt::format("hidden size {} or its bottleneck is not a multiple of num_groups {}", h,
                         s.groups));
  if (!s.preactivation && s.embedding % s.groups != 0)
    Refuse(c, ErrorKind::kCorrupt, "embedding_size is not a multiple of num_groups");
  return s;
}

// nn.GroupNorm(groups, c) on [b, c, h, w] (opset 17 has no GroupNormalization), then `act`
// ("" for none).
std::string GroupNormAct(GraphBuilder& g, const BitShape& s, const std::string& x,
                         const std::string& prefix, int64_t c, bool activate) {
  const std::vector<Attr> over_group = {{"axes", std::vector<int64_t>{2}},
                                        {"keepdims", int64_t{1}}};
  const std::string grouped = g.Node("Reshape", {x, g.ConstInt64({0, s.groups, -1})});
  const std::string centred = g.Node("Sub", {grouped, g.Node("ReduceMean", {grouped}, over_group)});
  const std::string var = g.Node("ReduceMean", {g.Node("Mul", {centred, centred})}, over_group);
  std::string y =
      g.Node("Div", {centred, g.Node("Sqrt", {g.Node("Add", {var, g.ConstFloat(kTorchNormEps)})})});
  y = g.Node("Reshape", {y, g.Node("Shape", {x})});
  const auto per_channel = [&](const char* name, WeightInit init) {
    return g.Node("Reshape", {g.Weight(prefix + name, {c}, init), g.ConstInt64({c, 1, 1})});
  };
  y = g.Node("Add", {g.Node("Mul", {y, per_channel(".weight", WeightInit::kOnes)}),
                     per_channel(".bias", WeightInit::kZeros)});
  return activate ? Activation(g, y, s.act) : y;
}

std::string BitConv(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                    int64_t out, int64_t kernel, int64_t stride = 1) {
  return WeightStandardizedConv2d(g, x, prefix, in, out, kernel, stride, kStandardizeEps);
}

// BitPreActivationBottleneckLayer / BitBottleneckLayer under `p`; `project`: the stage's first.
std::string Layer(GraphBuilder& g, const BitShape& s, const std::string& x, const std::string& p,
                  int64_t in, int64_t out, int64_t stride, bool project) {
  const int64_t mid = MakeDivisible(0.25 * static_cast<double>(out), 8, 8);
  if (s.preactivation) {
    const std::string pre = GroupNormAct(g, s, x, p + "norm1", in, true);
    const std::string shortcut =
        project ? BitConv(g, pre, p + "downsample.conv", in, out, 1, stride) : x;
    std::string y = BitConv(g, pre, p + "conv1", in, mid, 1);
    y = BitConv(g, GroupNormAct(g, s, y, p + "norm2", mid, true), p + "conv2", mid, mid, 3, stride);
    y = BitConv(g, GroupNormAct(g, s, y, p + "norm3", mid, true), p + "conv3", mid, out, 1);
    return g.Node("Add", {y, shortcut});
  }
  std::string shortcut = x;
  if (project)
    shortcut = GroupNormAct(g, s, BitConv(g, x, p + "downsample.conv", in, out, 1, stride),
                            p + "downsample.norm", out, false);
  std::string y =
      GroupNormAct(g, s, BitConv(g, x, p + "conv1", in, mid, 1), p + "norm1", mid, true);
  y = GroupNormAct(g, s, BitConv(g, y, p + "conv2", mid, mid, 3, stride), p + "norm2", mid, true);
  y = GroupNormAct(g, s, BitConv(g, y, p + "conv3", mid, out, 1), p + "norm3", out, false);
  return Activation(g, g.Node("Add", {y, shortcut}), s.act);
}

// BitEmbeddings without global_padding: conv (padding 3), zero pad 1, [norm], 3x3/2 max pool.
std::string Stem(GraphBuilder& g, const BitShape& s) {
  std::string x = BitConv(g, "pixel_values", "embedder.convolution", s.channels, s.embedding, 7, 2);
  x = g.Node("Pad", {x, g.ConstInt64({0, 0, 1, 1, 0, 0, 1, 1})});
  if (!s.preactivation) x = GroupNormAct(g, s, x, "embedder.norm", s.embedding, true);
  return g.Node(
      "MaxPool", {x},
      {{"kernel_shape", std::vector<int64_t>{3, 3}}, {"strides", std::vector<int64_t>{2, 2}}});
}

}  // namespace

std::string WeightStandardizedConv2d(GraphBuilder& g, const std::string& x,
                                     const std::string& prefix, int64_t in, int64_t out,
                                     int64_t kernel, int64_t stride, double eps) {
  const std::string w =
      g.Weight(prefix + ".weight", {out, in, kernel, kernel}, WeightInit::kNormal);
  const std::vector<Attr> per_out = {{"axes", std::vector<int64_t>{1, 2, 3}},
                                     {"keepdims", int64_t{1}}};
  const std::string centred = g.Node("Sub", {w, g.Node("ReduceMean", {w}, per_out)});
  const std::string var = g.Node("ReduceMean", {g.Node("Mul", {centred, centred})}, per_out);
  const std::string standardized = g.Node(
      "Div",
      {centred, g.Node("Sqrt", {g.Node("Add", {var, g.ConstFloat(static_cast<float>(eps))})})});
  const int64_t pad = ((stride - 1) + (kernel - 1)) / 2;  // get_padding_value(None, ...)
  return g.Node("Conv", {x, standardized},
                {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
                 {"strides", std::vector<int64_t>{stride, stride}},
                 {"pads", std::vector<int64_t>{pad, pad, pad, pad}}});
}

void BuildBit(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    Refuse(config, ErrorKind::kCorrupt,
           fmt::format("the bit builder takes no pieces, not {}", pieces.dump()));
  const BitShape s = ReadBitShape(config);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, height, width});
  std::string x = Stem(g, s);
  int64_t in = s.embedding, current_stride = 4, halvings = 0;
  for (size_t i = 0; i < s.depths.size(); ++i) {
    int64_t stride = i == 0 ? 1 : 2;
    // BitEncoder dilates instead of striding past output_stride; only the bottleneck layer
    // dilates its 3x3, the pre-activation one just drops the stride.
    if (current_stride >= s.output_stride) {
      if (!s.preactivation && stride == 2)
        Refuse(config, ErrorKind::kUnsupported, "a dilated bottleneck stage is not built");
      stride = 1;
    }
    current_stride *= stride;
    halvings += stride == 2 ? 1 : 0;
    for (int64_t j = 0; j < s.depths[i]; ++j)
      x = Layer(g, s, x, fmt::format("encoder.stages.{}.layers.{}.", i, j),
                j == 0 ? in : s.hidden[i], s.hidden[i], j == 0 ? stride : 1, j == 0);
    in = s.hidden[i];
  }
  if (s.preactivation) x = GroupNormAct(g, s, x, "norm", in, true);
  auto side = [&](const Dim& d, const char* name) -> Dim {
    const auto* n = std::get_if<int64_t>(&d);
    if (!n) return std::string(name);
    int64_t v = (*n - 1) / 2 + 1 + 2;  // the stem's conv, then the zero padding
    v = (v - 3) / 2 + 1;               // the max pool
    for (int64_t k = 0; k < halvings; ++k) v = (v - 1) / 2 + 1;  // 3x3 padded 1, stride 2
    return v;
  };
  FeatureMapOutputs(g, x, in, side(height, "feature_height"), side(width, "feature_width"));
}

}  // namespace ipfs_accel::models
