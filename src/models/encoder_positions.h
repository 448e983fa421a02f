#pragma once
// Position schemes of the encoder builder that act inside attention rather than as an added
// embedding: RoFormer's rotary embeddings from its saved sinusoidal table, rotating adjacent
// feature pairs (2i, 2i + 1) of each head, and MPNet's relative position bias.

#include <cstdint>
#include <string>

#include "graph_builder.h"

namespace ipfs_accel::models {

// sin and cos per position, each [sequence, head_dim] with every frequency repeated for its pair
// (sin θ0, sin θ0, sin θ1, sin θ1, ...), from RoFormerSinusoidalPositionalEmbedding's table
// `table` [max_positions, head_dim] (sines in the first half, cosines in the second) for the
// sequence of `input_ids` [batch, sequence].
struct PairRotary {
  std::string sin, cos;
};
PairRotary PairRotaryFromTable(GraphBuilder& g, const std::string& table,
                               const std::string& input_ids, int64_t head_dim);

// x [batch, heads, sequence, head_dim] rotated: x cos + (-x1, x0, -x3, x2, ...) sin.
std::string ApplyPairRotary(GraphBuilder& g, const std::string& x, const PairRotary& r,
                            int64_t head_dim);

// MPNetEncoder.compute_position_bias: [1, heads, seq, seq] from `weight` [buckets, heads] at
// T5's bidirectional buckets of key - query (32 buckets, max distance 128, as MPNet fixes them),
// for the sequence of `input_ids` [batch, sequence].
std::string MpnetPositionBias(GraphBuilder& g, const std::string& weight,
                              const std::string& input_ids);

}  // namespace ipfs_accel::models
