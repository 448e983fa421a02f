#include "encoder_positions.h"

#include <vector>

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

}  // namespace ipfs_accel::models
