#include "ipfs_accel/analysis/prediction_metrics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

namespace {

// Ranks from 1, tied values sharing the mean of the ranks they span.
std::vector<double> AverageRanks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i) + static_cast<double>(j)) / 2 + 1;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double Pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx == 0 || syy == 0 ? 0 : sxy / std::sqrt(sxx * syy);
}

}  // namespace

double SpearmanRho(const std::vector<double>& x, const std::vector<double>& y) {
  if (x.size() != y.size())
    throw core::Error(
        core::ErrorKind::kInvalidArgument,
        fmt::format("Spearman's rho of {} and {} values: give pairs", x.size(), y.size()));
  if (x.size() < 2) return 0;
  return Pearson(AverageRanks(x), AverageRanks(y));
}

PredictionAccuracy MeasureAccuracy(const std::vector<double>& predicted,
                                   const std::vector<double>& measured) {
  if (predicted.size() != measured.size())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("{} predictions for {} measurements: give pairs",
                                  predicted.size(), measured.size()));
  PredictionAccuracy a;
  a.count = static_cast<int>(measured.size());
  if (a.count == 0) return a;
  for (size_t i = 0; i < measured.size(); ++i) {
    if (!(measured[i] > 0))
      throw core::Error(
          core::ErrorKind::kInvalidArgument,
          fmt::format("measurement {} is {}: accuracy needs values > 0", i, measured[i]));
    const double error = std::abs(predicted[i] - measured[i]) / measured[i];
    a.mape += error;
    a.within_10pct += error <= 0.10 ? 1 : 0;
    a.within_25pct += error <= 0.25 ? 1 : 0;
  }
  a.mape /= a.count;
  a.within_10pct /= a.count;
  a.within_25pct /= a.count;
  a.spearman = SpearmanRho(predicted, measured);
  return a;
}

}  // namespace ipfs_accel::analysis
