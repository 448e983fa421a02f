#pragma once
// Qwen2-VL's multimodal rotary positions, computed on the host: HF's
// Qwen2VLModel.get_rope_index, which the graph (qwen2_vl_builder.h) takes as its position_ids
// input, and the prompts the harness generates for a graph's fixed image.
//
// Each token has three positions (temporal, height, width). Text tokens have the same value in
// all three and count on from the previous block's largest position + 1; an image or video
// counted by a <|vision_start|> token just before it gets (t, h, w) over its merged grid, offset
// by the position its block starts at.

#include <cstdint>
#include <vector>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::models {

// An image's or video's grid in patches before spatial merging (HF's image_grid_thw row).
struct Qwen2VlGrid {
  int64_t t = 1, h = 0, w = 0;
};

// The config values get_rope_index reads (Qwen2VLConfig's defaults).
struct Qwen2VlTokens {
  int64_t image = 151655, video = 151656, vision_start = 151652, vision_end = 151653;
  int64_t spatial_merge_size = 2;
};

// The language-model tokens a grid becomes: t * h * w / merge^2.
int64_t Qwen2VlMergedTokens(const Qwen2VlGrid& grid, int64_t spatial_merge_size);

struct Qwen2VlRopeIndex {
  core::Tensor position_ids;  // int64 [3, batch, sequence]
  core::Tensor deltas;        // int64 [batch, 1]: largest position + 1 - sequence (rope_deltas)
};

// get_rope_index. `input_ids` int64 [batch, sequence]; `attention_mask` int64 of the same shape,
// or null for all ones (padding is skipped and gets position 1, as in HF). Images and videos are
// taken in order across the whole batch from `image_grids` / `video_grids`; with both empty,
// positions are the mask's running count (HF's text-only branch). Throws
// core::Error(kInvalidArgument) where HF's function fails: too few grids, a <|vision_start|>
// with nothing after it, or image tokens that do not fill their grid.
Qwen2VlRopeIndex ComputeQwen2VlRopeIndex(const core::Tensor& input_ids,
                                         const core::Tensor* attention_mask,
                                         const std::vector<Qwen2VlGrid>& image_grids,
                                         const std::vector<Qwen2VlGrid>& video_grids,
                                         const Qwen2VlTokens& tokens);

// Positions of `sequence` tokens appended after `past_length` cached ones (HF's decode steps):
// past_length + i + delta in all three planes. `deltas` int64 [batch, 1] from the prefill.
core::Tensor Qwen2VlCachedPositions(const core::Tensor& deltas, int64_t past_length,
                                    int64_t sequence);

// The prompt the harness generates for a graph with one image of `grid` per row: random text
// ids in [0, text_high) around one block <|vision_start|> <|image_pad|> x N <|vision_end|>,
// placed in the middle of the row. Throws core::Error(kInvalidArgument) when the sequence is
// shorter than the block (N + 2).
struct Qwen2VlPrompt {
  Qwen2VlTokens tokens;
  Qwen2VlGrid grid;
  int64_t text_high = 0;
};
// input_ids int64 [batch, sequence].
core::Tensor Qwen2VlPromptIds(const Qwen2VlPrompt& prompt, const core::Shape& shape, uint64_t seed);
// Their position_ids int64 [3, batch, sequence] (every token attended).
core::Tensor Qwen2VlPromptPositions(const Qwen2VlPrompt& prompt, const core::Shape& shape);

}  // namespace ipfs_accel::models
