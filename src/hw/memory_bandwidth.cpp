#include "ipfs_accel/hw/memory_bandwidth.h"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::hw {

namespace {

constexpr int kRepetitions = 5;
constexpr int64_t kMinArrayBytes = int64_t{32} << 20;
constexpr int64_t kMaxArrayBytes = int64_t{256} << 20;

int64_t ArrayBytes(const CpuInfo& cpu) {
  int64_t bytes = std::max(kMinArrayBytes, 4 * cpu.l3_cache_bytes);
  bytes = std::min(bytes, kMaxArrayBytes);
  if (cpu.memory_available_bytes > 0)
    bytes = std::min(bytes, std::max<int64_t>(cpu.memory_available_bytes / 8, 1 << 20));
  return bytes;
}

// Runs `kernel(begin, end)` on every thread's slice at once, `repetitions` times, and returns
// the shortest wall time of one repetition (all threads start together, the slowest ends it).
template <typename Kernel>
double BestSeconds(size_t n, int threads, int repetitions, Kernel kernel) {
  std::barrier sync(threads + 1);
  std::vector<std::jthread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const size_t begin = n * t / threads, end = n * (t + 1) / threads;
      for (int r = 0; r < repetitions; ++r) {
        sync.arrive_and_wait();
        kernel(begin, end);
        sync.arrive_and_wait();
      }
    });
  double best = 1e300;
  for (int r = 0; r < repetitions; ++r) {
    sync.arrive_and_wait();
    const auto start = std::chrono::steady_clock::now();
    sync.arrive_and_wait();
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

}  // namespace

MemoryBandwidth MeasureMemoryBandwidth(const CpuInfo& cpu) {
  MemoryBandwidth m;
  m.array_bytes = ArrayBytes(cpu);
  m.threads = std::max(1, cpu.logical_cores);
  m.repetitions = kRepetitions;
  const size_t n = static_cast<size_t>(m.array_bytes) / sizeof(double);
  std::unique_ptr<double[]> a(new (std::nothrow) double[n]), b(new (std::nothrow) double[n]),
      c(new (std::nothrow) double[n]);
  if (!a || !b || !c)
    throw core::Error(core::ErrorKind::kUnavailable,
                      fmt::format("the memory bandwidth probe could not allocate 3 x {} MiB",
                                  m.array_bytes >> 20));
  double* pa = a.get();
  double* pb = b.get();
  double* pc = c.get();
  // First touch by the thread that will use each slice, as STREAM's initialisation does.
  BestSeconds(n, m.threads, 1, [=](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) pa[i] = 1.0, pb[i] = 2.0, pc[i] = 0.5;
  });
  const double copy_s = BestSeconds(n, m.threads, kRepetitions, [=](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) pa[i] = pb[i];
  });
  const double triad_s = BestSeconds(n, m.threads, kRepetitions, [=](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) pa[i] = pb[i] + 3.0 * pc[i];
  });
  const double bytes = static_cast<double>(n * sizeof(double));
  m.copy_gb_per_s = 2 * bytes / copy_s / 1e9;
  m.triad_gb_per_s = 3 * bytes / triad_s / 1e9;
  return m;
}

}  // namespace ipfs_accel::hw
