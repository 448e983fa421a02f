#include "alibi.h"

#include <cmath>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::models {

namespace {

std::vector<float> BloomSlopes(int64_t heads) {
  const int64_t closest = int64_t{1} << static_cast<int>(std::floor(std::log2(heads)));
  auto powers_of = [](int64_t n, int64_t first, int64_t count, int64_t step) {
    const float base = static_cast<float>(std::pow(2.0, -std::pow(2.0, -(std::log2(n) - 3))));
    std::vector<float> out;
    for (int64_t i = 0; i < count; ++i)
      out.push_back(static_cast<float>(std::pow(base, static_cast<double>(first + i * step))));
    return out;
  };
  std::vector<float> slopes = powers_of(closest, 1, closest, 1);
  if (closest != heads) {
    const std::vector<float> extra =
        powers_of(2 * closest, 1, std::min(closest, heads - closest), 2);
    slopes.insert(slopes.end(), extra.begin(), extra.end());
  }
  return slopes;
}

std::vector<float> MptSlopes(int64_t heads, double bias_max) {
  const int64_t n = int64_t{1} << static_cast<int>(std::ceil(std::log2(heads)));
  std::vector<float> all;
  for (int64_t i = 1; i <= n; ++i) {
    const float base =
        static_cast<float>(i) * static_cast<float>(bias_max / static_cast<double>(n));
    all.push_back(1.0f / static_cast<float>(std::pow(2.0, static_cast<double>(base))));
  }
  if (n == heads) return all;
  std::vector<float> slopes;  // odd entries first, then even ones, cut to the head count
  for (int64_t i = 1; i < n; i += 2) slopes.push_back(all[i]);
  for (int64_t i = 0; i < n; i += 2) slopes.push_back(all[i]);
  slopes.resize(heads);
  return slopes;
}

// int64 [batch, total] key positions as the family counts them.
std::string KeyPositions(GraphBuilder& g, AlibiKind kind, const std::string& mask) {
  if (kind == AlibiKind::kBloom) {
    const std::string axis = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
    const std::string counts = g.Node("CumSum", {mask, axis});
    return g.Node("Mul", {g.Node("Sub", {counts, g.ConstInt64({1})}), mask});
  }
  const std::string total =
      g.Node("Slice", {g.Node("Shape", {mask}), g.ConstInt64({1}), g.ConstInt64({2})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string end = g.Node("Squeeze", {total, g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string index = g.Node("Range", {zero, end, one});
  return g.Node("Unsqueeze", {g.Node("Add", {g.Node("Sub", {index, end}), one}),
                              g.ConstInt64({0})});  // [1, total]: k - (total - 1)
}

}  // namespace

std::vector<float> AlibiSlopes(AlibiKind kind, int64_t heads, double bias_max) {
  return kind == AlibiKind::kBloom ? BloomSlopes(heads) : MptSlopes(heads, bias_max);
}

std::string AlibiBias(GraphBuilder& g, AlibiKind kind, const std::vector<float>& slopes,
                      const std::string& attention_mask) {
  core::Tensor t =
      core::Tensor::Zeros(core::DType::kFloat32, {static_cast<int64_t>(slopes.size()), 1});
  std::copy(slopes.begin(), slopes.end(), t.values<float>().begin());
  const std::string slope_column = g.Initializer("alibi.slopes", t);  // [heads, 1]
  const std::string positions =
      g.Node("Cast", {KeyPositions(g, kind, attention_mask)},
             {{"to", int64_t{onnx::TensorProto::FLOAT}}});                       // [b or 1, total]
  const std::string rows = g.Node("Unsqueeze", {positions, g.ConstInt64({1})});  // [b, 1, T]
  const std::string bias = g.Node("Mul", {rows, slope_column});                  // [b, heads, T]
  return g.Node("Unsqueeze", {bias, g.ConstInt64({2})});                         // [b, heads, 1, T]
}

}  // namespace ipfs_accel::models
