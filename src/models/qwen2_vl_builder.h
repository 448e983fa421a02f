#pragma once
// Qwen2-VL (HF's Qwen2VLForConditionalGeneration) as one ONNX graph with a KV cache: the vision
// transformer on one image per batch row at a grid fixed when the graph is built, its merged
// features put in place of the row's image tokens, and the Qwen2 language model with
// multimodal rotary positions (mrope_section splits the rotary frequencies between the
// temporal, height and width positions).
//   inputs  input_ids int64 [batch, sequence]: each row holds its image's
//             Qwen2VlMergedTokens(grid) <|image_pad|> tokens (a decode step holds none)
//           attention_mask int64 [batch, total_sequence]
//           position_ids int64 [3, batch, sequence]: HF's get_rope_index for a prefill,
//             Qwen2VlCachedPositions for later steps (qwen2_vl_positions.h)
//           pixel_values float32 [batch, t*h*w, channels*temporal_patch*patch*patch]: row b is
//             image b's patches as HF's image processor lays them out (its pixel_values for
//             that one image); a decode step passes any values (the tower runs, nothing uses it)
//           past_key_values.N.key / .value, and the outputs logits and present.N.key / .value,
//             as the text decoders have them (decoder_builder.h).
// Row b's image tokens, in order, take image b's merged features: HF's masked_scatter when every
// row holds one image's tokens. A row with fewer takes the first features; one with more fails
// at run time (an index past the features). Features are counted from each run's first image
// token, so a run holds a whole image's tokens or none (as in HF, which scatters per forward).
//
// Weights are asked for by the base model's names: the language model's "embed_tokens.weight",
// "layers.N...", "norm.weight", the head's "lm_head.weight" (tie_word_embeddings reuses the
// embeddings), and the tower's "visual.*". The checkpoint prefixes "model.language_model." and
// "model." find them in checkpoints saved by transformers 5 (model.language_model.*,
// model.visual.*) and by the Hub's original files (model.*, visual.*).

#include <string>
#include <vector>

#include "architectures.h"
#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"
#include "qwen2_vl_positions.h"

namespace ipfs_accel::models {

// The config key (not Hugging Face's) holding the grid [t, h, w] a graph is built for, set from
// the inputs' image_grid_thw (LoadOptions::structure_inputs), so that the config says the
// graph's whole structure.
inline constexpr const char* kQwen2VlGridKey = "graph_image_grid_thw";

// The grid of the image a graph is built for: the config's kQwen2VlGridKey, else a 224 x 224
// image resized as HF's image processor does (smart_resize to multiples of patch_size *
// spatial_merge_size), one frame. Qwen2-VL-2B: t=1, h=w=16 patches, 64 image tokens.
Qwen2VlGrid Qwen2VlGraphGrid(const HfConfig& config);

// The whole graph (inputs and outputs above) for images of `grid`. Throws core::Error:
// kCorrupt (inconsistent sizes), kUnsupported (options this builder lacks). Configs HF can
// build but not run on an image (its bare defaults: no mrope_section, a vision output width
// unlike the language model's) still build, so their parameters can be counted;
// RequireRunnableQwen2Vl refuses them.
void BuildQwen2Vl(const HfConfig& config, GraphBuilder& g, const Qwen2VlGrid& grid);

// Throws core::Error(kCorrupt) for a config whose graph cannot run (see BuildQwen2Vl).
void RequireRunnableQwen2Vl(const HfConfig& config);

// The vision tower alone: `pixel_values` float32 [images, t*h*w, C*T*P*P] (a graph tensor) to
// the merged features float32 [images, t*h*w / merge^2, vision_config.hidden_size]. Each frame of
// an image attends within itself (HF's cu_seqlens).
std::string Qwen2VlVisionTower(const HfConfig& config, GraphBuilder& g, const Qwen2VlGrid& grid,
                               const std::string& pixel_values);

// Qwen2VisionTransformerPretrainedModel on its own (model_type qwen2_vl_vision) from a
// Qwen2VLVisionConfig, its weights unprefixed ("patch_embed.proj.weight", "blocks.N...",
// "merger..."), for one grid as Qwen2VlGraphGrid picks it: input pixel_values [batch, t*h*w,
// C*T*P*P], outputs last_hidden_state (the blocks' output, [batch, t*h*w, embed_dim]) and
// pooler_output (the merged features, [batch, t*h*w / merge^2, hidden_size]).
void BuildQwen2VlVisionModel(const HfConfig& config, GraphBuilder& g);

// Registers "qwen2_vl" (Qwen2VLForConditionalGeneration, with the LM head) and
// "qwen2_vl_vision" (the tower alone). Its graph is built
// for one image grid: image_grid_thw is a structure input (architectures.h), and position_ids
// left out are HF's get_rope_index of the inputs.
void AddQwen2VlArchitectures(std::vector<Architecture>& out);

}  // namespace ipfs_accel::models
