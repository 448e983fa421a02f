#include "browser_server.h"

#include <httplib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::runtime {

using core::Error;
using core::ErrorKind;

namespace {

// How long one GET /command waits before answering 204 (the page then asks again).
constexpr auto kLongPoll = std::chrono::seconds(20);

}  // namespace

BrowserServer::BrowserServer(Content content)
    : content_(std::move(content)), server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  s.set_default_headers({{"Cross-Origin-Opener-Policy", "same-origin"},
                         {"Cross-Origin-Embedder-Policy", "require-corp"},
                         {"Cross-Origin-Resource-Policy", "same-origin"},
                         {"Cache-Control", "no-store"}});
  s.set_file_extension_and_mimetype_mapping("mjs", "text/javascript");
  s.set_file_extension_and_mimetype_mapping("js", "text/javascript");
  s.set_file_extension_and_mimetype_mapping("wasm", "application/wasm");
  s.set_file_extension_and_mimetype_mapping("html", "text/html");
  s.set_mount_point("/runner", content_.runner_dir);
  s.set_mount_point("/ort", content_.ort_dir);
  s.set_payload_max_length(size_t{4} << 30);
  s.set_read_timeout(60);
  s.set_write_timeout(60);
  // Every command is a reply to the page's long poll, then the page's POST of its result: each
  // waited ~40 ms for a delayed ACK (Nagle) without TCP_NODELAY, and the page reconnected every
  // 5 requests (cpp-httplib's default) without the higher count.
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(1000);

  s.Get("/job", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(content_.job_json, "application/json");
  });
  // Model bytes are streamed from memory the response keeps alive.
  const auto send = [](std::shared_ptr<const std::string> bytes, httplib::Response& res) {
    if (!bytes) {
      res.status = 404;
      return;
    }
    res.set_content_provider(bytes->size(), "application/octet-stream",
                             [bytes](size_t offset, size_t length, httplib::DataSink& sink) {
                               sink.write(bytes->data() + offset,
                                          std::min(length, bytes->size() - offset));
                               return true;
                             });
  };
  s.Get("/model.onnx", [this, send](const httplib::Request&, httplib::Response& res) {
    std::shared_ptr<const std::string> bytes;
    {
      std::lock_guard lock(mutex_);
      bytes = content_.model_bytes;
    }
    send(bytes, res);
  });
  s.Get(R"(/parts/(\d+)\.onnx)", [this, send](const httplib::Request& req, httplib::Response& res) {
    std::shared_ptr<const std::string> bytes;
    {
      std::lock_guard lock(mutex_);
      const auto it = parts_.find(std::stoul(req.matches[1].str()));
      if (it != parts_.end()) bytes = it->second;
    }
    send(bytes, res);
  });
  s.Get("/command", [this](const httplib::Request&, httplib::Response& res) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kLongPoll, [this] { return stopping_ || !commands_.empty(); });
    if (commands_.empty()) {
      res.status = 204;
      return;
    }
    res.set_content(std::move(commands_.front()), "application/octet-stream");
    commands_.pop_front();
  });
  for (const char* kind : {"ready", "error", "result"}) {
    s.Post(std::string("/") + kind,
           [this, kind](const httplib::Request& req, httplib::Response& res) {
             {
               std::lock_guard lock(mutex_);
               messages_.push_back({kind, req.body});
             }
             changed_.notify_all();
             res.set_content("{}", "application/json");
           });
  }
  port_ = s.bind_to_any_port("127.0.0.1");
  if (port_ <= 0)
    throw Error(ErrorKind::kRuntime,
                "could not bind a loopback port for the browser page; check that 127.0.0.1 is up");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // stop() is a no-op before the loop runs, which would leave the destructor's join hanging.
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

BrowserServer::~BrowserServer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string BrowserServer::url(const std::string& path) const {
  return fmt::format("http://127.0.0.1:{}{}", port_, path);
}

void BrowserServer::ForgetModel() {
  std::lock_guard lock(mutex_);
  content_.model_bytes.reset();
}

void BrowserServer::ServePart(size_t index, std::shared_ptr<const std::string> bytes) {
  std::lock_guard lock(mutex_);
  parts_[index] = std::move(bytes);
}

void BrowserServer::PostCommand(std::string envelope) {
  {
    std::lock_guard lock(mutex_);
    commands_.push_back(std::move(envelope));
  }
  changed_.notify_all();
}

std::optional<BrowserServer::Message> BrowserServer::WaitMessage(
    std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [this] { return !messages_.empty(); })) return std::nullopt;
  Message m = std::move(messages_.front());
  messages_.pop_front();
  return m;
}

}  // namespace ipfs_accel::runtime
