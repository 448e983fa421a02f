// HttpServer (http_server.h) on cpp-httplib: one catch-all handler per method hands requests to
// Dispatch, so the route table alone decides what exists.

#include "ipfs_accel/server/http_server.h"

#include <httplib.h>

#include <fmt/format.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "ipfs_accel/core/error.h"
#include "server/path_pattern.h"
#include "server/waiting_bound.h"

namespace ipfs_accel::server {

namespace {

std::string LowerHeaderName(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// The query string's name=value pairs, percent-decoded ('+' is a space); a pair that does not
// decode keeps its text.
std::vector<std::pair<std::string, std::string>> QueryOf(const std::string& target) {
  std::vector<std::pair<std::string, std::string>> out;
  const size_t mark = target.find('?');
  if (mark == std::string::npos) return out;
  const std::string query = target.substr(mark + 1);
  for (size_t start = 0; start <= query.size();) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    for (char& c : pair)
      if (c == '+') c = ' ';
    const size_t eq = pair.find('=');
    std::string name, value;
    if (!PercentDecode(pair.substr(0, eq), &name)) name = pair.substr(0, eq);
    const std::string raw_value = eq == std::string::npos ? "" : pair.substr(eq + 1);
    if (!PercentDecode(raw_value, &value)) value = raw_value;
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

RawRequest ToRaw(const httplib::Request& req) {
  RawRequest raw;
  raw.method = req.method;
  raw.path = req.path;
  // From the URL only: cpp-httplib also puts a form-encoded body's fields in req.params.
  raw.query = QueryOf(req.target);
  for (const auto& [name, value] : req.headers) raw.headers[LowerHeaderName(name)] = value;
  raw.body = req.body;
  raw.remote_addr = req.remote_addr;
  return raw;
}

// An Accept-Encoding value without its "br" token.
std::string WithoutBrotli(const std::string& accept) {
  std::string out;
  for (size_t start = 0; start <= accept.size();) {
    size_t end = accept.find(',', start);
    if (end == std::string::npos) end = accept.size();
    std::string token = accept.substr(start, end - start);
    token.erase(0, token.find_first_not_of(' '));
    if (!token.empty() && token.rfind("br", 0) != 0) out += (out.empty() ? "" : ", ") + token;
    start = end + 1;
  }
  return out;
}

void Write(const Response& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [name, value] : from.headers) to.set_header(name, value);
  to.set_content(from.body, from.content_type.c_str());
}

constexpr int kShedRetryAfterS = 1;

// Whether cpp-httplib reads a body after the pre-routing handler.
bool ShedRequestHasBody(const httplib::Request& req) {
  return req.get_header_value<uint64_t>("Content-Length") > 0 ||
         req.has_header("Transfer-Encoding");
}

// The request made to ask for its connection's close, so that cpp-httplib's answer says
// `Connection: close` and the client closes it.
void CloseAfterAnswer(const httplib::Request& req) {
  auto& headers = const_cast<httplib::Request&>(req).headers;  // httplib's own, not const
  headers.erase("Connection");
  headers.emplace("Connection", "close");
}

// A connection the waiting bounds shed (waiting_bound.h): 503 now, and closed after it.
void AnswerShed(const httplib::Request& req, httplib::Response& res, const ServerOptions& o) {
  CloseAfterAnswer(req);
  const std::string why =
      ShedReasonNow() == ShedReason::kQueueFull
          ? fmt::format("{} connections wait for a worker already (serve --max-waiting)",
                        o.max_waiting)
          : fmt::format("this connection waited over {} ms for a worker (serve --max-wait-ms)",
                        o.max_wait_ms);
  Write(Response::Error(
            503, fmt::format("the server is busy: {}; retry in {} s", why, kShedRetryAfterS)),
        res);
  res.set_header("Retry-After", std::to_string(kShedRetryAfterS));
}

}  // namespace

std::string PrometheusText(const ServerCounters& counters) {
  return fmt::format(
      "# HELP ipfs_accel_http_shed_total Connections answered 503 at once, by reason: serve "
      "--max-waiting connections were waiting, or this one waited over --max-wait-ms.\n"
      "# TYPE ipfs_accel_http_shed_total counter\n"
      "ipfs_accel_http_shed_total{{reason=\"queue_full\"}} {}\n"
      "ipfs_accel_http_shed_total{{reason=\"waited_too_long\"}} {}\n"
      "# HELP ipfs_accel_http_waiting Accepted connections waiting for a worker now.\n"
      "# TYPE ipfs_accel_http_waiting gauge\n"
      "ipfs_accel_http_waiting {}\n",
      counters.shed_queue_full.load(), counters.shed_waited_too_long.load(),
      counters.waiting.load());
}

HttpServer::HttpServer(const RouteTable& routes, ServerOptions options)
    : routes_(routes),
      options_(std::move(options)),
      counters_(options_.counters ? options_.counters : &own_counters_),
      http_(std::make_unique<httplib::Server>()) {
  const size_t threads = std::max<size_t>(options_.threads, 1);
  http_->new_task_queue = [threads, this] {
    return new WaitingBoundQueue(
        threads,
        {.max_waiting = options_.max_waiting,
         .max_wait = std::chrono::milliseconds(std::max<int64_t>(options_.max_wait_ms, 0))},
        counters_);
  };
  http_->set_payload_max_length(options_.max_body_bytes);
  http_->set_keep_alive_timeout(2);  // an idle connection holds a worker past Stop() this long
  // A response is two writes (headers, body): without TCP_NODELAY a keep-alive client's next
  // answer waited ~40 ms for the delayed ACK of the headers (Nagle), 45 ms p50 for an
  // inference of 1 ms. And 100 requests per connection, not cpp-httplib's 5: reconnecting
  // clients overflow its listen backlog of 5, and a dropped SYN costs a second.
  http_->set_tcp_nodelay(true);
  http_->set_keep_alive_max_count(100);
  // SO_REUSEADDR only: cpp-httplib's default adds SO_REUSEPORT, with which a second server binds
  // a port another one listens on and the two share its connections.
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<const void*>(&yes), sizeof yes);
  });
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    return PreRoute(&req, &res) ? httplib::Server::HandlerResponse::Handled
                                : httplib::Server::HandlerResponse::Unhandled;
  });
  const auto handle = [this](const httplib::Request& req, httplib::Response& res) {
    Handle(&req, &res);
  };
  for (const char* pattern : {".*"}) {
    http_->Get(pattern, handle);
    http_->Post(pattern, handle);
    http_->Put(pattern, handle);
    http_->Delete(pattern, handle);
    http_->Patch(pattern, handle);
  }
  // Answers httplib gives itself (413 for a body over the limit, 400 for a malformed request)
  // get the JSON body every other error has.
  http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const std::string message = res.status == 413
                                    ? "the request body is larger than the server's limit (serve "
                                      "--max-body-mb); send less"
                                    : fmt::format("HTTP {}", res.status);
    Write(Response::Error(res.status, message), res);
  });
}

HttpServer::~HttpServer() { Stop(); }

bool HttpServer::PreRoute(const void* request, void* response) const {
  const auto& req = *static_cast<const httplib::Request*>(request);
  auto& res = *static_cast<httplib::Response*>(response);
  // A body is read first (Handle answers), or its bytes would be taken for the next request.
  if (ShedReasonNow() != ShedReason::kNone && !ShedRequestHasBody(req)) {
    AnswerShed(req, res, options_);
    return true;
  }
  // A worker keeps a kept-alive connection for up to 100 requests: while others wait, it closes
  // this one after the answer and takes the next, so a waiting connection waits for one request
  // per connection ahead of it, not for 100. Only with a bound: without one, every connection
  // would wait its turn past its client's patience.
  const bool bounded = options_.max_waiting > 0 || options_.max_wait_ms > 0;
  if (bounded && counters_->waiting > 0) CloseAfterAnswer(req);
  // Debian's httplib compresses with brotli at quality 11 whenever the client accepts it (every
  // browser does): ~5 s per MB of JavaScript or JSON. Such clients get gzip (~0.2 s per MB).
  auto& headers = const_cast<httplib::Request&>(req).headers;  // httplib's own, not const
  if (const auto it = headers.find("Accept-Encoding"); it != headers.end())
    it->second = WithoutBrotli(it->second);
  return false;
}

void HttpServer::Handle(const void* request, void* response) const {
  const auto& req = *static_cast<const httplib::Request*>(request);
  auto& res = *static_cast<httplib::Response*>(response);
  if (draining_) {
    Write(Response::Error(503, "the server is shutting down; retry against its next start"), res);
    res.set_header("Connection", "close");
    return;
  }
  if (ShedReasonNow() != ShedReason::kNone) return AnswerShed(req, res, options_);
  Write(Dispatch(routes_, ToRaw(req), options_.router), res);
}

int HttpServer::Bind() {
  for (const auto& [mount, folder] : options_.static_dirs) {
    if (!std::filesystem::is_directory(folder))
      throw core::Error(core::ErrorKind::kNotFound,
                        fmt::format("static folder '{}' for {} does not exist", folder, mount));
    http_->set_mount_point(mount, folder);
  }
  const int port = options_.port == 0
                       ? http_->bind_to_any_port(options_.bind)
                       : (http_->bind_to_port(options_.bind, options_.port) ? options_.port : -1);
  if (port < 0)
    throw core::Error(core::ErrorKind::kIo,
                      fmt::format("cannot listen on {}:{} (in use, or not an address of this "
                                  "machine); pass another --port or --bind",
                                  options_.bind, options_.port));
  return port;
}

void HttpServer::Run() {
  {
    std::lock_guard lock(state_mutex_);
    if (draining_) return;
    run_started_ = true;
  }
  http_->listen_after_bind();
  run_finished_ = true;
}

void HttpServer::Stop() {
  {
    std::lock_guard lock(state_mutex_);
    draining_ = true;
    if (!run_started_) return;  // Run() will not start serving
  }
  // Run() may not have reached httplib's loop yet: stop() before it would be lost.
  while (!run_finished_ && !http_->is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  http_->stop();
}

}  // namespace ipfs_accel::server
