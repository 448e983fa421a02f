#include "ipfs_accel/harness/verification.h"

#include <gtest/gtest.h>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"

namespace ipfs_accel::harness {
namespace {

const std::string kFixtures = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny";

// Splits io.safetensors into input.* and output.* tensors.
void LoadIo(const std::string& dir, std::map<std::string, core::Tensor>* inputs,
            std::map<std::string, core::Tensor>* outputs) {
  auto io = models::SafetensorsFile::Open(dir + "/io.safetensors");
  for (const auto& [name, entry] : io->entries()) {
    if (name.rfind("input.", 0) == 0) (*inputs)[name.substr(6)] = io->Read(name);
    if (name.rfind("output.", 0) == 0) (*outputs)[name.substr(7)] = io->Read(name);
  }
}

TEST(VerificationTest, HfTinyBertMatchesTransformers) {
  const std::string dir = kFixtures + "/bert";
  models::Model model = models::LoadHfFolder(dir);
  EXPECT_EQ(model.info.parameters, 143552);  // fixture.json "params"
  std::map<std::string, core::Tensor> inputs, outputs;
  LoadIo(dir, &inputs, &outputs);
  ASSERT_EQ(outputs.size(), 2u);
  const VerificationResult r = Verify(model, {}, inputs, outputs, 1e-4);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, 1e-4) << o.name;
  }
  EXPECT_TRUE(r.passed);
}

TEST(VerificationTest, PerturbedReferenceFails) {
  const std::string dir = kFixtures + "/bert";
  models::Model model = models::LoadHfFolder(dir);
  std::map<std::string, core::Tensor> inputs, outputs;
  LoadIo(dir, &inputs, &outputs);
  outputs.at("pooler_output").values<float>()[7] += 1e-3f;
  const VerificationResult r = Verify(model, {}, inputs, outputs, 1e-4);
  EXPECT_FALSE(r.passed);
}

TEST(CompareTensorsTest, ReportsShapeMismatch) {
  const auto a = core::Tensor::Zeros(core::DType::kFloat32, {2, 3});
  const auto b = core::Tensor::Zeros(core::DType::kFloat32, {3, 2});
  EXPECT_FALSE(CompareTensors("x", a, b, 1e-4).shape_matches);
  EXPECT_FALSE(CompareTensors("x", a, b, 1e-4).within_tolerance);
}

}  // namespace
}  // namespace ipfs_accel::harness
