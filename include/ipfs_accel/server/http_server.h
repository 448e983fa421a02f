#pragma once
// The HTTP server (cpp-httplib) in front of a route table: every request goes through Dispatch
// (router.h); bodies over max_body_bytes are refused with 413 before they are read; folders can
// be mounted for static files (the dashboard's). Stop() ends it gracefully: no new connection
// is accepted, requests in flight finish, and requests that still arrive on open connections
// get 503. At most ServerOptions::max_waiting accepted connections wait for a worker, for at most
// max_wait_ms; a connection past either is answered 503 with Retry-After at once and closed, so
// an overloaded server tells clients to retry instead of leaving them to time out.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ipfs_accel/server/route.h"
#include "ipfs_accel/server/router.h"

namespace httplib {
class Server;
}

namespace ipfs_accel::server {

// What the server counts, for GET /metrics (AddInferenceRoutes). Thread-safe.
struct ServerCounters {
  // Connections answered 503 at once: max_waiting were waiting; they waited over max_wait_ms.
  std::atomic<int64_t> shed_queue_full{0}, shed_waited_too_long{0};
  std::atomic<int64_t> waiting{0};  // accepted connections waiting for a worker now
};

// The counters in Prometheus' text format (0.0.4), prefixed ipfs_accel_http_.
std::string PrometheusText(const ServerCounters& counters);

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8000;  // 0: any free port (Bind() says which)
  size_t max_body_bytes = size_t{64} << 20;
  size_t threads = 8;  // requests served at once
  // Accepted connections that may wait for a worker (a worker holds a kept-alive connection
  // until it closes or idles 2 s; while others wait, each answer closes it). A connection beyond
  // them gets 503 with Retry-After and a JSON error body at once, from a thread of its own, and
  // is closed. 0: no bound.
  size_t max_waiting = 32;
  // A connection that waited longer for a worker is answered the same way by the worker that
  // takes it, without running the request: its client may have given up. 0: no limit.
  int64_t max_wait_ms = 0;
  // Where the server counts (must outlive it); null: counters of its own.
  ServerCounters* counters = nullptr;
  RouterOptions router = {};
  // (mount point, folder) pairs served as static files, e.g. {"/dashboard", ".../web/dashboard"}.
  std::vector<std::pair<std::string, std::string>> static_dirs = {};
};

class HttpServer {
 public:
  // `routes` must outlive the server.
  HttpServer(const RouteTable& routes, ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket and returns its port. Throws core::Error(kIo) naming the address
  // when it cannot (in use, not an address of this machine), kNotFound for a static folder that
  // is missing.
  int Bind();
  // Serves until Stop(); returns once every request in flight has finished.
  void Run();
  // Safe from any thread (not from a signal handler), also before Run().
  void Stop();
  bool draining() const { return draining_; }

 private:
  // Before routing: a shed connection's 503 (true: answered), the close that frees a worker for
  // waiting connections, Accept-Encoding without brotli.
  bool PreRoute(const void* request, void* response) const;
  void Handle(const void* request, void* response) const;

  const RouteTable& routes_;
  ServerOptions options_;
  ServerCounters own_counters_;
  ServerCounters* counters_;
  std::unique_ptr<httplib::Server> http_;
  std::mutex state_mutex_;
  std::atomic<bool> draining_{false}, run_started_{false}, run_finished_{false};
};

}  // namespace ipfs_accel::server
