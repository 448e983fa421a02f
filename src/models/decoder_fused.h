#pragma once
// The rotary decoder layers (LLaMA, Mistral, Qwen2, Qwen3, Gemma) with ONNX Runtime's contrib
// operators (com.microsoft), used by BuildDecoder when GraphBuilder::fused(): RotaryEmbedding on
// q and k, MultiHeadAttention over the cache, and SkipSimplifiedLayerNormalization for each
// residual add + RMSNorm. The graph keeps the plain graph's I/O (decoder_builder.h).
//
// Attention is MultiHeadAttention over the present keys/values (past then new, concatenated here
// as in the plain graph) with the plain graph's additive mask as attention_bias, so causality,
// sliding windows and left or right padding are all exact. GroupQueryAttention reads its past
// only when its present outputs are connected (a multi-output contrib node, which GraphBuilder
// cannot make yet), and ties the new tokens' places to seqlens_k rather than to the mask.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "rotary.h"

namespace ipfs_accel::models {

// What every fused layer shares, computed once from the graph inputs.
struct FusedDecoderContext {
  std::string position_ids;          // int64 [batch, S]: past_length + i, HF's cache positions
  std::string cos_cache, sin_cache;  // [total_sequence, rotary_dim / 2], attention scaling in
};

// `cache_positions` is int64 [1, S]. The rotary tables are computed in the graph for positions
// 0 .. total_sequence - 1 with the float32 products HF makes, so no position limit is baked in.
FusedDecoderContext MakeFusedDecoderContext(GraphBuilder& g, const RopeSpec& rope,
                                            const std::string& cache_positions);

struct FusedAttentionShape {
  int64_t heads = 0, kv_heads = 0, head_dim = 0, rotary_dim = 0;
  float scale = 1;  // multiplies q.k
};

// The cache-side names of one layer.
struct LayerCache {
  std::string past_key, past_value, present_key, present_value;
};

// Causal self-attention over the cache. q [batch, S, heads * head_dim], k and v
// [batch, S, kv_heads * head_dim] before RoPE; `mask` the additive [batch, 1, S, total] mask
// (causal, sliding window and padding in one).
// Writes the layer's present key/value (after RoPE) and returns [batch, S, heads * head_dim].
std::string FusedSelfAttention(GraphBuilder& g, const FusedDecoderContext& ctx,
                               const FusedAttentionShape& s, const std::string& q,
                               const std::string& k, const std::string& v, const LayerCache& cache,
                               const std::string& mask);

// RMSNorm(x + skip) * gamma as one SkipSimplifiedLayerNormalization.
std::string SkipRmsNorm(GraphBuilder& g, const std::string& x, const std::string& skip,
                        const std::string& gamma, double eps);

}  // namespace ipfs_accel::models
