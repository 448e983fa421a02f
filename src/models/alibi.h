#pragma once
// ALiBi (attention with linear biases): instead of position embeddings, each head adds
// slope_h * (key position) to its attention scores, as BLOOM and MPT do. A bias that is the
// same for every query of a row only shifts the row, so what matters is each head's slope and
// how a key's position is counted, which differ between the two families.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"

namespace ipfs_accel::models {

enum class AlibiKind {
  // BLOOM (and Falcon's alibi option): slopes 2^(-8 h / n) over the nearest power of two n
  // with the odd powers of the next one appended; a key's position is the count of attended
  // tokens before it, cumsum(attention_mask) - 1, and 0 at padding.
  kBloom,
  // MPT: slopes 2^(-h * bias_max / n) over the power of two n at or above the head count,
  // interleaved (odd then even) when the count is not a power of two; a key's position is its
  // index minus the last key's, k - (total - 1).
  kMpt,
};

// One slope per head, as HF computes them (float32).
std::vector<float> AlibiSlopes(AlibiKind kind, int64_t heads, double bias_max = 8.0);

// The bias float32 [batch, heads, 1, total] to add to the scaled attention scores, from the
// int64 attention_mask [batch, total] (past + current tokens).
std::string AlibiBias(GraphBuilder& g, AlibiKind kind, const std::vector<float>& slopes,
                      const std::string& attention_mask);

}  // namespace ipfs_accel::models
