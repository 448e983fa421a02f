#include "sinusoidal_positions.h"

#include <cmath>
#include <vector>

namespace ipfs_accel::models {

namespace {

// The Transformer's table: angle p / 10000^(2 (j // 2) / dim) for column j, sin where j is even
// and cos where odd; `interleaved` keeps column j where it is, else the sines move first.
core::Tensor TransformerSinusoids(int64_t rows, int64_t dim, bool interleaved) {
  std::vector<double> v(static_cast<size_t>(rows * dim));
  const int64_t sines = (dim + 1) / 2;  // numpy's position_enc[:, 0::2]
  for (int64_t p = 0; p < rows; ++p)
    for (int64_t j = 0; j < dim; ++j) {
      const double angle =
          static_cast<double>(p) / std::pow(10000.0, static_cast<double>(2 * (j / 2)) / dim);
      int64_t column = j;
      if (!interleaved) column = j % 2 == 0 ? j / 2 : sines + j / 2;
      v[static_cast<size_t>(p * dim + column)] = j % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  // Rounded to float32 once, as torch.FloatTensor(np.sin(...)) does.
  return core::Tensor::FromDoubles(core::DType::kFloat32, {rows, dim}, v);
}

}  // namespace

core::Tensor MarianSinusoids(int64_t rows, int64_t dim) {
  return TransformerSinusoids(rows, dim, /*interleaved=*/false);
}

core::Tensor InterleavedSinusoids(int64_t rows, int64_t dim) {
  return TransformerSinusoids(rows, dim, /*interleaved=*/true);
}

core::Tensor FairseqSinusoids(int64_t rows, int64_t dim, std::optional<int64_t> padding_idx) {
  const int64_t half = dim / 2;
  const float step =
      half > 1 ? static_cast<float>(std::log(10000.0) / static_cast<double>(half - 1)) : 0.0f;
  std::vector<double> v(static_cast<size_t>(rows * dim), 0.0);
  for (int64_t p = 0; p < rows; ++p) {
    if (padding_idx && p == *padding_idx) continue;
    for (int64_t i = 0; i < half; ++i) {
      const float frequency = std::exp(static_cast<float>(i) * -step);
      const float angle = static_cast<float>(p) * frequency;
      v[static_cast<size_t>(p * dim + i)] = std::sin(angle);
      v[static_cast<size_t>(p * dim + half + i)] = std::cos(angle);
    }
  }
  return core::Tensor::FromDoubles(core::DType::kFloat32, {rows, dim}, v);
}

}  // namespace ipfs_accel::models
