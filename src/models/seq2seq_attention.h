#pragma once
// The attention pieces T5 and BART share: head splitting, softmax(q k^T * scale + bias) v,
// and the additive masks Hugging Face builds (finfo(float32).min where a key is hidden,
// 0 elsewhere; finite, so a fully padded row stays a uniform softmax as in PyTorch).

#include <cstdint>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// [batch, seq, heads * head_dim] -> [batch, heads, seq, head_dim].
std::string SplitHeads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim);
// [batch, heads, seq, head_dim] -> [batch, seq, heads * head_dim].
std::string MergeHeads(GraphBuilder& g, const std::string& x, int64_t inner);

// softmax(q k^T * scale + bias) v on split heads. `scale` 1 adds no Mul (T5 does not
// scale); `bias` broadcasts to [batch, heads, query, key] and may be empty.
std::string Attend(GraphBuilder& g, const std::string& q, const std::string& k,
                   const std::string& v, float scale, const std::string& bias);

// The length of axis `axis` of `x` as a 1-D int64 tensor of one element.
std::string AxisLength(GraphBuilder& g, const std::string& x, int64_t axis);
// 0..length-1 + offset, 1-D int64; `offset` and `length` are 1-D one-element tensors.
std::string PositionRange(GraphBuilder& g, const std::string& offset, const std::string& length);

// Additive mask [batch, 1, 1, key] from a 1/0 int64 mask [batch, key]: HF's
// (1 - mask) * finfo(float32).min.
std::string PaddingMaskBias(GraphBuilder& g, const std::string& mask);
// Additive causal mask [1, 1, query, key]: min where a key's position is after the
// query's. Positions are 1-D int64 (query positions may start past a KV cache).
std::string CausalMaskBias(GraphBuilder& g, const std::string& query_positions,
                           const std::string& key_positions);

}  // namespace ipfs_accel::models
