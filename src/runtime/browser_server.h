#pragma once
// The loopback HTTP server a browser page talks to: it serves the runner page, the
// onnxruntime-web files, the model bytes and the job, passes commands to the page (the page
// long-polls GET /command) and queues what the page posts (/ready, /error, /result). Every
// response carries COOP/COEP/CORP headers, so the page is cross-origin isolated and wasm
// threads work.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/runtime/tensor_envelope.h"  // EncodeEnvelope: the page's wire format

namespace httplib {
class Server;
}

namespace ipfs_accel::runtime {

class BrowserServer {
 public:
  struct Content {
    std::string runner_dir;                          // served under /runner/
    std::string ort_dir;                             // served under /ort/
    std::string job_json;                            // GET /job
    std::shared_ptr<const std::string> model_bytes;  // GET /model.onnx (may be null)
  };
  // A message the page posted: kind is "ready", "error" or "result".
  struct Message {
    std::string kind;
    std::string body;
  };

  // Binds 127.0.0.1 on a free port and serves on a thread of its own. Throws
  // core::Error(kRuntime) when no port can be bound.
  explicit BrowserServer(Content content);
  ~BrowserServer();  // stops serving
  BrowserServer(const BrowserServer&) = delete;
  BrowserServer& operator=(const BrowserServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path) const;

  // Stops serving the model (GET /model.onnx answers 404 from now on) and lets go of its bytes.
  void ForgetModel();
  // Serves `bytes` at /parts/<index>.onnx (more models for the same page, e.g. a composite's
  // parts whose loading is timed) until the server stops.
  void ServePart(size_t index, std::shared_ptr<const std::string> bytes);
  // The next command for the page's GET /command (an envelope).
  void PostCommand(std::string envelope);
  // The oldest message the page posted, waiting up to `timeout`; nullopt when none came.
  std::optional<Message> WaitMessage(std::chrono::milliseconds timeout);

 private:
  Content content_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::string> commands_;
  std::deque<Message> messages_;
  std::map<size_t, std::shared_ptr<const std::string>> parts_;
  bool stopping_ = false;
};

}  // namespace ipfs_accel::runtime
