#include "seq2seq_attention.h"

#include <limits>
#include <vector>

namespace ipfs_accel::models {

namespace {
constexpr float kMaskValue = std::numeric_limits<float>::lowest();  // torch.finfo(float32).min

}  // namespace

std::string SplitHeads(GraphBuilder& g, const std::string& x, int64_t heads, int64_t head_dim) {
  const std::string split = g.Node("Reshape", {x, g.ConstInt64({0, 0, heads, head_dim})});
  return g.Node("Transpose", {split}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
}

std::string MergeHeads(GraphBuilder& g, const std::string& x, int64_t inner) {
  const std::string t = g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});
  return g.Node("Reshape", {t, g.ConstInt64({0, 0, inner})});
}

std::string Attend(GraphBuilder& g, const std::string& q, const std::string& k,
                   const std::string& v, float scale, const std::string& bias) {
  const std::string kt = g.Node("Transpose", {k}, {{"perm", std::vector<int64_t>{0, 1, 3, 2}}});
  std::string scores = g.Node("MatMul", {q, kt});
  if (scale != 1.0f) scores = g.Node("Mul", {scores, g.ConstFloat(scale)});
  if (!bias.empty()) scores = g.Node("Add", {scores, bias});
  const std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  return g.Node("MatMul", {probs, v});
}

std::string AxisLength(GraphBuilder& g, const std::string& x, int64_t axis) {
  return g.Node("Shape", {x}, {{"start", axis}, {"end", axis + 1}});
}

std::string PositionRange(GraphBuilder& g, const std::string& offset, const std::string& length) {
  const std::string start = SqueezeToScalar(g, offset);
  const std::string limit = SqueezeToScalar(g, g.Node("Add", {offset, length}));
  const std::string one = SqueezeToScalar(g, g.ConstInt64({1}));
  return g.Node("Range", {start, limit, one});
}

std::string PaddingMaskBias(GraphBuilder& g, const std::string& mask) {
  const std::string mask_f = g.Node("Cast", {mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string hidden = g.Node("Sub", {g.ConstFloat(1.0f), mask_f});
  const std::string bias = g.Node("Mul", {hidden, g.ConstFloat(kMaskValue)});
  return g.Node("Unsqueeze", {bias, g.ConstInt64({1, 2})});
}

std::string CausalMaskBias(GraphBuilder& g, const std::string& query_positions,
                           const std::string& key_positions) {
  const std::string query = g.Node("Unsqueeze", {query_positions, g.ConstInt64({1})});  // [q, 1]
  const std::string key = g.Node("Unsqueeze", {key_positions, g.ConstInt64({0})});      // [1, k]
  const std::string future = g.Node("Greater", {key, query});
  const std::string bias = g.Node("Where", {future, g.ConstFloat(kMaskValue), g.ConstFloat(0.0f)});
  return g.Node("Unsqueeze", {bias, g.ConstInt64({0, 1})});
}

}  // namespace ipfs_accel::models
