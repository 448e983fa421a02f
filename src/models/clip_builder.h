#pragma once
// CLIP (CLIPModel) and SigLIP (SiglipModel) dual encoders from one builder, and their two towers
// as functions that composite models (LLaVA, X-CLIP, ...) build on tensors of their own graph.
//
// Both towers are pre-norm transformers with the same layer (layer_norm1,
// self_attn.{q,k,v,out}_proj, layer_norm2, mlp.fc1/fc2). How the two families differ:
//   CLIP   vision: class_embedding + patches, pre_layrnorm, post_layernorm on the class token.
//          text:   causal + padding mask, final_layer_norm, pooled at the EOS token (below).
//          model:  visual_projection / text_projection (no bias), logits * logit_scale.exp().
//   SigLIP vision: patches only (conv with bias), post_layernorm on every token, pooled by the
//                  attention-pooling head (vision_use_head, default true).
//          text:   padding mask only, final_layer_norm, pooled at the last position, then `head`.
//          model:  no projections; logits * logit_scale.exp() + logit_bias (no sigmoid: HF's
//                  SiglipModel returns logits).
//
// Built models: inputs input_ids, attention_mask [batch, sequence] int64 and pixel_values
// [batch, num_channels, image_size, image_size] float; outputs text_embeds, image_embeds
// [batch, embed] (L2-normalised), logits_per_image [batch (images), batch (texts)] and
// logits_per_text (its transpose). Texts and images share the "batch" dimension name.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

enum class ClipFamily { kClip, kSiglip };

// kClip for "clip", "clip_text_model", "clip_vision_model"; kSiglip for "siglip",
// "siglip_text_model", "siglip_vision_model". Throws core::Error(kUnsupported) otherwise.
ClipFamily ClipFamilyOf(const std::string& model_type);

// The text_config / vision_config object of a composite config, with HF's legacy
// text_config_dict / vision_config_dict merged over it (as CLIPConfig does); an absent or null key
// gives an empty config (every default). Its origin names the parent file and the key. Where the
// composite's piece `towers` names a template for `key`, the sub-config is resolved through it
// (its defaults and pieces: OwlViT's towers).
HfConfig ClipSubConfig(const HfConfig& config, const std::string& key);

// One tower's sizes, config defaults filled in per family (CLIPVisionConfig / SiglipVisionConfig,
// CLIPTextConfig / SiglipTextConfig) and checked.
struct ClipVisionShape {
  int64_t hidden, layers, heads, intermediate, channels, image_size, patch_size;
  double eps;
  std::string act;
  // SigLIP's attention-pooling head (piece attention_pooling_head, default the config's
  // vision_use_head); false for CLIP.
  bool use_head;
  // The LayerNorm before CLIP's encoder: "pre_layrnorm" (CLIP's spelling), or OwlViT's
  // "pre_layernorm" (piece pre_layernorm_name).
  std::string pre_layernorm = "pre_layrnorm";
  // Piece weight_prefix: the tower's scope in a *VisionModel checkpoint ("vision_model."), ""
  // where HF's model class is the bare transformer (Idefics3VisionTransformer, BlipVisionModel).
  std::string weight_prefix = "vision_model.";
  // Piece post_layernorm: where post_layernorm applies. kClassToken: to the pooled class token
  // (CLIP); kAllTokens: to last_hidden_state, no pooled output unless SigLIP's head (SigLIP,
  // GIT); kAllTokensThenClassToken: to last_hidden_state, and once more to its class token as
  // the pooled output (BLIP).
  enum class PostNorm { kClassToken, kAllTokens, kAllTokensThenClassToken } post_norm;
  // Piece layout: kClip (the family's embeddings, q/k/v/out_proj); kBlip (BLIP: class token and
  // positions as [1, n, hidden] parameters, a patch conv with bias, no pre-norm, one packed
  // self_attn.qkv with bias, self_attn.projection); kBlip2 (BLIP-2: the packed qkv has no bias
  // but self_attn.q_bias and v_bias when qkv_bias, the key's bias zero); kJanus (SigLIP's
  // embeddings and layers with self_attn.projection_layer as the output projection, q/k/v
  // biases from attention_bias, an MLP mlp_ratio x hidden wide; post-norm on token 0); kMlcd
  // (CLIP's without the position table: q and k rotated by a 2-D rope over the patch grid, the
  // class token's angles the learned class_pos_emb [1, head_dim / 2]); kSiglip2 (SigLIP 2's
  // NaFlex embeddings at one grid: pixel_values [batch, num_patches, C*P*P] already patched,
  // embeddings.patch_embedding a Linear over them, the sqrt(num_patches)-square position table
  // taken as it is, which HF's resize to that same grid leaves unchanged; every patch real).
  // kVideoLlama3 (VideoLLaMA3's tower at merge size 1, images: pixel_values [batch, patches,
  // C*P*P] row-major, the patch Conv2d as a MatMul, no position table, q and k rotated by
  // Qwen2-VL's 2-D vision rope, SigLIP's layers and post_layernorm; no head).
  enum class Layout {
    kClip,
    kBlip,
    kBlip2,
    kJanus,
    kMlcd,
    kSiglip2,
    kVideoLlama3
  } layout = Layout::kClip;
  bool qkv_bias = true;      // BLIP-2's qkv_bias, Janus' attention_bias
  bool class_token = false;  // a class token before the patches (CLIP, BLIP)
  int64_t patches() const { return (image_size / patch_size) * (image_size / patch_size); }
};
struct ClipTextShape {
  int64_t hidden, layers, heads, intermediate, vocab, max_positions;
  double eps;
  std::string act;
  int64_t eos_token_id;     // CLIP's pooling position (see BuildClipTextTower)
  int64_t projection_size;  // SigLIP's text head width; 0 for CLIP
  // Piece text_pooling "argmax_ids" (OwlViT, GroupViT): CLIP's pooled position is always the
  // largest id's (input_ids.argmax), with no eos_token_id rule.
  bool pool_at_largest_id = false;
  // SigLIP family, piece text_pooling "masked_mean" (TIPSv2): no head; pooler_output is the mean
  // of last_hidden_state over attended tokens, sum(h * mask) / (sum(mask) + pooling_epsilon).
  bool masked_mean = false;
  double pooling_epsilon = 1e-8;
  // Piece text_positions "sinusoidal" (TIPSv2): fairseq's sin|cos table at positions 0..S-1,
  // no parameters, in place of embeddings.position_embedding.
  bool sinusoidal_positions = false;
  // Piece embedding_scale true (TIPSv2's scale_sqrt_depth): token embeddings times
  // sqrt(hidden_size) before the positions are added.
  bool scale_embeddings = false;
  // Piece weight_prefix: the tower's scope in its checkpoint ("text_model."; "" where the model
  // class is the bare transformer, Tipsv2TextModel).
  std::string weight_prefix = "text_model.";
};
// Throw core::Error: kCorrupt (sizes that do not fit), kUnsupported (options not built here).
ClipVisionShape ReadClipVisionShape(const HfConfig& vision_config, ClipFamily family);
ClipTextShape ReadClipTextShape(const HfConfig& text_config, ClipFamily family);

// What a tower computed: names of graph tensors.
struct ClipTowerOutputs {
  // HF's hidden_states (output_hidden_states=True): [0] the embeddings as the first layer sees
  // them (CLIP vision: after pre_layrnorm), [i] the output of layer i-1; num_hidden_layers + 1
  // tensors [batch, tokens, hidden], none of them post-normalised. LLaVA's vision_feature_layer
  // -2 is hidden_states[hidden_states.size() - 2]; CLIP's class token is token 0.
  std::vector<std::string> hidden_states;
  // HF's last_hidden_state: CLIP vision: hidden_states.back(); CLIP and SigLIP text:
  // final_layer_norm(hidden_states.back()); SigLIP vision: post_layernorm(hidden_states.back()).
  std::string last_hidden_state;
  // HF's pooler_output [batch, width]: CLIP vision: post_layernorm(class token); CLIP text:
  // last_hidden_state at the EOS position; SigLIP vision: the attention-pooling head's output
  // ("" when vision_use_head is false); SigLIP text: head(last_hidden_state[:, -1]).
  std::string pooled;
};

// Builds CLIPVisionTransformer (kClip) or SiglipVisionTransformer (kSiglip) on `pixel_values`, a
// tensor of the graph (an input or computed) of shape [batch, num_channels, image_size,
// image_size], float. Weights are asked for under g.weight_prefix() by HF's names inside the
// transformer ("embeddings.patch_embedding.weight", "pre_layrnorm.weight",
// "encoder.layers.N.self_attn.q_proj.weight", "post_layernorm.weight", "head.probe", ...):
// CLIPModel scopes it with WeightScope(g, "vision_model."), a LLaVA checkpoint with its tower's
// prefix ("vision_tower." in the hf-tiny llava fixture). Every layer and norm is built and its
// weights counted, as HF counts them, whichever outputs the caller uses. Adds no graph inputs or
// outputs.
// Throws like ReadClipVisionShape.
ClipTowerOutputs BuildClipVisionTower(const HfConfig& vision_config, GraphBuilder& g,
                                      const std::string& pixel_values,
                                      ClipFamily family = ClipFamily::kClip);

// Builds CLIPTextTransformer / SiglipTextTransformer on `input_ids` [batch, sequence] int64, with
// `attention_mask` (same shape, int64, nonzero = attend) or "" for none, under g.weight_prefix()
// ("embeddings.token_embedding.weight", "encoder.layers.N....", "final_layer_norm.weight",
// SigLIP's "head.weight"). CLIP attends causally; its pooled position is, as HF picks it, the
// argmax of the ids when every row's largest id is 49407 (OpenAI's end-of-text token; this is
// also what configs with the legacy eos_token_id 2 relied on), else the first position whose id is
// eos_token_id (0 when a row has none). Adds no graph inputs or outputs.
ClipTowerOutputs BuildClipTextTower(const HfConfig& text_config, GraphBuilder& g,
                                    const std::string& input_ids, const std::string& attention_mask,
                                    ClipFamily family = ClipFamily::kClip);

// HF's eager additive attention mask from `attention_mask` [batch, sequence] int64 (or "" for
// none), combined with causality when `causal`: 0 where a key may be attended, float32's lowest
// where not; "" when neither applies.
std::string ClipAdditiveMask(GraphBuilder& g, const std::string& input_ids,
                             const std::string& attention_mask, bool causal);

// [batch, 1] int64: the first position of `token` in each row of `ids32` ([batch, sequence]
// int32), 0 for a row without it: (ids == token).int().argmax(-1), as CLIP and AIMv2 pool.
std::string FirstPositionOf(GraphBuilder& g, const std::string& ids32, int64_t token);

// CLIPModel / SiglipModel (see the top of this file). Throws like the Read*Shape functions.
void BuildClipModel(const HfConfig& config, ClipFamily family, GraphBuilder& g);

// CLIPVisionModel / SiglipVisionModel (outputs last_hidden_state [batch, tokens, hidden],
// pooler_output [batch, hidden]) and CLIPTextModel / SiglipTextModel (last_hidden_state
// [batch, sequence, hidden], pooler_output), from a tower's own config.
void BuildClipVisionModel(const HfConfig& config, ClipFamily family, GraphBuilder& g);
void BuildClipTextModel(const HfConfig& config, ClipFamily family, GraphBuilder& g);

}  // namespace ipfs_accel::models
