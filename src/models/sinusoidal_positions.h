#pragma once
// Sinusoidal position tables as Hugging Face computes them at init; two layouts exist, both
// with every sine column before every cosine column but with different frequencies.

#include <cstdint>
#include <optional>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::models {

// Marian's and Pegasus's (MarianSinusoidalPositionalEmbedding._init_weight): row p, column i
// of the first ceil(dim/2) is sin(p / 10000^(2i/dim)), the rest cos at the same frequencies;
// computed in float64 as numpy does, stored as float32 [rows, dim].
core::Tensor MarianSinusoids(int64_t rows, int64_t dim);
// The same angles with the columns where they are, sin at even and cos at odd ones (VideoMAE's
// get_sinusoid_encoding_table, float64 numpy, stored as float32 [rows, dim]).
core::Tensor InterleavedSinusoids(int64_t rows, int64_t dim);

// fairseq's (M2M100SinusoidalPositionalEmbedding.get_embedding): column i of the first
// dim/2 is sin(p * exp(-i * ln(10000) / (dim/2 - 1))), the next dim/2 cos, a zero column
// when dim is odd, and row `padding_idx` all zeros; computed in float32 as torch does.
core::Tensor FairseqSinusoids(int64_t rows, int64_t dim, std::optional<int64_t> padding_idx);

}  // namespace ipfs_accel::models
