#pragma once
// Test helper: tiny checkpoints written under HF's parameter names with seeded values, and the
// double-precision pieces of a reference forward pass over them (dense, LayerNorm, activations,
// attention), for architectures checked without a transformers fixture.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/safetensors.h"
#include "support/temp_dir.h"

namespace ipfs_accel::testing {

using Vec = std::vector<double>;  // row-major matrices

// `values` as a float32 tensor of `shape`.
inline core::Tensor FloatTensor(core::Shape shape, const Vec& values) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, std::move(shape));
  auto out = t.values<float>();
  for (size_t k = 0; k < values.size(); ++k) out[k] = static_cast<float>(values[k]);
  return t;
}

// Seeded weights under HF's names, kept as the float32 values written, and their shapes.
class Checkpoint {
 public:
  explicit Checkpoint(uint64_t seed) : rng_(seed) {}

  void Add(const std::string& name, core::Shape shape, double scale, double offset = 0) {
    std::normal_distribution<double> normal(0.0, scale);
    Vec v(static_cast<size_t>(core::ElementCount(shape)));
    for (double& x : v) x = static_cast<float>(offset + normal(rng_));  // as stored
    values_[name] = std::move(v);
    shapes_[name] = std::move(shape);
  }
  void Linear(const std::string& name, int64_t in, int64_t out, bool bias = true) {
    Add(name + ".weight", {out, in}, 0.3);
    if (bias) Add(name + ".bias", {out}, 0.1);
  }
  void Norm(const std::string& name, int64_t size) {
    Add(name + ".weight", {size}, 0.1, 1.0);
    Add(name + ".bias", {size}, 0.1);
  }
  const Vec& operator[](const std::string& name) const { return values_.at(name); }
  Vec& operator[](const std::string& name) { return values_.at(name); }
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  int64_t parameter_count() const {
    int64_t n = 0;
    for (const auto& [name, shape] : shapes_) n += core::ElementCount(shape);
    return n;
  }

  // config.json and model.safetensors, every name behind `prefix`, plus `extra` tensors.
  void Save(const TempDir& dir, const nlohmann::json& config, const std::string& prefix = "",
            const std::map<std::string, core::Tensor>& extra = {}) const {
    std::ofstream(dir.File("config.json")) << config.dump(2);
    std::map<std::string, core::Tensor> tensors = extra;
    for (const auto& [name, v] : values_) tensors[prefix + name] = FloatTensor(shapes_.at(name), v);
    models::WriteSafetensors(dir.File("model.safetensors"), tensors);
  }

 private:
  std::mt19937_64 rng_;
  std::map<std::string, Vec> values_;
  std::map<std::string, core::Shape> shapes_;
};

// x [n, in] W^T + b, with W the [out, in] rows [row0, row0 + out) of `weight`.
inline Vec Dense(const Vec& x, int64_t n, int64_t in, int64_t out, const Vec& weight,
                 const Vec* bias, int64_t row0 = 0) {
  Vec y(static_cast<size_t>(n * out));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double s = bias ? (*bias)[row0 + o] : 0.0;
      for (int64_t k = 0; k < in; ++k) s += x[r * in + k] * weight[(row0 + o) * in + k];
      y[r * out + o] = s;
    }
  return y;
}

// x [n, in] W^T (+ b) with `name`.weight [out, in] and `name`.bias when the checkpoint has one.
inline Vec Linear(const Checkpoint& w, const std::string& name, const Vec& x, int64_t n, int64_t in,
                  int64_t out) {
  const std::string bias = name + ".bias";
  return Dense(x, n, in, out, w[name + ".weight"], w.Has(bias) ? &w[bias] : nullptr);
}

// LayerNorm over rows of width h with `name`.weight and `name`.bias.
inline Vec LayerNorm(const Checkpoint& w, const std::string& name, const Vec& x, int64_t n,
                     int64_t h, double eps) {
  Vec y(x.size());
  for (int64_t r = 0; r < n; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < h; ++c) mean += x[r * h + c] / static_cast<double>(h);
    for (int64_t c = 0; c < h; ++c)
      var += (x[r * h + c] - mean) * (x[r * h + c] - mean) / static_cast<double>(h);
    for (int64_t c = 0; c < h; ++c)
      y[r * h + c] = (x[r * h + c] - mean) / std::sqrt(var + eps) * w[name + ".weight"][c] +
                     w[name + ".bias"][c];
  }
  return y;
}

// HF's ACT2FN for the activations the reference tests use.
inline Vec Act(Vec x, const std::string& act) {
  for (double& v : x) {
    if (act == "gelu")
      v = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    else if (act == "gelu_pytorch_tanh")
      v = 0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    else if (act == "quick_gelu")
      v = v / (1.0 + std::exp(-1.702 * v));
    else if (act == "relu")
      v = std::max(v, 0.0);
    else if (act == "silu")
      v = v / (1.0 + std::exp(-v));
    else if (act == "tanh")
      v = std::tanh(v);
    else
      ADD_FAILURE() << "no reference for " << act;
  }
  return x;
}

// softmax(q k^T / sqrt(d) + bias) v per head; where `allowed` [nq * nk] is given, a key it
// forbids gets float32's lowest added (HF's eager masks); `bias`, where given, is
// [heads * nq * nk] (a relative position bias); `width`, where given, replaces d in the
// scale (CvT divides by sqrt of the whole hidden size).
inline Vec Attention(const Vec& q, int64_t nq, const Vec& k, const Vec& v, int64_t nk,
                     int64_t hidden, int64_t heads, const std::vector<bool>& allowed = {},
                     const Vec* bias = nullptr, int64_t width = 0) {
  const int64_t d = hidden / heads;
  Vec out(static_cast<size_t>(nq * hidden));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < nq; ++i) {
      Vec s(static_cast<size_t>(nk));
      for (int64_t j = 0; j < nk; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c)
          dot += q[i * hidden + h * d + c] * k[j * hidden + h * d + c];
        s[j] = dot / std::sqrt(static_cast<double>(width > 0 ? width : d));
        if (bias) s[j] += (*bias)[(h * nq + i) * nk + j];
        if (!allowed.empty() && !allowed[i * nk + j]) s[j] += std::numeric_limits<float>::lowest();
      }
      const double top = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& e : s) sum += (e = std::exp(e - top));
      for (int64_t c = 0; c < d; ++c) {
        double acc = 0;
        for (int64_t j = 0; j < nk; ++j) acc += s[j] / sum * v[j * hidden + h * d + c];
        out[i * hidden + h * d + c] = acc;
      }
    }
  return out;
}

}  // namespace ipfs_accel::testing
