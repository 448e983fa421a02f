#include "encoder_positions.h"

#include <cmath>
#include <vector>

#include "ipfs_accel/core/tensor.h"
#include "t5_builder.h"

namespace ipfs_accel::models {

namespace {

// [sequence, head_dim / 2] -> [sequence, head_dim], each column twice in a row.
std::string RepeatPairs(GraphBuilder& g, const std::string& half, int64_t head_dim) {
  const std::string column = g.Node("Unsqueeze", {half, g.ConstInt64({-1})});
  const std::string pairs = g.Node("Concat", {column, column}, {{"axis", int64_t{-1}}});
  return g.Node("Reshape", {pairs, g.ConstInt64({-1, head_dim})});
}

}  // namespace

PairRotary PairRotaryFromTable(GraphBuilder& g, const std::string& table,
                               const std::string& input_ids, int64_t head_dim) {
  const std::string seq_len =
      g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})});
  const std::string rows = g.Node("Slice", {table, g.ConstInt64({0}), seq_len, g.ConstInt64({0})});
  const int64_t half = head_dim / 2;
  auto columns = [&](int64_t begin, int64_t end) {
    return g.Node("Slice", {rows, g.ConstInt64({begin}), g.ConstInt64({end}), g.ConstInt64({1})});
  };
  return {RepeatPairs(g, columns(0, half), head_dim),
          RepeatPairs(g, columns(half, head_dim), head_dim)};
}

std::string ApplyPairRotary(GraphBuilder& g, const std::string& x, const PairRotary& r,
                            int64_t head_dim) {
  // [b, h, s, d] -> [b, h, s, d/2, 2]: each pair on the last axis.
  const std::string pairs = g.Node("Reshape", {x, g.ConstInt64({0, 0, 0, head_dim / 2, 2})});
  auto feature = [&](int64_t i) {
    return g.Node("Slice", {pairs, g.ConstInt64({i}), g.ConstInt64({i + 1}), g.ConstInt64({-1})});
  };
  const std::string even = feature(0), odd = feature(1);
  const std::string turned =
      g.Node("Concat", {g.Node("Neg", {odd}), even}, {{"axis", int64_t{-1}}});
  const std::string rotated = g.Node("Reshape", {turned, g.ConstInt64({0, 0, 0, head_dim})});
  return g.Node("Add", {g.Node("Mul", {x, r.cos}), g.Node("Mul", {rotated, r.sin})});
}

std::string MpnetPositionBias(GraphBuilder& g, const std::string& weight,
                              const std::string& input_ids) {
  // MPNet calls relative_position_bucket with its defaults whatever the config says.
  constexpr int64_t kBuckets = 32, kMaxDistance = 128;
  core::Tensor table = core::Tensor::Zeros(core::DType::kInt64, {2 * kMaxDistance + 1});
  auto buckets = table.values<int64_t>();
  for (int64_t rel = -kMaxDistance; rel <= kMaxDistance; ++rel)
    buckets[rel + kMaxDistance] = T5RelativePositionBucket(rel, true, kBuckets, kMaxDistance);
  // A constant, not a parameter: named outside HF's namespace. Buckets are constant beyond
  // max_distance, so clipping the distance first changes nothing.
  const std::string bucket_of = g.Initializer("const_mpnet_buckets", table);

  const std::string seq_len =
      g.Node("Squeeze",
             {g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})}),
              g.ConstInt64({0})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string positions = g.Node("Range", {zero, seq_len, one});
  const std::string rel =
      g.Node("Sub", {g.Node("Unsqueeze", {positions, g.ConstInt64({0})}),    // key
                     g.Node("Unsqueeze", {positions, g.ConstInt64({1})})});  // - query
  const std::string lo = g.Node("Squeeze", {g.ConstInt64({-kMaxDistance}), g.ConstInt64({0})});
  const std::string hi = g.Node("Squeeze", {g.ConstInt64({kMaxDistance}), g.ConstInt64({0})});
  const std::string index =
      g.Node("Add", {g.Node("Clip", {rel, lo, hi}), g.ConstInt64({kMaxDistance})});
  const std::string values = g.Node("Gather", {weight, g.Node("Gather", {bucket_of, index})});
  const std::string per_head =
      g.Node("Transpose", {values}, {{"perm", std::vector<int64_t>{2, 0, 1}}});  // [h, q, k]
  return g.Node("Unsqueeze", {per_head, g.ConstInt64({0})});
}

std::string BoxRelativeEmbeddings(GraphBuilder& g, const std::string& bbox,
                                  const std::string& projection, int64_t frequencies, float scale) {
  // BrosModel turns 2 points into 4: coordinates [0, 1, 2, 1, 2, 3, 0, 3].
  const std::string corners = g.Node(
      "Mul",
      {g.Node("Gather", {bbox, g.ConstInt64({0, 1, 2, 1, 2, 3, 0, 3})}, {{"axis", int64_t{2}}}),
       g.ConstFloat(scale)});
  const std::string diff =  // [b, i, j, 8]: box j - box i
      g.Node("Sub", {g.Node("Unsqueeze", {corners, g.ConstInt64({1})}),
                     g.Node("Unsqueeze", {corners, g.ConstInt64({2})})});
  // BrosPositionalEmbedding1D's inv_freq, in float32 as torch makes it.
  const int64_t dim = 2 * frequencies;
  core::Tensor inv = core::Tensor::Zeros(core::DType::kFloat32, {frequencies});
  auto f = inv.values<float>();
  for (int64_t k = 0; k < frequencies; ++k)
    f[k] = 1.0f / std::pow(10000.0f, static_cast<float>(2 * k) / static_cast<float>(dim));
  const std::string angles =
      g.Node("Mul", {g.Node("Unsqueeze", {diff, g.ConstInt64({-1})}),
                     g.Initializer("const_bros_inv_freq", inv)});  // [b, i, j, 8, frequencies]
  const std::string sinusoids =
      g.Node("Concat", {g.Node("Sin", {angles}), g.Node("Cos", {angles})}, {{"axis", int64_t{-1}}});
  const std::string flat = g.Node("Reshape", {sinusoids, g.ConstInt64({0, 0, 0, 8 * dim})});
  return g.Node("MatMul", {flat, projection});
}

std::string BoxRelativeScores(GraphBuilder& g, const std::string& q, const std::string& box) {
  // [b, i, h, d] @ [b, i, d, j] -> [b, i, h, j] -> [b, h, i, j]
  const std::string per_query =
      g.Node("Transpose", {q}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  const std::string keys = g.Node("Transpose", {box}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  return g.Node("Transpose", {g.Node("MatMul", {per_query, keys})},
                {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

}  // namespace ipfs_accel::models
