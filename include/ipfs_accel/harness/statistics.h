#pragma once
// Summary statistics of latency samples.

#include <vector>

namespace ipfs_accel::harness {

struct LatencyStats {
  int count = 0;
  double mean = 0, stdev = 0;  // stdev: sample standard deviation (n - 1)
  double min = 0, max = 0;
  double p50 = 0, p90 = 0, p95 = 0, p99 = 0;
};

// Percentile by linear interpolation between closest ranks (numpy's default).
// REQUIRES: 0 <= q <= 100. Returns 0 for no samples.
double Percentile(std::vector<double> samples, double q);
LatencyStats Summarize(const std::vector<double>& samples);

// A configuration whose p90 exceeds this multiple of its p50 is flagged as unstable (noisy
// samples: hyperfine warns about statistical outliers the same way).
inline constexpr double kUnstableTailRatio = 3.0;

}  // namespace ipfs_accel::harness
