// Precision variants against the fp32 graph on the same inputs: the quantized
// graphs run, really are quantized, and stay close to fp32.

#include "ipfs_accel/models/precision.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/catch_error.h"

namespace ipfs_accel::harness {
namespace precision_test {

const std::string kBert = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/bert";

std::map<std::string, core::Tensor> RunOnce(const models::Model& m,
                                            const std::map<std::string, core::Tensor>& in) {
  return runtime::OpenOnnxRuntimeSession(m, {})->Run(in);
}

TEST(PrecisionTest, QuantizedBertStaysCloseToFp32) {
  const models::Model fp32 = models::LoadHfFolder(kBert);
  const ReferenceIo io = LoadReferenceIo(kBert + "/io.safetensors");
  const auto reference = RunOnce(fp32, io.inputs);
  // 2 layers x (q, k, v, attention output, intermediate, output) + pooler.
  const int kLinears = 2 * 6 + 1;
  for (auto [precision, tolerance] :
       {std::pair{models::Precision::kInt8, 0.05}, std::pair{models::Precision::kInt4, 0.25}}) {
    const models::Model q = models::ConvertPrecision(fp32, precision);
    EXPECT_EQ(models::CountQuantizedMatMuls(q), kLinears) << models::PrecisionName(precision);
    EXPECT_LT(q.onnx_bytes.size(), fp32.onnx_bytes.size());
    EXPECT_EQ(q.info.parameters, fp32.info.parameters);
    const auto out = RunOnce(q, io.inputs);
    for (const auto& [name, expected] : reference) {
      const OutputComparison c = CompareTensors(name, expected, out.at(name), tolerance);
      EXPECT_TRUE(c.shape_matches) << name;
      EXPECT_GT(c.max_abs_error, 0.0) << name << ": not quantized at all?";
      EXPECT_LT(c.max_abs_error, tolerance) << name << " at " << models::PrecisionName(precision);
    }
  }
}

TEST(PrecisionTest, Fp32IsUnchangedAndNamesAreChecked) {
  const models::Model m = models::LoadModel("bert-tiny");
  EXPECT_EQ(models::ConvertPrecision(m, models::Precision::kFp32).onnx_bytes, m.onnx_bytes);
  EXPECT_EQ(models::ParsePrecision("int4"), models::Precision::kInt4);
  EXPECT_EQ(models::ParsePrecision("fp16"), models::Precision::kFp16);
  EXPECT_EQ(testing::CatchError([] { models::ParsePrecision("int3"); }).kind(),
            core::ErrorKind::kInvalidArgument);
}

// fp16 keeps the graph's fp32 inputs and outputs, computes in half precision with fp32
// islands, and stays close to fp32 on an encoder and a decoder (with its KV cache), plain and
// fused (whose com.microsoft ops have no type from ONNX's shape inference and stay fp32).
TEST(PrecisionTest, Fp16StaysCloseToFp32) {
  for (const std::string name : {"bert", "llama"})
    for (const bool fused : {false, true}) {
      SCOPED_TRACE(name + (fused ? " fused" : " plain"));
      const std::string dir = fmt::format("{}/fixtures/hf-tiny/{}", IPFS_ACCEL_SHARED_DIR, name);
      const models::Model fp32 = models::LoadHfFolder(dir, {.fused = fused});
      const models::Model fp16 =
          models::LoadHfFolder(dir, {.fused = fused, .precision = models::Precision::kFp16});
      EXPECT_EQ(fp16.precision, models::Precision::kFp16);
      EXPECT_EQ(fp16.info.parameters, fp32.info.parameters);
      EXPECT_LT(fp16.onnx_bytes.size(), fp32.onnx_bytes.size() * 3 / 4) << "weights not halved";
      const ReferenceIo io = LoadReferenceIo(dir + "/io.safetensors");
      const VerificationResult r = Verify(fp16, {}, io.inputs, io.outputs, 0.05);
      for (const auto& o : r.outputs) {
        EXPECT_TRUE(o.shape_matches) << name << " " << o.name;
        EXPECT_GT(o.max_abs_error, 0.0) << name << " " << o.name << ": not fp16 at all?";
        EXPECT_LT(o.max_abs_error, 0.05) << name << " " << o.name;
      }
    }
}

}  // namespace precision_test
}  // namespace ipfs_accel::harness
