#pragma once
// The HTTP server (cpp-httplib) in front of a route table: every request goes through Dispatch
// (router.h); bodies over max_body_bytes are refused with 413 before they are read; folders can
// be mounted for static files (the dashboard's). Stop() ends it gracefully: no new connection
// is accepted, requests in flight finish, and requests that still arrive on open connections
// get 503.

#include <atomic>
#include <cstddef>
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

struct ServerOptions {
  std::string bind = "127.0.0.1";
  int port = 8000;  // 0: any free port (Bind() says which)
  size_t max_body_bytes = size_t{64} << 20;
  size_t threads = 8;  // requests served at once
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
  void Handle(const void* request, void* response) const;

  const RouteTable& routes_;
  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  std::mutex state_mutex_;
  std::atomic<bool> draining_{false}, run_started_{false}, run_finished_{false};
};

}  // namespace ipfs_accel::server
