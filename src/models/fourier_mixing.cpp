#include "fourier_mixing.h"

#include <numbers>
#include <tuple>
#include <utility>

namespace ipfs_accel::models {

namespace {

// cos and sin of 2 pi (n k mod N) / N for n, k in [0, N), N an int64 scalar tensor [1].
std::pair<std::string, std::string> DftCosSin(GraphBuilder& g, const std::string& length) {
  const std::string n_scalar = g.Node("Squeeze", {length, g.ConstInt64({0})});
  const std::string n =
      g.Node("Range", {g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})}), n_scalar,
                       g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})})});
  const std::string products = g.Node("Mul", {g.Node("Unsqueeze", {n, g.ConstInt64({1})}),
                                              g.Node("Unsqueeze", {n, g.ConstInt64({0})})});
  const std::string reduced = g.Node("Mod", {products, length});
  auto to_float = [&](const std::string& t) {
    return g.Node("Cast", {t}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  };
  const std::string step =
      g.Node("Div", {g.ConstFloat(static_cast<float>(2.0 * std::numbers::pi)), to_float(length)});
  const std::string angle = g.Node("Mul", {to_float(reduced), step});
  return {g.Node("Cos", {angle}), g.Node("Sin", {angle})};
}

}  // namespace

FourierMatrices FourierMatricesFor(GraphBuilder& g, const std::string& input_ids, int64_t hidden) {
  const std::string seq_len =
      g.Node("Slice", {g.Node("Shape", {input_ids}), g.ConstInt64({1}), g.ConstInt64({2})});
  FourierMatrices m;
  std::tie(m.seq_cos, m.seq_sin) = DftCosSin(g, seq_len);
  std::tie(m.hidden_cos, m.hidden_sin) = DftCosSin(g, g.ConstInt64({hidden}));
  return m;
}

std::string FourierMix(GraphBuilder& g, const std::string& x, const FourierMatrices& m) {
  // [s, s] @ [b, s, h] broadcasts over the batch.
  const std::string cos_part = g.Node("MatMul", {m.seq_cos, g.Node("MatMul", {x, m.hidden_cos})});
  const std::string sin_part = g.Node("MatMul", {m.seq_sin, g.Node("MatMul", {x, m.hidden_sin})});
  return g.Node("Sub", {cos_part, sin_part});
}

}  // namespace ipfs_accel::models
