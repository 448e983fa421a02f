#pragma once
// Least squares with every coefficient >= 0, on the relative error: minimises
// sum_i (x_i · b / y_i - 1)^2 over b >= 0. Solved exactly for the few columns the predictors
// use by trying every subset of columns (the unconstrained solution on each, the best feasible
// one kept), so the fit is the same on every machine.

#include <vector>

namespace ipfs_accel::analysis {

// `rows` of equal width (at most 8 columns), `targets` > 0 and as many. Columns that never
// help get 0. Throws core::Error kInvalidArgument for mismatched sizes, a width over 8 or a
// target <= 0.
std::vector<double> FitNonNegativeRelative(const std::vector<std::vector<double>>& rows,
                                           const std::vector<double>& targets);

}  // namespace ipfs_accel::analysis
