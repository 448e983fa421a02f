// harness_overhead: does our timed loop cost more than a bare Ort::Session::Run loop?
// Both loops run on the same session, in the same process, in alternating rounds
// so that drift (thermal, other load) hits both alike. Prints p50 of each and the
// ratio harness/bare; the target is <= 1.02.
//
// Usage: harness_overhead [MODEL=bert-tiny] [ROUNDS=5] [RUNS_PER_ROUND=200]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/models/model.h"
#include "runtime/ort_session.h"

using namespace ipfs_accel;

int main(int argc, char** argv) {
  const std::string spec = argc > 1 ? argv[1] : "bert-tiny";
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int runs = argc > 3 ? std::atoi(argv[3]) : 200;

  const models::Model model = models::LoadModel(spec);
  runtime::OrtSession session(model, {});
  harness::BenchmarkConfig config;
  config.shape = {.batch_size = 1, .seq_len = 128};
  config.warmup = 20;
  config.iterations = runs;
  config.min_time_s = 0;

  std::vector<double> harness_ms, bare_ms;
  for (int round = 0; round < rounds; ++round) {
    const harness::BenchmarkResult r = harness::MeasureSession(session, model, config);
    harness_ms.insert(harness_ms.end(), r.samples_ms.begin(), r.samples_ms.end());

    // The bare loop: the inputs MeasureSession bound, Ort::Session::Run, a clock each side.
    auto& native = session.native();
    const auto& in_names = session.input_names();
    const auto& out_names = session.output_names();
    auto& values = session.bound_values();
    for (int i = 0; i < config.warmup; ++i)
      native.Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(),
                 out_names.data(), out_names.size());
    for (int i = 0; i < runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      native.Run(Ort::RunOptions{nullptr}, in_names.data(), values.data(), values.size(),
                 out_names.data(), out_names.size());
      bare_ms.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
  }
  const double h = harness::Percentile(harness_ms, 50);
  const double b = harness::Percentile(bare_ms, 50);
  std::printf("model %s, batch 1, seq 128, %d rounds x %d runs each\n", spec.c_str(), rounds, runs);
  std::printf("harness p50  %.4f ms\n", h);
  std::printf("bare    p50  %.4f ms\n", b);
  std::printf("ratio harness/bare  %.4f  (target <= 1.02)\n", h / b);
  return 0;
}
