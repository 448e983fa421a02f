// State kept between runs in the browser: greedy decoding (the KV cache moved from outputs to
// inputs in the page) and training steps (parameters and optimizer states carried) on wasm in
// headless Chromium give what native ONNX Runtime gives on the CPU.

#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/generation.h"
#include "ipfs_accel/harness/training.h"
#include "ipfs_accel/models/model.h"
#include "support/browser_here.h"
#include "support/catch_error.h"

namespace ipfs_accel::harness {
namespace browser_state_test {

namespace fs = std::filesystem;

const fs::path kLlama = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny/llama";

GenerationResult Generate(const models::Model& model, const std::string& platform) {
  GenerationConfig c;
  c.session.platform = platform;
  c.session.intra_op_threads = 1;
  c.batch_size = 1;
  c.prompt_len = 4;
  c.new_tokens = 8;
  c.warmup = 0;
  c.repetitions = 1;
  return RunGeneration(model, c);
}

TEST(BrowserState, GreedyDecodingOnWasmGivesTheTokensOfTheCpu) {
  SKIP_WITHOUT_BROWSER();
  const models::Model model = models::LoadHfFolder(kLlama.string());
  const GenerationResult cpu = Generate(model, "cpu");
  const GenerationResult wasm = Generate(model, "wasm");
  ASSERT_EQ(cpu.tokens.size(), 8u);
  EXPECT_EQ(wasm.tokens, cpu.tokens);
  EXPECT_EQ(wasm.token_ms.size(), 7u);
  EXPECT_GT(wasm.decode.p50, 0);
  EXPECT_NE(wasm.session_options_json.find("onnxruntime_web_version"), std::string::npos);
}

TrainingResult Train(const models::Model& model, const std::string& platform, int64_t accumulate) {
  TrainingConfig c;
  c.bench.session.platform = platform;
  c.bench.session.intra_op_threads = 1;
  c.bench.shape = {.batch_size = 2, .seq_len = 8};
  c.bench.warmup = 0;
  c.bench.iterations = 4;
  c.bench.min_time_s = 0;
  c.bench.early_stopping = false;
  c.accumulation_steps = accumulate;
  return RunTrainingBenchmark(model, c);
}

TEST(BrowserState, TrainingStepsOnWasmFollowTheLossOfTheCpu) {
  SKIP_WITHOUT_BROWSER();
  const models::Model model = models::LoadModel("bert-tiny");
  const TrainingResult cpu = Train(model, "cpu", 1);
  const TrainingResult wasm = Train(model, "wasm", 1);
  ASSERT_EQ(wasm.loss_steps, cpu.loss_steps);
  EXPECT_NEAR(wasm.loss_first, cpu.loss_first, 1e-4 * std::abs(cpu.loss_first));
  // Four AdamW updates later the losses still agree: the page carried every state.
  EXPECT_NEAR(wasm.loss_last, cpu.loss_last, 1e-3 * std::abs(cpu.loss_last));
  EXPECT_LT(wasm.loss_last, wasm.loss_first);
}

TEST(BrowserState, GradientAccumulationInTheBrowserIsRefusedNamingTheOption) {
  const models::Model model = models::LoadModel("bert-tiny");
  const core::Error e = testing::CatchError([&] { Train(model, "wasm", 2); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("--grad-accum 1"), std::string::npos) << e.what();
}

}  // namespace browser_state_test
}  // namespace ipfs_accel::harness
