// The browser backend against real headless Chromium and onnxruntime-web: outputs match native
// ONNX Runtime on the CPU, WebNN is reported unavailable with the browser's own words, and a
// page that hangs or loses its renderer is timed out and leaves no Chromium process behind.

#include "runtime/browser_session.h"

#include <signal.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "runtime/browser_server.h"
#include "support/browser_here.h"
#include "support/catch_error.h"
#include "support/tensors.h"

namespace ipfs_accel::runtime {
namespace browser_session_test {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Inputs that respect the model's hints (token ids in range, masks of ones), with fixed
// values so both backends see the same bytes.
std::map<std::string, core::Tensor> MakeInputs(const models::Model& model,
                                               const std::vector<TensorSpec>& specs, int64_t batch,
                                               int64_t sequence) {
  std::map<std::string, core::Tensor> out;
  for (const auto& spec : specs) {
    core::Shape shape = spec.shape;
    for (size_t i = 0; i < shape.size(); ++i)
      if (shape[i] < 0) shape[i] = i == 0 ? batch : sequence;
    core::Tensor t = core::Tensor::Zeros(spec.dtype, shape);
    const auto hint =
        model.input_hints.count(spec.name) ? model.input_hints.at(spec.name) : models::InputHint{};
    if (spec.dtype == core::DType::kInt64) {
      auto v = t.values<int64_t>();
      for (size_t i = 0; i < v.size(); ++i) {
        if (hint.kind == models::InputHint::Kind::kOnes)
          v[i] = 1;
        else if (hint.kind == models::InputHint::Kind::kIndexRange)
          v[i] =
              hint.low + static_cast<int64_t>(i * 7) % std::max<int64_t>(1, hint.high - hint.low);
        else
          v[i] = 0;
      }
    } else if (spec.dtype == core::DType::kFloat32) {
      auto v = t.values<float>();
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(std::sin(0.1 * i));
    }
    out[spec.name] = std::move(t);
  }
  return out;
}

// Runs `model` natively on the CPU and on `platform` in the browser with the same inputs;
// returns the largest difference over all outputs.
double MaxDifference(const models::Model& model, const std::string& platform, int threads,
                     int64_t sequence, std::string* options_json = nullptr) {
  auto native = OpenOnnxRuntimeSession(model, {});
  const auto inputs = MakeInputs(model, native->inputs(), 1, sequence);
  const auto expected = native->Run(inputs);
  SessionOptions options;
  options.platform = platform;
  options.intra_op_threads = threads;
  auto browser = OpenSession(model, options);
  EXPECT_EQ(browser->inputs().size(), native->inputs().size());
  EXPECT_EQ(browser->execution_provider(), platform);
  if (options_json) *options_json = browser->options_json();
  const auto actual = browser->Run(inputs);
  EXPECT_EQ(actual.size(), expected.size());
  double worst = 0;
  for (const auto& [name, t] : expected) {
    EXPECT_TRUE(actual.count(name)) << name;
    if (actual.count(name)) worst = std::max(worst, testing::MaxAbsDiff(t, actual.at(name)));
  }
  // The timed path runs too, and reports the page's own figure.
  browser->Bind(inputs);
  EXPECT_GT(browser->RunBoundTimed(), 0.0);
  // The model ran in the browser's processes, whose memory is counted (Chromium alone holds
  // well over 50 MiB); a native session has no such processes.
  EXPECT_GT(browser->HelperProcessesResidentBytes(), int64_t{50} << 20);
  EXPECT_EQ(native->HelperProcessesResidentBytes(), 0);
  return worst;
}

// Processes whose command line names `needle` (a profile folder).
int ProcessesMentioning(const std::string& needle) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().find(needle) != std::string::npos) ++n;
  }
  return n;
}

TEST(BrowserEnvelope, RoundTripsTensors) {
  std::map<std::string, core::Tensor> t = {
      {"ids", testing::Int64Tensor({1, 3}, {5, -1, 7})},
      {"x", core::Tensor::Zeros(core::DType::kFloat32, {2, 2})}};
  t["x"].values<float>()[3] = 1.5f;
  const Envelope e = DecodeEnvelope(EncodeEnvelope(R"({"id": 4})", t));
  EXPECT_EQ(nlohmann::json::parse(e.header_json).at("id"), 4);
  ASSERT_EQ(e.tensors.size(), 2u);
  EXPECT_EQ(e.tensors.at("ids").values<int64_t>()[1], -1);
  EXPECT_EQ(e.tensors.at("x").shape, (core::Shape{2, 2}));
  EXPECT_EQ(e.tensors.at("x").values<float>()[3], 1.5f);
  // A length that does not match the shape is refused, not read past.
  std::string bad = EncodeEnvelope("{}", {{"x", core::Tensor::Zeros(core::DType::kFloat32, {4})}});
  bad.resize(bad.size() - 4);
  EXPECT_EQ(testing::CatchError([&] { DecodeEnvelope(bad); }).kind(), core::ErrorKind::kRuntime);
}

TEST(BrowserSession, BertTinyOnWasmMatchesNativeCpu) {
  SKIP_WITHOUT_BROWSER();
  const models::Model model = models::LoadModel("bert-tiny");
  std::string options;
  EXPECT_LT(MaxDifference(model, "wasm", 1, 16, &options), 1e-4);
  const auto j = nlohmann::json::parse(options);
  EXPECT_EQ(j.at("threads"), 1);
  EXPECT_FALSE(j.at("browser").at("version").get<std::string>().empty());
  EXPECT_EQ(j.at("onnxruntime_web_version"), "1.30.0");
  EXPECT_EQ(j.at("cross_origin_isolated"), true);
  EXPECT_LT(MaxDifference(model, "wasm", 2, 16, &options), 1e-4);
  EXPECT_EQ(nlohmann::json::parse(options).at("threads"), 2);
}

TEST(BrowserSession, BertTinyAndVitOnWebGpuMatchNativeCpu) {
  SKIP_WITHOUT_BROWSER();
  const PlatformStatus webgpu = CheckPlatform("webgpu", hw::Detect());
  if (!webgpu.available) GTEST_SKIP() << webgpu.reason;
  std::string options;
  EXPECT_LT(MaxDifference(models::LoadModel("bert-tiny"), "webgpu", 1, 16, &options), 1e-3);
  const auto adapter = nlohmann::json::parse(options).at("adapter");
  EXPECT_TRUE(adapter.is_object()) << options;
  EXPECT_FALSE(adapter.at("vendor").get<std::string>().empty() &&
               adapter.at("architecture").get<std::string>().empty())
      << options;
  const models::Model vit = models::LoadHfFolder(IPFS_ACCEL_SHARED_DIR "/fixtures/hf-tiny/vit");
  EXPECT_LT(MaxDifference(vit, "webgpu", 1, 0), 1e-3);
}

TEST(BrowserSession, VitOnWasmMatchesNativeCpu) {
  SKIP_WITHOUT_BROWSER();
  const models::Model vit = models::LoadHfFolder(IPFS_ACCEL_SHARED_DIR "/fixtures/hf-tiny/vit");
  EXPECT_LT(MaxDifference(vit, "wasm", 2, 0), 1e-4);
}

TEST(BrowserPlatforms, WebNnIsUnavailableWithTheBrowsersMessage) {
  SKIP_WITHOUT_BROWSER();
  const PlatformStatus webnn = CheckPlatform("webnn", hw::Detect());
  EXPECT_FALSE(webnn.available);
  EXPECT_NE(webnn.reason.find("createContext"), std::string::npos) << webnn.reason;
  const auto detail = nlohmann::json::parse(webnn.detail_json);
  const std::string message = detail.at("webnn").at("error").get<std::string>();
  EXPECT_FALSE(message.empty());
  EXPECT_NE(webnn.reason.find(message), std::string::npos) << webnn.reason;
  const PlatformStatus wasm = CheckPlatform("wasm", hw::Detect());
  EXPECT_TRUE(wasm.available) << wasm.reason;
  EXPECT_EQ(nlohmann::json::parse(wasm.detail_json).at("cross_origin_isolated"), true);
}

// Chromium's adapter here is SwiftShader: a software renderer, said so in the status's field,
// its reason and its detail alike.
TEST(BrowserPlatforms, ASoftwareWebGpuAdapterIsMarkedAsOne) {
  SKIP_WITHOUT_BROWSER();
  const PlatformStatus webgpu = CheckPlatform("webgpu", hw::Detect());
  if (!webgpu.available) GTEST_SKIP() << webgpu.reason;
  const bool said = webgpu.reason.find("FALLBACK") != std::string::npos;
  EXPECT_EQ(webgpu.software_renderer, said) << webgpu.reason;
  EXPECT_EQ(nlohmann::json::parse(webgpu.detail_json).at("adapter").at("is_fallback"), said);
  EXPECT_FALSE(CheckPlatform("wasm", hw::Detect()).software_renderer);
}

TEST(BrowserSession, HungPageIsKilledAfterTheTimeout) {
  SKIP_WITHOUT_BROWSER();
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions options;
  options.platform = "wasm";
  options.intra_op_threads = 1;
  options.provider_options = {{"test_fault", "hang"}, {"timeout_s", "5"}};
  BrowserSession session(model, options);
  const std::string profile = session.profile_dir();
  ASSERT_GT(ProcessesMentioning(profile), 0);
  const auto inputs = MakeInputs(model, session.inputs(), 1, 8);
  const auto t0 = Clock::now();
  const core::Error e = testing::CatchError([&] { session.Run(inputs); });
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
  EXPECT_NE(std::string(e.what()).find("did not answer within 5 s"), std::string::npos) << e.what();
  EXPECT_NE(std::string(e.what()).find("killed"), std::string::npos) << e.what();
  EXPECT_GE(waited, 4.5);
  EXPECT_LT(waited, 60);  // the timeout ended it, not the page
  EXPECT_EQ(ProcessesMentioning(profile), 0);
  // The session stays failed; it does not start a second browser.
  EXPECT_EQ(testing::CatchError([&] { session.Run(inputs); }).kind(), core::ErrorKind::kRuntime);
}

TEST(BrowserSession, CrashedRendererIsReportedAndTheBrowserKilled) {
  SKIP_WITHOUT_BROWSER();
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions options;
  options.platform = "wasm";
  options.intra_op_threads = 1;
  options.provider_options = {{"timeout_s", "60"}};
  BrowserSession session(model, options);
  const std::string profile = session.profile_dir();
  // Kill the page's renderer as the OOM killer would (not the one of Chromium's own UI).
  int killed = 0;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    if (s.str().find(profile) != std::string::npos &&
        s.str().find("--type=renderer") != std::string::npos &&
        s.str().find("--top-chrome-webui") == std::string::npos) {
      killed += ::kill(std::stoi(entry.path().filename().string()), SIGKILL) == 0;
    }
  }
  ASSERT_GT(killed, 0);
  const auto inputs = MakeInputs(model, session.inputs(), 1, 8);
  const auto t0 = Clock::now();
  const core::Error e = testing::CatchError([&] { session.Run(inputs); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kRuntime);
  EXPECT_NE(std::string(e.what()).find("renderer"), std::string::npos) << e.what();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 30);  // before the timeout
  EXPECT_EQ(ProcessesMentioning(profile), 0);
}

TEST(BrowserSession, NativePlatformsStayOnOnnxRuntime) {
  const models::Model model = models::LoadModel("bert-tiny");
  EXPECT_EQ(OpenSession(model, {})->execution_provider(), "CPUExecutionProvider");
  EXPECT_TRUE(IsBrowserPlatform("webnn"));
  EXPECT_FALSE(IsBrowserPlatform("cpu"));
}

}  // namespace browser_session_test
}  // namespace ipfs_accel::runtime

namespace ipfs_accel::runtime {
namespace browser_session_test {

// The page's own error reaches the user: opening a session on WebNN where the browser has no
// backend is "unavailable" and quotes onnxruntime-web / the browser.
TEST(BrowserSession, WebNnSessionReportsTheBrowsersError) {
  SKIP_WITHOUT_BROWSER();
  if (CheckPlatform("webnn", hw::Detect()).available) GTEST_SKIP() << "WebNN works here";
  SessionOptions options;
  options.platform = "webnn";
  const core::Error e =
      testing::CatchError([&] { OpenSession(models::LoadModel("bert-tiny"), options); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnavailable) << e.what();
  EXPECT_NE(std::string(e.what()).find("webnn in chromium"), std::string::npos) << e.what();
  EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
}

// warmup=1: the first Bind() runs the inputs once in the page (its time recorded), so the first
// timed run afterwards no longer pays for the first-run work; the option's value is checked.
TEST(BrowserSession, WarmupAtBindIsRecorded) {
  SKIP_WITHOUT_BROWSER();
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions options;
  options.platform = "wasm";
  options.intra_op_threads = 1;
  options.provider_options["warmup"] = "2";
  EXPECT_EQ(testing::CatchError([&] { OpenSession(model, options); }).kind(),
            core::ErrorKind::kInvalidArgument);
  options.provider_options["warmup"] = "1";
  auto session = OpenSession(model, options);
  auto before = nlohmann::json::parse(session->options_json());
  EXPECT_TRUE(before["warmup"]["enabled"].get<bool>());
  EXPECT_TRUE(before["warmup"]["ms"].is_null());  // nothing bound yet
  session->Bind(MakeInputs(model, session->inputs(), 1, 16));
  const auto after = nlohmann::json::parse(session->options_json());
  ASSERT_TRUE(after["warmup"]["ms"].is_number()) << after.dump();
  EXPECT_GT(after["warmup"]["ms"].get<double>(), 0.0);
  EXPECT_GT(session->RunBoundTimed(), 0.0);
}

// The second browser: Debian's Firefox ESR runs the same page on wasm (threads too, since the
// page is cross-origin isolated there as well), and says it is Firefox in what is stored.
TEST(BrowserSession, BertTinyOnWasmInFirefoxMatchesNativeCpu) {
  SKIP_WITHOUT_BROWSER();
  std::string why;
  if (!hw::DetectFirefox(&why)) GTEST_SKIP() << why;
  const models::Model model = models::LoadModel("bert-tiny");
  auto native = OpenOnnxRuntimeSession(model, {});
  const auto inputs = MakeInputs(model, native->inputs(), 1, 16);
  const auto expected = native->Run(inputs);
  SessionOptions options;
  options.platform = "wasm";
  options.intra_op_threads = 2;
  options.provider_options["browser"] = "firefox";
  auto firefox = OpenSession(model, options);
  const auto actual = firefox->Run(inputs);
  for (const auto& [name, t] : expected) {
    ASSERT_TRUE(actual.count(name)) << name;
    EXPECT_LT(testing::MaxAbsDiff(t, actual.at(name)), 1e-4) << name;
  }
  const auto stored = nlohmann::json::parse(firefox->options_json());
  EXPECT_EQ(stored["browser"]["name"], "firefox");
  EXPECT_EQ(stored["cross_origin_isolated"], true);
  EXPECT_EQ(stored["threads"], 2);
  firefox->Bind(inputs);
  EXPECT_GT(firefox->RunBoundTimed(), 0.0);
  options.provider_options["browser"] = "netscape";
  EXPECT_EQ(testing::CatchError([&] { OpenSession(model, options); }).kind(),
            core::ErrorKind::kInvalidArgument);
}

}  // namespace browser_session_test
}  // namespace ipfs_accel::runtime
