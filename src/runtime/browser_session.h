#pragma once
// Sessions in headless Chromium: onnxruntime-web runs the model in the runner page (web/runner)
// on its wasm, webgpu or webnn execution provider; this process serves the page and the model
// on a loopback port, passes commands to the page, and kills the browser when the page fails
// to answer in time or its renderer dies.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::runtime {

class BrowserServer;
class BrowserProcess;

// Where the runner page and onnxruntime-web's files are: IPFS_ACCEL_WEB_DIR/runner and
// IPFS_ACCEL_ORT_WEB_DIR when those environment variables are set, else the paths this build
// was configured with. Throws core::Error(kUnavailable) when either is missing.
struct BrowserFiles {
  std::string runner_dir;
  std::string ort_dir;
};
BrowserFiles FindBrowserFiles();

// What a one-shot probe page saw: WebGPU's adapter, WebNN's createContext(), isolation.
struct BrowserProbe {
  std::string error;    // non-empty: no probe ran (no Chromium, no files, page failed)
  std::string browser;  // "chromium 156.0.8078.108"
  nlohmann::json page;  // the page's report: user_agent, cross_origin_isolated, webgpu, webnn
};
// Runs the probe page once per process (later calls return the first result).
const BrowserProbe& ProbeBrowserOnce();

// provider_options: "timeout_s" (each command, default 120; 300 on webgpu, whose software
// fallback adapter is slow), "load_timeout_s" (page start and model load, default 180),
// "device_type" (webnn: cpu, gpu or npu; default cpu), "browser" (chromium, the default, or
// firefox: Debian's Firefox ESR, which runs the wasm platform; its WebGPU has no adapter here),
// "warmup" (1: the first Bind() also runs the inputs once, untimed, as an application warms shaders
// up at session creation; its time is in options_json()'s warmup.ms, so the first timed run shows
// what is left), and for tests only "test_fault" = "hang" (the page spins on its first command).
class BrowserSession : public Session {
 public:
  // Throws core::Error: kUnsupported (a graph with external data), kUnavailable (no Chromium,
  // no onnxruntime-web files, or the browser lacks the platform: WebNN, no GPU adapter),
  // kRuntime (the page failed or did not answer in time; the browser is killed).
  BrowserSession(const models::Model& model, const SessionOptions& options);
  ~BrowserSession() override;

  const std::vector<TensorSpec>& inputs() const override { return inputs_; }
  const std::vector<TensorSpec>& outputs() const override { return outputs_; }
  std::string execution_provider() const override { return options_.platform; }
  std::string options_json() const override;
  std::map<std::string, core::Tensor> Run(
      const std::map<std::string, core::Tensor>& inputs) override;
  void Bind(const std::map<std::string, core::Tensor>& inputs) override;
  void RunBound() override { RunBoundTimed(); }
  // The page's performance.now() around session.run().
  double RunBoundTimed() override;
  // State between runs stays in the page: SetBoundInput() and MoveOutputToInput() are queued
  // and sent with the next run. A kept run's reply brings its small outputs (a loss) and those
  // KeptOutput() asked for after an earlier run (logits); any other is fetched when asked for.
  void RunBoundKeepOutputs() override;
  void SetBoundInput(const std::string& name, core::Tensor tensor) override;
  void MoveOutputToInput(const std::string& output, const std::string& input) override;
  core::Tensor KeptOutput(const std::string& name) const override;
  TensorView KeptOutputView(const std::string& name) const override;
  int64_t HelperProcessesResidentBytes() const override;

  // Creates a session for each of `parts` in the page and releases them again; returns the page's
  // time for all of them, fetching the bytes included: one after the other, or all at once
  // (Promise.all). The parts are served by this session's server from the first call on.
  double TimeLoading(const std::vector<const models::Model*>& parts, bool concurrent);

  // The browser's process (and group) id, for tests that end its renderer.
  pid_t browser_pid() const;
  const std::string& profile_dir() const;

 private:
  // Sends one command and returns the page's reply (header JSON + tensors).
  struct Reply {
    nlohmann::json header;
    std::map<std::string, core::Tensor> tensors;
  };
  Reply Command(const std::string& op, const std::map<std::string, core::Tensor>& tensors,
                nlohmann::json fields = nlohmann::json::object());
  // The page's next message, or kills the browser and throws kRuntime naming `what`.
  std::pair<std::string, std::string> Await(std::chrono::seconds timeout, const std::string& what,
                                            bool page_loaded);
  [[noreturn]] void Fail(const std::string& why);
  void CheckInputs(const std::map<std::string, core::Tensor>& inputs) const;
  void CheckInput(const std::string& name, const core::Tensor& t) const;  // named, of its type
  const TensorSpec& Spec(const std::vector<TensorSpec>& specs, const std::string& name,
                         const char* what) const;
  // Sends `op` with the queued changes to the bound inputs, which it empties.
  Reply CommandWithPending(const std::string& op, nlohmann::json fields = nlohmann::json::object());
  // A kept output on the host: from the last kept run's reply, else fetched from the page.
  const core::Tensor& Kept(const std::string& name);

  SessionOptions options_;
  std::string model_name_;
  std::string browser_name_, browser_version_;
  std::chrono::seconds load_timeout_{180}, command_timeout_{120};  // set from the options
  std::unique_ptr<BrowserServer> server_;
  std::unique_ptr<BrowserProcess> browser_;
  nlohmann::json ready_;
  std::vector<TensorSpec> inputs_, outputs_;
  bool failed_ = false;
  bool warmup_ = false;
  size_t parts_served_ = 0;
  std::optional<double> warmup_ms_;
  int next_id_ = 1;
  nlohmann::json pending_ = nlohmann::json::array();  // {"op": "set"|"move", ...} in order
  std::map<std::string, core::Tensor> pending_tensors_;
  std::map<std::string, core::Tensor> kept_;  // this run's outputs brought to the host
  bool kept_run_ = false;
  std::set<std::string> wanted_;  // kept outputs read on the host: sent with each kept run
};

}  // namespace ipfs_accel::runtime
