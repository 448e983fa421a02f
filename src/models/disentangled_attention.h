#pragma once
// DeBERTa's disentangled self-attention (DisentangledSelfAttention of DeBERTa, DeBERTa-v2/v3 and
// SEW-D), as transformers 5.x computes it. Contract:
//   scores[i, j] = (q_i . k_j + c2p[i, j] + p2c[i, j]) / sqrt(head_dim * (1 + #c2p + #p2c))
//   c2p[i, j] = q_i . pk[clamp(r(i, j) + span, 0, 2 span - 1)]      ("c2p" in pos_att_type)
//   p2c[i, j] = k_j . pq[clamp(-r(j, i) + span, 0, 2 span - 1)]     ("p2c" in pos_att_type)
// with r(i, j) = i - j, log-bucketed (make_log_bucket_position) when position_buckets > 0, span =
// position_buckets if > 0 else max_relative_positions (max_position_embeddings when < 1), and pk,
// pq the relative embeddings table [2 span, hidden] (rows 0 .. 2 span - 1) projected by
// pos_key_proj / pos_query_proj (v1: pos_proj without bias / pos_q_proj), or by key_proj /
// query_proj with share_att_key. DeBERTa v1's index clamp over its 2 max_relative_positions rows
// equals this one. Without relative_attention only q . k / sqrt(head_dim * (1 + ...)) remains.
// Masked keys get float32's lowest before the softmax (a fully masked query row thus attends
// uniformly, as masked_fill does); `kept` rows, where given, are zeroed after it (XSoftmax, SEW-D).
// Weight names are relative to the builder's weight prefix plus `prefix` ("...attention.self."):
// v2: query_proj, key_proj, value_proj (with biases), pos_key_proj, pos_query_proj; v1 (in_proj):
// in_proj (no bias, rows per head [q | k | v]), q_bias, v_bias, pos_proj, pos_q_proj.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct DisentangledSpec {
  int64_t hidden = 0, heads = 0, head_dim = 0;
  bool fused_in_proj = false;  // DeBERTa v1's in_proj, q_bias and v_bias
  bool relative = false;       // relative_attention
  bool c2p = false, p2c = false;
  bool share_att_key = false;  // v2: positions projected by key_proj / query_proj
  int64_t span = 0;            // half the relative embedding rows
  int64_t buckets = 0;         // position_buckets; 0: plain i - j
  int64_t max_relative = 0;    // max_relative_positions after its fallback
  // v2's norm_rel_ebd "layer_norm": the table through the encoder's LayerNorm first
  bool norm_table = false;
};

// The spec a DebertaConfig / DebertaV2Config / SEWDConfig gives (pos_att_type a list or HF's
// legacy "p2c|c2p" string). `fused_in_proj` picks v1 (which has no buckets, shared keys or table
// norm). Throws core::Error: kCorrupt (hidden_size not a multiple of num_attention_heads, an
// unknown pos_att_type entry), kUnsupported (an attention_head_size other than hidden / heads).
DisentangledSpec ReadDisentangledSpec(const HfConfig& config, bool fused_in_proj);

// What every layer shares: the relative positions' gather indices, int64 [1, 1, S, S] for the
// sequence of `x` [batch, S, ...], and the relative embeddings table [2 span, hidden].
struct DisentangledPositions {
  std::string c2p_index, p2c_index;
  std::string table;
};
// `table_name` is the relative embeddings' weight ("encoder.rel_embeddings.weight"),
// `norm_prefix` the LayerNorm norm_table applies ("encoder.LayerNorm"). Empty without relative
// attention.
DisentangledPositions DisentangledRelativePositions(GraphBuilder& g, const DisentangledSpec& s,
                                                    const std::string& x,
                                                    const std::string& table_name,
                                                    const std::string& norm_prefix, double eps);

// One layer's attention on x [batch, S, hidden]: the context [batch, S, heads x head_dim] before
// the output dense. `mask`: additive [batch, 1, S or 1, S] or "" for none; `kept`: float [batch, 1,
// S, 1] or "".
std::string DisentangledSelfAttention(GraphBuilder& g, const DisentangledSpec& s,
                                      const std::string& prefix, const std::string& x,
                                      const DisentangledPositions& p, const std::string& mask,
                                      const std::string& kept);

// DebertaEncoder's mask from attention_mask int64 [batch, S]: additive [batch, 1, S, S], float32's
// lowest where the query or the key is padding (HF's mask[i] * mask[j]).
std::string DisentangledPairMask(GraphBuilder& g, const std::string& attention_mask);

}  // namespace ipfs_accel::models
