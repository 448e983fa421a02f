// The timed path with --ep-option outputs=device (ONNX Runtime's IoBinding, outputs left in the
// provider's memory): on the CPU, where that memory is the host's, and on CUDA where there is
// one (skips itself elsewhere).

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <string>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "support/catch_error.h"

namespace ipfs_accel::harness {
namespace output_binding_test {

using runtime::OpenOnnxRuntimeSession;
using runtime::SessionOptions;

std::map<std::string, core::Tensor> Inputs(runtime::Session& s, const models::Model& model) {
  return GenerateInputs(
      s.inputs(), ResolveShapes(s.inputs(), model.dim_roles, {.batch_size = 2, .seq_len = 16}),
      model.input_hints, 11);
}

// Binds, runs the bound inputs timed a few times, and checks the session still answers Run()
// as a session without the option does.
void ExpectBoundRunsWork(const std::string& platform) {
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions plain, bound;
  plain.platform = bound.platform = platform;
  bound.provider_options = {{"outputs", "device"}};
  auto reference = OpenOnnxRuntimeSession(model, plain);
  auto session = OpenOnnxRuntimeSession(model, bound);
  const auto inputs = Inputs(*session, model);
  session->Bind(inputs);
  for (int i = 0; i < 3; ++i) EXPECT_GT(session->RunBoundTimed(), 0.0);
  EXPECT_NE(session->options_json().find("\"outputs\":\"device\""), std::string::npos)
      << session->options_json();
  const auto want = reference->Run(inputs);
  const auto got = session->Run(inputs);
  const auto a = want.at("last_hidden_state").values<float>();
  const auto b = got.at("last_hidden_state").values<float>();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << i;
}

TEST(OutputBinding, CpuRunsBoundInputsWithOutputsInItsOwnMemory) { ExpectBoundRunsWork("cpu"); }

TEST(OutputBinding, CudaRunsBoundInputsWithOutputsOnTheDevice) {
  const runtime::PlatformStatus cuda = runtime::CheckPlatform("cuda", hw::Detect());
  if (!cuda.available) GTEST_SKIP() << "no CUDA here: " << cuda.reason;
  ExpectBoundRunsWork("cuda");
}

TEST(OutputBinding, AnUnknownValueOrPlatformIsRefusedBeforeAnyRun) {
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions bad_value;
  bad_value.provider_options = {{"outputs", "gpu"}};
  EXPECT_EQ(testing::CatchError([&] { OpenOnnxRuntimeSession(model, bad_value); }).kind(),
            core::ErrorKind::kInvalidArgument);
  SessionOptions unknown_platform;
  unknown_platform.platform = "qualcomm";
  unknown_platform.provider_options = {{"outputs", "device"}};
  const core::Error e =
      testing::CatchError([&] { OpenOnnxRuntimeSession(model, unknown_platform); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("qnn"), std::string::npos) << e.what();
}

}  // namespace output_binding_test
}  // namespace ipfs_accel::harness
