#include "browser_session.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "browser_process.h"
#include "browser_server.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/runtime/backend.h"

namespace ipfs_accel::runtime {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

std::chrono::seconds SecondsOption(const SessionOptions& o, const std::string& key,
                                   std::chrono::seconds fallback) {
  const auto it = o.provider_options.find(key);
  if (it == o.provider_options.end()) return fallback;
  try {
    const long v = std::stol(it->second);
    if (v > 0) return std::chrono::seconds(v);
  } catch (const std::exception&) {
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("provider option {}={} is not a whole number of seconds above 0", key,
                          it->second));
}

std::string OptionOr(const SessionOptions& o, const std::string& key, const std::string& fallback) {
  const auto it = o.provider_options.find(key);
  return it == o.provider_options.end() ? fallback : it->second;
}

const char* OptimizationLevelName(int level) {
  switch (level) {
    case 0:
      return "disabled";
    case 1:
      return "basic";
    case 2:
      return "extended";
    case 99:
      return "all";
  }
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("graph optimisation level {} is not one of 0, 1, 2, 99", level));
}

// Flags beyond the base set: WebGPU is behind a flag on Linux; WebNN is asked for so that the
// browser itself says whether it has a backend.
std::vector<std::string> PlatformFlags(const std::string& platform) {
  if (platform == "webgpu") return {"--enable-unsafe-webgpu"};
  if (platform == "webnn") return {"--enable-features=WebMachineLearningNeuralNetwork"};
  if (platform == "probe")
    return {"--enable-unsafe-webgpu", "--enable-features=WebMachineLearningNeuralNetwork"};
  return {};
}

hw::BrowserInfo RequireChromium() {
  std::string why;
  auto info = hw::DetectChromium(&why);
  if (!info) throw Error(ErrorKind::kUnavailable, why);
  return *info;
}

// The browser the "browser" provider option names: chromium (default) or firefox.
hw::BrowserInfo RequireBrowser(const std::string& name) {
  if (name == "chromium") return RequireChromium();
  if (name != "firefox")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("provider option browser={} is not chromium or firefox", name));
  std::string why;
  auto info = hw::DetectFirefox(&why);
  if (!info) throw Error(ErrorKind::kUnavailable, why);
  return *info;
}

core::DType DTypeOfPage(const std::string& name, const std::string& tensor) {
  for (core::DType d : {core::DType::kFloat32, core::DType::kFloat16, core::DType::kFloat64,
                        core::DType::kInt64, core::DType::kInt32, core::DType::kInt16,
                        core::DType::kInt8, core::DType::kUInt8, core::DType::kBool})
    if (name == core::DTypeName(d)) return d;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("graph tensor '{}' has type '{}', which this tool does not exchange "
                          "with the browser",
                          tensor, name));
}

std::vector<TensorSpec> Specs(const nlohmann::json& list) {
  std::vector<TensorSpec> out;
  for (const auto& j : list) {
    TensorSpec s;
    s.name = j.at("name").get<std::string>();
    s.dtype = DTypeOfPage(j.value("dtype", std::string()), s.name);
    for (const auto& d : j.value("shape", nlohmann::json::array())) {
      s.shape.push_back(d.is_number_integer() && d.get<int64_t>() >= 0 ? d.get<int64_t>() : -1);
      s.dim_names.push_back(d.is_string() ? d.get<std::string>() : "");
    }
    out.push_back(std::move(s));
  }
  return out;
}

// The graph's bytes as the page will fetch them. A graph with external data (a built graph
// over 2 GB, or a file that size) cannot be handed to onnxruntime-web as one file.
std::shared_ptr<const std::string> ModelBytes(const models::Model& model) {
  if (!model.onnx_bytes.empty())  // borrowed until the page has read it (see ForgetModel)
    return std::shared_ptr<const std::string>(&model.onnx_bytes, [](const std::string*) {});
  std::error_code ec;
  const auto size = fs::file_size(model.onnx_path, ec);
  if (model.files_owner || (!ec && size >= (uintmax_t{2} << 30)))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("model '{}' keeps its weights in external data (over 2 GB); the "
                            "browser platforms take one .onnx file under 2 GB — use a lower "
                            "precision or a smaller model",
                            model.info.name));
  std::ifstream in(model.onnx_path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) throw Error(ErrorKind::kIo, fmt::format("could not read {}", model.onnx_path));
  return std::make_shared<const std::string>(s.str());
}

bool LooksUnavailable(const std::string& message) {
  for (const char* needle : {"NotSupportedError", "not supported", "no available backend", "WebNN",
                             "webnn", "adapter", "navigator.gpu", "navigator.ml"})
    if (message.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

BrowserFiles FindBrowserFiles() {
  BrowserFiles f{EnvOr("IPFS_ACCEL_WEB_DIR", IPFS_ACCEL_WEB_DIR) + "/runner",
                 EnvOr("IPFS_ACCEL_ORT_WEB_DIR", IPFS_ACCEL_ORT_WEB_DIR)};
  if (!fs::exists(fs::path(f.runner_dir) / "runner.mjs"))
    throw Error(ErrorKind::kUnavailable,
                fmt::format("the browser runner page is not at {} (set IPFS_ACCEL_WEB_DIR to the "
                            "repository's web/ folder)",
                            f.runner_dir));
  if (!fs::exists(fs::path(f.ort_dir) / "ort.min.mjs"))
    throw Error(ErrorKind::kUnavailable,
                fmt::format("onnxruntime-web is not installed at {} (scripts/bootstrap.sh "
                            "installs it; IPFS_ACCEL_ORT_WEB_DIR points elsewhere)",
                            f.ort_dir));
  return f;
}

const BrowserProbe& ProbeBrowserOnce() {
  static std::once_flag once;
  static BrowserProbe probe;
  std::call_once(once, [] {
    try {
      const hw::BrowserInfo chromium = RequireChromium();
      probe.browser = chromium.name + " " + chromium.version;
      const BrowserFiles files = FindBrowserFiles();
      BrowserServer server(
          {files.runner_dir, files.ort_dir, R"({"probe": true, "webnn_device_type": "cpu"})", {}});
      BrowserProcess browser(chromium, server.url("/runner/index.html"), PlatformFlags("probe"));
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      while (true) {
        if (auto m = server.WaitMessage(std::chrono::milliseconds(250))) {
          if (m->kind == "ready")
            probe.page = nlohmann::json::parse(m->body);
          else
            probe.error = "the probe page failed: " +
                          core::OneLine(nlohmann::json::parse(m->body).value("message", m->body));
          break;
        }
        std::string how;
        if (browser.Exited(&how)) {
          probe.error =
              fmt::format("{} before the probe page answered ({})", how, browser.LogTail());
          break;
        }
        if (Clock::now() > deadline) {
          probe.error = "the probe page did not answer within 60 s; the browser was killed";
          break;
        }
      }
    } catch (const std::exception& e) {
      probe.error = e.what();
    }
  });
  return probe;
}

BrowserSession::BrowserSession(const models::Model& model, const SessionOptions& options)
    : options_(options), model_name_(model.info.name) {
  const std::string& p = options.platform;
  if (p != "wasm" && p != "webgpu" && p != "webnn")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("platform '{}' is not a browser platform (wasm, webgpu, webnn)", p));
  load_timeout_ = SecondsOption(options, "load_timeout_s", load_timeout_);
  // One bert-base run on WebGPU's SwiftShader fallback took 85 s here: give it room.
  command_timeout_ =
      SecondsOption(options, "timeout_s", std::chrono::seconds(p == "webgpu" ? 300 : 120));
  const std::string device_type = OptionOr(options, "device_type", "cpu");
  const std::string warmup = OptionOr(options, "warmup", "0");
  if (warmup != "0" && warmup != "1")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("provider option warmup={} is not 0 or 1", warmup));
  warmup_ = warmup == "1";
  if (p == "webnn" && device_type != "cpu" && device_type != "gpu" && device_type != "npu")
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("webnn device_type '{}' is not cpu, gpu or npu", device_type));

  const auto bytes = ModelBytes(model);
  const hw::BrowserInfo browser = RequireBrowser(OptionOr(options, "browser", "chromium"));
  browser_name_ = browser.name;
  browser_version_ = browser.version;
  const BrowserFiles files = FindBrowserFiles();
  nlohmann::json job = {
      {"platform", p},
      {"threads", options.intra_op_threads},
      {"graph_optimization_level", OptimizationLevelName(options.graph_optimization_level)},
      {"test_fault", OptionOr(options, "test_fault", "")},
      {"warmup", warmup_}};
  if (p == "webnn") job["webnn_device_type"] = device_type;
  server_ = std::make_unique<BrowserServer>(
      BrowserServer::Content{files.runner_dir, files.ort_dir, job.dump(), bytes});
  browser_ = std::make_unique<BrowserProcess>(browser, server_->url("/runner/index.html"),
                                              PlatformFlags(p));

  const auto [kind, body] = Await(load_timeout_, "loading the model", false);
  nlohmann::json message = nlohmann::json::parse(body, nullptr, false);
  if (kind == "error") {
    const std::string text =
        core::OneLine(message.is_object() ? message.value("message", body) : body);
    failed_ = true;
    browser_->Kill();
    throw Error(LooksUnavailable(text) ? ErrorKind::kUnavailable : ErrorKind::kRuntime,
                fmt::format("{} in {} {} could not open model '{}': \"{}\"", p, browser_name_,
                            browser_version_, model_name_, text));
  }
  if (kind != "ready" || !message.is_object())
    Fail(fmt::format("the page sent '{}' instead of its session's description", kind));
  server_->ForgetModel();  // the page has it; `model` need not outlive this constructor
  ready_ = std::move(message);
  inputs_ = Specs(ready_.at("inputs"));
  outputs_ = Specs(ready_.at("outputs"));
}

BrowserSession::~BrowserSession() = default;  // the process kills its group; the server stops

pid_t BrowserSession::browser_pid() const { return browser_->pid(); }
const std::string& BrowserSession::profile_dir() const { return browser_->profile_dir(); }

void BrowserSession::Fail(const std::string& why) {
  failed_ = true;
  browser_->Kill();
  throw Error(ErrorKind::kRuntime, why);
}

std::pair<std::string, std::string> BrowserSession::Await(std::chrono::seconds timeout,
                                                          const std::string& what,
                                                          bool page_loaded) {
  const auto start = Clock::now(), deadline = start + timeout;
  // Looking for the renderer reads /proc: not every 250 ms while short runs are being timed.
  auto next_renderer_check = start + std::chrono::seconds(1);
  while (true) {
    if (auto m = server_->WaitMessage(std::chrono::milliseconds(250)))
      return {std::move(m->kind), std::move(m->body)};
    std::string how;
    if (browser_->Exited(&how)) {
      const std::string log = browser_->LogTail();
      Fail(fmt::format("{} page ended while {} ({}{}{}); the browser was killed", options_.platform,
                       what, how, log.empty() ? "" : ": ", log));
    }
    if (page_loaded && Clock::now() > next_renderer_check) {
      next_renderer_check = Clock::now() + std::chrono::seconds(1);
      if (!browser_->HasRenderer())
        Fail(
            fmt::format("{} page's renderer process is gone while {} (it crashed or was "
                        "killed); the browser was killed",
                        options_.platform, what));
    }
    if (Clock::now() > deadline)
      Fail(fmt::format("{} page did not answer within {} s ({}); the browser was killed",
                       options_.platform, timeout.count(), what));
  }
}

BrowserSession::Reply BrowserSession::Command(const std::string& op,
                                              const std::map<std::string, core::Tensor>& tensors,
                                              nlohmann::json fields) {
  if (failed_)
    throw Error(ErrorKind::kRuntime,
                fmt::format("the {} browser session for '{}' ended after an earlier failure; "
                            "open a new session",
                            options_.platform, model_name_));
  const int id = next_id_++;
  fields["id"] = id;
  fields["op"] = op;
  server_->PostCommand(EncodeEnvelope(fields.dump(), tensors));
  const auto [kind, body] = Await(command_timeout_, fmt::format("running '{}'", op), true);
  if (kind != "result")
    Fail(fmt::format("the {} page sent '{}' during '{}'", options_.platform, kind, op));
  Envelope e = DecodeEnvelope(body);
  Reply r{nlohmann::json::parse(e.header_json), std::move(e.tensors)};
  if (r.header.value("id", -1) != id)
    Fail(fmt::format("the {} page answered command {} instead of {}", options_.platform,
                     r.header.value("id", -1), id));
  if (!r.header.value("ok", false))
    throw Error(
        ErrorKind::kRuntime,
        fmt::format("{} in {} failed running model '{}': \"{}\"", options_.platform, browser_name_,
                    model_name_, core::OneLine(r.header.value("error", std::string("?")))));
  return r;
}

void BrowserSession::CheckInputs(const std::map<std::string, core::Tensor>& inputs) const {
  for (const auto& spec : inputs_)
    if (!inputs.count(spec.name))
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("input '{}' of model '{}' is missing", spec.name, model_name_));
  for (const auto& [name, t] : inputs) CheckInput(name, t);
}

void BrowserSession::CheckInput(const std::string& name, const core::Tensor& t) const {
  const TensorSpec& spec = Spec(inputs_, name, "input");
  if (spec.dtype != t.dtype)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("input '{}' of model '{}' is {}, not {}", name, model_name_,
                            core::DTypeName(spec.dtype), core::DTypeName(t.dtype)));
}

std::map<std::string, core::Tensor> BrowserSession::Run(
    const std::map<std::string, core::Tensor>& inputs) {
  CheckInputs(inputs);
  return Command("run", inputs).tensors;
}

void BrowserSession::Bind(const std::map<std::string, core::Tensor>& inputs) {
  CheckInputs(inputs);
  pending_ = nlohmann::json::array();  // every input is bound anew
  pending_tensors_.clear();
  const Reply r = Command("bind", inputs);
  if (const auto ms = r.header.find("warmup_ms"); ms != r.header.end() && ms->is_number())
    warmup_ms_ = ms->get<double>();
}

double BrowserSession::TimeLoading(const std::vector<const models::Model*>& parts,
                                   bool concurrent) {
  nlohmann::json urls = nlohmann::json::array();
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i >= parts_served_) server_->ServePart(i, ModelBytes(*parts[i]));
    urls.push_back(fmt::format("/parts/{}.onnx", i));
  }
  parts_served_ = std::max(parts_served_, parts.size());
  return Command("time_loading", {}, {{"urls", urls}, {"concurrent", concurrent}})
      .header.at("ms")
      .get<double>();
}

double BrowserSession::RunBoundTimed() {
  return CommandWithPending("run_bound_timed").header.at("ms").get<double>();
}

std::string BrowserSession::options_json() const {
  nlohmann::json adapter = nullptr;
  if (const auto& a = ready_.value("adapter", nlohmann::json()); a.is_object())
    adapter = {{"vendor", a.value("vendor", "")},
               {"architecture", a.value("architecture", "")},
               {"description", a.value("description", "")},
               {"device", a.value("device", "")},
               {"is_fallback", a.value("is_fallback", false)}};
  nlohmann::json j = {
      {"browser",
       {{"name", browser_name_},
        {"version", browser_version_},
        {"user_agent", ready_.value("user_agent", "")}}},
      {"onnxruntime_web_version", ready_.value("ort_version", "")},
      {"execution_provider", options_.platform},
      {"threads", ready_.value("threads", 0)},
      {"threads_requested", options_.intra_op_threads},
      {"cross_origin_isolated", ready_.value("cross_origin_isolated", false)},
      {"hardware_concurrency", ready_.value("hardware_concurrency", 0)},
      {"graph_optimization_level", options_.graph_optimization_level},
      {"load_ms_in_page", ready_.value("load_ms", 0.0)},
      {"warmup",
       {{"enabled", warmup_}, {"ms", warmup_ms_ ? nlohmann::json(*warmup_ms_) : nullptr}}},
      {"adapter", adapter},
      {"provider_options", options_.provider_options}};
  if (options_.platform == "webnn")
    j["webnn_device_type"] = OptionOr(options_, "device_type", "cpu");
  return j.dump();
}

const TensorSpec& BrowserSession::Spec(const std::vector<TensorSpec>& specs,
                                       const std::string& name, const char* what) const {
  const auto it =
      std::find_if(specs.begin(), specs.end(), [&](const TensorSpec& s) { return s.name == name; });
  if (it == specs.end())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("model '{}' has no {} '{}'", model_name_, what, name));
  return *it;
}

BrowserSession::Reply BrowserSession::CommandWithPending(const std::string& op,
                                                         nlohmann::json fields) {
  fields["pending"] = std::exchange(pending_, nlohmann::json::array());
  const auto tensors = std::exchange(pending_tensors_, {});
  return Command(op, tensors, std::move(fields));
}

void BrowserSession::RunBoundKeepOutputs() {
  kept_.clear();
  kept_run_ = false;
  kept_ = CommandWithPending("run_bound_keep", {{"send", wanted_}}).tensors;
  kept_run_ = true;
}

void BrowserSession::SetBoundInput(const std::string& name, core::Tensor tensor) {
  CheckInput(name, tensor);
  pending_.push_back({{"op", "set"}, {"name", name}});
  pending_tensors_[name] = std::move(tensor);
}

void BrowserSession::MoveOutputToInput(const std::string& output, const std::string& input) {
  Spec(outputs_, output, "output");
  Spec(inputs_, input, "input");
  if (!kept_run_)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("output '{}' is not kept from a previous run", output));
  pending_.push_back({{"op", "move"}, {"from", output}, {"to", input}});
  kept_.erase(output);
}

const core::Tensor& BrowserSession::Kept(const std::string& name) {
  Spec(outputs_, name, "output");
  if (!kept_run_)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("output '{}' is not kept from a previous run", name));
  if (auto it = kept_.find(name); it != kept_.end()) return it->second;
  wanted_.insert(name);  // read once, it comes with every later kept run's reply
  auto fetched = Command("fetch", {}, {{"names", {name}}}).tensors;
  auto it = fetched.find(name);
  if (it == fetched.end()) Fail(fmt::format("the {} page sent no '{}'", options_.platform, name));
  return kept_[name] = std::move(it->second);
}

// Fetching from the page fills a cache: what the session holds does not change.
core::Tensor BrowserSession::KeptOutput(const std::string& name) const {
  return const_cast<BrowserSession*>(this)->Kept(name);
}

Session::TensorView BrowserSession::KeptOutputView(const std::string& name) const {
  const core::Tensor& t = const_cast<BrowserSession*>(this)->Kept(name);
  return {t.dtype, t.shape, t.bytes.data()};
}

int64_t BrowserSession::HelperProcessesResidentBytes() const {
  return browser_ ? browser_->ResidentBytes() : 0;
}

LoadTiming TimeBrowserLoading(const std::vector<const models::Model*>& parts,
                              const SessionOptions& options, int repetitions) {
  if (!IsBrowserPlatform(options.platform))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("loading is timed in the browser; '{}' is not a browser platform "
                            "(wasm, webgpu, webnn)",
                            options.platform));
  if (parts.size() < 2 || repetitions < 1)
    throw Error(ErrorKind::kInvalidArgument,
                "timing parallel loading needs at least two parts and one repetition");
  // The first part's own session starts the runtime (wasm compile, WebGPU device) untimed.
  BrowserSession session(*parts.front(), options);
  LoadTiming t;
  t.execution_provider = session.execution_provider();
  for (int r = 0; r < repetitions; ++r) {
    const bool concurrent_first = r % 2 == 1;  // neither order always gets the warmer caches
    for (const bool concurrent : {concurrent_first, !concurrent_first})
      (concurrent ? t.concurrent_ms : t.sequential_ms)
          .push_back(session.TimeLoading(parts, concurrent));
  }
  t.options_json = session.options_json();
  return t;
}

}  // namespace ipfs_accel::runtime
