#include "modernbert_builder.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "activation.h"
#include "encoder_builder.h"
#include "ipfs_accel/core/error.h"
#include "rotary.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// rope_theta of `layer_type` from rope_parameters (transformers 5) or the legacy top-level key;
// only the default rope is built.
double RopeTheta(const HfConfig& c, const char* layer_type, const char* legacy_key,
                 double fallback) {
  const nlohmann::json& all =
      c.json().contains("rope_parameters") ? c.json()["rope_parameters"] : nlohmann::json();
  const nlohmann::json p =
      all.is_object() && all.contains(layer_type) ? all[layer_type] : nlohmann::json();
  if (p.is_object() && p.contains("rope_type") && p["rope_type"] != "default")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': rope_type {} of {} is not supported (only 'default')",
                            c.origin(), p["rope_type"].dump(), layer_type));
  if (c.Has("rope_scaling"))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': rope_scaling is not supported for modernbert", c.origin()));
  if (p.is_object() && p.contains("rope_theta") && p["rope_theta"].is_number())
    return p["rope_theta"].get<double>();
  return c.Double(legacy_key, fallback);
}

// Which layers attend in a window (ModernBertAttention: layer_id % global_attn_every_n_layers)
// and which use the sliding rope (config.layer_types, by default the same pattern).
void ReadLayerKinds(const HfConfig& c, ModernBertShape& s) {
  const int64_t every = c.Int("global_attn_every_n_layers", 3);
  if (every <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': global_attn_every_n_layers {} must be "
                                                 "positive",
                                                 c.origin(), every));
  const nlohmann::json& types =
      c.json().contains("layer_types") ? c.json()["layer_types"] : nlohmann::json();
  if (!types.is_null() && (!types.is_array() || static_cast<int64_t>(types.size()) != s.layers))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': layer_types must list {} layer types", c.origin(), s.layers));
  for (int64_t l = 0; l < s.layers; ++l) {
    s.local.push_back(l % every != 0);
    const std::string type = types.is_null()
                                 ? (l % every != 0 ? "sliding_attention" : "full_attention")
                                 : types[static_cast<size_t>(l)].get<std::string>();
    if (type != "sliding_attention" && type != "full_attention")
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': layer type '{}' is not supported", c.origin(), type));
    s.sliding_rope.push_back(type == "sliding_attention");
  }
}

// LayerNorm over the last axis with `prefix`.weight and, where the config has norm biases, .bias.
std::string Norm(GraphBuilder& g, const ModernBertShape& s, const std::string& x,
                 const std::string& prefix) {
  std::vector<std::string> inputs = {x,
                                     g.Weight(prefix + ".weight", {s.hidden}, WeightInit::kOnes)};
  if (s.norm_bias) inputs.push_back(g.Weight(prefix + ".bias", {s.hidden}, WeightInit::kZeros));
  return g.Node("LayerNormalization", inputs,
                {{"axis", int64_t{-1}}, {"epsilon", static_cast<float>(s.eps)}});
}

// [batch, seq, hidden] -> [batch, heads, seq, head_dim]
std::string SplitHeads(GraphBuilder& g, const ModernBertShape& s, const std::string& x) {
  const std::string split = g.Node("Reshape", {x, g.ConstInt64({0, 0, s.heads, -1})});
  return g.Node("Transpose", {split}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

// What every layer's attention takes: the masks of global and windowed layers and the rope
// tables of full and sliding attention layers.
struct LayerInputs {
  std::string global_mask, local_mask;
  RopeTables global_rope, local_rope;
};

std::string Attention(GraphBuilder& g, const ModernBertShape& s, int64_t l, const std::string& x,
                      const LayerInputs& in) {
  const std::string p = fmt::format("layers.{}.attn.", l);
  const int64_t head_dim = s.hidden / s.heads;
  const std::string qkv = g.Linear(x, p + "Wqkv", s.hidden, 3 * s.hidden, s.attention_bias);
  const auto parts = g.NodeN("Split", {qkv, g.ConstInt64({s.hidden, s.hidden, s.hidden})}, 3,
                             {{"axis", int64_t{-1}}});
  const RopeTables& rope = s.sliding_rope[static_cast<size_t>(l)] ? in.local_rope : in.global_rope;
  const std::string q = ApplyRope(g, SplitHeads(g, s, parts[0]), rope, head_dim, head_dim);
  const std::string k = ApplyRope(g, SplitHeads(g, s, parts[1]), rope, head_dim, head_dim);
  const std::string kt = g.Node("Transpose", {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  std::string scores = g.Node("Mul", {g.Node("MatMul", {q, kt}), g.ConstFloat(scale)});
  scores =
      g.Node("Add", {scores, s.local[static_cast<size_t>(l)] ? in.local_mask : in.global_mask});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  std::string ctx = g.Node("MatMul", {probs, SplitHeads(g, s, parts[2])});
  ctx = g.Node("Transpose", {ctx}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  ctx = g.Node("Reshape", {ctx, g.ConstInt64({0, 0, s.hidden})});
  return g.Linear(ctx, p + "Wo", s.hidden, s.hidden, s.attention_bias);
}

// ModernBertMLP: input, gate = Wi(x).chunk(2); Wo(act(input) * gate).
std::string Mlp(GraphBuilder& g, const ModernBertShape& s, int64_t l, const std::string& x) {
  const std::string p = fmt::format("layers.{}.mlp.", l);
  const std::string wi = g.Linear(x, p + "Wi", s.hidden, 2 * s.intermediate, s.mlp_bias);
  const auto halves = g.NodeN("Split", {wi, g.ConstInt64({s.intermediate, s.intermediate})}, 2,
                              {{"axis", int64_t{-1}}});
  const std::string gated = g.Node("Mul", {Activation(g, halves[0], s.act), halves[1]});
  return g.Linear(gated, p + "Wo", s.intermediate, s.hidden, s.mlp_bias);
}

std::string Layer(GraphBuilder& g, const ModernBertShape& s, int64_t l, const std::string& x,
                  const LayerInputs& in) {
  // The first layer's attn_norm is nn.Identity: the embeddings were just normalised.
  const std::string normed = l == 0 ? x : Norm(g, s, x, fmt::format("layers.{}.attn_norm", l));
  const std::string h = g.Node("Add", {x, Attention(g, s, l, normed, in)});
  return g.Node("Add", {h, Mlp(g, s, l, Norm(g, s, h, fmt::format("layers.{}.mlp_norm", l)))});
}

// _update_attention_mask: the padding mask, and where a key is further than window / 2 from
// the query, float32's lowest instead.
std::string WindowMask(GraphBuilder& g, const ModernBertShape& s, const std::string& positions,
                       const std::string& global_mask) {
  const std::string distance =
      g.Node("Abs", {g.Node("Sub", {g.Node("Unsqueeze", {positions, g.ConstInt64({0})}),
                                    g.Node("Unsqueeze", {positions, g.ConstInt64({1})})})});
  const std::string within =
      g.Node("LessOrEqual",
             {distance, g.Node("Squeeze", {g.ConstInt64({s.window / 2}), g.ConstInt64({0})})});
  return g.Node("Where", {within, global_mask, g.ConstFloat(std::numeric_limits<float>::lowest())});
}

RopeSpec Rope(const ModernBertShape& s, double theta) {
  RopeSpec spec;
  spec.rotary_dim = s.hidden / s.heads;
  spec.inv_freq = RopeInvFreq(theta, spec.rotary_dim);
  return spec;
}

}  // namespace

ModernBertShape ReadModernBertShape(const HfConfig& c) {
  ModernBertShape s{};
  s.vocab = c.Int("vocab_size", 50368);
  s.hidden = c.Int("hidden_size", 768);
  s.layers = c.Int("num_hidden_layers", 22);
  s.heads = c.Int("num_attention_heads", 12);
  s.intermediate = c.Int("intermediate_size", 1152);
  s.max_positions = c.Int("max_position_embeddings", 8192);
  s.window = c.Int("local_attention", 128);
  s.eps = c.Double("norm_eps", 1e-5);
  s.norm_bias = c.Bool("norm_bias", false);
  s.attention_bias = c.Bool("attention_bias", false);
  s.mlp_bias = c.Bool("mlp_bias", false);
  s.act = c.String("hidden_activation", "gelu");
  if (s.heads <= 0 || s.hidden % s.heads != 0 || (s.hidden / s.heads) % 2 != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} must split into num_attention_heads {} heads of "
                            "an even size",
                            c.origin(), s.hidden, s.heads));
  RequirePositive(c, {{"vocab_size", s.vocab},
                      {"num_hidden_layers", s.layers},
                      {"intermediate_size", s.intermediate},
                      {"max_position_embeddings", s.max_positions},
                      {"local_attention", s.window}});
  ReadLayerKinds(c, s);
  s.global_theta = RopeTheta(c, "full_attention", "global_rope_theta", 160000.0);
  s.local_theta = RopeTheta(c, "sliding_attention", "local_rope_theta", 10000.0);
  return s;
}

void BuildModernBert(const HfConfig& config, GraphBuilder& g) {
  const ModernBertShape s = ReadModernBertShape(config);
  const std::vector<Dim> tokens = {std::string("batch"), std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);

  const std::string table =
      g.Weight("embeddings.tok_embeddings.weight", {s.vocab, s.hidden}, WeightInit::kNormal);
  std::string h = Norm(g, s, g.Node("Gather", {table, "input_ids"}), "embeddings.norm");

  const std::string seq_len =
      g.Node("Squeeze", {g.Node("Slice", {g.Node("Shape", {std::string("input_ids")}),
                                          g.ConstInt64({1}), g.ConstInt64({2})}),
                         g.ConstInt64({0})});
  const std::string positions =
      g.Node("Range", {g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})}), seq_len,
                       g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})})});
  LayerInputs in;
  in.global_mask = AdditiveAttentionMask(g, "attention_mask");
  in.local_mask = WindowMask(g, s, positions, in.global_mask);
  const std::string rope_positions = g.Node("Unsqueeze", {positions, g.ConstInt64({0})});
  in.global_rope = RopeCosSin(g, Rope(s, s.global_theta), rope_positions, "rope.global_inv_freq");
  in.local_rope = RopeCosSin(g, Rope(s, s.local_theta), rope_positions, "rope.local_inv_freq");

  for (int64_t l = 0; l < s.layers; ++l) h = Layer(g, s, l, h, in);
  h = Norm(g, s, h, "final_norm");
  g.Output(g.Node("Identity", {h}, {}, "last_hidden_state"), onnx::TensorProto::FLOAT,
           {std::string("batch"), std::string("sequence"), s.hidden});
}

}  // namespace ipfs_accel::models
