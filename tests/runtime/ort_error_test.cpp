// ONNX Runtime's messages as users see them: one line, no source locations or signatures.

#include "runtime/ort_error.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ipfs_accel::runtime {
namespace ort_error_test {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(OrtErrorText, ANodeFailureNamesTheNodeWithoutTheCppSignatureOrTheTrailingNewline) {
  const std::string ort =
      "Non-zero status code returned while running Reshape node. Name:'' Status Message: "
      "/onnxruntime_src/onnxruntime/core/providers/cpu/tensor/reshape_helper.h:91 "
      "onnxruntime::ReshapeHelper::ReshapeHelper(const onnxruntime::TensorShape&, "
      "onnxruntime::TensorShapeVector&, bool) input_shape_size == requested_shape_size was "
      "false. The input tensor cannot be reshaped to the requested shape. Input "
      "shape:{2,3}, requested shape:{7}\n";
  EXPECT_EQ(OrtErrorText(ort),
            "Reshape node: input_shape_size == requested_shape_size was false. The input tensor "
            "cannot be reshaped to the requested shape. Input shape:{2,3}, requested shape:{7}");
}

TEST(OrtErrorText, ANamedNodeAndAConstSignatureWithNestedParentheses) {
  const std::string ort =
      "Non-zero status code returned while running Gather node. Name:'/embeddings/Gather' "
      "Status Message: /onnxruntime_src/onnxruntime/core/providers/cpu/tensor/gather.cc:130 "
      "auto onnxruntime::GatherCopyData(const onnxruntime::Tensor*, const uint8_t*, uint8_t*, "
      "bool, size_t, size_t, size_t, int64_t, int64_t, int64_t, int64_t, "
      "onnxruntime::concurrency::ThreadPool*)::(anonymous class)::operator()(ptrdiff_t, "
      "ptrdiff_t) const [with Tin = long int] indices element out of data bounds, idx=9 must "
      "be within the inclusive range [-2,1]";
  const std::string text = OrtErrorText(ort);
  EXPECT_EQ(text.rfind("Gather node '/embeddings/Gather': ", 0), 0u) << text;
  EXPECT_THAT(text, HasSubstr("indices element out of data bounds, idx=9"));
  EXPECT_THAT(text, Not(HasSubstr("onnxruntime_src")));
  EXPECT_THAT(text, Not(HasSubstr("GatherCopyData")));
}

TEST(OrtErrorText, OtherMessagesBecomeOneLine) {
  EXPECT_EQ(OrtErrorText("Load model from /x.onnx failed:\n\nInvalid model.\n"),
            "Load model from /x.onnx failed: Invalid model.");
}

}  // namespace ort_error_test
}  // namespace ipfs_accel::runtime
