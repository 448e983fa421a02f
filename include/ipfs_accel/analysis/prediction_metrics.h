#pragma once
// How good predictions are against what was measured: the figures `predict --evaluate`
// reports for every validation split.

#include <vector>

namespace ipfs_accel::analysis {

struct PredictionAccuracy {
  int count = 0;
  double mape = 0;          // mean of |predicted - measured| / measured, as a fraction
  double within_10pct = 0;  // share of predictions within ±10 % of the measurement
  double within_25pct = 0;
  double spearman = 0;  // Spearman's ρ between predicted and measured (ties: average ranks)
};

// `predicted` and `measured` are paired and of equal size; measurements must be > 0. With
// fewer than two pairs (or a constant side) spearman is 0. Throws core::Error kInvalidArgument
// for sizes that differ or a measurement <= 0.
PredictionAccuracy MeasureAccuracy(const std::vector<double>& predicted,
                                   const std::vector<double>& measured);

// Spearman's ρ: Pearson's correlation of the average ranks.
double SpearmanRho(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace ipfs_accel::analysis
