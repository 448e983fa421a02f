#include "ipfs_accel/harness/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ipfs_accel::harness {

namespace {
double SortedPercentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double rank = q / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (rank - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}
}  // namespace

double Percentile(std::vector<double> samples, double q) {
  std::sort(samples.begin(), samples.end());
  return SortedPercentile(samples, q);
}

LatencyStats Summarize(const std::vector<double>& samples) {
  LatencyStats s;
  if (samples.empty()) return s;
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  s.count = static_cast<int>(sorted.size());
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / s.count;
  double ss = 0;
  for (double x : sorted) ss += (x - s.mean) * (x - s.mean);
  s.stdev = s.count > 1 ? std::sqrt(ss / (s.count - 1)) : 0.0;
  s.min = sorted.front();
  s.max = sorted.back();
  s.p50 = SortedPercentile(sorted, 50);
  s.p90 = SortedPercentile(sorted, 90);
  s.p95 = SortedPercentile(sorted, 95);
  s.p99 = SortedPercentile(sorted, 99);
  return s;
}

}  // namespace ipfs_accel::harness
