// postgres_store: what the PostgreSQL store costs against the DuckDB file, side by side in one
// run: opening a store of ROWS results (the copy's first load), a report query, and the write a
// fleet worker makes after each job (one run of one result) while a second writer keeps changing
// the store (so each write first loads what the other appended).
//
// Usage: postgres_store URL [ROWS=100000] [WRITES=20]
// URL: an empty database (scripts/postgres_cluster.sh start DIR prints one; the bench creates the
// schema). The DuckDB file for the comparison goes under the temp folder.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "ipfs_accel/store/postgres_store.h"
#include "ipfs_accel/store/records.h"
#include "ipfs_accel/store/result_store.h"

using namespace ipfs_accel;
using Clock = std::chrono::steady_clock;

namespace {

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

store::RunResults MakeRun(int64_t rows, const std::string& host) {
  store::RunResults run;
  run.run.run_id = store::NewRunId();
  run.run.started_at = "2026-12-07T12:00:00Z";
  run.run.finished_at = "2026-12-07T12:00:01Z";
  run.run.tool_version = "0.1.0";
  run.run.git_commit = "bench";
  run.run.command_line = "postgres_store";
  run.run.hostname = host;
  run.run.os = "Linux";
  store::RunResults::Entry e;
  e.model = {"bert-tiny", "bert", "text", "catalog", "", 4385920, "seed:42"};
  e.hardware = {"cpu", "bench cpu", host, "{}"};
  for (int64_t i = 0; i < rows; ++i) {
    store::PerformanceRecord p;
    p.execution_provider = "CPUExecutionProvider";
    p.runtime_version = "onnxruntime 1.29.0";
    p.batch_size = 1 + i % 64;
    p.seq_len = 128;
    p.iterations = 10;
    p.samples_ms = {1.0, 1.1, 1.2, 0.9, 1.0, 1.05, 1.1, 1.0, 0.95, 1.0};
    p.latency_p50_ms = 1.0;
    p.latency_mean_ms = 1.03;
    p.throughput_items_per_s = 970;
    e.performance.push_back(p);
  }
  run.entries.push_back(e);
  return run;
}

struct Figures {
  double open_s, report_s, write_mean_ms;
};

Figures Measure(const std::string& db, int64_t rows, int writes) {
  {
    auto seed = store::ResultStore::Open(db);
    seed->WriteRun(MakeRun(rows, "seed"));
  }
  const auto t_open = Clock::now();
  auto worker = store::ResultStore::Open(db);
  worker->Query("SELECT 1");  // the copy's first load happens by here
  Figures f{};
  f.open_s = SecondsSince(t_open);
  const auto t_report = Clock::now();
  worker->Query(
      "SELECT model_id, batch_size, median(latency_p50_ms), count(*) FROM performance_results "
      "GROUP BY ALL ORDER BY ALL");
  f.report_s = SecondsSince(t_report);
  auto other = store::ResultStore::Open(db);
  double total = 0;
  for (int i = 0; i < writes; ++i) {
    other->WriteRun(MakeRun(1, "other"));
    const auto t0 = Clock::now();
    worker->WriteRun(MakeRun(1, "worker"));
    total += SecondsSince(t0);
  }
  f.write_mean_ms = 1e3 * total / writes;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: postgres_store URL [ROWS=100000] [WRITES=20]\n");
    return 2;
  }
  const std::string url = argv[1];
  const int64_t rows = argc > 2 ? std::atoll(argv[2]) : 100000;
  const int writes = argc > 3 ? std::atoi(argv[3]) : 20;
  const std::string file =
      (std::filesystem::temp_directory_path() / fmt::format("postgres_store_{}.duckdb", getpid()))
          .string();
  const Figures duck = Measure(file, rows, writes);
  std::filesystem::remove(file);
  const Figures pg = Measure(url, rows, writes);
  std::printf("store of %lld results       DuckDB file   PostgreSQL   ratio\n",
              static_cast<long long>(rows));
  std::printf("open (+ first load)     %9.3f s  %9.3f s  %6.1fx\n", duck.open_s, pg.open_s,
              pg.open_s / duck.open_s);
  std::printf("report query            %9.3f s  %9.3f s  %6.1fx\n", duck.report_s, pg.report_s,
              pg.report_s / duck.report_s);
  std::printf("write 1 run (other wrote)%8.1f ms %8.1f ms %6.1fx\n", duck.write_mean_ms,
              pg.write_mean_ms, pg.write_mean_ms / duck.write_mean_ms);
  return 0;
}
