#pragma once
// Percentile estimates with a stated confidence, from order statistics alone (no
// assumption about the latency distribution), as MLPerf LoadGen's early stopping.
//
// With n latencies sorted as X_(1) <= ... <= X_(n) and a target percentile p:
//   - the early-stopping estimate is X_(k) for the smallest k with
//     P(Binomial(n, p) <= k - 1) >= confidence: the true p-th percentile is at most X_(k)
//     with at least that confidence (a one-sided upper bound; LoadGen reports it as the
//     "early stopping percentile estimate", discarding the n - k highest latencies).
//     It exists only from MinQueriesForEarlyStopping(p, confidence) queries on;
//   - the two-sided interval [X_(l), X_(u)] holds the true percentile with at least
//     ci_level: equal tails, l the largest with P(B <= l - 1) <= (1 - ci_level) / 2 and
//     u the smallest with P(B <= u - 1) >= 1 - (1 - ci_level) / 2.
// For a continuous distribution the coverages are exactly the binomial sums stated
// (early_stopping_coverage, ci_coverage); ties only make them larger.

#include <cstdint>
#include <optional>
#include <vector>

namespace ipfs_accel::harness {

struct PercentileEstimate {
  double percentile = 0;  // in percent, e.g. 90
  int64_t queries = 0;    // n, the samples it is made from
  double sample_ms = 0;   // the plain sample percentile (numpy's linear interpolation)

  double confidence = 0;                    // asked of the early-stopping bound, e.g. 0.99
  std::optional<double> early_stopping_ms;  // X_(k); absent below min_queries_for_estimate
  int64_t discarded = 0;                    // n - k, the highest latencies left out
  double early_stopping_coverage = 0;       // P(B <= k - 1) >= confidence; 0 when absent
  int64_t min_queries_for_estimate = 0;

  double ci_level = 0;                   // asked of the two-sided interval, e.g. 0.95
  std::optional<double> ci_low_ms;       // X_(l); set together with ci_high_ms
  std::optional<double> ci_high_ms;      // X_(u)
  double ci_coverage = 0;                // P(l <= B <= u - 1) >= ci_level; 0 when absent
  int64_t min_queries_for_interval = 0;  // the fewest samples for which [X_(l), X_(u)] exists
};

// P(Binomial(n, p) <= k): terms in log space (std::lgamma), summed over the tail away from
// the mode until they stop mattering, so it is stable for n up to 1e7 and beyond: relative
// error about 1e-16 n ln n (1e-10 at n = 1e5, 2e-8 at 1e7); values below ~1e-300 are 0.
// REQUIRES: n >= 0, 0 <= p <= 1. k outside [0, n] gives 0 or 1.
double BinomialCdf(int64_t k, int64_t n, double p);

// The fewest samples for which the early-stopping estimate exists: the smallest n with
// percentile^n <= 1 - confidence (44 for the 90th percentile at 0.99, 459 for the 99th).
// Throws core::Error(kInvalidArgument) unless 0 < percentile < 100 and 0 < confidence < 1.
int64_t MinQueriesForEarlyStopping(double percentile, double confidence);

// The estimates above for `samples_ms` (any order). Throws core::Error(kInvalidArgument)
// unless 0 < percentile < 100 and 0 < confidence, ci_level < 1.
PercentileEstimate EstimatePercentile(std::vector<double> samples_ms, double percentile,
                                      double confidence, double ci_level = 0.95);

}  // namespace ipfs_accel::harness
