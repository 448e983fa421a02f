#include "conformer_layer.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "seq2seq_attention.h"

namespace ipfs_accel::models {

namespace {

// nn.LayerNorm's default eps: the conformer layer's norms do not take config.layer_norm_eps.

// The [batch, heads, frames, 2 * frames - 1] scores against relative positions, shifted so that
// column j holds key j's (Transformer-XL's rel_shift: pad a zero column, fold, drop a row).
std::string RelativeShift(GraphBuilder& g, const std::string& scores) {
  const std::string padded =
      g.Node("Pad", {scores, g.ConstInt64({0, 0, 0, 1, 0, 0, 0, 0})});  // [b, h, t, 2t]
  const std::string dims = g.Node("Shape", {scores});                   // b, h, t, 2t - 1
  const std::string batch_heads = g.Node("Slice", {dims, g.ConstInt64({0}), g.ConstInt64({2})});
  const std::string frames = g.Node("Slice", {dims, g.ConstInt64({2}), g.ConstInt64({3})});
  const std::string width = g.Node("Slice", {dims, g.ConstInt64({3}), g.ConstInt64({4})});
  const std::string folded = g.Node(
      "Reshape",
      {padded, g.Node("Concat", {batch_heads, g.Node("Add", {width, g.ConstInt64({1})}), frames},
                      {{"axis", int64_t{0}}})});  // [b, h, 2t, t]
  const std::string rows =
      g.Node("Slice", {folded, g.ConstInt64({1}), g.ConstInt64({INT64_MAX}), g.ConstInt64({2})});
  const std::string unfolded = g.Node("Reshape", {rows, dims});  // [b, h, t, 2t - 1]
  return g.Node("Slice", {unfolded, g.ConstInt64({0}), frames, g.ConstInt64({3})});
}

// Wav2Vec2ConformerConvolutionModule on [batch, frames, hidden].
std::string ConvolutionModule(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                              const std::string& p) {
  std::string h =
      Transpose(g, g.LayerNorm(x, p + "layer_norm", s.hidden, kTorchNormEps), {0, 2, 1});
  auto pointwise = [&](const std::string& in, const std::string& name, int64_t out) {
    const std::string w = g.Weight(p + name + ".weight", {out, s.hidden, 1}, WeightInit::kNormal);
    return g.Node("Conv", {in, w}, {{"kernel_shape", std::vector<int64_t>{1}}});
  };
  const auto halves =
      g.NodeN("Split", {pointwise(h, "pointwise_conv1", 2 * s.hidden)}, 2, {{"axis", int64_t{1}}});
  h = g.Node("Mul", {halves[0], g.Node("Sigmoid", {halves[1]})});  // GLU over channels
  const int64_t k = s.depthwise_kernel;
  const std::string depthwise =
      g.Weight(p + "depthwise_conv.weight", {s.hidden, 1, k}, WeightInit::kNormal);
  h = g.Node("Conv", {h, depthwise},
             {{"kernel_shape", std::vector<int64_t>{k}},
              {"pads", std::vector<int64_t>{(k - 1) / 2, (k - 1) / 2}},
              {"group", s.hidden}});
  h = Activation(g, g.BatchNorm(h, p + "batch_norm", s.hidden, kTorchNormEps), s.hidden_act);
  return Transpose(g, pointwise(h, "pointwise_conv2", s.hidden), {0, 2, 1});
}

// x + 0.5 * ffn(norm(x)), the conformer's half-step feed-forward.
std::string HalfStepFeedForward(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                                const std::string& p, const char* name) {
  const std::string normed = g.LayerNorm(x, p + name + "_layer_norm", s.hidden, kTorchNormEps);
  const std::string y = Wav2Vec2FeedForward(g, s, normed, p + name + ".");
  return g.Node("Add", {g.Node("Mul", {y, g.ConstFloat(0.5f)}), x});
}

}  // namespace

std::string RelativeSelfAttention(GraphBuilder& g, int64_t hidden, int64_t heads_count,
                                  const std::string& x, const std::string& p,
                                  const std::string& mask, const std::string& positions,
                                  const RelativeAttentionNames& n) {
  const int64_t head_dim = hidden / heads_count;
  auto heads = [&](const std::string& y) { return SplitHeads(g, y, heads_count, head_dim); };
  const std::string q = heads(g.Linear(x, p + n.q, hidden, hidden, n.bias));
  const std::string k = heads(g.Linear(x, p + n.k, hidden, hidden, n.bias));
  const std::string v = heads(g.Linear(x, p + n.v, hidden, hidden, n.bias));
  const std::string projected = heads(g.Linear(positions, p + n.pos, hidden, hidden,
                                               /*bias=*/false));  // [1, h, 2t - 1, d]
  auto biased = [&](const std::string& name) {
    const std::string b = g.Weight(p + name, {heads_count, head_dim}, WeightInit::kNormal);
    return g.Node("Add", {q, g.Node("Unsqueeze", {b, g.ConstInt64({0, 2})})});
  };
  const std::string ac = g.Node("MatMul", {biased(n.bias_u), Transpose(g, k, {0, 1, 3, 2})});
  const std::string bd =
      RelativeShift(g, g.Node("MatMul", {biased(n.bias_v), Transpose(g, projected, {0, 1, 3, 2})}));
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
  std::string scores = g.Node("Mul", {g.Node("Add", {ac, bd}), g.ConstFloat(scale)});
  if (!mask.empty()) scores = g.Node("Add", {scores, mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  const std::string context = MergeHeads(g, g.Node("MatMul", {probs, v}), hidden);
  return g.Linear(context, p + n.out, hidden, hidden, n.bias);
}

std::string ConformerRelativePositions(GraphBuilder& g, const Wav2Vec2Shape& s,
                                       const std::string& x) {
  return ConformerRelativePositions(g, s.hidden, x);
}

std::string ConformerRelativePositions(GraphBuilder& g, int64_t hidden, const std::string& x) {
  const std::string frames = g.Node("Shape", {x}, {{"start", int64_t{1}}, {"end", int64_t{2}}});
  const std::string first = g.Node("Sub", {frames, g.ConstInt64({1})});
  const std::string last = g.Node("Neg", {frames});
  const std::string positions =
      g.Node("Cast",
             {g.Node("Range", {SqueezeToScalar(g, first), SqueezeToScalar(g, last),
                               SqueezeToScalar(g, g.ConstInt64({-1}))})},
             {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  // div_term = exp(2i * -(ln 10000 / hidden)), float32 as torch computes it.
  const int64_t half = hidden / 2;
  core::Tensor div = core::Tensor::Zeros(core::DType::kFloat32, {half});
  const float step = -static_cast<float>(std::log(10000.0) / static_cast<double>(hidden));
  for (int64_t i = 0; i < half; ++i)
    div.values<float>()[i] = std::exp(static_cast<float>(2 * i) * step);
  const std::string angles =
      g.Node("Mul", {g.Node("Unsqueeze", {positions, g.ConstInt64({1})}),
                     g.Initializer("const_conformer_div_term", div)});  // [2t - 1, hidden / 2]
  const std::string sin = g.Node("Unsqueeze", {g.Node("Sin", {angles}), g.ConstInt64({2})});
  const std::string cos = g.Node("Unsqueeze", {g.Node("Cos", {angles}), g.ConstInt64({2})});
  const std::string interleaved = g.Node("Concat", {sin, cos}, {{"axis", int64_t{2}}});
  return g.Node("Reshape", {interleaved, g.ConstInt64({1, -1, hidden})});
}

std::string ConformerLayer(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                           int64_t index, const std::string& mask, const std::string& positions) {
  const std::string p = fmt::format("encoder.layers.{}.", index);
  std::string h = HalfStepFeedForward(g, s, x, p, "ffn1");
  const std::string normed = g.LayerNorm(h, p + "self_attn_layer_norm", s.hidden, kTorchNormEps);
  h = g.Node(
      "Add",
      {RelativeSelfAttention(g, s.hidden, s.heads, normed, p + "self_attn.", mask, positions), h});
  h = g.Node("Add", {h, ConvolutionModule(g, s, h, p + "conv_module.")});
  h = HalfStepFeedForward(g, s, h, p, "ffn2");
  return g.LayerNorm(h, p + "final_layer_norm", s.hidden, kTorchNormEps);
}

}  // namespace ipfs_accel::models
