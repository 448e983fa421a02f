#pragma once
// LLaVA (LlavaForConditionalGeneration, model_type "llava") and LLaVA-NeXT
// (LlavaNextForConditionalGeneration, "llava_next") as one ONNX graph each, as transformers
// builds them: a CLIP or SigLIP vision tower (vision_config.model_type "clip_vision_model" or
// "siglip_vision_model"), its hidden states at vision_feature_layer (an int, or a list whose
// layers are concatenated), the class token dropped for vision_feature_select_strategy "default",
// the multi_modal_projector (linear_1, projector_hidden_act, linear_2), the image features written
// over the language model's input embeddings at the image-token places (masked_scatter: the k-th
// image token, counted row-major over the whole batch, takes the k-th feature vector), and a
// LLaMA-like language model from text_config (llama, mistral, qwen2, qwen3, gemma) with its LM
// head and KV cache (decoder_builder.h).
//
// Graph I/O:
//   input_ids       int64 [batch, sequence]; each row holds its image's placeholder tokens
//                   (image_token_index) where the processor put them (LlavaImageTokens of them)
//   pixel_values    float32, one image per sequence ("batch" is shared with input_ids):
//                     llava:      [batch, num_channels, image_size, image_size]
//                     llava_next: [batch, num_patches, num_channels, image_size, image_size], the
//                                 base image then the tiles, as LlavaNextImageProcessor makes them
//   attention_mask, past_key_values.N.key/value: as BuildDecoder (decoder_builder.h)
//   outputs         logits [batch, sequence, vocab], present.N.key/value: as BuildDecoder
// The count of image tokens must be 0 or exactly the number of image features (HF raises
// otherwise): the graph's ScatterND fails at run time on any other count. 0 is let through so
// that a decode step over the cache (no image tokens, as HF's generate() sends then) runs, but the
// tower still runs on pixel_values every call: the graph has no branch to skip it.
//
// LLaVA-NeXT's number of image tokens depends on the image's size, which HF passes as image_sizes
// at run time; here it is fixed when the graph is built (LlavaNextGraphImageSize): the tiling
// (select_best_resolution over image_grid_pinpoints), the unpadding (unpad_image) and the
// image_newline after each row of the tiles' feature map are worked out for that size, and
// pixel_values' num_patches is fixed. Every image of a batch has that size.
//
// Weights are asked for by the names inside each part, with no scope: the tower's own
// ("embeddings.patch_embedding.weight", "encoder.layers.N..."), the language model's
// ("embed_tokens.weight", "layers.N...", "norm.weight", "lm_head.weight"), and
// "multi_modal_projector.linear_{1,2}.*", "image_newline". LlavaCheckpointPrefixes maps them onto
// every layout a checkpoint uses (the two parts' names never overlap, so no name can resolve to
// the wrong part).
//
// Config: as LlavaConfig / LlavaNextConfig (transformers 5.x): an absent vision_config is LLaVA's
// CLIP ViT-L/14 at 336 (hidden 1024, 24 layers, 16 heads, intermediate 4096), an absent
// text_config is LlamaConfig(); image_token_index (or image_token_id) defaults to 32000 (outside
// LlamaConfig's 32000 tokens: such a graph builds, and fails at run time on the embedding lookup,
// as HF's does). The LM head is tied when tie_word_embeddings is set: llava's or text_config's
// (LlavaConfig passes the text model's on), llava_next's own only (LlavaNextConfig does not).

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct Architecture;

// Registers "llava" and "llava_next" (called from multimodal_family.cpp).
void AddLlavaArchitectures(std::vector<Architecture>& out);

// The checkpoint prefixes tried for the names above: transformers 5.x in memory
// ("model.vision_tower.", "model.language_model.", "model."), as 5.x saves and the hub's llava-hf
// checkpoints store them ("vision_tower.", "language_model.model.", "language_model." for
// lm_head), and the towers nested in "vision_model." (hub checkpoints, transformers 4.x).
std::vector<std::string> LlavaCheckpointPrefixes();

// HF's masked_scatter of `features` (any shape ending in `hidden`) over the rows of `embeddings`
// [batch, sequence, hidden] whose id in `input_ids` is `token`, in row-major order over the whole
// batch (the image or audio features of LLaVA, Qwen2-Audio, ...). A count of such tokens other
// than the features' rows fails at run time (HF raises then), except 0 (a decode step), where
// nothing is scattered.
std::string ScatterFeaturesAtTokens(GraphBuilder& g, const std::string& input_ids,
                                    const std::string& embeddings, const std::string& features,
                                    int64_t token, int64_t hidden);

// Throw core::Error: kCorrupt (inconsistent sizes, a vision_feature_layer out of range, an unknown
// select strategy), kUnsupported (a tower or language model not built here, LLaVA-NeXT options
// that HF itself cannot tile).
void BuildLlava(const HfConfig& config, GraphBuilder& g);
void BuildLlavaNext(const HfConfig& config, GraphBuilder& g);

// How many image tokens one image takes in input_ids (what the processor expands <image> into):
// llava: the tower's tokens (patches, + the class token for CLIP) less one for "default";
// llava_next: that for the base image plus the unpadded tiles and one newline per row, at
// LlavaNextGraphImageSize.
int64_t LlavaImageTokens(const HfConfig& config);

// ---- LLaVA-NeXT's any-resolution arithmetic (exposed for tests) ----

// (height, width) pairs, as image_grid_pinpoints lists them.
using Resolutions = std::vector<std::pair<int64_t, int64_t>>;

// HF's select_best_resolution: the pinpoint that keeps the most of an image of (height, width)
// when scaled to fit, the least padding on a tie, the first on a full tie.
std::pair<int64_t, int64_t> SelectBestResolution(int64_t height, int64_t width,
                                                 const Resolutions& pinpoints);

// Where an image of (height, width) goes in LLaVA-NeXT with a tower of `tile` pixels square and
// `side` feature tokens per tile side (tile / patch_size).
struct LlavaNextLayout {
  int64_t best_height = 0, best_width = 0;  // select_best_resolution
  int64_t grid_rows = 0, grid_cols = 0;     // tiles: get_anyres_image_grid_shape
  int64_t num_patches = 0;                  // base + tiles: image_size_to_num_patches
  // The tiles' feature map is (grid_rows * side) x (grid_cols * side); unpad_image keeps rows
  // [row_begin, row_begin + rows) and columns [col_begin, col_begin + cols).
  int64_t row_begin = 0, rows = 0, col_begin = 0, cols = 0;
  int64_t base_tokens = 0;   // side * side
  int64_t image_tokens = 0;  // base_tokens + rows * (cols + 1): each row ends with image_newline
};
// Throws core::Error(kUnsupported) when a pinpoint is not a whole number of tiles (HF's tiling
// would not line up), kCorrupt for non-positive sizes.
LlavaNextLayout ComputeLlavaNextLayout(int64_t height, int64_t width, const Resolutions& pinpoints,
                                       int64_t tile, int64_t side);

// image_grid_pinpoints with LlavaNextConfig's default ([[336, 672], [672, 336], [672, 672],
// [1008, 336], [336, 1008]]).
Resolutions LlavaNextPinpoints(const HfConfig& config);
// The image size a llava_next graph is built for: the config's "graph_image_size" [height, width]
// (a key of this tool, not of HF: catalog entries set it), else the first pinpoint (an image that
// fills its tiles exactly).
std::pair<int64_t, int64_t> LlavaNextGraphImageSize(const HfConfig& config);

}  // namespace ipfs_accel::models
