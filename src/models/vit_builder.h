#pragma once
// The ViT family as ONNX graphs, from one builder: ViTModel and DeiTModel, and the models that are
// ViT with other pieces (docs/templates.md, builder "vit"): a convolutional patch embedding over
// images, video tubelets (ViViT) or spectrograms (AST); tokens before the patches (CLS, DeiT's
// distillation token) or after them (YOLOS's detection tokens); learned position embeddings
// (YOLOS: also between layers); DINOv2's register tokens, mask token, layer scale and SwiGLU MLP;
// pre-norm layers, a final layernorm and the model's pooler (ViT's dense + pooler_act on token 0,
// DINOv2's token 0, AST's mean of tokens 0 and 1, or none).
// Input pixel_values [batch, num_channels, image_height, image_width] float (ViViT:
// [batch, num_frames, num_channels, height, width]; AST: input_values [batch, max_length,
// num_mel_bins]); outputs last_hidden_state [batch, tokens, hidden] [, pooler_output].

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// How a model differs from ViTModel: the template's pieces for builder "vit". A piece may be a
// literal or "$key", the config's value of key.
struct VitVariant {
  // "image" (Conv2d patches), "tubelet" (ViViT: Conv3d over [frames, height, width] in
  // tubelet_size), "spectrogram" (AST: Conv2d of patch_size with frequency_stride/time_stride
  // over the [num_mel_bins, max_length] spectrogram).
  std::string patches = "image";
  // embeddings.<name> [1, 1, hidden] each, before the patches ([] for I-JEPA, which has none).
  std::vector<std::string> leading_tokens = {"cls_token"};
  // embeddings.<name> [1, n, hidden] after the patches (YOLOS: detection_tokens), n = count.
  std::string trailing_tokens;
  int64_t trailing_count = 0;
  // DINOv2 with registers: embeddings.register_tokens [1, n, hidden] after token 0, put in after
  // the position embeddings (which do not cover them).
  int64_t registers = 0;
  // embeddings.mask_token (DINOv2: [1, hidden]; BEiT: [1, 1, hidden]), a parameter only masked
  // pre-training uses.
  bool mask_token = false;
  // embeddings.position_embeddings (BEiT's use_absolute_position_embeddings).
  bool position_embeddings = true;
  // VideoMAE (piece position_embeddings "sinusoid_table"): instead, a fixed buffer, the
  // interleaved sin/cos table of the tokens (InterleavedSinusoids), computed, not counted.
  bool sinusoid_positions = false;
  // VideoMAE (piece final_norm "unless_mean_pooling"): no final layernorm with use_mean_pooling.
  bool final_norm_unless_mean_pooling = false;
  // VitPose: the table has a class token's row 0 but the model no class token; row 0 is added
  // to every patch after the patch's own row (embeddings + pos[:, 1:] + pos[:, :1]).
  bool class_position_to_patches = false;
  // Zero padding on each side of the image before the patch convolution (VitPose: 2).
  int64_t patch_padding = 0;
  // "vit" (layernorm_before/after, intermediate.dense, output.dense), "dinov2" (norm1/2,
  // mlp.fc1/fc2 or mlp.weights_in/out with swiglu, layer_scale1/2.lambda1) or "beit" (ViT's
  // names, a key without bias, lambda_1/lambda_2 when layer_scale_init_value > 0), "vitpose"
  // (ViT's names with mlp.fc1/fc2, int(hidden_size * mlp_ratio) wide), "dinov3" (norm1/2,
  // attention.q/k/v/o_proj with query_bias, key_bias, proj_bias, layer_scale1/2.lambda1,
  // mlp.up_proj/down_proj, or gate_proj/up_proj/down_proj with use_gated_mlp; biases mlp_bias).
  std::string layer = "vit";
  // Where the weights are: the patch convolution, each layer ("{}" its index), the final norm.
  std::string patch_name = "embeddings.patch_embeddings.projection";
  std::string layer_name = "encoder.layer.{}.";
  std::string final_norm_name = "layernorm";
  // "none", or "patch_centers" (DINOv3): q and k of the patch tokens (not the leading or
  // register tokens) rotated rotate-half by angles 2 pi c f of each patch centre's coordinates
  // c in [-1, 1] (row, then column), head_dim / 4 frequencies f = rope_theta^(-4k / head_dim).
  std::string rope = "none";
  // ViTMAE's random masking (mask_ratio; negative: none): a graph input noise [batch, patches]
  // orders the patches (argsort, HF's noise argument); the first int(patches * (1 - ratio))
  // are kept, with the class token (its position row added) before them; outputs mask [batch,
  // patches] (1 where dropped) and ids_restore [batch, patches].
  double mask_ratio = -1;
  // BEiT's relative position bias: a table per layer (...attention.attention.relative_position_
  // bias) or one shared (encoder.relative_position_bias), added to every attention's scores.
  bool relative_position_bias = false, shared_relative_position_bias = false;
  bool swiglu = false;  // DINOv2's use_swiglu_ffn (layer "dinov2")
  // YOLOS: encoder.mid_position_embeddings [layers - 1, 1, tokens, hidden], one added after each
  // layer but the last.
  bool mid_position_embeddings = false;
  // "dense" (ViT: pooler.dense + pooler_act on token 0, absent from a task head's checkpoint),
  // "first_token", "mean_first_two" (AST), "beit" (use_mean_pooling: no final layernorm and
  // pooler.layernorm over the patches' mean; else the final layernorm and token 0), "none".
  std::string pooler = "dense";
  // The task classes whose checkpoints have the pooler when the base model has none by default
  // (Data2VecVisionModel: add_pooling_layer=False); empty: the pooler unless VitHasPooler says.
  std::vector<std::string> pooler_classes;
};

// Reads a template's pieces (an object; absent keys keep ViTModel's) with "$key" references
// resolved against `config`. Throws core::Error(kCorrupt) naming a piece it does not know.
VitVariant ReadVitVariant(const nlohmann::json& pieces, const HfConfig& config);

// ReadVitVariant of the template's pieces attached to `config` (HfConfig::Piece) over `base`.
VitVariant VitVariantOf(const HfConfig& config, nlohmann::json base = nlohmann::json::object());

// The sizes a ViTConfig / DeiTConfig (and the variant's other keys) give, their defaults filled
// in and checked. image_size and patch_size may be one int or [height, width], as HF accepts.
struct VitShape {
  int64_t hidden, layers, heads, intermediate, channels;
  int64_t image_h, image_w, patch_h, patch_w;
  int64_t pooler_size;
  double eps;
  std::string act, pooler_act;
  bool qkv_bias;
  // "tubelet": frames and the tubelet's time extent; "spectrogram": the input's sizes and the
  // patches' strides.
  int64_t frames = 1, tubelet_t = 1;
  int64_t max_length = 0, mel_bins = 0, frequency_stride = 0, time_stride = 0;
  int64_t num_patches = 0;
  bool layer_scale = true;  // BEiT: layer_scale_init_value > 0
  // DINOv3 (layer "dinov3"): key_bias, proj_bias, mlp_bias, use_gated_mlp; rope_theta.
  bool key_bias = true, out_bias = true, mlp_bias = true, gated_mlp = false;
  double rope_theta = 100.0;
  bool mean_pooling = true;  // BEiT: use_mean_pooling
  int64_t patches() const { return num_patches; }
};
// Throws core::Error: kCorrupt (sizes that do not fit together).
VitShape ReadVitShape(const HfConfig& config, const VitVariant& variant = {});

// Whether the checkpoint's class builds its base model with the pooler: HF's image-classification
// and masked-image-modeling heads make ViTModel/DeiTModel with add_pooling_layer=False, so their
// checkpoints have no pooler weights; ViTModel/DeiTModel (and a config naming no class) have it.
bool VitHasPooler(const HfConfig& config);

// The ViT's tower on `pixel_values`, a graph tensor [batch, channels, image_h, image_w], for a
// composite model (InternVL): HF's hidden_states (the embeddings, then each layer's output) and
// last_hidden_state (after the final layernorm, or the last layer's output where that norm is an
// Identity). Weights by the names below, no pooler. Adds no graph inputs or outputs. Throws
// core::Error(kUnsupported) for patches other than "image", trailing or register tokens, YOLOS's
// mid-layer positions.
struct VitTowerOutputs {
  std::vector<std::string> hidden_states;
  std::string last_hidden_state;
};
VitTowerOutputs BuildVitTower(const HfConfig& config, const VitVariant& variant, GraphBuilder& g,
                              const std::string& pixel_values);
// Whether the final layernorm is an Identity (BEiT's and InternVL's use_mean_pooling).
bool IdentityFinalNorm(const VitShape& shape, const VitVariant& variant);

// Weights by the base model's names ("embeddings.cls_token", "encoder.layer.N.attention.attention
// .query.weight", "layernorm.weight", "pooler.dense.weight"); a task head's prefix ("vit.",
// "deit.") is the weight provider's business. `pooler` false drops a "dense" pooler.
void BuildVit(const HfConfig& config, const VitVariant& variant, bool pooler, GraphBuilder& g);

}  // namespace ipfs_accel::models
