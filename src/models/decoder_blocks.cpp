#include "decoder_blocks.h"

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "piece_enum.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

std::string NameOf(const nlohmann::json& names, const char* key) {
  if (!names.contains(key) || names[key].is_null()) return "";
  return names[key].get<std::string>();
}

BlockNames ReadNames(const HfConfig& c) {
  const nlohmann::json names = c.Piece("names");
  if (!names.is_object())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': template '{}' has layout \"blocks\" but no `names` object",
                            c.origin(), c.template_name()));
  for (const auto& [key, value] : names.items())
    if (!value.is_string() && !value.is_null())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': name '{}' of template '{}' is {}, not a string", c.origin(),
                              key, c.template_name(), value.dump()));
  BlockNames n;
  n.layer = NameOf(names, "layer");
  if (n.layer.find("{}") == std::string::npos || n.layer.find('{') != n.layer.rfind('{') ||
      n.layer.find('}') != n.layer.rfind('}'))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': template '{}' names its layers '{}'; the pattern needs one "
                            "\"{{}}\" where the layer index goes (\"layers.{{}}.\")",
                            c.origin(), c.template_name(), n.layer));
  n.embed = NameOf(names, "embed");
  n.positions = NameOf(names, "positions");
  n.embed_norm = NameOf(names, "embed_norm");
  n.attn_norm = NameOf(names, "attn_norm");
  n.mlp_norm = NameOf(names, "mlp_norm");
  n.q = NameOf(names, "q");
  n.k = NameOf(names, "k");
  n.v = NameOf(names, "v");
  n.qkv = NameOf(names, "qkv");
  n.o = NameOf(names, "o");
  n.q_norm = NameOf(names, "q_norm");
  n.k_norm = NameOf(names, "k_norm");
  n.up = NameOf(names, "up");
  n.gate = NameOf(names, "gate");
  n.down = NameOf(names, "down");
  n.final_norm = NameOf(names, "final_norm");
  n.lm_head = NameOf(names, "lm_head");
  return n;
}

// q, k or v of a fused projection: columns [offset, offset + heads * head_dim) as heads.
std::string Heads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim) {
  return g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, head_dim})});
}

BlockQkv Concat(GraphBuilder& g, const BlockDims& d, const std::string& qkv) {
  const int64_t q_dim = d.heads * d.head_dim, kv_dim = d.kv_heads * d.head_dim;
  const auto parts =
      g.NodeN("Split", {qkv, g.ConstInt64({q_dim, kv_dim, kv_dim})}, 3, {{"axis", int64_t{-1}}});
  return {Heads(g, parts[0], d.heads, d.head_dim), Heads(g, parts[1], d.kv_heads, d.head_dim),
          Heads(g, parts[2], d.kv_heads, d.head_dim)};
}

// Per KV head: [q for each of its heads | k | v].
BlockQkv Grouped(GraphBuilder& g, const BlockDims& d, const std::string& qkv) {
  const int64_t rep = d.heads / d.kv_heads;
  const std::string groups =
      g.Node("Reshape", {qkv, g.ConstInt64({0, 0, d.kv_heads, rep + 2, d.head_dim})});
  const auto parts =
      g.NodeN("Split", {groups, g.ConstInt64({rep, 1, 1})}, 3, {{"axis", int64_t{3}}});
  return {g.Node("Reshape", {parts[0], g.ConstInt64({0, 0, d.heads, d.head_dim})}),
          g.Node("Reshape", {parts[1], g.ConstInt64({0, 0, d.kv_heads, d.head_dim})}),
          g.Node("Reshape", {parts[2], g.ConstInt64({0, 0, d.kv_heads, d.head_dim})})};
}

// CodeGen's qkv_proj: 4 shards, each [q | v | k] for heads / 4 heads.
BlockQkv Codegen(GraphBuilder& g, const BlockDims& d, const std::string& qkv) {
  constexpr int64_t kShards = 4;
  const int64_t local = d.heads * d.head_dim / kShards;
  const std::string shards = g.Node("Reshape", {qkv, g.ConstInt64({0, 0, kShards, 3 * local})});
  const auto parts =
      g.NodeN("Split", {shards, g.ConstInt64({local, local, local})}, 3, {{"axis", int64_t{-1}}});
  return {Heads(g, parts[0], d.heads, d.head_dim), Heads(g, parts[2], d.heads, d.head_dim),
          Heads(g, parts[1], d.heads, d.head_dim)};
}

std::string Clip(GraphBuilder& g, const BlockSpec& b, const std::string& x) {
  if (b.clip_qkv <= 0) return x;
  const float limit = static_cast<float>(b.clip_qkv);
  return g.Node("Clip", {x, g.ConstFloat(-limit), g.ConstFloat(limit)});
}

}  // namespace

BlockSpec ReadBlockSpec(const HfConfig& c) {
  BlockSpec b;
  b.names = ReadNames(c);
  b.form = PieceEnum<BlockForm>(c, "block", "sequential",
                                {{"sequential", BlockForm::kSequential},
                                 {"parallel", BlockForm::kParallel},
                                 {"parallel_two_norms", BlockForm::kParallelTwoNorms},
                                 {"post_norm", BlockForm::kPostNorm}});
  b.qkv = PieceEnum<QkvForm>(c, "qkv", "separate",
                             {{"separate", QkvForm::kSeparate},
                              {"concat", QkvForm::kConcat},
                              {"grouped", QkvForm::kGrouped},
                              {"codegen", QkvForm::kCodegen}});
  b.conv1d = PieceEnum<bool>(c, "linear", "linear", {{"linear", false}, {"conv1d", true}});
  // "moe": the experts on the `moe` piece's layers (the builder's), the gated MLP on the others.
  b.gated_mlp =
      PieceEnum<bool>(c, "mlp", "gated", {{"gated", true}, {"plain", false}, {"moe", true}});
  b.positions = PieceEnum<PositionForm>(c, "positions", "rope",
                                        {{"rope", PositionForm::kRope},
                                         {"learned", PositionForm::kLearned},
                                         {"learned_from_mask", PositionForm::kLearnedFromMask},
                                         {"sinusoidal", PositionForm::kSinusoidal},
                                         {"sinusoidal_ctrl", PositionForm::kSinusoidalCtrl},
                                         {"alibi_bloom", PositionForm::kAlibiBloom},
                                         {"alibi_mpt", PositionForm::kAlibiMpt},
                                         {"none", PositionForm::kNone}});
  b.position_offset = static_cast<int64_t>(c.PieceDouble("position_offset", 0));
  b.scaling = PieceEnum<ScoreScaling>(c, "attention_scale", "inverse_sqrt",
                                      {{"inverse_sqrt", ScoreScaling::kInverseSqrt},
                                       {"divide_by_sqrt", ScoreScaling::kDivideBySqrt},
                                       {"none", ScoreScaling::kNone}});
  b.lm_head_bias = c.PieceBool("lm_head_bias", false);
  b.lm_head_rows = static_cast<int64_t>(c.PieceDouble("lm_head_rows", 0));
  b.logit_scale = c.PieceDouble("logit_scale", 1);
  b.clip_qkv = c.PieceDouble("clip_qkv", 0);
  b.alibi_bias_max = c.PieceDouble("alibi_bias_max", 8);
  b.softmax_scale = c.PieceDouble("softmax_scale", 0);
  b.rope_on_sliding_only =
      PieceEnum<bool>(c, "rope_layers", "all", {{"all", false}, {"sliding", true}});
  b.last_layer_o_bias = c.PieceBool("last_layer_o_bias", false);
  b.patch_embedding = c.PieceString("patch_embedding", "");
  if (!b.patch_embedding.empty())
    b.patch_features = c.Int("patch_size") * c.Int("patch_size") * c.Int("num_channels");
  return b;
}

void BlockUnusedPatchEmbedding(GraphBuilder& g, const BlockSpec& b, int64_t hidden) {
  if (b.patch_embedding.empty()) return;
  g.UnusedWeight(b.patch_embedding + ".weight", {hidden, b.patch_features}, WeightInit::kNormal);
  g.UnusedWeight(b.patch_embedding + ".bias", {hidden}, WeightInit::kZeros);
}

std::string BlockLayerPrefix(const BlockSpec& b, int layer) {
  return fmt::format(fmt::runtime(b.names.layer), layer);
}

std::string BlockLinear(GraphBuilder& g, const BlockSpec& b, const std::string& x,
                        const std::string& prefix, int64_t in, int64_t out, bool bias) {
  if (!b.conv1d) return g.Linear(x, prefix, in, out, bias);
  std::string y =
      g.Node("MatMul", {x, g.Weight(prefix + ".weight", {in, out}, WeightInit::kNormal)});
  if (bias) y = g.Node("Add", {y, g.Weight(prefix + ".bias", {out}, WeightInit::kZeros)});
  return y;
}

BlockQkv BlockProjectQkv(GraphBuilder& g, const BlockSpec& b, const BlockDims& d,
                         const std::string& x, const std::string& p) {
  const int64_t q_dim = d.heads * d.head_dim, kv_dim = d.kv_heads * d.head_dim;
  if (b.qkv == QkvForm::kSeparate) {
    auto project = [&](const std::string& name, int64_t out, int64_t heads) {
      return Heads(g, Clip(g, b, BlockLinear(g, b, x, p + name, d.hidden, out, d.qkv_bias)), heads,
                   d.head_dim);
    };
    return {project(b.names.q, q_dim, d.heads), project(b.names.k, kv_dim, d.kv_heads),
            project(b.names.v, kv_dim, d.kv_heads)};
  }
  const std::string qkv =
      Clip(g, b, BlockLinear(g, b, x, p + b.names.qkv, d.hidden, q_dim + 2 * kv_dim, d.qkv_bias));
  if (b.qkv == QkvForm::kConcat) return Concat(g, d, qkv);
  if (b.qkv == QkvForm::kGrouped) return Grouped(g, d, qkv);
  return Codegen(g, d, qkv);
}

std::string BlockMlp(GraphBuilder& g, const BlockSpec& b, const BlockDims& d, const std::string& x,
                     const std::string& p) {
  const std::string up = BlockLinear(g, b, x, p + b.names.up, d.hidden, d.intermediate, d.mlp_bias);
  std::string mid;
  if (b.gated_mlp) {
    const std::string gate =
        BlockLinear(g, b, x, p + b.names.gate, d.hidden, d.intermediate, d.mlp_bias);
    mid = g.Node("Mul", {Activation(g, gate, d.act), up});
  } else {
    mid = Activation(g, up, d.act);
  }
  return BlockLinear(g, b, mid, p + b.names.down, d.intermediate, d.hidden, d.mlp_bias);
}

}  // namespace ipfs_accel::models
