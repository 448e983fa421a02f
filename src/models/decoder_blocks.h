#pragma once
// The decoder layout "blocks" (docs/templates.md): a decoder whose block structure and weight
// names are the template's data, for the GPT-style families that differ from each other only in
// where the norms sit, how q, k and v are stored, how positions enter and what the weights are
// called (GPT-1, GPT-J, CodeGen, GPT-Neo, GPTBigCode, StarCoder2, StableLM, Persimmon, Cohere,
// OLMo, BioGPT, XGLM, CTRL, BLOOM, MPT, Falcon, Jais2, ...). This header reads the pieces and
// builds the parts that need nothing of the decoder builder's (projections and MLP); the
// builder assembles the blocks around its attention.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// Weight names under the base model's prefix; `layer` is a pattern with "{}" for the index.
// An empty name means the model has no such weight (no final norm, no position table, ...).
struct BlockNames {
  std::string embed, positions, embed_norm;
  std::string layer, attn_norm, mlp_norm;
  std::string q, k, v, qkv, o, q_norm, k_norm;
  std::string up, gate, down;
  std::string final_norm, lm_head;
};

enum class BlockForm {
  kSequential,        // h += attn(norm1(h)); h += mlp(norm2(h))
  kParallel,          // h += attn(norm1(h)) + mlp(norm1(h))  (GPT-J, Cohere, Falcon-7B)
  kParallelTwoNorms,  // h += attn(norm1(h)) + mlp(norm2(h))  (Falcon-40B)
  kPostNorm,          // h = norm1(h + attn(h)); h = norm2(h + mlp(h))  (GPT-1)
};
enum class QkvForm {
  kSeparate,  // q, k, v projections of their own
  kConcat,    // one projection, [q | k | v] over all heads (GPT-2's c_attn, MPT's Wqkv)
  kGrouped,   // one projection, per KV head [q x heads/kv | k | v] (GPT-NeoX, BLOOM, Falcon)
  kCodegen,   // CodeGen: 4 model-parallel shards, each [q | v | k]
};
enum class PositionForm {
  kRope,             // rotary in attention (the `rope` piece)
  kLearned,          // a table row per position (past + arange), after `position_offset` rows
  kLearnedFromMask,  // OPT, BioGPT: position = attended tokens before it, offset 2
  kSinusoidal,       // fairseq / XGLM table, no parameters
  kSinusoidalCtrl,   // CTRL's table
  kAlibiBloom,       // no embedding: linear biases on the scores (alibi.h)
  kAlibiMpt,
  kNone,
};
enum class ScoreScaling { kInverseSqrt, kDivideBySqrt, kNone };

struct BlockSpec {
  BlockNames names;
  BlockForm form = BlockForm::kSequential;
  QkvForm qkv = QkvForm::kSeparate;
  bool conv1d = false;  // GPT-2's Conv1D: weights stored [in, out]
  bool gated_mlp = true;
  PositionForm positions = PositionForm::kRope;
  int64_t position_offset = 0;
  ScoreScaling scaling = ScoreScaling::kInverseSqrt;
  bool lm_head_bias = false;
  int64_t lm_head_rows = 0;           // ImageGPT: -1, its head never predicts the start token
  double logit_scale = 1;             // Cohere: logits times logit_scale
  double clip_qkv = 0;                // OLMo, MPT: q, k, v clamped to [-clip, clip]; 0 for none
  double alibi_bias_max = 8;          // MPT
  double softmax_scale = 0;           // MPT: the scores' factor when set, instead of `scaling`
  bool rope_on_sliding_only = false;  // Cohere2: full-attention layers have no rotary
  bool last_layer_o_bias = false;     // GPT-NeoX-Japanese: a bias after the last layer's dense
  // Fuyu: a Linear from image patches (patch_features = patch_size^2 x num_channels) to hidden;
  // empty for none. Text-only input never uses it, but it is a parameter of the model.
  std::string patch_embedding;
  int64_t patch_features = 0;
};

// Reads the pieces of a config resolved by a "blocks" template. Throws core::Error(kCorrupt)
// naming the template for an unknown value.
BlockSpec ReadBlockSpec(const HfConfig& c);

// The sizes the projections need.
struct BlockDims {
  int64_t hidden = 0, heads = 0, kv_heads = 0, head_dim = 0, intermediate = 0;
  bool qkv_bias = false, o_bias = false, mlp_bias = false;
  std::string act;
};

// Fuyu's patch projection (`patch_embedding`), fetched and counted; no-op when the spec has none.
// The graph takes no image patches: with text-only input HF's forward never reads it.
void BlockUnusedPatchEmbedding(GraphBuilder& g, const BlockSpec& b, int64_t hidden);

// "{}" in the layer pattern replaced by `layer`.
std::string BlockLayerPrefix(const BlockSpec& b, int layer);

// A projection [.., in] -> [.., out] named `prefix` (Linear, or Conv1D when the spec says so).
std::string BlockLinear(GraphBuilder& g, const BlockSpec& b, const std::string& x,
                        const std::string& prefix, int64_t in, int64_t out, bool bias);

// q [b, S, heads, head_dim], k and v [b, S, kv_heads, head_dim] from the normed input x.
struct BlockQkv {
  std::string q, k, v;
};
BlockQkv BlockProjectQkv(GraphBuilder& g, const BlockSpec& b, const BlockDims& d,
                         const std::string& x, const std::string& layer_prefix);

// The feed-forward part: act(up(x)) or act(gate(x)) * up(x), then down.
std::string BlockMlp(GraphBuilder& g, const BlockSpec& b, const BlockDims& d, const std::string& x,
                     const std::string& layer_prefix);

}  // namespace ipfs_accel::models
