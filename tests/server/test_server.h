#pragma once
// Test helper: a results database with two runs (bert-tiny on cpu and wasm, two commits of
// main) served by the real server on a free loopback port, in this process, with the inference
// endpoints over a resource pool (cpu only, one thread per session) serving Options::models.

#include <httplib.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "ipfs_accel/server/api.h"
#include "ipfs_accel/server/http_server.h"
#include "ipfs_accel/server/inference.h"
#include "ipfs_accel/store/result_store.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::testing {

inline constexpr const char* kRunA = "aaaaaaaa-0000-4000-8000-000000000001";
inline constexpr const char* kRunB = "bbbbbbbb-0000-4000-8000-000000000002";
inline constexpr const char* kToken = "test-token-0123456789abcdef";

inline store::PerformanceRecord Result(int64_t batch, double p50, const std::string& precision) {
  store::PerformanceRecord p = StoredPerformance({p50 * 0.9, p50, p50 * 1.1});
  p.batch_size = batch;
  p.precision = precision;
  p.latency_min_ms = p50 * 0.9;
  p.latency_max_ms = p50 * 1.1;
  p.latency_mean_ms = p.latency_p50_ms = p50;
  p.latency_p90_ms = p.latency_p99_ms = p50 * 1.1;
  p.throughput_items_per_s = 1000.0 * batch / p50;
  return p;
}

// Run A (2026-12-01, commit abc1234): cpu batch 1 and 4, wasm batch 1, a cpu compatibility
// result. Run B (2026-12-02, commit def5678): cpu batch 1, 4 and fp16 batch 1. Six results.
inline std::vector<store::RunResults> FixtureRuns() {
  store::RunResults::Entry a_cpu = StoredEntry("cpu", "Test CPU");
  a_cpu.performance = {Result(1, 2.0, "fp32"), Result(4, 6.0, "fp32")};
  store::CompatibilityRecord ok;
  ok.execution_provider = "CPUExecutionProvider";
  ok.status = "ok";
  ok.precision = "fp32";
  ok.graph_variant = "plain";
  a_cpu.compatibility = {ok};
  store::RunResults::Entry a_wasm = StoredEntry("wasm", "Chromium wasm");
  a_wasm.performance = {Result(1, 9.0, "fp32")};
  store::RunResults::Entry b_cpu = StoredEntry("cpu", "Test CPU");
  b_cpu.performance = {Result(1, 2.1, "fp32"), Result(4, 6.2, "fp32"), Result(1, 1.5, "fp16")};
  return {StoredRun(kRunA, "2026-12-01T10:00:00Z", "abc1234", "main", {a_cpu, a_wasm}),
          StoredRun(kRunB, "2026-12-02T10:00:00Z", "def5678", "main", {b_cpu})};
}

// Writes the fixture runs into a new database at `path`.
inline void WriteFixture(const std::string& path) {
  auto store = store::ResultStore::Open(path);
  for (const auto& run : FixtureRuns()) store->WriteRun(run);
}

class TestServer {
 public:
  struct Options {
    bool with_token = true;
    size_t max_body_bytes = size_t{1} << 20;
    store::QueryLimits sql_limits = {.max_rows = 1000, .timeout_s = 30};
    std::vector<serving::ModelSource> models = {};  // registered and loaded at start
    serving::BatcherOptions batching = {};
    size_t threads = 4;
    size_t max_waiting = 0;   // connections waiting for a worker before 503; 0: no bound
    int64_t max_wait_ms = 0;  // longest wait for a worker before 503; 0: no limit
  };
  TestServer() : TestServer(Options{}) {}
  explicit TestServer(const Options& o) {
    path_ = dir_.File("results.duckdb");
    WriteFixture(path_);
    stores_ = std::make_unique<server::StorePool>(path_, 4, store::OpenOptions{});
    context_ = {.stores = stores_.get(), .sql_limits = o.sql_limits};
    server::AddCoreRoutes(routes_, context_,
                          {.title = "ipfs-accelerate", .version = "test", .description = ""});
    serving::PoolOptions pool{.batching = o.batching, .platforms = {"cpu"}};
    pool.session.intra_op_threads = 1;
    pool_ = std::make_unique<serving::ResourcePool>(registry_, pool);
    served_ = std::make_unique<server::ServedModels>(registry_, *pool_);
    for (const auto& model : o.models) pool_->Load(served_->Add(model).name);
    server::AddInferenceRoutes(routes_, *served_, &counters_);
    server::ServerOptions options{.port = 0,
                                  .max_body_bytes = o.max_body_bytes,
                                  .threads = o.threads,
                                  .max_waiting = o.max_waiting,
                                  .max_wait_ms = o.max_wait_ms,
                                  .counters = &counters_};
    if (o.with_token) options.router.token = kToken;
    http_ = std::make_unique<server::HttpServer>(routes_, options);
    port_ = http_->Bind();
    thread_ = std::thread([this] { http_->Run(); });
  }
  ~TestServer() {
    http_->Stop();
    thread_.join();
  }

  httplib::Client Client() const {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(60, 0);
    return client;
  }
  int port() const { return port_; }
  const std::string& path() const { return path_; }
  const server::RouteTable& routes() const { return routes_; }
  const server::ServerCounters& counters() const { return counters_; }

 private:
  TempDir dir_;
  std::string path_;
  std::unique_ptr<server::StorePool> stores_;
  server::ApiContext context_;
  serving::ModelRegistry registry_;
  std::unique_ptr<serving::ResourcePool> pool_;
  std::unique_ptr<server::ServedModels> served_;
  server::RouteTable routes_;
  server::ServerCounters counters_;
  std::unique_ptr<server::HttpServer> http_;
  int port_ = 0;
  std::thread thread_;
};

// The response's status and JSON body (null when the body is not JSON or there was none).
struct Answer {
  int status = -1;
  nlohmann::json body;
};

inline Answer ToAnswer(const httplib::Result& r) {
  if (!r) return {};
  return {r->status, nlohmann::json::parse(r->body, nullptr, false)};
}

}  // namespace ipfs_accel::testing
