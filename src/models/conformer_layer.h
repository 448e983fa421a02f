#pragma once
// Wav2Vec2ConformerEncoderLayer (the "conformer" layer piece of the wav2vec2 builder): a
// half-step feed-forward, self-attention with Transformer-XL relative positions, a convolution
// module and a second half-step feed-forward, then final_layer_norm. Weight names are HF's
// under encoder.layers.N. (ffn1_layer_norm, ffn1.intermediate_dense, self_attn.linear_q, ...,
// self_attn.linear_pos, self_attn.pos_bias_u / pos_bias_v, conv_module.pointwise_conv1,
// depthwise_conv, batch_norm, pointwise_conv2, ffn2..., final_layer_norm).

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "wav2vec2_builder.h"

namespace ipfs_accel::models {

// Wav2Vec2ConformerRelPositionalEmbedding for the frames of `x` [batch, frames, hidden]:
// [1, 2 * frames - 1, hidden], the sinusoids of relative positions frames-1 down to
// -(frames-1) (sine in even columns, cosine in odd), computed in the graph so any length works.
std::string ConformerRelativePositions(GraphBuilder& g, const Wav2Vec2Shape& s,
                                       const std::string& x);
// The same for a `hidden`-wide model (Parakeet's ParakeetEncoderRelPositionalEncoding).
std::string ConformerRelativePositions(GraphBuilder& g, int64_t hidden, const std::string& x);

// The relative attention's weight names under its prefix: Wav2Vec2Conformer's by default;
// `bias`: q/k/v/out have biases.
struct RelativeAttentionNames {
  std::string q = "linear_q", k = "linear_k", v = "linear_v", out = "linear_out";
  std::string pos = "linear_pos", bias_u = "pos_bias_u", bias_v = "pos_bias_v";
  bool bias = true;
};

// Transformer-XL relative self-attention on x [batch, frames, hidden] under `prefix`:
// ((q + u) k^T + rel_shift((q + v) p^T)) / sqrt(head_dim) + mask, p the projected `positions`
// (ConformerRelativePositions); `mask` additive or "".
std::string RelativeSelfAttention(GraphBuilder& g, int64_t hidden, int64_t heads,
                                  const std::string& x, const std::string& prefix,
                                  const std::string& mask, const std::string& positions,
                                  const RelativeAttentionNames& names = {});

// One layer on `x` [batch, frames, hidden]; `mask` an additive [batch, 1, 1, frames] mask or "";
// `positions` from ConformerRelativePositions.
std::string ConformerLayer(GraphBuilder& g, const Wav2Vec2Shape& s, const std::string& x,
                           int64_t index, const std::string& mask, const std::string& positions);

}  // namespace ipfs_accel::models
