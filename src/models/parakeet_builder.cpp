#include "parakeet_builder.h"

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "conformer_layer.h"
#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "piece_choice.h"
#include "rotary.h"
#include "seq2seq_attention.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct ParakeetShape {
  int64_t hidden = 0, layers = 0, heads = 0, intermediate = 0, conv_kernel = 0;
  int64_t sub_layers = 0, sub_channels = 0, sub_kernel = 0, sub_stride = 0, mel_bins = 0;
  bool bias = true, scale_input = true, conv_bias = true;
  std::string act;
  // Piece layout "lasr" (LasrEncoder): a dense + Conv1d subsampler, rotary LLaMA attention,
  // bias-free LayerNorms of layer_norm_eps, weighted residuals, out_norm.
  bool lasr = false;
  double eps = kTorchNormEps;
  double ff_residual = 1.0, ff_branch = 0.5, conv_residual = 1.0, conv_branch = 1.0;
  RopeSpec rope;
};

// LASR's feed_forward_residual_weights / conv_residual_weights: [residual, branch].
void ReadResidualWeights(const HfConfig& c, const std::string& key, std::vector<double> fallback,
                         double& residual, double& branch) {
  const nlohmann::json v = c.json().value(key, nlohmann::json(fallback));
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} must be two numbers, not {}", c.origin(), key, v.dump()));
  residual = v[0].get<double>();
  branch = v[1].get<double>();
}

void ReadLasr(const HfConfig& c, ParakeetShape& s) {
  s.eps = c.Double("layer_norm_eps", 1e-6);
  s.scale_input = false;
  ReadResidualWeights(c, "feed_forward_residual_weights", {1.5, 0.5}, s.ff_residual, s.ff_branch);
  ReadResidualWeights(c, "conv_residual_weights", {2.0, 1.0}, s.conv_residual, s.conv_branch);
  s.rope = ReadRope(c, s.hidden / s.heads, c.Int("max_position_embeddings", 10000));
}

// `layout`: the template's piece (the CTC model's encoder sub-config carries no pieces).
ParakeetShape ReadParakeetShape(const HfConfig& c, bool lasr) {
  // ParakeetEncoderConfig's and LasrEncoderConfig's defaults (the CTC configs' encoder_config may
  // be null).
  struct Defaults {
    int64_t hidden, layers, intermediate, conv_kernel, sub_kernel, mel_bins;
    bool bias;
  };
  const Defaults d =
      lasr ? Defaults{512, 17, 2048, 32, 5, 128, false} : Defaults{1024, 24, 4096, 9, 3, 80, true};
  ParakeetShape s;
  s.lasr = lasr;
  s.hidden = c.Int("hidden_size", d.hidden);
  s.layers = c.Int("num_hidden_layers", d.layers);
  s.heads = c.Int("num_attention_heads", 8);
  s.intermediate = c.Int("intermediate_size", d.intermediate);
  s.conv_kernel = c.Int("conv_kernel_size", d.conv_kernel);
  s.sub_channels = c.Int("subsampling_conv_channels", 256);
  s.sub_kernel = c.Int("subsampling_conv_kernel_size", d.sub_kernel);
  s.sub_stride = c.Int("subsampling_conv_stride", 2);
  s.mel_bins = c.Int("num_mel_bins", d.mel_bins);
  s.bias = c.Bool("attention_bias", d.bias);
  s.conv_bias = c.Bool("convolution_bias", d.bias);
  s.scale_input = c.Bool("scale_input", true);
  s.act = c.String("hidden_act", "silu");
  const int64_t factor = lasr ? 4 : c.Int("subsampling_factor", 8);
  while ((int64_t{1} << (s.sub_layers + 1)) <= factor) ++s.sub_layers;  // int(log2(factor))
  if (s.heads <= 0 || s.hidden % s.heads != 0 || (int64_t{1} << s.sub_layers) != factor)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} with {} heads and subsampling_factor {} (a "
                            "power of 2) do not fit",
                            c.origin(), s.hidden, s.heads, factor));
  if (lasr) ReadLasr(c, s);
  return s;
}

bool LasrLayout(const HfConfig& c) {
  return PieceChoice(c, "layout", "parakeet", {"parakeet", "lasr"}) == 1;
}

// The block's LayerNorms: nn.LayerNorm (Parakeet), bias-free of layer_norm_eps (LASR).
std::string Norm(GraphBuilder& g, const ParakeetShape& s, const std::string& x,
                 const std::string& prefix) {
  if (!s.lasr) return g.LayerNorm(x, prefix, s.hidden, s.eps);
  return g.Node("LayerNormalization",
                {x, g.Weight(prefix + ".weight", {s.hidden}, WeightInit::kOnes)},
                {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(s.eps)}});
}

// Conv2d `name` over [batch, in, frames, mel] with `groups`, square kernel and stride, padded
// to keep the size (nn.Conv2d with padding=(kernel - 1) // 2).
std::string SamePaddedConv2d(GraphBuilder& g, const std::string& x, const std::string& name,
                             int64_t in, int64_t out, int64_t kernel, int64_t stride,
                             int64_t groups) {
  return Conv2d(g, x, name, in, out, kernel, stride, (kernel - 1) / 2, groups);
}

// LasrEncoderSubsampling: dense_0, two unpadded strided Conv1d, dense_1, ReLUs between.
std::string LasrSubsampling(GraphBuilder& g, const ParakeetShape& s, const std::string& features) {
  const std::string p = "subsampler.";
  std::string h = g.Node("Relu", {g.Linear(features, p + "dense_0", s.mel_bins, s.hidden)});
  h = g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  auto conv = [&](const std::string& x, const char* name, int64_t in, int64_t out) {
    return g.Node(
        "Relu",
        {g.Node("Conv",
                {x, g.Weight(p + name + ".weight", {out, in, s.sub_kernel}, WeightInit::kNormal),
                 g.Weight(p + name + ".bias", {out}, WeightInit::kZeros)},
                {{"kernel_shape", std::vector<int64_t>{s.sub_kernel}},
                 {"strides", std::vector<int64_t>{s.sub_stride}}})});
  };
  h = conv(conv(h, "conv_0", s.hidden, s.hidden), "conv_1", s.hidden, s.sub_channels);
  h = g.Node("Transpose", {h}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  return g.Linear(h, p + "dense_1", s.sub_channels, s.hidden);
}

// ParakeetEncoderSubsamplingConv2D: [batch, frames, mel] -> [batch, frames', hidden]. The module
// list is conv, ReLU, then (depthwise, pointwise, ReLU) pairs: weights at indices 0, 2, 3, 5, 6...
std::string Subsampling(GraphBuilder& g, const ParakeetShape& s, const std::string& features) {
  const int64_t c = s.sub_channels;
  std::string h = g.Node("Unsqueeze", {features, g.ConstInt64({1})});
  h = g.Node("Relu",
             {SamePaddedConv2d(g, h, "subsampling.layers.0", 1, c, s.sub_kernel, s.sub_stride, 1)});
  int64_t mel = s.mel_bins / s.sub_stride;
  for (int64_t i = 1; i < s.sub_layers; ++i) {
    const int64_t at = 3 * i - 1;
    h = SamePaddedConv2d(g, h, fmt::format("subsampling.layers.{}", at), c, c, s.sub_kernel,
                         s.sub_stride, c);
    h = g.Node("Relu", {SamePaddedConv2d(g, h, fmt::format("subsampling.layers.{}", at + 1), c, c,
                                         1, 1, 1)});
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
    std::vector<std::string> inputs = {
        in, g.Weight(p + ".weight", {out, h / groups, kernel}, WeightInit::kNormal)};
    if (s.conv_bias) inputs.push_back(g.Weight(p + ".bias", {out}, WeightInit::kZeros));
    const int64_t left = (kernel - 1) / 2;  // "same": an even kernel's extra pad on the right
    return g.Node("Conv", inputs,
                  {{"kernel_shape", std::vector<int64_t>{kernel}},
                   {"pads", std::vector<int64_t>{left, kernel - 1 - left}},
                   {"group", groups}});
  };
  std::string y = g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const auto halves =
      g.NodeN("Split", {conv(y, "pointwise_conv1", 2 * h, 1, 1)}, 2, {{"axis", int64_t{1}}});
  y = g.Node("Mul", {halves[0], g.Node("Sigmoid", {halves[1]})});  // GLU over channels
  y = g.BatchNorm(conv(y, "depthwise_conv", h, k, h), prefix + ".norm", h, kTorchNormEps);
  y = conv(Activation(g, y, s.act), "pointwise_conv2", h, 1, 1);
  return g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

// a x + b y, the weighted residual (Parakeet's a is 1).
std::string Weighted(GraphBuilder& g, const std::string& x, double a, const std::string& y,
                     double b) {
  const std::string scaled_x =
      a == 1.0 ? x : g.Node("Mul", {x, g.ConstFloat(static_cast<float>(a))});
  return g.Node("Add", {scaled_x, g.Node("Mul", {y, g.ConstFloat(static_cast<float>(b))})});
}

// residual x weighted with feed_forward(norm(x)): x + 0.5 y (Parakeet), 1.5 x + 0.5 y (LASR).
std::string HalfStep(GraphBuilder& g, const ParakeetShape& s, const std::string& x,
                     const std::string& layer, const char* name) {
  const std::string normed = Norm(g, s, x, fmt::format("{}.norm_{}", layer, name));
  const std::string y = FeedForward(g, s, normed, layer + "." + name);
  return Weighted(g, x, s.ff_residual, y, s.ff_branch);
}

// LasrEncoderAttention: LLaMA's q/k/v/o_proj with rotate-half rope, unmasked.
std::string RotaryAttention(GraphBuilder& g, const ParakeetShape& s, const std::string& x,
                            const std::string& prefix, const RopeTables& rope) {
  const int64_t head = s.hidden / s.heads;
  auto project = [&](const char* name, bool rotate) {
    const std::string y =
        SplitHeads(g, g.Linear(x, prefix + name, s.hidden, s.hidden, s.bias), s.heads, head);
    return rotate ? ApplyRope(g, y, rope, s.rope.rotary_dim, head) : y;
  };
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head)));
  const std::string ctx = Attend(g, project("q_proj", true), project("k_proj", true),
                                 project("v_proj", false), scale, "");
  return g.Linear(MergeHeads(g, ctx, s.hidden), prefix + "o_proj", s.hidden, s.hidden, s.bias);
}

// Positions: Parakeet's relative sinusoids, or LASR's rope tables.
struct BlockPositions {
  std::string relative;
  RopeTables rope;
};

std::string Block(GraphBuilder& g, const ParakeetShape& s, std::string h, int64_t index,
                  const BlockPositions& positions) {
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
  const std::string normed = Norm(g, s, h, layer + ".norm_self_att");
  const std::string attn = layer + ".self_attn.";
  h = g.Node("Add", {h, s.lasr ? RotaryAttention(g, s, normed, attn, positions.rope)
                               : RelativeSelfAttention(g, s.hidden, s.heads, normed, attn, "",
                                                       positions.relative, names)});
  const std::string conv = ConvModule(g, s, Norm(g, s, h, layer + ".norm_conv"), layer + ".conv");
  h = Weighted(g, h, s.conv_residual, conv, s.conv_branch);
  h = HalfStep(g, s, h, layer, "feed_forward2");
  return Norm(g, s, h, layer + ".norm_out");
}

// The encoder on input_features; returns [batch, frames', hidden].
std::string Encoder(GraphBuilder& g, const ParakeetShape& s) {
  if (s.lasr) {
    std::string h = LasrSubsampling(g, s, "input_features");
    const std::string positions = g.Node(
        "Unsqueeze", {PositionRange(g, g.ConstInt64({0}), AxisLength(g, h, 1)), g.ConstInt64({0})});
    BlockPositions p;
    p.rope = RopeCosSin(g, s.rope, positions);
    for (int64_t i = 0; i < s.layers; ++i) h = Block(g, s, h, i, p);
    return Norm(g, s, h, "out_norm");
  }
  std::string h = Subsampling(g, s, "input_features");
  if (s.scale_input)
    h = g.Node("Mul",
               {h, g.ConstFloat(static_cast<float>(std::sqrt(static_cast<double>(s.hidden))))});
  BlockPositions p;
  p.relative = ConformerRelativePositions(g, s.hidden, h);
  for (int64_t i = 0; i < s.layers; ++i) h = Block(g, s, h, i, p);
  return h;
}

void DeclareFeatures(GraphBuilder& g, const ParakeetShape& s) {
  g.Input("input_features", onnx::TensorProto::FLOAT,
          {std::string("batch"), std::string("frames"), s.mel_bins});
}

}  // namespace

void BuildParakeetEncoder(const HfConfig& config, GraphBuilder& g) {
  const ParakeetShape s = ReadParakeetShape(config, LasrLayout(config));
  DeclareFeatures(g, s);
  g.Node("Identity", {Encoder(g, s)}, {}, "last_hidden_state");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string("encoder_frames"), s.hidden});
}

void BuildParakeetCtc(const HfConfig& config, GraphBuilder& g) {
  const nlohmann::json sub = config.json().value("encoder_config", nlohmann::json::object());
  const HfConfig encoder_config(sub.is_object() ? sub : nlohmann::json::object(),
                                config.origin() + ":encoder_config");
  const ParakeetShape s = ReadParakeetShape(encoder_config, LasrLayout(config));
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
