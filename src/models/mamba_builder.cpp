#include "mamba_builder.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "decoder_layer_pieces.h"
#include "ipfs_accel/core/error.h"
#include "piece_choice.h"
#include "piece_object.h"
#include "rotary.h"
#include "seq2seq_attention.h"
#include "ssm.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// Weight names under the base model's prefix (the template's `names`); "" for none.
struct MambaNames {
  std::string embed = "embeddings", layer = "layers.{}.", norm = "norm", mixer = "mixer.";
  std::string attention = "self_attn.", mlp_norm, mlp, final_norm = "norm_f";
};

// The attention layers of a hybrid (LLaMA's q/k/v/o_proj, rotary, grouped-query heads).
struct HybridAttention {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  bool bias = false;
  RopeSpec rope;
};

struct MambaShape {
  int64_t vocab = 0, hidden = 0, layers = 0, intermediate = 0;
  double eps = 1e-5;
  bool mamba2 = false, tied = false;
  std::string act;
  MambaSpec m1;
  Mamba2Spec m2;
  MambaNames names;
  std::vector<bool> attention_layers;  // per layer: attention instead of the mixer
  HybridAttention attention;
};

MambaNames ReadNames(const HfConfig& c) {
  MambaNames n;
  const nlohmann::json piece = c.Piece("names");
  for (auto [key, field] : {std::pair{"embed", &n.embed},
                            {"layer", &n.layer},
                            {"norm", &n.norm},
                            {"mixer", &n.mixer},
                            {"attention", &n.attention},
                            {"mlp_norm", &n.mlp_norm},
                            {"mlp", &n.mlp},
                            {"final_norm", &n.final_norm}})
    *field = ObjectPieceString(c, piece, key, *field);
  return n;
}

// The piece `attention_layers`: a list of layer indices (Bamba's attn_layer_indices); null: none.
std::vector<bool> ReadAttentionLayers(const HfConfig& c, int64_t layers) {
  std::vector<bool> out(layers, false);
  const nlohmann::json list = c.Piece("attention_layers");
  if (list.is_null()) return out;
  if (!list.is_array())
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': attention layers must be a list of "
                                                 "layer indices",
                                                 c.origin()));
  for (const auto& i : list) {
    if (!i.is_number_integer() || i.get<int64_t>() < 0 || i.get<int64_t>() >= layers)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': attention layer {} is not one of the {} layers", c.origin(),
                              i.dump(), layers));
    out[i.get<int64_t>()] = true;
  }
  return out;
}

HybridAttention ReadAttention(const HfConfig& c, int64_t hidden) {
  HybridAttention a;
  a.heads = c.Int("num_attention_heads");
  a.kv_heads = c.Has("num_key_value_heads") ? c.Int("num_key_value_heads") : a.heads;
  a.head_dim = c.Has("head_dim") ? c.Int("head_dim") : hidden / a.heads;
  a.bias = c.Bool("attention_bias", false);
  if (a.heads <= 0 || a.kv_heads <= 0 || a.heads % a.kv_heads != 0 || a.head_dim <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': attention heads ({}) must be a positive "
                                                 "multiple of the key/value heads ({})",
                                                 c.origin(), a.heads, a.kv_heads));
  HfConfig rope_config = c;  // Bamba fixes the rotated fraction whatever the config says
  if (const double f = c.PieceDouble("partial_rotary_factor", 0); f > 0)
    rope_config = c.With("partial_rotary_factor", f);
  a.rope = ReadRope(rope_config, a.head_dim, c.Int("max_position_embeddings", 0));
  return a;
}

MambaShape ReadShape(const HfConfig& c) {
  MambaShape s;
  s.mamba2 = PieceChoice(c, "mixer", "mamba", {"mamba", "mamba2"}) == 1;
  s.vocab = c.Int("vocab_size");
  s.hidden = c.Int("hidden_size");
  s.layers = c.Int("num_hidden_layers");
  s.eps = c.PieceDouble("norm_eps", c.Double("layer_norm_epsilon", 1e-5));
  s.tied = c.Bool("tie_word_embeddings", false);
  s.act = c.String("hidden_act", "silu");
  if (s.mamba2)
    s.m2 = ReadMamba2Spec(c);
  else
    s.m1 = ReadMambaSpec(c);
  s.names = ReadNames(c);
  s.attention_layers = ReadAttentionLayers(c, s.layers);
  if (!s.names.mlp.empty()) s.intermediate = c.Int("intermediate_size");
  for (bool a : s.attention_layers)
    if (a) {
      s.attention = ReadAttention(c, s.hidden);
      break;
    }
  return s;
}

// The float32 mask [batch, sequence, 1] the mixers multiply states by.
std::string FloatMask(GraphBuilder& g) {
  const std::string f =
      g.Node("Cast", {"attention_mask"}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  return g.Node("Unsqueeze", {f, g.ConstInt64({-1})});
}

// What the attention layers share: positions 0..S-1 rotated, HF's additive causal + padding mask.
struct AttentionContext {
  RopeTables rope;
  std::string bias;  // [batch, 1, S, S]: 0 where visible, finfo(float32).min where not
};

AttentionContext MakeAttentionContext(GraphBuilder& g, const MambaShape& s) {
  const std::string length = AxisLength(g, "input_ids", 1);
  const std::string positions = PositionRange(g, g.ConstInt64({0}), length);
  AttentionContext ctx;
  if (s.attention.rope.rotary_dim > 0)
    ctx.rope = RopeCosSin(g, s.attention.rope, g.Node("Unsqueeze", {positions, g.ConstInt64({0})}));
  // Either reason hides a key: the smaller of the two biases (each 0 or min).
  ctx.bias = g.Node(
      "Min", {CausalMaskBias(g, positions, positions), PaddingMaskBias(g, "attention_mask")});
  return ctx;
}

// [b, kv, S, d] -> [b, heads, S, d], each key/value head repeated for its query heads.
std::string RepeatKv(GraphBuilder& g, const HybridAttention& a, const std::string& x) {
  if (a.heads == a.kv_heads) return x;
  const int64_t rep = a.heads / a.kv_heads;
  const std::string wide = g.Node("Unsqueeze", {x, g.ConstInt64({2})});  // [b, kv, 1, S, d]
  const std::string tiled = g.Node("Tile", {wide, g.ConstInt64({1, 1, rep, 1, 1})});
  return g.Node("Reshape", {tiled, g.ConstInt64({0, a.heads, -1, a.head_dim})});
}

// LlamaAttention (eager) on the normed x over the whole sequence, o_proj included.
std::string Attention(GraphBuilder& g, const MambaShape& s, const AttentionContext& ctx,
                      const std::string& x, const std::string& p) {
  const HybridAttention& a = s.attention;
  const int64_t q_dim = a.heads * a.head_dim, kv_dim = a.kv_heads * a.head_dim;
  std::string q =
      SplitHeads(g, g.Linear(x, p + "q_proj", s.hidden, q_dim, a.bias), a.heads, a.head_dim);
  std::string k =
      SplitHeads(g, g.Linear(x, p + "k_proj", s.hidden, kv_dim, a.bias), a.kv_heads, a.head_dim);
  const std::string v =
      SplitHeads(g, g.Linear(x, p + "v_proj", s.hidden, kv_dim, a.bias), a.kv_heads, a.head_dim);
  if (a.rope.rotary_dim > 0) {
    q = ApplyRope(g, q, ctx.rope, a.rope.rotary_dim, a.head_dim);
    k = ApplyRope(g, k, ctx.rope, a.rope.rotary_dim, a.head_dim);
  }
  const float scale = static_cast<float>(std::pow(static_cast<double>(a.head_dim), -0.5));
  const std::string out = Attend(g, q, RepeatKv(g, a, k), RepeatKv(g, a, v), scale, ctx.bias);
  return g.Linear(MergeHeads(g, out, q_dim), p + "o_proj", q_dim, s.hidden, a.bias);
}

std::string GatedMlp(GraphBuilder& g, const MambaShape& s, const std::string& x,
                     const std::string& p) {
  const std::string gate =
      Activation(g, g.Linear(x, p + "gate_proj", s.hidden, s.intermediate, false), s.act);
  const std::string up = g.Linear(x, p + "up_proj", s.hidden, s.intermediate, false);
  return g.Linear(g.Node("Mul", {gate, up}), p + "down_proj", s.intermediate, s.hidden, false);
}

std::string Layer(GraphBuilder& g, const MambaShape& s, const AttentionContext& ctx,
                  const std::string& mask, std::string h, int64_t l) {
  std::string p = s.names.layer;
  p.replace(p.find("{}"), 2, std::to_string(l));
  const std::string x = RmsNorm(g, h, p + s.names.norm, s.hidden, s.eps, false);
  std::string y;
  if (s.attention_layers[l])
    y = Attention(g, s, ctx, x, p + s.names.attention);
  else
    y = s.mamba2 ? Mamba2Mixer(g, s.m2, x, mask, p + s.names.mixer)
                 : MambaMixer(g, s.m1, x, mask, p + s.names.mixer);
  h = g.Node("Add", {h, y});
  if (s.names.mlp.empty()) return h;
  const std::string m = RmsNorm(g, h, p + s.names.mlp_norm, s.hidden, s.eps, false);
  return g.Node("Add", {h, GatedMlp(g, s, m, p + s.names.mlp)});
}

}  // namespace

void BuildMamba(const HfConfig& c, GraphBuilder& g) {
  const MambaShape s = ReadShape(c);
  const Dim batch = std::string("batch"), seq = std::string("sequence");
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, seq});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, seq});
  const std::string table =
      g.Weight(s.names.embed + ".weight", {s.vocab, s.hidden}, WeightInit::kNormal);
  std::string h = g.Node("Gather", {table, "input_ids"});
  const std::string mask = FloatMask(g);
  AttentionContext ctx;
  for (bool a : s.attention_layers)
    if (a) {
      ctx = MakeAttentionContext(g, s);
      break;
    }
  for (int64_t l = 0; l < s.layers; ++l) h = Layer(g, s, ctx, mask, h, l);
  const std::string x = RmsNorm(g, h, s.names.final_norm, s.hidden, s.eps, false);
  const std::string logits = s.tied ? TiedLmHead(g, x, table, s.hidden, s.vocab)
                                    : g.Linear(x, "lm_head", s.hidden, s.vocab, false);
  g.Node("Identity", {logits}, {}, "logits");
  g.Output("logits", onnx::TensorProto::FLOAT, {batch, seq, s.vocab});
}

}  // namespace ipfs_accel::models
