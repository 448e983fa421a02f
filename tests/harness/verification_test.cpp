#include "ipfs_accel/harness/verification.h"

#include <gtest/gtest.h>

#include "ipfs_accel/models/model.h"

namespace ipfs_accel::harness {
namespace verification_test {

const std::string kFixtures = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny";

TEST(VerificationTest, HfTinyBertMatchesTransformers) {
  const std::string dir = kFixtures + "/bert";
  models::Model model = models::LoadHfFolder(dir);
  EXPECT_EQ(model.info.parameters, 143552);  // fixture.json "params"
  const ReferenceIo io = LoadReferenceIo(dir + "/io.safetensors");
  ASSERT_EQ(io.inputs.size(), 3u);
  ASSERT_EQ(io.outputs.size(), 2u);
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, 1e-4);
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.shape_matches) << o.name;
    EXPECT_LT(o.max_abs_error, 1e-4) << o.name;
  }
  EXPECT_TRUE(r.passed);
}

TEST(VerificationTest, PerturbedReferenceFails) {
  const std::string dir = kFixtures + "/bert";
  models::Model model = models::LoadHfFolder(dir);
  ReferenceIo io = LoadReferenceIo(dir + "/io.safetensors");
  io.outputs.at("pooler_output").values<float>()[7] += 1e-3f;
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, 1e-4);
  EXPECT_FALSE(r.passed);
}

TEST(VerificationTest, ReferenceWithoutTokenTypesPassesOnHfZeros) {
  // HF's BertModel uses a zeros buffer for absent token_type_ids; random types would fail.
  const std::string dir = kFixtures + "/bert";
  ReferenceIo io = LoadReferenceIo(dir + "/io.safetensors");
  ASSERT_EQ(io.inputs.erase("token_type_ids"), 1u);
  const VerificationResult r = Verify(models::LoadHfFolder(dir), {}, io.inputs, io.outputs, 1e-4);
  EXPECT_TRUE(r.passed);
  EXPECT_EQ(r.filled_inputs.defaulted,
            (std::map<std::string, std::string>{{"token_type_ids", "zeros"}}));
  EXPECT_TRUE(r.filled_inputs.generated.empty());
}

TEST(CompareTensorsTest, ReportsShapeMismatch) {
  const auto a = core::Tensor::Zeros(core::DType::kFloat32, {2, 3});
  const auto b = core::Tensor::Zeros(core::DType::kFloat32, {3, 2});
  EXPECT_FALSE(CompareTensors("x", a, b, 1e-4).shape_matches);
  EXPECT_FALSE(CompareTensors("x", a, b, 1e-4).within_tolerance);
}

}  // namespace verification_test
}  // namespace ipfs_accel::harness
