#include "mla.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// DeepSeek's RMSNorm of the low-rank vectors: the module's default eps (1e-6), not the config's.
std::string LowRankNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                        int64_t size) {
  const std::string scale = g.Weight(prefix + ".weight", {size}, WeightInit::kOnes);
  const std::string mean_square = g.Node("ReduceMean", {g.Node("Mul", {x, x})},
                                         {{"axes", std::vector<int64_t>{-1}}, {"keepdims", 1}});
  const std::string inv_rms =
      g.Node("Reciprocal", {g.Node("Sqrt", {g.Node("Add", {mean_square, g.ConstFloat(1e-6f)})})});
  return g.Node("Mul", {g.Node("Mul", {x, inv_rms}), scale});
}

// [batch, S, heads * d] -> [batch, heads, S, d].
std::string MlaHeadsFirst(GraphBuilder& g, const std::string& x, int64_t heads, int64_t d) {
  return g.Node("Transpose", {g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, d})})},
                {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

// The last axis's pairs (x0, x1), (x2, x3), ... regrouped as [x0, x2, ... | x1, x3, ...]
// (`undo`: back again).
std::string Deinterleave(GraphBuilder& g, const std::string& x, int64_t d, bool undo) {
  const std::vector<int64_t> split =
      undo ? std::vector<int64_t>{0, 0, 0, 2, d / 2} : std::vector<int64_t>{0, 0, 0, d / 2, 2};
  const std::string swapped = g.Node("Transpose", {g.Node("Reshape", {x, g.ConstInt64(split)})},
                                     {{"perm", std::vector<int64_t>{0, 1, 2, 4, 3}}});
  return g.Node("Reshape", {swapped, g.ConstInt64({0, 0, 0, d})});
}

std::string Rotate(GraphBuilder& g, const MlaSpec& s, const std::string& x,
                   const RopeTables& rope) {
  if (s.rope_layout == "half") return ApplyRope(g, x, rope, s.rope_dim, s.rope_dim);
  const std::string rotated =
      ApplyRope(g, Deinterleave(g, x, s.rope_dim, false), rope, s.rope_dim, s.rope_dim);
  return s.rope_layout == "complex" ? Deinterleave(g, rotated, s.rope_dim, true) : rotated;
}

// yarn's softmax correction: HF multiplies the scale by mscale^2 when the rope type is not
// default and mscale_all_dim is set.
float SoftmaxScale(const HfConfig& c, int64_t key_dim) {
  double scale = std::pow(static_cast<double>(key_dim), -0.5);
  json rope = c.Has("rope_parameters") ? c.json()["rope_parameters"] : json(nullptr);
  if (!rope.is_object() && c.Has("rope_scaling")) rope = c.json()["rope_scaling"];
  if (!rope.is_object()) return static_cast<float>(scale);
  const std::string type = rope.value("rope_type", rope.value("type", std::string("default")));
  const double mscale_all_dim = rope.value("mscale_all_dim", 0.0);
  const double factor = rope.value("factor", 1.0);
  if (type != "default" && mscale_all_dim != 0.0 && factor > 1.0) {
    const double mscale = 0.1 * mscale_all_dim * std::log(factor) + 1.0;
    scale *= mscale * mscale;
  }
  return static_cast<float>(scale);
}

}  // namespace

MlaSpec ReadMlaSpec(const HfConfig& c, int64_t hidden, int64_t heads) {
  MlaSpec s;
  s.hidden = hidden;
  s.heads = heads;
  s.q_lora_rank = c.Int("q_lora_rank", 0);
  s.kv_lora_rank = c.Int("kv_lora_rank");
  s.nope_dim = c.Int("qk_nope_head_dim");
  s.rope_dim = c.Int("qk_rope_head_dim");
  s.value_dim = c.Int("v_head_dim", hidden / std::max<int64_t>(heads, 1));  // MiniCPM3: null
  s.bias = c.Bool("attention_bias", false);
  s.rope_layout = c.PieceString("mla_rope_layout", s.rope_layout);
  // V3's rope_interleave (a boolean config key) picks the interleaved layout.
  if (s.rope_layout == "half" && c.PieceBool("mla_rope_interleave", false))
    s.rope_layout = "interleave";
  if (s.rope_layout != "half" && s.rope_layout != "interleave" && s.rope_layout != "complex")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': template '{}' has mla_rope_layout '{}', not half, "
                            "interleave or complex",
                            c.origin(), c.template_name(), s.rope_layout));
  if (s.rope_dim < 2 || s.rope_dim % 2 != 0 || s.kv_lora_rank < 1 || s.value_dim < 1)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': latent attention needs an even qk_rope_head_dim ({}) and "
                            "positive kv_lora_rank and v_head_dim",
                            c.origin(), s.rope_dim));
  // Mistral 4 (`mla_softmax_mscale` false): yarn rope without the softmax correction.
  s.scale = c.PieceBool("mla_softmax_mscale", true)
                ? SoftmaxScale(c, s.key_dim())
                : static_cast<float>(std::pow(static_cast<double>(s.key_dim()), -0.5));
  return s;
}

MlaHeads MlaProjections(GraphBuilder& g, const MlaSpec& s, const std::string& x,
                        const std::string& prefix, const RopeTables& rope) {
  const int64_t q_out = s.heads * s.key_dim();
  const std::string q_flat =
      s.q_lora_rank == 0
          ? g.Linear(x, prefix + "q_proj", s.hidden, q_out, false)
          : g.Linear(
                LowRankNorm(g, g.Linear(x, prefix + "q_a_proj", s.hidden, s.q_lora_rank, s.bias),
                            prefix + "q_a_layernorm", s.q_lora_rank),
                prefix + "q_b_proj", s.q_lora_rank, q_out, false);
  const std::string q = MlaHeadsFirst(g, q_flat, s.heads, s.key_dim());
  const std::vector<Attr> last = {{"axis", int64_t{-1}}};
  const auto q_parts = g.NodeN("Split", {q, g.ConstInt64({s.nope_dim, s.rope_dim})}, 2, last);

  const std::string compressed =
      g.Linear(x, prefix + "kv_a_proj_with_mqa", s.hidden, s.kv_lora_rank + s.rope_dim, s.bias);
  const auto kv_parts =
      g.NodeN("Split", {compressed, g.ConstInt64({s.kv_lora_rank, s.rope_dim})}, 2, last);
  const std::string kv =
      g.Linear(LowRankNorm(g, kv_parts[0], prefix + "kv_a_layernorm", s.kv_lora_rank),
               prefix + "kv_b_proj", s.kv_lora_rank, s.heads * (s.nope_dim + s.value_dim), false);
  const auto k_parts = g.NodeN("Split",
                               {MlaHeadsFirst(g, kv, s.heads, s.nope_dim + s.value_dim),
                                g.ConstInt64({s.nope_dim, s.value_dim})},
                               2, last);
  // The rotary key part is one head, shared: [batch, 1, S, rope] expanded over the heads.
  const std::string k_rot = Rotate(g, s, MlaHeadsFirst(g, kv_parts[1], 1, s.rope_dim), rope);
  const std::string k_rot_heads = g.Node("Expand", {k_rot, g.ConstInt64({1, s.heads, 1, 1})});
  MlaHeads out;
  out.q = g.Node("Concat", {q_parts[0], Rotate(g, s, q_parts[1], rope)}, last);
  out.k = g.Node("Concat", {k_parts[0], k_rot_heads}, last);
  out.v = k_parts[1];
  return out;
}

}  // namespace ipfs_accel::models
