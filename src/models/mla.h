#pragma once
// Multi-head latent attention (DeepSeek-V2/V3, GLM-4.7-Flash's glm4_moe_lite) as Hugging Face's
// *Attention modules compute it: queries through an optional low-rank bottleneck
// (q_a_proj, q_a_layernorm, q_b_proj; or q_proj), keys and values from one compressed vector
// (kv_a_proj_with_mqa -> kv_lora_rank + a rotary part shared by every head, kv_a_layernorm,
// kv_b_proj -> per head qk_nope + v), each head's query and key the concatenation
// [no-position part | rotary part]. The KV cache holds what HF's cache holds: the expanded keys
// [batch, heads, T, qk_nope + qk_rope] and values [batch, heads, T, v_head_dim].
//
// Weight names (under the layer's "self_attn."): q_a_proj, q_a_layernorm, q_b_proj (or q_proj),
// kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"
#include "rotary.h"

namespace ipfs_accel::models {

struct MlaSpec {
  int64_t hidden = 0, heads = 0;
  int64_t q_lora_rank = 0;  // 0: a plain q_proj
  int64_t kv_lora_rank = 0, nope_dim = 0, rope_dim = 0, value_dim = 0;
  bool bias = false;  // attention_bias: q_a_proj, kv_a_proj_with_mqa and o_proj
  // How the rotary part is laid out: "half" (rotate-half as stored), "interleave" (V3's
  // rope_interleave: pairs de-interleaved, then rotate-half), "complex" (V2: each stored pair
  // rotated as a complex number, staying in place).
  std::string rope_layout = "half";
  float scale = 1.0f;  // softmax scale: (nope + rope)^-0.5, times yarn's mscale^2 where set
  int64_t key_dim() const { return nope_dim + rope_dim; }
};

// Reads the config's q_lora_rank (null: none), kv_lora_rank, qk_nope_head_dim,
// qk_rope_head_dim, v_head_dim (null: hidden / heads) and attention_bias, the template's
// `mla_rope_layout` ("half" or "complex") and `mla_rope_interleave` (true: "interleave"), and
// the rope parameters for yarn's mscale. Throws core::Error(kCorrupt) naming a bad value.
MlaSpec ReadMlaSpec(const HfConfig& config, int64_t hidden, int64_t heads);

// q and k [batch, heads, S, key_dim] with the rotary part rotated by `rope` (tables of
// rope_dim), v [batch, heads, S, value_dim], from x [batch, S, hidden]; `prefix` ends in
// "self_attn.".
struct MlaHeads {
  std::string q, k, v;
};
MlaHeads MlaProjections(GraphBuilder& g, const MlaSpec& s, const std::string& x,
                        const std::string& prefix, const RopeTables& rope);

}  // namespace ipfs_accel::models
