#include "mamba_builder.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "decoder_layer_pieces.h"
#include "ipfs_accel/core/error.h"
#include "moe.h"
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
  std::string o = "o_proj", q_norm, k_norm;  // the attention's; q_norm "": no q/k RMSNorms
  std::string gate = "gate_proj", up = "up_proj", down = "down_proj";  // the gated MLP's
};

enum class Mixer { kMamba, kMamba2, kShortConv };

// The attention layers of a hybrid (LLaMA's q/k/v/o_proj, rotary, grouped-query heads).
struct HybridAttention {
  int64_t heads = 0, kv_heads = 0, head_dim = 0;
  bool bias = false;
  float scale = 0;  // Granite's attention_multiplier; 0: head_dim^-0.5
  RopeSpec rope;    // rotary_dim 0: no rotary (Jamba)
};

// Granite's muP multipliers (1: none).
struct Multipliers {
  float embedding = 1, residual = 1, logits_divisor = 1;
};

struct MambaShape {
  int64_t vocab = 0, hidden = 0, layers = 0, intermediate = 0;
  double eps = 1e-5;
  Mixer mixer = Mixer::kMamba;
  bool tied = false;
  std::string act;
  MambaSpec m1;
  Mamba2Spec m2;
  ShortConvSpec conv;
  MambaNames names;
  std::vector<bool> attention_layers;  // per layer: attention instead of the mixer
  HybridAttention attention;
  Multipliers muls;
  std::vector<bool> moe_layers;  // per layer: the `moe` piece's experts instead of the MLP
  MoeSpec moe;
  std::string moe_block;  // the experts' prefix under the layer's
};

MambaNames ReadMambaNames(const HfConfig& c) {
  MambaNames n;
  const nlohmann::json piece = c.Piece("names");
  for (auto [key, field] : {std::pair{"embed", &n.embed},
                            {"layer", &n.layer},
                            {"norm", &n.norm},
                            {"mixer", &n.mixer},
                            {"attention", &n.attention},
                            {"mlp_norm", &n.mlp_norm},
                            {"mlp", &n.mlp},
                            {"final_norm", &n.final_norm},
                            {"o", &n.o},
                            {"q_norm", &n.q_norm},
                            {"k_norm", &n.k_norm},
                            {"gate", &n.gate},
                            {"up", &n.up},
                            {"down", &n.down}})
    *field = ObjectPieceString(c, piece, key, *field);
  return n;
}

[[noreturn]] void BadLayers(const HfConfig& c, const std::string& what) {
  throw Error(ErrorKind::kCorrupt, fmt::format("'{}': attention layers: {}", c.origin(), what));
}

// A list of layer indices (null: none).
std::vector<bool> IndexedLayers(const HfConfig& c, const nlohmann::json& list, int64_t layers) {
  std::vector<bool> out(layers, false);
  if (list.is_null()) return out;
  if (!list.is_array()) BadLayers(c, "must be a list of layer indices or an object");
  for (const auto& i : list) {
    if (!i.is_number_integer() || i.get<int64_t>() < 0 || i.get<int64_t>() >= layers)
      BadLayers(c, fmt::format("{} is not one of the {} layers", i.dump(), layers));
    out[i.get<int64_t>()] = true;
  }
  return out;
}

// {"period": p, "offset": o} (Jamba's attn_layer_period / offset): layers l with l % p == o.
std::vector<bool> PeriodicLayers(const HfConfig& c, const nlohmann::json& piece, int64_t layers) {
  const int64_t period = ObjectPieceInt(c, piece, "period", 1, 1);
  const int64_t offset = ObjectPieceInt(c, piece, "offset", 0);
  std::vector<bool> out(layers, false);
  for (int64_t l = 0; l < layers; ++l) out[l] = l % period == offset;
  return out;
}

// {"types": "$layer_types", "attention": name}: the layers whose type is `name`. Without types,
// the list of indices `indices` (LFM2's full_attn_idxs), else every layer when `when_null` is
// "attention" (LFM2), none when it is "mixer" (the default: GraniteMoeHybrid).
std::vector<bool> TypedLayers(const HfConfig& c, const nlohmann::json& piece, int64_t layers) {
  const nlohmann::json types = ObjectPiece(c, piece, "types");
  if (types.is_null()) {
    const nlohmann::json indices = ObjectPiece(c, piece, "indices");
    if (!indices.is_null()) return IndexedLayers(c, indices, layers);
    const std::string fallback = ObjectPieceString(c, piece, "when_null", "mixer");
    if (fallback != "mixer" && fallback != "attention")
      BadLayers(c, fmt::format("when_null '{}' is neither mixer nor attention", fallback));
    return std::vector<bool>(layers, fallback == "attention");
  }
  std::vector<bool> out(layers, false);
  const std::string name = ObjectPieceString(c, piece, "attention", "attention");
  if (!types.is_array() || static_cast<int64_t>(types.size()) != layers)
    BadLayers(c, fmt::format("the layer types {} are not one per layer", types.dump()));
  for (int64_t l = 0; l < layers; ++l) out[l] = types[l] == name;
  return out;
}

// The piece `attention_layers`: a list of layer indices (Bamba's attn_layer_indices; null: none),
// or an object read by PeriodicLayers or TypedLayers.
std::vector<bool> ReadAttentionLayers(const HfConfig& c, int64_t layers) {
  const nlohmann::json list = c.Piece("attention_layers");
  if (list.is_object())
    return list.contains("types") ? TypedLayers(c, list, layers) : PeriodicLayers(c, list, layers);
  return IndexedLayers(c, list, layers);
}

// The piece `rotary`: true (default), false, or a "$key" whose value "rope" turns it on
// (GraniteMoeHybrid's position_embedding_type; null: off).
bool ReadRotary(const HfConfig& c) {
  if (!c.HasPiece("rotary")) return true;
  const nlohmann::json v = c.Piece("rotary");
  return v.is_boolean() ? v.get<bool>() : v == "rope";
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
  a.scale = static_cast<float>(c.PieceDouble("attention_scale", 0));
  if (!ReadRotary(c)) return a;
  HfConfig rope_config = c;  // Bamba fixes the rotated fraction whatever the config says
  if (const double f = c.PieceDouble("partial_rotary_factor", 0); f > 0)
    rope_config = c.With("partial_rotary_factor", f);
  a.rope = ReadRope(rope_config, a.head_dim, c.Int("max_position_embeddings", 0));
  return a;
}

// The piece `moe` (src/models/moe.h's object) on the layers MoeLayer names, with fewer than its
// `min_experts` experts none (Jamba's num_experts 1: every layer keeps its MLP).
void ReadMoe(const HfConfig& c, MambaShape& s) {
  const nlohmann::json piece = c.Piece("moe");
  s.moe_layers.assign(s.layers, false);
  if (piece.is_null()) return;
  s.moe = ReadMoeSpec(c, piece, s.hidden, s.act);
  s.moe_block = ObjectPieceString(c, piece, "block", s.names.mlp);
  if (s.moe.experts < ObjectPieceInt(c, piece, "min_experts", 1)) return;
  for (int64_t l = 0; l < s.layers; ++l) s.moe_layers[l] = MoeLayer(c, piece, l);
}

Multipliers ReadMultipliers(const HfConfig& c) {
  Multipliers m;
  m.embedding = static_cast<float>(c.PieceDouble("embedding_scale", 1));
  m.residual = static_cast<float>(c.PieceDouble("residual_scale", 1));
  m.logits_divisor = static_cast<float>(c.PieceDouble("logits_divisor", 1));
  return m;
}

// intermediate_size, or with the piece `ffn_adjust` ({"enabled", "multiple_of", "multiplier"}:
// LFM2's block_auto_adjust_ff_dim) LLaMA's original rule: int(2 x size / 3), times the
// multiplier (null: none), rounded up to a multiple of multiple_of.
int64_t FfnSize(const HfConfig& c) {
  const int64_t size = c.Int("intermediate_size");
  const nlohmann::json piece = c.Piece("ffn_adjust");
  if (piece.is_null() || !ObjectPieceBool(c, piece, "enabled", false)) return size;
  int64_t ff = 2 * size / 3;
  const double multiplier = ObjectPieceDouble(c, piece, "multiplier", 0);
  if (multiplier > 0) ff = static_cast<int64_t>(multiplier * double(ff));
  const int64_t multiple = ObjectPieceInt(c, piece, "multiple_of", 1, 1);
  return multiple * ((ff + multiple - 1) / multiple);
}

MambaShape ReadMambaShape(const HfConfig& c) {
  MambaShape s;
  s.mixer = static_cast<Mixer>(PieceChoice(c, "mixer", "mamba", {"mamba", "mamba2", "short_conv"}));
  s.vocab = c.Int("vocab_size");
  s.hidden = c.Int("hidden_size");
  s.layers = c.Int("num_hidden_layers");
  s.eps = c.PieceDouble("norm_eps", c.Double("layer_norm_epsilon", 1e-5));
  s.tied = c.Bool("tie_word_embeddings", false);
  s.act = c.String("hidden_act", "silu");
  if (s.mixer == Mixer::kMamba2) s.m2 = ReadMamba2Spec(c);
  if (s.mixer == Mixer::kMamba) s.m1 = ReadMambaSpec(c);
  if (s.mixer == Mixer::kShortConv)
    s.conv = {s.hidden, c.Int("conv_L_cache"), c.Bool("conv_bias", false)};
  s.names = ReadMambaNames(c);
  s.attention_layers = ReadAttentionLayers(c, s.layers);
  if (!s.names.mlp.empty()) s.intermediate = FfnSize(c);
  s.muls = ReadMultipliers(c);
  ReadMoe(c, s);
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
  if (!s.names.q_norm.empty()) {  // LFM2: RMSNorm over each head of q and k, before rotary
    q = RmsNorm(g, q, p + s.names.q_norm, a.head_dim, s.eps, false);
    k = RmsNorm(g, k, p + s.names.k_norm, a.head_dim, s.eps, false);
  }
  const std::string v =
      SplitHeads(g, g.Linear(x, p + "v_proj", s.hidden, kv_dim, a.bias), a.kv_heads, a.head_dim);
  if (a.rope.rotary_dim > 0) {
    q = ApplyRope(g, q, ctx.rope, a.rope.rotary_dim, a.head_dim);
    k = ApplyRope(g, k, ctx.rope, a.rope.rotary_dim, a.head_dim);
  }
  const float scale =
      a.scale > 0 ? a.scale : static_cast<float>(std::pow(double(a.head_dim), -0.5));
  const std::string out = Attend(g, q, RepeatKv(g, a, k), RepeatKv(g, a, v), scale, ctx.bias);
  return g.Linear(MergeHeads(g, out, q_dim), p + s.names.o, q_dim, s.hidden, a.bias);
}

std::string GatedMlp(GraphBuilder& g, const MambaShape& s, const std::string& x,
                     const std::string& p) {
  const MambaNames& n = s.names;
  const std::string gate =
      Activation(g, g.Linear(x, p + n.gate, s.hidden, s.intermediate, false), s.act);
  const std::string up = g.Linear(x, p + n.up, s.hidden, s.intermediate, false);
  return g.Linear(g.Node("Mul", {gate, up}), p + n.down, s.intermediate, s.hidden, false);
}

std::string Mix(GraphBuilder& g, const MambaShape& s, const std::string& x, const std::string& mask,
                const std::string& p) {
  switch (s.mixer) {
    case Mixer::kMamba2:
      return Mamba2Mixer(g, s.m2, x, mask, p);
    case Mixer::kShortConv:
      return ShortConvMixer(g, s.conv, x, mask, p);
    case Mixer::kMamba:
      break;
  }
  return MambaMixer(g, s.m1, x, mask, p);
}

// The layer's MLP on the normed m: the `moe` piece's experts where it has them, else gated.
std::string Mlp(GraphBuilder& g, const MambaShape& s, const std::string& m, const std::string& p,
                int64_t l) {
  if (s.moe_layers[l]) return MoeMlp(g, s.moe, m, p + s.moe_block);
  return GatedMlp(g, s, m, p + s.names.mlp);
}

// h + branch, times Granite's residual multiplier where it has one.
std::string Residual(GraphBuilder& g, const MambaShape& s, const std::string& h,
                     const std::string& branch) {
  if (s.muls.residual == 1) return g.Node("Add", {h, branch});
  return g.Node("Add", {h, g.Node("Mul", {branch, g.ConstFloat(s.muls.residual)})});
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
    y = Mix(g, s, x, mask, p + s.names.mixer);
  h = Residual(g, s, h, y);
  if (s.names.mlp.empty()) return h;
  const std::string m = RmsNorm(g, h, p + s.names.mlp_norm, s.hidden, s.eps, false);
  return Residual(g, s, h, Mlp(g, s, m, p, l));
}

}  // namespace

void BuildMamba(const HfConfig& c, GraphBuilder& g) {
  const MambaShape s = ReadMambaShape(c);
  const Dim batch = std::string("batch"), seq = std::string("sequence");
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, seq});
  g.Input("attention_mask", onnx::TensorProto::INT64, {batch, seq});
  const std::string table =
      g.Weight(s.names.embed + ".weight", {s.vocab, s.hidden}, WeightInit::kNormal);
  std::string h = g.Node("Gather", {table, "input_ids"});
  if (s.muls.embedding != 1) h = g.Node("Mul", {h, g.ConstFloat(s.muls.embedding)});
  const std::string mask = FloatMask(g);
  AttentionContext ctx;
  for (bool a : s.attention_layers)
    if (a) {
      ctx = MakeAttentionContext(g, s);
      break;
    }
  for (int64_t l = 0; l < s.layers; ++l) h = Layer(g, s, ctx, mask, h, l);
  const std::string x = RmsNorm(g, h, s.names.final_norm, s.hidden, s.eps, false);
  std::string logits = s.tied ? TiedLmHead(g, x, table, s.hidden, s.vocab)
                              : g.Linear(x, "lm_head", s.hidden, s.vocab, false);
  if (s.muls.logits_divisor != 1)
    logits = g.Node("Div", {logits, g.ConstFloat(s.muls.logits_divisor)});
  g.Node("Identity", {logits}, {}, "logits");
  g.Output("logits", onnx::TensorProto::FLOAT, {batch, seq, s.vocab});
}

}  // namespace ipfs_accel::models
