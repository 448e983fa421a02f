#pragma once
// Position schemes of the encoder builder that act inside attention rather than as an added
// embedding: RoFormer's rotary embeddings from its saved sinusoidal table, rotating adjacent
// feature pairs (2i, 2i + 1) of each head, MPNet's relative position bias, and BROS' relative
// box embeddings.

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

// BROS' relative box embeddings [batch, seq, seq, width]: for boxes `bbox` float [batch, seq, 4]
// (x0, y0, x1, y1, taken as the 8 corner coordinates x0 y0 x1 y0 x1 y1 x0 y1) times `scale`,
// entry [i, j] is `projection` [width, 8 * 2 * frequencies] (no bias) applied to the sinusoids
// [sin(d f), cos(d f)] of each coordinate difference d = box j - box i, f = 1 / 10000^(2k / (2 *
// frequencies)) (BrosBboxEmbeddings).
std::string BoxRelativeEmbeddings(GraphBuilder& g, const std::string& bbox,
                                  const std::string& projection, int64_t frequencies, float scale);

// BrosSelfAttention's box scores [batch, heads, seq, seq]: q [batch, heads, seq, d] dotted, for
// query i and key j, with `box` [batch, seq, seq, d] at [i, j].
std::string BoxRelativeScores(GraphBuilder& g, const std::string& q, const std::string& box);

}  // namespace ipfs_accel::models
