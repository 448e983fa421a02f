// `serve`: the results as a REST API (server/), until SIGTERM or SIGINT: then no new connection
// is accepted, requests in flight finish (those arriving on open connections get 503), and the
// database is closed cleanly.

#include <atomic>
#include <chrono>
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

namespace ipfs_accel::cli {

namespace {

struct ServeOptions {
  DatabaseOption db;
  std::string bind = "127.0.0.1";
  int port = 8000;
  std::optional<std::string> token_file;
  int64_t max_body_mb = 64;
  int64_t threads = 8;
  int64_t sql_max_rows = 10000;
  double sql_timeout_s = 10;
};

server::ApiInfo Info() {
  return {.title = "ipfs-accelerate",
          .version = build_info::kToolVersion,
          .description =
              "Stored benchmark results of ipfs-accelerate: runs, results, models, "
              "hardware, the compatibility matrix, reports, comparisons, templates, "
              "read-only SQL, and pushing runs from other machines."};
}

int RunServe(const ServeOptions& o) {
  server::ServerOptions options{.bind = o.bind,
                                .port = o.port,
                                .max_body_bytes = static_cast<size_t>(o.max_body_mb) << 20,
                                .threads = static_cast<size_t>(o.threads)};
  if (o.token_file) options.router.token = server::ReadTokenFile(*o.token_file);
  // The dashboard needs its page and ECharts; without them the API is served alone.
  std::string dashboard = "/dashboard";
  try {
    options.static_dirs = server::DashboardMounts(server::FindDashboardFiles());
  } catch (const core::Error& e) {
    dashboard = fmt::format("off: {}", e.what());
  }
  InterruptGuard interrupt;  // before the port is printed: a signal after it is seen
  server::StorePool stores(o.db.Path(), options.threads, o.db.Options());
  server::ApiContext context{.stores = &stores,
                             .sql_limits = {.max_rows = static_cast<size_t>(o.sql_max_rows),
                                            .timeout_s = o.sql_timeout_s}};
  server::RouteTable routes;
  server::AddCoreRoutes(routes, context, Info());
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
  cmd->add_option("--sql-max-rows", o->sql_max_rows, "POST /api/sql: most rows returned")
      ->check(WholeNumber(1, 10000000))
      ->capture_default_str();
  cmd->add_option("--sql-timeout", o->sql_timeout_s,
                  "POST /api/sql: seconds before a query is "
                  "stopped (408)")
      ->check(FiniteNumber(true, "seconds"))
      ->capture_default_str();
  cmd->footer(
      "While it runs the server holds the database file: other processes' writes go through\n"
      "POST /api/runs (a run export, as `db export --format run-json` writes), reads through the\n"
      "API. Endpoints: /api/health, /api/runs, /api/results, /api/models, /api/hardware,\n"
      "/api/matrix, /api/reports/{kind}, /api/compare, /api/templates, /api/predictions,\n"
      "POST /api/sql (one read-only query), POST /api/runs (bearer token).");
  cmd->callback([selected, o] { *selected = [o] { return RunServe(*o); }; });
}

}  // namespace ipfs_accel::cli
