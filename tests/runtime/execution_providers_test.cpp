// The execution-provider table and how sessions attach providers (the CUDA run itself is
// tests/harness/cuda_session_test.cpp).

#include <dlfcn.h>

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "ipfs_accel/runtime/platforms.h"
#include "runtime/execution_providers.h"
#include "support/catch_error.h"

namespace ipfs_accel::runtime {
namespace execution_providers_test {

TEST(ExecutionProviders, PlatformNamesAndAliasesMapToOrtProviders) {
  ASSERT_NE(FindNativeProvider("qualcomm"), nullptr);
  EXPECT_STREQ(FindNativeProvider("qualcomm")->provider, "QNNExecutionProvider");
  EXPECT_STREQ(FindNativeProvider("mps")->provider, "CoreMLExecutionProvider");
  EXPECT_STREQ(FindNativeProvider("cuda")->provider, "CUDAExecutionProvider");
  EXPECT_STREQ(FindNativeProvider("rocm")->provider, "MIGraphXExecutionProvider");
  EXPECT_EQ(FindNativeProvider("wasm"), nullptr);  // a browser platform, not an ORT provider
  EXPECT_EQ(FindNativeProvider("tpu"), nullptr);
}

TEST(ExecutionProviders, EveryPlatformIsReportedWithAReason) {
  const auto all = PlatformAvailability(hw::Detect());
  ASSERT_EQ(all.size(), KnownPlatforms().size());
  for (const auto& p : all) {
    EXPECT_FALSE(p.reason.empty()) << p.platform;
    EXPECT_EQ(p.reason.find('\n'), std::string::npos) << p.platform;
  }
  EXPECT_TRUE(all.front().available);  // cpu
  EXPECT_EQ(CheckPlatform("qualcomm", hw::Detect()).platform, "qnn");
}

// Without a Vulkan loader native WebGPU is unavailable for that reason, said before ORT's
// provider (Dawn) is tried and prints its own warning.
TEST(ExecutionProviders, NativeWebGpuWithoutVulkanSaysSo) {
  void* loader = ::dlopen("libvulkan.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (loader) {
    ::dlclose(loader);
    GTEST_SKIP() << "this machine has a Vulkan loader";
  }
  const PlatformStatus s = CheckPlatform("webgpu-native", hw::Detect());
  EXPECT_FALSE(s.available);
  EXPECT_NE(s.reason.find("libvulkan.so.1"), std::string::npos) << s.reason;
}

TEST(ExecutionProviders, CpuRejectsProviderOptions) {
  Ort::SessionOptions so;
  const auto e = testing::CatchError([&] {
    AppendProvider(so, *FindNativeProvider("cpu"), {{"device_id", "0"}});
  });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
}

// A provider this ONNX Runtime build lacks is unavailable, with ORT's reason, when a
// session is opened on it: never a silent CPU run.
TEST(ExecutionProviders, MissingProviderIsUnavailableNotCpu) {
  const ProviderDef& xnnpack = *FindNativeProvider("xnnpack");
  if (!ProbeProvider(xnnpack)) GTEST_SKIP() << "this ONNX Runtime build has XNNPACK";
  const models::Model model = models::LoadModel("bert-tiny");
  SessionOptions options;
  options.platform = "xnnpack";
  const auto e = testing::CatchError([&] { OpenOnnxRuntimeSession(model, options); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnavailable);
  EXPECT_NE(std::string(e.what()).find("XnnpackExecutionProvider"), std::string::npos) << e.what();
}

}  // namespace execution_providers_test
}  // namespace ipfs_accel::runtime
