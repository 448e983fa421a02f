#pragma once
// The pieces vision-language models put between a vision tower and a language model, where they
// reshape the tower's patch grid (llava_builder.h's projector piece):
//   PixelShuffle   Idefics3 / SmolVLM (scale_factor) and InternVL (1 / downsample_ratio): each
//                  r x r block of the grid folded into one token of r * r times the width.
//   AvgPoolTokens  Gemma 3: AvgPool2d(kernel, stride kernel) over the grid.
// Both take tokens [n, side * side, channels] in HF's row-major grid order.

#include <cstdint>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// HF's pixel_shuffle (Idefics3Connector.pixel_shuffle with scale_factor r; InternVLModel's with
// scale_factor 1 / r, which is the same permutation): x [n, side * side, c] viewed as
// [n, side, side / r, c * r], its two grid axes swapped, viewed as [n, side / r, side / r, c * r *
// r], swapped back. Output [n, (side / r)^2, c * r * r]: token (i, j) is the concatenation over
// rows i * r + a (a < r, outer) and columns j * r + b (b < r, inner) of the input's channels.
// Throws core::Error(kUnsupported) when side is not a multiple of r.
std::string PixelShuffle(GraphBuilder& g, const std::string& x, int64_t side, int64_t channels,
                         int64_t r);

// Gemma3MultiModalProjector's pooling: x [n, side * side, c] as [n, c, side, side], averaged
// over kernel x kernel blocks (stride kernel, no padding: HF's floor), back to
// [n, (side / kernel)^2, c]. Throws core::Error(kUnsupported) when kernel < 1.
std::string AvgPoolTokens(GraphBuilder& g, const std::string& x, int64_t side, int64_t channels,
                          int64_t kernel);

}  // namespace ipfs_accel::models
