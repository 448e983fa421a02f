#pragma once
// CvtModel (modeling_cvt.py) as an ONNX graph (docs/templates.md, builder "cvt"): per stage a
// strided conv embedding with a LayerNorm over its tokens, an optional class token (of width
// embed_dim[-1], as HF sizes it), then pre-norm layers whose attention projects queries, keys and
// values by a depthwise conv + BatchNorm ("dw_bn", keys and values strided) and a Linear each, the
// class token joining after the convs, scores scaled by embed_dim^-0.5 (not the head size), then
// an MLP with GELU. BatchNorm is the eval form; every LayerNorm has PyTorch's eps 1e-5.
// Input pixel_values [batch, num_channels, height, width] (fixed with image_size, else
// symbolic); outputs last_hidden_state [batch, embed_dim[-1], h, w] and, when the last stage has
// a class token, cls_token_value [batch, 1, embed_dim[-1]].

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// No pieces ({}). Throws core::Error: kCorrupt for per-stage lists of different lengths;
// kUnsupported for a qkv_projection_method other than dw_bn (HF's "avg" fails in its forward).
void BuildCvt(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g);

// CvtSelfAttention + CvtSelfOutput under `prefix` (`attention.` and `output.` below it) over
// tokens [batch, (cls +) h w, dim]; `map_shape` is the [4] shape of the token grid
// [batch, dim, h, w]. Exposed for tests.
struct CvtAttentionSpec {
  int64_t dim = 0, heads = 1, kernel = 3, padding_q = 1, stride_q = 1, padding_kv = 1,
          stride_kv = 2;
  bool qkv_bias = true, cls_token = false;
};
std::string CvtAttention(GraphBuilder& g, const std::string& x, const std::string& map_shape,
                         const std::string& prefix, const CvtAttentionSpec& spec);

}  // namespace ipfs_accel::models
