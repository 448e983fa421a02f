#include "ipfs_accel/analysis/nonnegative_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

namespace {

// Solves m·x = v by Gaussian elimination with partial pivoting; false when singular.
bool Solve(std::vector<std::vector<double>> m, std::vector<double> v, std::vector<double>& x) {
  const size_t n = v.size();
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(m[r][c]) > std::abs(m[p][c])) p = r;
    if (std::abs(m[p][c]) < 1e-12) return false;
    std::swap(m[p], m[c]);
    std::swap(v[p], v[c]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = m[r][c] / m[c][c];
      for (size_t k = c; k < n; ++k) m[r][k] -= f * m[c][k];
      v[r] -= f * v[c];
    }
  }
  x.assign(n, 0);
  for (size_t c = n; c-- > 0;) {
    double s = v[c];
    for (size_t k = c + 1; k < n; ++k) s -= m[c][k] * x[k];
    x[c] = s / m[c][c];
  }
  return true;
}

// sum_i (a_i . b - 1)^2
double Loss(const std::vector<std::vector<double>>& a, const std::vector<double>& b) {
  double loss = 0;
  for (const auto& r : a) {
    double p = 0;
    for (size_t c = 0; c < b.size(); ++c) p += b[c] * r[c];
    loss += (p - 1) * (p - 1);
  }
  return loss;
}

}  // namespace

std::vector<double> FitNonNegativeRelative(const std::vector<std::vector<double>>& rows,
                                           const std::vector<double>& y) {
  if (rows.size() != y.size() || rows.empty())
    throw core::Error(
        core::ErrorKind::kInvalidArgument,
        fmt::format("non-negative fit of {} rows to {} targets", rows.size(), y.size()));
  const size_t width = rows[0].size();
  if (width == 0 || width > 8)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("non-negative fit of {} columns: 1 to 8", width));
  for (size_t i = 0; i < y.size(); ++i)
    if (!(y[i] > 0) || rows[i].size() != width)
      throw core::Error(
          core::ErrorKind::kInvalidArgument,
          fmt::format("non-negative fit: row {} has a target <= 0 or another width", i));
  // The problem is ||A b - 1|| with A = x / y row by row; A's columns are scaled to a largest
  // magnitude of 1 (bytes beside a constant 1 would leave the normal equations ill-conditioned)
  // and the coefficients scaled back at the end.
  std::vector<std::vector<double>> a = rows;
  for (size_t i = 0; i < a.size(); ++i)
    for (double& v : a[i]) v /= y[i];
  std::vector<double> scale(width, 1);
  for (size_t c = 0; c < width; ++c) {
    double m = 0;
    for (const auto& r : a) m = std::max(m, std::abs(r[c]));
    if (m > 0) scale[c] = m;
  }
  for (auto& r : a)
    for (size_t c = 0; c < width; ++c) r[c] /= scale[c];
  std::vector<double> best(width, 0);
  double best_loss = std::numeric_limits<double>::infinity();
  for (unsigned mask = 1; mask < (1u << width); ++mask) {
    std::vector<size_t> cols;
    for (size_t c = 0; c < width; ++c)
      if (mask & (1u << c)) cols.push_back(c);
    const size_t k = cols.size();
    std::vector<std::vector<double>> ata(k, std::vector<double>(k, 0));
    std::vector<double> atb(k, 0);
    for (const auto& r : a)
      for (size_t i = 0; i < k; ++i) {
        atb[i] += r[cols[i]];
        for (size_t j = 0; j < k; ++j) ata[i][j] += r[cols[i]] * r[cols[j]];
      }
    std::vector<double> beta;
    if (!Solve(ata, atb, beta)) continue;
    if (std::any_of(beta.begin(), beta.end(), [](double b) { return b < 0; })) continue;
    std::vector<double> full(width, 0);
    for (size_t i = 0; i < k; ++i) full[cols[i]] = beta[i];
    const double loss = Loss(a, full);
    if (loss < best_loss) best_loss = loss, best = full;
  }
  for (size_t c = 0; c < width; ++c) best[c] /= scale[c];
  return best;
}

}  // namespace ipfs_accel::analysis
