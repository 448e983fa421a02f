#pragma once
// FNet's token mixing: the real part of the 2-D discrete Fourier transform over (sequence,
// hidden), as torch.fft.fftn(x, dim=(1, 2)).real computes it. For real x and the DFT matrix
// F = C - iS (C[n][k] = cos(2 pi n k / N), S the sines), Re(F_seq x F_hidden) =
// C_seq x C_hidden - S_seq x S_hidden: four MatMuls, exact up to float rounding.

#include <cstdint>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// The cos and sin matrices of both transforms: [sequence, sequence] from the runtime sequence
// length, [hidden, hidden] for the fixed width.
struct FourierMatrices {
  std::string seq_cos, seq_sin, hidden_cos, hidden_sin;
};

// The matrices for the sequence of `input_ids` [batch, sequence] and width `hidden`. The angle's
// n k is reduced modulo N in int64 before the float division, so long transforms stay exact.
FourierMatrices FourierMatricesFor(GraphBuilder& g, const std::string& input_ids, int64_t hidden);

// Re(fft2(x)) of x [batch, sequence, hidden] over its last two axes.
std::string FourierMix(GraphBuilder& g, const std::string& x, const FourierMatrices& m);

}  // namespace ipfs_accel::models
