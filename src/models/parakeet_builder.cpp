#include "parakeet_builder.h"

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conformer_layer.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

constexpr double kNormEps = 1e-5;  // nn.LayerNorm's and nn.BatchNorm1d's default

struct ParakeetShape {
  int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0, conv_kernel = 0;
  int64_t sub_layers = 0, sub_channels = 0, sub_kernel = 0, sub_stride = 0, mel_bins = 0;
  bool bias = true, scale_input = true;
  std::string act;
};

ParakeetShape ReadShape(const HfConfig& c) {
  ParakeetShape s;
  s.hidden = c.Int("hidden_size", 1024);
  s.layers = c.Int("num_hidden_layers", 24);
  s.heads = c.Int("num_attention_heads", 8);
  s.intermediate = c.Int("intermediate_size", 4096);
  s.conv_kernel = c.Int("conv_kernel_size", 9);
  s.sub_channels = c.Int("subsampling_conv_channels", 256);
  s.sub_kernel = c.Int("subsampling_conv_kernel_size", 3);
  s.sub_stride = c.Int("subsampling_conv_stride", 2);
  s.mel_bins = c.Int("num_mel_bins", 80);
  s.bias = c.Bool("attention_bias", true);
  s.scale_input = c.Bool("scale_input", true);
  s.act = c.String("hidden_act", "silu");
  const int64_t factor = c.Int("subsampling_factor", 8);
  while ((int64_t{1} << (s.sub_layers + 1)) <= factor) ++s.sub_layers;  // int(log2(factor))
  if (s.heads <= 0 || s.hidden % s.heads != 0 || (int64_t{1} << s.sub_layers) != factor ||
      s.conv_kernel % 2 == 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} with {} heads, subsampling_factor {} (a power of "
                            "2) and conv_kernel_size {} (odd) do not fit",
                            c.origin(), s.hidden, s.heads, factor, s.conv_kernel));
  return s;
}

// Conv2d `name` over [batch, in, frames, mel] with `groups`, square kernel and stride.
std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& name, int64_t in,
                   int64_t out, int64_t kernel, int64_t stride, int64_t groups) {
  const int64_t pad = (kernel - 1) / 2;
  return g.Node(
      "Conv",
      {x, g.Weight(name + ".weight", {out, in / groups, kernel, kernel}, WeightInit::kNormal),
       g.Weight(name + ".bias", {out}, WeightInit::kZeros)},
      {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
       {"strides", std::vector<int64_t>{stride, stride}},
       {"pads", std::vector<int64_t>{pad, pad, pad, pad}},
       {"group", groups}});
}

// ParakeetEncoderSubsamplingConv2D: [batch, frames, mel] -> [batch, frames', hidden]. The module
// list is conv, ReLU, then (depthwise, pointwise, ReLU) pairs: weights at indices 0, 2, 3, 5, 6...
std::string Subsampling(GraphBuilder& g, const ParakeetShape& s, const std::string& features) {
  const int64_t c = s.sub_channels;
  std::string h = g.Node("Unsqueeze", {features, g.ConstInt64({1})});
  h = g.Node("Relu", {Conv2d(g, h, "subsampling.layers.0", 1, c, s.sub_kernel, s.sub_stride, 1)});
  int64_t mel = s.mel_bins / s.sub_stride;
  for (int64_t i = 1; i < s.sub_layers; ++i) {
    const int64_t at = 3 * i - 1;
    h = Conv2d(g, h, fmt::format("subsampling.layers.{}", at), c, c, s.sub_kernel, s.sub_stride, c);
    h = g.Node("Relu", {Conv2d(g, h, fmt::format("subsampling.layers.{}", at + 1), c, c, 1, 1, 1)});
    mel /= s.sub_stride;
  }
  // [b, c, t, f] -> [b, t, c * f]
  h = g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  h = g.Node("Reshape", {h, g.ConstInt64({0, 0, c * mel})});
  return g.Linear(h, "subsampling.linear", c * mel, s.hidden);
}

std::string FeedForward(GraphBuilder& g, const ParakeetShape& s, const std::string& x,
                        const std::string& prefix) {
  const std::string mid =
      Activation(g, g.Linear(x, prefix + ".linear1", s.hidden, s.intermediate, s.bias), s.act);
  return g.Linear(mid, prefix + ".linear2", s.intermediate, s.hidden, s.bias);
}

// ParakeetEncoderConvolutionModule on [batch, frames, hidden].
std::string ConvModule(GraphBuilder& g, const ParakeetShape& s, const std::string& x,
                       const std::string& prefix) {
  const int64_t h = s.hidden, k = s.conv_kernel;
  auto conv = [&](const std::string& in, const std::string& name, int64_t out, int64_t kernel,
                  int64_t groups) {
    const std::string p = prefix + "." + name;
    return g.Node("Conv",
                  {in, g.Weight(p + ".weight", {out, h / groups, kernel}, WeightInit::kNormal),
                   g.Weight(p + ".bias", {out}, WeightInit::kZeros)},
                  {{"kernel_shape", std::vector<int64_t>{kernel}},
                   {"pads", std::vector<int64_t>{(kernel - 1) / 2, (kernel - 1) / 2}},
                   {"group", groups}});
  };
  std::string y = g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const auto halves =
      g.NodeN("Split", {conv(y, "pointwise_conv1", 2 * h, 1, 1)}, 2, {{"axis", int64_t{1}}});
  y = g.Node("Mul", {halves[0], g.Node("Sigmoid", {halves[1]})});  // GLU over channels
  y = g.BatchNorm(conv(y, "depthwise_conv", h, k, h), prefix + ".norm", h, kNormEps);
  y = conv(Activation(g, y, s.act), "pointwise_conv2", h, 1, 1);
  return g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// x + 0.5 * feed_forward(norm(x)).
std::string HalfStep(GraphBuilder& g, const ParakeetShape& s, const std::string& x,
                     const std::string& layer, const char* name) {
  const std::string normed =
      g.LayerNorm(x, fmt::format("{}.norm_{}", layer, name), s.hidden, kNormEps);
  const std::string y = FeedForward(g, s, normed, layer + "." + name);
  return g.Node("Add", {x, g.Node("Mul", {y, g.ConstFloat(0.5f)})});
}

std::string Block(GraphBuilder& g, const ParakeetShape& s, std::string h, int64_t index,
                  const std::string& positions) {
  const std::string layer = fmt::format("layers.{}", index);
  h = HalfStep(g, s, h, layer, "feed_forward1");
  RelativeAttentionNames names;
  names.q = "q_proj";
  names.k = "k_proj";
  names.v = "v_proj";
  names.out = "o_proj";
  names.pos = "relative_k_proj";
  names.bias_u = "bias_u";
  names.bias_v = "bias_v";
  names.bias = s.bias;
  const std::string normed = g.LayerNorm(h, layer + ".norm_self_att", s.hidden, kNormEps);
  h = g.Node("Add", {h, RelativeSelfAttention(g, s.hidden, s.heads, normed, layer + ".self_attn.",
                                              "", positions, names)});
  const std::string conv_in = g.LayerNorm(h, layer + ".norm_conv", s.hidden, kNormEps);
  h = g.Node("Add", {h, ConvModule(g, s, conv_in, layer + ".conv")});
  h = HalfStep(g, s, h, layer, "feed_forward2");
  return g.LayerNorm(h, layer + ".norm_out", s.hidden, kNormEps);
}

// The encoder on input_features; returns [batch, frames', hidden].
std::string Encoder(GraphBuilder& g, const ParakeetShape& s) {
  std::string h = Subsampling(g, s, "input_features");
  if (s.scale_input)
    h = g.Node("Mul",
               {h, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.hidden))))});
  const std::string positions = ConformerRelativePositions(g, s.hidden, h);
  for (int64_t i = 0; i < s.layers; ++i) h = Block(g, s, h, i, positions);
  return h;
}

void DeclareFeatures(GraphBuilder& g, const ParakeetShape& s) {
  g.Input("input_features", onnx::TensorProto::FLOAT,
          {std::string("batch"), std::string("frames"), s.mel_bins});
}

}  // namespace

void BuildParakeetEncoder(const HfConfig& config, GraphBuilder& g) {
  const ParakeetShape s = ReadShape(config);
  DeclareFeatures(g, s);
  g.Node("Identity", {Encoder(g, s)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string("encoder_frames"), s.hidden});
}

void BuildParakeetCtc(const HfConfig& config, GraphBuilder& g) {
  const nlohmann::json sub = config.json().value("encoder_config", nlohmann::json::object());
  const HfConfig encoder_config(sub.is_object() ? sub : nlohmann::json::object(),
                                config.origin() + ":encoder_config");
  const ParakeetShape s = ReadShape(encoder_config);
  const int64_t vocab = config.Int("vocab_size", 1025);
  DeclareFeatures(g, s);
  std::string hidden;
  {
    WeightScope scope(g, "encoder.");
    hidden = Encoder(g, s);
  }
  // ctc_head: Conv1d(hidden, vocab, 1), a per-frame linear.
  const std::string kernel =
      g.Node("Reshape", {g.Weight("ctc_head.weight", {vocab, s.hidden, 1}, WeightInit::kNormal),
                         g.ConstInt64({vocab, s.hidden})});
  const std::string logits =
      g.Node("Add", {g.Node("MatMul", {hidden, g.Node("Transpose", {kernel},
                                                      {{"perm", std::vector<int64_t>{1, 0}}})}),
                     g.Weight("ctc_head.bias", {vocab}, WeightInit::kZeros)});
  g.Node("Identity", {logits}, {}, "logits");
  g.Output("logits", onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string("encoder_frames"), vocab});
}

}  // namespace ipfs_accel::models
