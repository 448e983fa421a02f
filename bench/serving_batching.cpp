// serving_batching: throughput and tail latency of the resource pool serving one model to N
// in-process clients (closed loop: each sends its next request when the last is answered), one
// request at a time (max_batch 1) against dynamic batching (max_batch 32 unless told). Every
// request is one row of SEQ token ids. The two modes run in alternating rounds (each its own pool,
// both loaded throughout) so that load from elsewhere on the machine hits both alike; throughput is
// the median over rounds, p50/p99 over every request of every round. The single-request latency (1
// client, one at a time) is the baseline the goal is stated against: batching's p99 within
// 2x of it plus the batch delay.
//
// Usage: serving_batching [MODEL=bert-tiny] [SECONDS_PER_ROUND=1] [ROUNDS=3] [SEQ=16]
//                         [DELAY_MS=2] [INTRA_OP_THREADS=1] [MAX_BATCH=32]

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/serving/resource_pool.h"

using namespace ipfs_accel;

namespace {

// What the rounds of one mode at one client count measured.
struct Cell {
  std::vector<double> latencies_ms, requests_per_s;
  int64_t batches = 0, rows = 0;
  double run_ms = 0;
};

core::Tensor Ids(int client, int64_t seq) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, {1, seq});
  auto v = t.values<int64_t>();
  for (int64_t k = 0; k < seq; ++k) v[k] = 1000 + (client * 31 + k * 7) % 20000;
  return t;
}

void Round(serving::ResourcePool& pool, int clients, double seconds, int64_t seq, Cell& cell) {
  const serving::BatcherStats before = pool.Snapshot().entries.at(0).traffic;
  std::vector<std::vector<double>> latencies(clients);
  std::atomic<bool> stop = false;
  std::vector<std::thread> threads;
  const auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      const core::Tensor ids = Ids(c, seq);
      while (!stop) {
        const auto t0 = std::chrono::steady_clock::now();
        pool.Infer({.model = "m", .inputs = {{"input_ids", ids}}});
        latencies[c].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count());
      }
    });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  size_t answered = 0;
  for (const auto& l : latencies) {
    cell.latencies_ms.insert(cell.latencies_ms.end(), l.begin(), l.end());
    answered += l.size();
  }
  cell.requests_per_s.push_back(static_cast<double>(answered) / elapsed);
  const serving::BatcherStats after = pool.Snapshot().entries.at(0).traffic;
  cell.batches += after.batches - before.batches;
  cell.rows += after.rows - before.rows;
  cell.run_ms += after.run_ms_total - before.run_ms_total;
}

std::unique_ptr<serving::ResourcePool> Pool(const serving::ModelRegistry& registry,
                                            int64_t max_batch, double delay_ms, int64_t seq,
                                            int threads) {
  serving::PoolOptions options;
  options.batching = {.max_batch = max_batch, .max_batch_delay_ms = delay_ms, .max_queue = 1024};
  options.planning_seq_len = seq;
  options.session.intra_op_threads = threads;
  options.platforms = {"cpu"};
  auto pool = std::make_unique<serving::ResourcePool>(registry, options);
  pool->Load("m");
  return pool;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string spec = argc > 1 ? argv[1] : "bert-tiny";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 1;
  const int rounds = argc > 3 ? std::atoi(argv[3]) : 3;
  const int64_t seq = argc > 4 ? std::atoll(argv[4]) : 16;
  const double delay_ms = argc > 5 ? std::atof(argv[5]) : 2;
  const int threads = argc > 6 ? std::atoi(argv[6]) : 1;
  const int64_t max_batch = argc > 7 ? std::atoll(argv[7]) : 32;
  serving::ModelRegistry registry;
  registry.Register({.name = "m", .spec = spec});
  std::printf(
      "model %s, seq %lld, %d rounds x %.1f s per mode and client count, batch delay %.1f ms, "
      "intra-op threads %d, max batch %lld, %u hardware threads\n",
      spec.c_str(), static_cast<long long>(seq), rounds, seconds, delay_ms, threads,
      static_cast<long long>(max_batch), std::thread::hardware_concurrency());
  std::printf("%-14s %8s %12s %10s %10s %11s %12s\n", "mode", "clients", "requests/s", "p50 ms",
              "p99 ms", "mean batch", "run ms/batch");
  const char* names[] = {"one-at-a-time", "dynamic"};
  std::unique_ptr<serving::ResourcePool> pools[] = {
      Pool(registry, 1, 0, seq, threads), Pool(registry, max_batch, delay_ms, seq, threads)};
  double single_p50 = 0, throughput_32[2] = {0, 0}, dynamic_p99_32 = 0;
  for (const int clients : {1, 8, 32}) {
    Cell cells[2];
    for (auto& pool : pools) Round(*pool, clients, seconds / 4, seq, cells[0]);  // warm-up
    cells[0] = Cell();
    for (int r = 0; r < rounds; ++r)
      for (int m = 0; m < 2; ++m) Round(*pools[m], clients, seconds, seq, cells[m]);
    for (int m = 0; m < 2; ++m) {
      const Cell& c = cells[m];
      const double rps = harness::Percentile(c.requests_per_s, 50);
      const double p50 = harness::Percentile(c.latencies_ms, 50);
      const double p99 = harness::Percentile(c.latencies_ms, 99);
      std::printf("%-14s %8d %12.1f %10.3f %10.3f %11.2f %12.3f\n", names[m], clients, rps, p50,
                  p99, c.batches ? static_cast<double>(c.rows) / c.batches : 0,
                  c.batches ? c.run_ms / c.batches : 0);
      if (clients == 1 && m == 0) single_p50 = p50;
      if (clients == 32) throughput_32[m] = rps;
      if (clients == 32 && m == 1) dynamic_p99_32 = p99;
    }
  }
  std::printf(
      "single request p50 %.3f ms; at 32 clients: throughput x%.2f (goal >= 2), dynamic p99 "
      "%.3f ms against 2 x single + delay = %.3f ms\n",
      single_p50, throughput_32[1] / throughput_32[0], dynamic_p99_32, 2 * single_p50 + delay_ms);
  return 0;
}
