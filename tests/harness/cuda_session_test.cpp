// bert-tiny on the CUDA execution provider against the CPU on the same inputs. Skips itself
// where no CUDA provider can be attached (no NVIDIA driver, no provider library).

#include <algorithm>
#include <cmath>
#include <iostream>

#include <gtest/gtest.h>

#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"

namespace ipfs_accel::harness {
namespace cuda_session_test {

using runtime::OpenOnnxRuntimeSession;
using runtime::PlatformStatus;
using runtime::SessionOptions;

TEST(CudaSession, CudaMatchesCpuOnBertTiny) {
  const PlatformStatus cuda = runtime::CheckPlatform("cuda", hw::Detect());
  if (!cuda.available) GTEST_SKIP() << "no CUDA here: " << cuda.reason;
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions cpu_options, cuda_options;
  cuda_options.platform = "cuda";
  auto cpu = OpenOnnxRuntimeSession(model, cpu_options);
  auto gpu = OpenOnnxRuntimeSession(model, cuda_options);
  EXPECT_EQ(gpu->execution_provider(), "CUDAExecutionProvider");
  const auto inputs = GenerateInputs(
      cpu->inputs(),
      ResolveShapes(cpu->inputs(), model.dim_roles, {.batch_size = 2, .seq_len = 32}),
      model.input_hints, 7);
  const auto want = cpu->Run(inputs);
  const auto got = gpu->Run(inputs);
  const auto a = want.at("last_hidden_state").values<float>();
  const auto b = got.at("last_hidden_state").values<float>();
  ASSERT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
  EXPECT_LT(worst, 1e-3);
  std::cout << "cuda vs cpu max abs error: " << worst << "\n";
}

}  // namespace cuda_session_test
}  // namespace ipfs_accel::harness
