#include "ipfs_accel/harness/stopping_rule.h"

#include <algorithm>
#include <cmath>
#include <functional>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/statistics.h"

namespace ipfs_accel::harness {

namespace {

using core::Error;
using core::ErrorKind;

void CheckFraction(double value, const char* what) {
  if (!(value > 0 && value < 1))
    throw Error(
        ErrorKind::kInvalidArgument,
        fmt::format("{} {} is not between 0 and 1 (exclusive); give e.g. 0.99", what, value));
}

double CheckedFraction(double percentile) {
  if (!(percentile > 0 && percentile < 100))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("percentile {} is not between 0 and 100 (exclusive); give e.g. 90",
                            percentile));
  return percentile / 100.0;
}

// The smallest n >= 1 with holds(n), for a predicate false below some n and true from
// there on; `guess` (from a closed form) saves the walk.
int64_t SmallestN(int64_t guess, const std::function<bool(int64_t)>& holds) {
  int64_t n = std::max<int64_t>(1, guess);
  while (n > 1 && holds(n - 1)) --n;
  while (!holds(n)) ++n;
  return n;
}

// The smallest n with base^n <= target, from logarithms (the guess for SmallestN).
int64_t PowerGuess(double base, double target) {
  return static_cast<int64_t>(std::ceil(std::log(target) / std::log(base)));
}

// The smallest i in [lo, hi] with holds(i), for a predicate monotone in i; hi + 1 if none.
int64_t FirstTrue(int64_t lo, int64_t hi, const std::function<bool(int64_t)>& holds) {
  int64_t end = hi + 1;
  while (lo < end) {
    const int64_t mid = lo + (end - lo) / 2;
    if (holds(mid))
      end = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

}  // namespace

double BinomialCdf(int64_t k, int64_t n, double p) {
  if (k < 0) return 0;
  if (k >= n) return 1;
  if (p <= 0) return 1;
  if (p >= 1) return 0;
  const double nd = static_cast<double>(n);
  const double log_p = std::log(p), log_q = std::log1p(-p);
  const double log_n_factorial = std::lgamma(nd + 1);
  const auto log_pmf = [&](int64_t i) {
    const double id = static_cast<double>(i);
    return log_n_factorial - std::lgamma(id + 1) - std::lgamma(nd - id + 1) + id * log_p +
           (nd - id) * log_q;
  };
  // The terms rise up to the mode and fall after it. Sum the tail that does not hold
  // the mode, starting at its largest term and walking away from the mode until the
  // terms no longer change the sum: few terms, and each tail keeps its relative precision.
  const auto tail = [&](int64_t from, int64_t step) {
    const double log_first = log_pmf(from);
    double sum = 0;  // in units of the first term
    for (int64_t i = from; i >= 0 && i <= n; i += step) {
      const double term = std::exp(log_pmf(i) - log_first);
      sum += term;
      if (term < 1e-17 * sum) break;
    }
    return std::exp(log_first + std::log(sum));
  };
  const auto mode = static_cast<int64_t>(std::floor((nd + 1) * p));
  if (k < mode) return tail(k, -1);
  return 1 - tail(k + 1, +1);
}

int64_t MinQueriesForEarlyStopping(double percentile, double confidence) {
  const double p = CheckedFraction(percentile);
  CheckFraction(confidence, "confidence");
  // X_(n) bounds the percentile with confidence 1 - p^n; fewer samples bound nothing.
  return SmallestN(PowerGuess(p, 1 - confidence),
                   [&](int64_t n) { return BinomialCdf(n - 1, n, p) >= confidence; });
}

PercentileEstimate EstimatePercentile(std::vector<double> samples_ms, double percentile,
                                      double confidence, double ci_level) {
  const double p = CheckedFraction(percentile);
  CheckFraction(confidence, "confidence");
  CheckFraction(ci_level, "confidence interval level");
  std::sort(samples_ms.begin(), samples_ms.end());
  const auto n = static_cast<int64_t>(samples_ms.size());
  const auto order_statistic = [&](int64_t rank) {  // X_(rank), 1-based
    return samples_ms[static_cast<size_t>(rank - 1)];
  };
  const auto cdf = [&](int64_t k) { return BinomialCdf(k, n, p); };

  PercentileEstimate e;
  e.percentile = percentile;
  e.queries = n;
  e.sample_ms = Percentile(samples_ms, percentile);
  e.confidence = confidence;
  e.ci_level = ci_level;
  e.min_queries_for_estimate = MinQueriesForEarlyStopping(percentile, confidence);
  const double tail = (1 - ci_level) / 2;
  e.min_queries_for_interval = std::max(
      SmallestN(PowerGuess(1 - p, tail),
                [&](int64_t m) { return BinomialCdf(0, m, p) <= tail; }),  // X_(1) exists as l
      SmallestN(PowerGuess(p, tail),
                [&](int64_t m) { return BinomialCdf(m - 1, m, p) >= 1 - tail; }));  // X_(n) as u
  if (n == 0) return e;

  const int64_t k = FirstTrue(1, n, [&](int64_t i) { return cdf(i - 1) >= confidence; });
  if (k <= n) {
    e.early_stopping_ms = order_statistic(k);
    e.discarded = n - k;
    e.early_stopping_coverage = cdf(k - 1);
  }
  // l: the largest rank with P(B <= l - 1) <= tail, i.e. one below the first that exceeds it.
  const int64_t l = FirstTrue(1, n, [&](int64_t i) { return cdf(i - 1) > tail; }) - 1;
  const int64_t u = FirstTrue(1, n, [&](int64_t i) { return cdf(i - 1) >= 1 - tail; });
  if (l >= 1 && u <= n) {
    e.ci_low_ms = order_statistic(l);
    e.ci_high_ms = order_statistic(u);
    e.ci_coverage = cdf(u - 1) - cdf(l - 1);
  }
  return e;
}

}  // namespace ipfs_accel::harness
