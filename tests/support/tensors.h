#pragma once
// Test helpers for building and comparing host tensors.

#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::testing {

inline core::Tensor Int64Tensor(core::Shape shape, const std::vector<int64_t>& values) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, std::move(shape));
  std::copy(values.begin(), values.end(), t.values<int64_t>().begin());
  return t;
}

// Columns [begin, end) of a [rows, cols, ...] tensor (axis 1).
inline core::Tensor SliceAxis1(const core::Tensor& t, int64_t begin, int64_t end) {
  core::Shape shape = t.shape;
  const int64_t inner = core::ElementCount(shape) / (shape[0] * shape[1]);
  const size_t elem = core::DTypeSize(t.dtype);
  shape[1] = end - begin;
  core::Tensor out = core::Tensor::Zeros(t.dtype, shape);
  for (int64_t r = 0; r < shape[0]; ++r)
    std::copy_n(t.bytes.begin() + ((r * t.shape[1] + begin) * inner) * elem,
                (end - begin) * inner * elem,
                out.bytes.begin() + (r * (end - begin) * inner) * elem);
  return out;
}

// The largest element-wise difference; infinity (and a test failure) when shapes differ.
inline double MaxAbsDiff(const core::Tensor& a, const core::Tensor& b) {
  EXPECT_EQ(a.shape, b.shape);
  if (a.shape != b.shape) return INFINITY;
  const auto x = a.ToDoubles(), y = b.ToDoubles();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::fabs(x[i] - y[i]));
  return worst;
}

}  // namespace ipfs_accel::testing
