#pragma once
// Fixed sinusoidal position embeddings (no parameters), computed in the graph from integer
// positions as Hugging Face computes its tables: concat(sin(p * f), cos(p * f)) over one
// frequency list, float32. XGLM (fairseq's table) and CTRL differ only in their frequencies.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"

namespace ipfs_accel::models {

// fairseq / XGLM: f_i = exp(-i * ln(10000) / (dim / 2 - 1)), i < dim / 2.
std::vector<float> FairseqSinusoidFrequencies(int64_t dim);
// CTRL: f_i = 1 / 10000^(2 i / dim), i < dim / 2.
std::vector<float> CtrlSinusoidFrequencies(int64_t dim);

// float32 [P, S, 2 * frequencies] for int64 positions [P, S]; `name` names the frequency
// initializer (unique per graph).
std::string SinusoidalPositions(GraphBuilder& g, const std::vector<float>& frequencies,
                                const std::string& positions, const std::string& name);

}  // namespace ipfs_accel::models
