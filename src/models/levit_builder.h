#pragma once
// LevitModel (modeling_levit.py) as an ONNX graph (docs/templates.md, builder "levit"): four
// conv-BatchNorm patch-embedding layers (hardswish between), then stages of residual attention
// (a fused query/key/value Linear + BatchNorm1d, a learned bias per head and relative offset, a
// hardswish before the output Linear + BatchNorm1d) and residual MLPs (Linear + BatchNorm1d,
// hardswish, Linear + BatchNorm1d), each stage but the last ending in a subsampling attention
// (queries from every stride-th token, no residual) and a residual MLP. BatchNorm is the eval
// form (running stats are buffers).
// Input pixel_values [batch, num_channels, image_size, image_size]; outputs last_hidden_state
// [batch, tokens, hidden_sizes[-1]] and pooler_output [batch, hidden_sizes[-1]] (the token mean).

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error(kCorrupt) for per-stage lists of different lengths or an
// image whose patch grid is not image_size // patch_size (HF's attention biases would not fit).
void BuildLevit(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// LeViT's relative-offset indices (attention_bias_idxs): for each query point p1 of an out x out
// grid and key point p2 of an in x in grid, the index of (|p1 * stride - p2|) per axis in the
// order offsets are first met. Returned row-major [out^2 * in^2]; `count` gets the offsets.
std::vector<int64_t> LevitBiasIndices(int64_t in, int64_t out, int64_t stride, int64_t& count);

// One LeViT attention over x [batch, res_in^2, dim_in] (weights under `prefix`): stride 1 is
// LevitAttention (`queries_keys_values`, per head [q | k | v] of key_dim, key_dim,
// ratio x key_dim), stride > 1 LevitAttentionSubsample (`keys_values`, per head [k | v], and
// `queries` from every stride-th row and column of the grid, res_out = (res_in - 1) / stride + 1);
// scores q k^T / sqrt(key_dim) plus `attention_biases` [heads, offsets] gathered by
// LevitBiasIndices, softmax, then hardswish and `projection` to dim_out. No residual.
struct LevitAttentionSpec {
  int64_t dim_in = 0, dim_out = 0, key_dim = 0, heads = 0, ratio = 0, res_in = 0, stride = 1;
};
std::string LevitAttention(GraphBuilder& g, const std::string& x, const std::string& prefix,
                           const LevitAttentionSpec& spec);

// MLPLayerWithBN under `prefix` over x [batch, tokens, in]: a bias-free Linear
// (`prefix.linear`), then BatchNorm1d over the features (`prefix.batch_norm`, eps 1e-5).
std::string LinearBatchNorm(GraphBuilder& g, const std::string& x, const std::string& prefix,
                            int64_t in, int64_t out);

}  // namespace ipfs_accel::models
