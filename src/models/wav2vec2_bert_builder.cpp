#include "wav2vec2_bert_builder.h"

#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "seq2seq_attention.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct BertShape {
  int64_t input_dim = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0, kernel = 0;
  int64_t left = 0, right = 0;
  double eps = 1e-5;
  std::string act;
  bool masked_spec_embed = false;
};

void Refuse(const HfConfig& c, const std::string& key, const std::string& what) {
  throw Error(ErrorKind::kUnsupported,
              fmt::format("'{}': {} ({}) is not built for wav2vec2-bert", c.origin(), what, key));
}

BertShape ReadBertShape(const HfConfig& c) {
  BertShape s;
  s.input_dim = c.Int("feature_projection_input_dim", 160);
  s.hidden = c.Int("hidden_size", 1024);
  s.layers = c.Int("num_hidden_layers", 24);
  s.heads = c.Int("num_attention_heads", 16);
  s.intermediate = c.Int("intermediate_size", 4096);
  s.kernel = c.Int("conv_depthwise_kernel_size", 31);
  s.left = c.Int("left_max_position_embeddings", 64);
  s.right = c.Int("right_max_position_embeddings", 8);
  s.eps = c.Double("layer_norm_eps", 1e-5);
  s.act = c.String("hidden_act", "swish");
  // Wav2Vec2BertModel keeps masked_spec_embed whenever either masking probability is positive.
  s.masked_spec_embed =
      c.Double("mask_time_prob", 0.05) > 0 || c.Double("mask_feature_prob", 0) > 0;
  if (c.String("position_embeddings_type", "relative_key") != "relative_key")
    Refuse(c, "position_embeddings_type", "a position scheme other than relative_key");
  if (c.Bool("add_adapter", false)) Refuse(c, "add_adapter", "the adapter");
  if (c.Bool("use_intermediate_ffn_before_adapter", false))
    Refuse(c, "use_intermediate_ffn_before_adapter", "the intermediate ffn");
  if (s.heads <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of {} heads", c.origin(),
                            s.hidden, s.heads));
  return s;
}

std::string FeedForward(GraphBuilder& g, const BertShape& s, const std::string& x,
                        const std::string& prefix) {
  const std::string mid =
      Activation(g, g.Linear(x, prefix + ".intermediate_dense", s.hidden, s.intermediate), s.act);
  return g.Linear(mid, prefix + ".output_dense", s.intermediate, s.hidden);
}

// x + 0.5 * ffn(norm(x)).
std::string HalfStep(GraphBuilder& g, const BertShape& s, const std::string& x,
                     const std::string& layer, const std::string& name) {
  const std::string y =
      FeedForward(g, s, g.LayerNorm(x, layer + "." + name + "_layer_norm", s.hidden, s.eps),
                  layer + "." + name);
  return g.Node("Add", {x, g.Node("Mul", {y, g.ConstFloat(0.5f)})});
}

// The clamped distances key - query + left, int64 [T, T], for `x` [batch, T, hidden].
std::string DistanceIndex(GraphBuilder& g, const BertShape& s, const std::string& x) {
  const std::string positions = PositionRange(g, g.ConstInt64({0}), AxisLength(g, x, 1));
  const std::string distance = g.Node("Sub", {g.Node("Unsqueeze", {positions, g.ConstInt64({0})}),
                                              g.Node("Unsqueeze", {positions, g.ConstInt64({1})})});
  const std::string clamped =
      g.Node("Max", {g.Node("Min", {distance, g.ConstInt64({s.right})}), g.ConstInt64({-s.left})});
  return g.Node("Add", {clamped, g.ConstInt64({s.left})});
}

// Wav2Vec2BertSelfAttention with relative_key: (q k^T + q . e[l, r]) / sqrt(head_size) + mask.
std::string SelfAttention(GraphBuilder& g, const BertShape& s, const std::string& x,
                          const std::string& prefix, const std::string& distances,
                          const std::string& mask) {
  const int64_t head = s.hidden / s.heads;
  auto project = [&](const char* name) {
    return SplitHeads(g, g.Linear(x, prefix + "." + name, s.hidden, s.hidden), s.heads, head);
  };
  const std::string q = project("linear_q");
  const std::string table = g.Weight(prefix + ".distance_embedding.weight",
                                     {s.left + s.right + 1, head}, WeightInit::kNormal);
  // einsum("bhld,lrd->bhlr"): [b, h, l, 1, d] @ [l, d, r], broadcast over l.
  const std::string e = g.Node("Transpose", {g.Node("Gather", {table, distances})},
                               {{"perm", std::vector<int64_t>{0, 2, 1}}});
  const std::string relative = g.Node(
      "Squeeze",
      {g.Node("MatMul", {g.Node("Unsqueeze", {q, g.ConstInt64({3})}), e}), g.ConstInt64({3})});
  const auto scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(head)));
  const std::string bias = g.Node("Add", {g.Node("Mul", {relative, g.ConstFloat(scale)}), mask});
  const std::string ctx = Attend(g, q, project("linear_k"), project("linear_v"), scale, bias);
  return g.Linear(MergeHeads(g, ctx, s.hidden), prefix + ".linear_out", s.hidden, s.hidden);
}

// Wav2Vec2BertConvolutionModule on x [batch, T, hidden]; `kept` float [batch, T, 1] zeroes
// padded frames after the LayerNorm.
std::string ConvModule(GraphBuilder& g, const BertShape& s, const std::string& x,
                       const std::string& prefix, const std::string& kept) {
  const int64_t h = s.hidden;
  std::string y = g.Node("Mul", {g.LayerNorm(x, prefix + ".layer_norm", h, s.eps), kept});
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  auto conv = [&](const std::string& in, const std::string& name, int64_t out, int64_t in_ch,
                  int64_t kernel, int64_t groups, std::vector<int64_t> pads) {
    const std::string w =
        g.Weight(prefix + "." + name + ".weight", {out, in_ch, kernel}, WeightInit::kNormal);
    return g.Node("Conv", {in, w},
                  {{"kernel_shape", std::vector<int64_t>{kernel}},
                   {"group", groups},
                   {"pads", std::move(pads)}});
  };
  const auto halves = g.NodeN("Split", {conv(y, "pointwise_conv1", 2 * h, h, 1, 1, {0, 0})}, 2,
                              {{"axis", int64_t{1}}});
  y = g.Node("Mul", {halves[0], g.Node("Sigmoid", {halves[1]})});       // GLU over channels
  y = conv(y, "depthwise_conv", h, 1, s.kernel, h, {s.kernel - 1, 0});  // causal: left padding
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  y = Activation(g, g.LayerNorm(y, prefix + ".depthwise_layer_norm", h, s.eps), s.act);
  y = g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  y = conv(y, "pointwise_conv2", h, h, 1, 1, {0, 0});
  return g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

std::string Layer(GraphBuilder& g, const BertShape& s, std::string h, int64_t index,
                  const std::string& distances, const std::string& mask, const std::string& kept) {
  const std::string layer = fmt::format("encoder.layers.{}", index);
  h = HalfStep(g, s, h, layer, "ffn1");
  const std::string normed = g.LayerNorm(h, layer + ".self_attn_layer_norm", s.hidden, s.eps);
  h = g.Node("Add", {h, SelfAttention(g, s, normed, layer + ".self_attn", distances, mask)});
  h = g.Node("Add", {h, ConvModule(g, s, h, layer + ".conv_module", kept)});
  h = HalfStep(g, s, h, layer, "ffn2");
  return g.LayerNorm(h, layer + ".final_layer_norm", s.hidden, s.eps);
}

}  // namespace

void BuildWav2Vec2Bert(const HfConfig& config, GraphBuilder& g) {
  const BertShape s = ReadBertShape(config);
  const std::string batch = "batch", frames = "frames";
  g.Input("input_features", onnx::TensorProto::FLOAT, {batch, frames, s.input_dim});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, frames});
  if (s.masked_spec_embed)  // used only when masking time steps in training
    g.UnusedWeight("masked_spec_embed", {s.hidden}, WeightInit::kNormal);
  const std::string features =
      g.LayerNorm("input_features", "feature_projection.layer_norm", s.input_dim, s.eps);
  const std::string kept = g.Node(
      "Unsqueeze", {g.Node("Cast", {"attention_mask"}, {{"to", int64_t{onnx::TensorProto::FLOAT}}}),
                    g.ConstInt64({-1})});
  // Wav2Vec2BertEncoder zeroes the padded frames before the layers.
  std::string h = g.Node(
      "Mul", {g.Linear(features, "feature_projection.projection", s.input_dim, s.hidden), kept});
  const std::string mask = PaddingMaskBias(g, "attention_mask");
  const std::string distances = DistanceIndex(g, s, h);
  for (int64_t i = 0; i < s.layers; ++i) h = Layer(g, s, h, i, distances, mask, kept);
  g.Node("Identity", {h}, {}, "last_hidden_state");
  g.Node("Identity", {features}, {}, "extract_features");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {batch, frames, s.hidden});
  g.Output("extract_features", onnx::TensorProto::FLOAT, {batch, frames, s.input_dim});
}

}  // namespace ipfs_accel::models
