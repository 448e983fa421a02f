// `serve`: the results as a REST API (server/) and the --model models behind the inference
// endpoints (serving's resource pool), until SIGTERM or SIGINT: then no new connection
// is accepted, requests in flight finish (those arriving on open connections get 503), and the
// database is closed cleanly.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/interrupt.h"
#include "cli/option_checks.h"
#include "ipfs_accel/build_info.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/server/api.h"
#include "ipfs_accel/server/auth.h"
#include "ipfs_accel/server/dashboard.h"
#include "ipfs_accel/server/http_server.h"
#include "ipfs_accel/server/inference.h"

namespace ipfs_accel::cli {

namespace {

struct ServeOptions {
  DatabaseOption db;
  std::string bind = "127.0.0.1";
  int port = 8000;
  std::optional<std::string> token_file;
  int64_t max_body_mb = 64;
  int64_t threads = 8;
  std::optional<int64_t> max_waiting;  // default: kWaitingPerWorker per worker
  int64_t max_wait_ms = 0;
  int64_t sql_max_rows = 10000;
  double sql_timeout_s = 10;
  std::vector<std::string> models;  // [NAME=]SPEC
  std::optional<double> memory_budget_gb, gpu_memory_budget_gb;
  serving::BatcherOptions batching;
  int64_t intra_op_threads = 0;
};

// Connections that may wait for a worker, per worker, unless --max-waiting says otherwise.
constexpr int64_t kWaitingPerWorker = 4;

server::ApiInfo Info() {
  return {.title = "ipfs-accelerate",
          .version = build_info::kToolVersion,
          .description =
              "Stored benchmark results of ipfs-accelerate: runs, results, models, "
              "hardware, the compatibility matrix, reports, comparisons, templates, "
              "read-only SQL, and pushing runs from other machines."};
}

serving::PoolOptions PoolSettings(const ServeOptions& o, store::ResultStore* results) {
  serving::PoolOptions pool{.batching = o.batching, .results = results};
  if (o.memory_budget_gb)
    pool.memory_budget_bytes["cpu"] = static_cast<int64_t>(*o.memory_budget_gb * (1 << 30));
  if (o.gpu_memory_budget_gb)
    pool.memory_budget_bytes["gpu"] = static_cast<int64_t>(*o.gpu_memory_budget_gb * (1 << 30));
  pool.session.intra_op_threads = static_cast<int>(o.intra_op_threads);
  return pool;
}

// --model [NAME=]SPEC: registered and its session opened, so a model that cannot load stops
// the server before it listens.
void RegisterModels(const ServeOptions& o, server::ServedModels& served) {
  for (const std::string& arg : o.models) {
    serving::ModelSource source{.name = "", .spec = arg};
    const size_t eq = arg.find('=');
    std::error_code ec;
    if (eq != std::string::npos && !std::filesystem::exists(arg, ec))
      source = {.name = arg.substr(0, eq), .spec = arg.substr(eq + 1)};
    const serving::ModelSource added = served.Add(source);
    const serving::PoolEntrySnapshot loaded = served.pool().Load(added.name);
    const auto tokenizer = served.TokenizerOf(added.name);
    std::cout << fmt::format("model {} ({}): {} {}, {}; tokenizer: {}\n", added.name, added.spec,
                             loaded.platform, loaded.precision, loaded.placement,
                             tokenizer ? tokenizer->Describe() : "none")
              << std::flush;
  }
}

// Serves until a signal; every request has finished when it returns.
void ServeUntilStopped(const ServeOptions& o, server::ServerOptions options,
                       server::StorePool& stores, const std::string& dashboard) {
  auto placement_store = stores.Acquire();  // the pool's, while models load
  serving::ModelRegistry registry;
  serving::ResourcePool pool(registry, PoolSettings(o, &*placement_store));
  server::ServedModels served(registry, pool);
  RegisterModels(o, served);
  server::ApiContext context{.stores = &stores,
                             .sql_limits = {.max_rows = static_cast<size_t>(o.sql_max_rows),
                                            .timeout_s = o.sql_timeout_s}};
  server::RouteTable routes;
  server::AddCoreRoutes(routes, context, Info());
  server::ServerCounters counters;
  options.counters = &counters;
  server::AddInferenceRoutes(routes, served, &counters);
  server::HttpServer http(routes, options);
  const int port = http.Bind();
  std::cout << fmt::format(
                   "serving {} on http://{}:{}/ (dashboard: {}; API docs: /docs; writes {})\n",
                   o.db.Path(), o.bind, port, dashboard,
                   options.router.token ? "need the token" : "off: no --token-file")
            << std::flush;
  std::atomic<bool> finished = false;
  std::thread watcher([&] {
    while (!finished && PendingInterrupt() == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    http.Stop();
  });
  http.Run();
  finished = true;
  watcher.join();
  pool.Stop(serving::StopMode::kDrain);
}

int RunServe(const ServeOptions& o) {
  server::ServerOptions options{
      .bind = o.bind,
      .port = o.port,
      .max_body_bytes = static_cast<size_t>(o.max_body_mb) << 20,
      .threads = static_cast<size_t>(o.threads),
      .max_waiting = static_cast<size_t>(o.max_waiting.value_or(kWaitingPerWorker * o.threads)),
      .max_wait_ms = o.max_wait_ms};
  if (o.token_file) options.router.token = server::ReadTokenFile(*o.token_file);
  // The dashboard needs its page and ECharts; without them the API is served alone.
  std::string dashboard = "/dashboard";
  try {
    options.static_dirs = server::DashboardMounts(server::FindDashboardFiles());
  } catch (const core::Error& e) {
    dashboard = fmt::format("off: {}", e.what());
  }
  InterruptGuard interrupt;  // before the port is printed: a signal after it is seen
  // One store more than workers: the resource pool's, for placing models by stored results.
  server::StorePool stores(o.db.Path(), options.threads + 1, o.db.Options());
  ServeUntilStopped(o, options, stores, dashboard);
  stores.Close();  // every request is done: the database is checkpointed and closed
  if (const int signal = PendingInterrupt())
    std::cerr << fmt::format(
        "stopped by signal {}; requests in flight finished, database "
        "closed\n",
        signal);
  return kExitOk;
}

}  // namespace

void AddServeCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "serve",
      "Serve the results database as a REST API (JSON; OpenAPI at /openapi.json, docs at /docs)\n"
      "until SIGTERM or Ctrl-C, which let requests in flight finish and close the database.");
  auto o = std::make_shared<ServeOptions>();
  o->db.Add(cmd);
  cmd->add_option("--port", o->port, "TCP port; 0 picks a free one (printed)")
      ->check(WholeNumber(0, 65535))
      ->capture_default_str();
  cmd->add_option("--bind", o->bind, "address to listen on")->capture_default_str();
  cmd->add_option("--token-file", o->token_file,
                  "file whose first line is the bearer token writes (POST /api/runs) need; "
                  "without it the server takes no writes");
  cmd->add_option("--max-body-mb", o->max_body_mb, "largest request body accepted (413 above)")
      ->check(WholeNumber(1, 4096))
      ->capture_default_str();
  cmd->add_option("--workers", o->threads, "requests served at once (and database connections)")
      ->check(WholeNumber(1, 256))
      ->capture_default_str();
  cmd->add_option("--max-waiting", o->max_waiting,
                  fmt::format("connections that may wait for a worker; one more is answered 503 "
                              "with Retry-After at once and closed (default: {} x --workers; 0: "
                              "no bound)",
                              kWaitingPerWorker))
      ->check(WholeNumber(0, 1000000));
  cmd->add_option("--max-wait-ms", o->max_wait_ms,
                  "a connection that waited longer for a worker is answered 503 with "
                  "Retry-After, its request not run (0: no limit)")
      ->check(WholeNumber(0, 3600000))
      ->capture_default_str();
  cmd->add_option("--sql-max-rows", o->sql_max_rows, "POST /api/sql: most rows returned")
      ->check(WholeNumber(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--sql-timeout", o->sql_timeout_s,
                  "POST /api/sql: seconds before a query is "
                  "stopped (408)")
      ->check(FiniteNumber(true, "seconds"))
      ->capture_default_str();
  cmd->add_option("-m,--model", o->models,
                  "[NAME=]SPEC to serve at POST /api/infer/NAME (repeatable): a catalog name, "
                  "model folder or .onnx file; NAME defaults to the folder's or file's name");
  cmd->add_option("--memory-budget-gb", o->memory_budget_gb,
                  "host memory the served models' sessions may hold (default: MemAvailable)")
      ->check(FiniteNumber(true, "GiB"));
  cmd->add_option("--gpu-memory-budget-gb", o->gpu_memory_budget_gb,
                  "GPU memory the sessions may hold (default: GPU 0's free memory by NVML)")
      ->check(FiniteNumber(true, "GiB"));
  cmd->add_option("--max-batch", o->batching.max_batch,
                  "rows one run of a model takes from requests arriving together (1: no "
                  "batching)")
      ->check(WholeNumber(1, 4096))
      ->capture_default_str();
  cmd->add_option("--max-batch-delay-ms", o->batching.max_batch_delay_ms,
                  "how long a request waits for others to share its run")
      ->check(FiniteNumber(false, "ms"))
      ->capture_default_str();
  cmd->add_option("--max-queue", o->batching.max_queue,
                  "requests waiting per model session before 503")
      ->check(WholeNumber(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--intra-op-threads", o->intra_op_threads,
                  "threads per model session (0: the runtime's default)")
      ->check(ThreadCount())
      ->capture_default_str();
  cmd->footer(
      "While it runs the server holds the database file: other processes' writes go through\n"
      "POST /api/runs (a run export, as `db export --format run-json` writes), reads through the\n"
      "API. Endpoints: /api/health, /api/runs, /api/results, /api/models, /api/hardware,\n"
      "/api/matrix, /api/reports/{kind}, /api/compare, /api/templates, /api/predictions,\n"
      "POST /api/sql (one read-only query), POST /api/runs (bearer token); inference:\n"
      "POST /api/infer/{model} (JSON or the tensor envelope), POST /api/models (bearer token),\n"
      "GET /api/pool, GET /metrics (Prometheus; ipfs_accel_http_shed_total counts the connections\n"
      "--max-waiting and --max-wait-ms turned away).");
  cmd->callback([selected, o] { *selected = [o] { return RunServe(*o); }; });
}

}  // namespace ipfs_accel::cli
