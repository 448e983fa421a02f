#include "sinusoid_graph.h"

#include <cmath>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::models {

std::vector<float> FairseqSinusoidFrequencies(int64_t dim) {
  const int64_t half = dim / 2;
  // HF: exp(arange(half) * -(ln(10000) / (half - 1))), the step rounded to float32 first.
  const float step = static_cast<float>(std::log(10000.0) / static_cast<double>(half - 1));
  std::vector<float> f;
  for (int64_t i = 0; i < half; ++i) f.push_back(std::exp(static_cast<float>(i) * -step));
  return f;
}

std::vector<float> CtrlSinusoidFrequencies(int64_t dim) {
  std::vector<float> f;
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    f.push_back(1.0f / std::pow(10000.0f, exponent));
  }
  return f;
}

std::string SinusoidalPositions(GraphBuilder& g, const std::vector<float>& frequencies,
                                const std::string& positions, const std::string& name) {
  core::Tensor t =
      core::Tensor::Zeros(core::DType::kFloat32, {static_cast<int64_t>(frequencies.size())});
  std::copy(frequencies.begin(), frequencies.end(), t.values<float>().begin());
  const std::string freq = g.Initializer(name, t);
  const std::string p = g.Node("Cast", {positions}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string angles = g.Node("Mul", {g.Node("Unsqueeze", {p, g.ConstInt64({-1})}), freq});
  return g.Node("Concat", {g.Node("Sin", {angles}), g.Node("Cos", {angles})},
                {{"axis", int64_t{-1}}});
}

}  // namespace ipfs_accel::models
