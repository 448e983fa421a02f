#pragma once
// Pieces the vision family's transformers share (ViT/DeiT, CLIP/SigLIP): patch embeddings, extra
// tokens put before the patches, multi-head attention, and the pre-norm encoder layer. Each takes
// the HF parameter names of its caller, so one graph code serves modules named differently.

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Conv2d(kernel = stride = patch) over [batch, channels, height, width] pixels, flattened and
// transposed to [batch, patches, hidden] as HF's patch embeddings do (row-major over the grid).
// The weight is `prefix.weight` [hidden, channels, patch_h, patch_w]; `prefix.bias` when `bias`.
std::string PatchEmbeddings(GraphBuilder& g, const std::string& pixels, const std::string& prefix,
                            int64_t channels, int64_t hidden, int64_t patch_h, int64_t patch_w,
                            bool bias);
// The same for any convolution whose output is flattened into tokens: kernel and strides of one
// to three spatial axes (AST's overlapping spectrogram patches, ViViT's 3-D tubelets) over
// x [batch, channels, ...]; the weight is [hidden, channels, kernel...]. `pads` (ONNX's
// begin..., end... order) zero-pads the input first (VitPose's padding=2); empty for none.
std::string ConvPatchEmbeddings(GraphBuilder& g, const std::string& x, const std::string& prefix,
                                int64_t channels, int64_t hidden,
                                const std::vector<int64_t>& kernel,
                                const std::vector<int64_t>& strides, bool bias,
                                const std::vector<int64_t>& pads = {});

// The size check of a patch-embedding tower (Pixtral, AIMv2): throws core::Error(kCorrupt) unless
// `others` (intermediate_size, num_hidden_layers, num_channels) and patch_size are positive,
// hidden_size a multiple of num_attention_heads and image_size at least patch_size.
void CheckPatchTowerSizes(const HfConfig& c, int64_t hidden, int64_t heads, int64_t image,
                          int64_t patch, std::initializer_list<int64_t> others);

// `token` (a [hidden] vector or a [1, 1, hidden] parameter) as [batch, 1, hidden], with the batch
// size of `like` (any tensor whose axis 0 is the batch).
std::string RepeatOverBatch(GraphBuilder& g, const std::string& token, const std::string& like,
                            int64_t hidden);

// Concatenates `tokens` (each a tensor broadcastable to [1, 1, hidden]: a [hidden] vector or a
// [1, 1, hidden] parameter), repeated over the batch, before `x` [batch, n, hidden] on axis 1.
std::string PrependTokens(GraphBuilder& g, const std::vector<std::string>& tokens,
                          const std::string& x, int64_t hidden);

// Scaled dot-product attention over already projected q [batch, sq, heads*head_dim] and k, v
// [batch, sk, heads*head_dim]; `additive_mask` broadcastable to [batch, heads, sq, sk] or "".
// Returns the merged heads [batch, sq, heads*head_dim] (before any output projection). The
// scores are q k^T * head_dim^-0.5, or unscaled with `scaled` false (Pix2Struct's Mesh
// TensorFlow attention).
std::string ScaledDotProductAttention(GraphBuilder& g, const std::string& q, const std::string& k,
                                      const std::string& v, int64_t heads, int64_t head_dim,
                                      const std::string& additive_mask, bool scaled = true);

// t [batch, S, heads * head_dim] with each head rotated rotate-half by cos and sin tables
// [S, 1, head_dim] (a 2-D vision rope's), merged back to [batch, S, heads * head_dim].
// `interleaved`: each adjacent pair rotated instead (a complex product, Llama 4's vision rope;
// the tables repeat each angle for its pair).
std::string RotateEachHead(GraphBuilder& g, const std::string& t, int64_t heads, int64_t head_dim,
                           const std::string& cos, const std::string& sin,
                           bool interleaved = false);

// The sizes of a pre-norm encoder layer.
struct PreNormLayerShape {
  int64_t hidden, heads, intermediate;
  double eps;
  std::string act;       // HF hidden_act
  bool qkv_bias = true;  // ViT's qkv_bias; CLIP and SigLIP always have biases
  bool key_bias = true;  // BEiT's key has none (its query and value have qkv_bias's)
  bool out_bias = true;  // the attention's output projection (DINOv3's proj_bias)
  bool mlp_bias = true;  // fc1 and fc2 (DINOv3's mlp_bias)
  // MLCD's 2-D rope: cos and sin [tokens, 1, head_dim], applied rotate-half to each head of q
  // and k before the scores; empty: none.
  std::string rope_cos = {}, rope_sin = {};
  bool rope_interleaved = false;  // RotateEachHead's interleaved
};

// HF's module names for one layer (full names without ".weight"/".bias").
struct PreNormLayerNames {
  std::string norm1, query, key, value, attention_out, norm2, fc1, fc2;
};
// HF's names in a CLIP-style layer (CLIPEncoderLayer, SiglipEncoderLayer, X-CLIP's) under
// `prefix` ("encoder.layers.N"): layer_norm1, self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1/2.
PreNormLayerNames ClipLayerNames(const std::string& prefix);

// x + attn(norm1(x)), then h + fc2(act(fc1(norm2(h)))): ViTLayer, CLIPEncoderLayer,
// SiglipEncoderLayer. `additive_mask` as in ScaledDotProductAttention.
std::string PreNormEncoderLayer(GraphBuilder& g, const PreNormLayerShape& s,
                                const PreNormLayerNames& names, const std::string& x,
                                const std::string& additive_mask);

// The two halves of PreNormEncoderLayer (which is their composition), for layers that change the
// tokens between them (X-CLIP's vision layer drops its message token after attention) or use one
// half alone (its message attention). The attention half reads names.norm1, query, key, value and
// attention_out: x + attention_out(attn(norm1(x))); the MLP half reads names.norm2, fc1 and fc2:
// h + fc2(act(fc1(norm2(h)))).
std::string PreNormAttentionBlock(GraphBuilder& g, const PreNormLayerShape& s,
                                  const PreNormLayerNames& names, const std::string& x,
                                  const std::string& additive_mask);
std::string PreNormMlpBlock(GraphBuilder& g, const PreNormLayerShape& s,
                            const PreNormLayerNames& names, const std::string& h);
// The blocks' branches before their residual sum, for layers that scale a branch first (DINOv2's
// layer scale): attention_out(attn(norm1(x))) and fc2(act(fc1(norm2(h)))).
std::string PreNormAttention(GraphBuilder& g, const PreNormLayerShape& s,
                             const PreNormLayerNames& names, const std::string& x,
                             const std::string& additive_mask);
std::string PreNormMlp(GraphBuilder& g, const PreNormLayerShape& s, const PreNormLayerNames& names,
                       const std::string& h);

// Row `index` of axis 1 of [batch, n, hidden]: [batch, hidden].
std::string TokenAt(GraphBuilder& g, const std::string& x, int64_t index);

// x / ||x||_2 over the last axis, as HF divides embeddings by their norm (no epsilon).
std::string L2Normalize(GraphBuilder& g, const std::string& x);

}  // namespace ipfs_accel::models
