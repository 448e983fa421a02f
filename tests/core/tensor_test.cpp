#include "ipfs_accel/core/tensor.h"

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/float16.h"
#include "support/catch_error.h"

namespace ipfs_accel::core {
namespace tensor_test {

TEST(TensorTest, ZerosHasShapeAndBytes) {
  Tensor t = Tensor::Zeros(DType::kInt64, {2, 3});
  EXPECT_EQ(t.element_count(), 6);
  EXPECT_EQ(t.bytes.size(), 48u);
  EXPECT_EQ(ShapeToString(t.shape), "[2,3]");
}

TEST(TensorTest, TypedViewRejectsWrongType) {
  Tensor t = Tensor::Zeros(DType::kFloat32, {4});
  EXPECT_EQ(t.values<float>().size(), 4u);
  EXPECT_THROW(t.values<int64_t>(), Error);
}

TEST(TensorTest, SafetensorsCodesRoundTrip) {
  EXPECT_EQ(DTypeFromSafetensors("F32"), DType::kFloat32);
  EXPECT_EQ(DTypeFromSafetensors("I64"), DType::kInt64);
  EXPECT_STREQ(DTypeToSafetensors(DType::kBFloat16), "BF16");
  EXPECT_THROW(DTypeFromSafetensors("F8_E4M3"), Error);
}

TEST(Float16Test, KnownBitPatterns) {
  EXPECT_EQ(HalfToFloat(0x3c00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xc000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x0001), 5.9604644775390625e-08f);  // smallest subnormal
  EXPECT_EQ(BFloat16ToFloat(0x3f80), 1.0f);
}

TEST(TensorTest, ToDoublesConvertsEachType) {
  Tensor t = Tensor::Zeros(DType::kFloat16, {2});
  t.values<uint16_t>()[0] = 0x3c00;
  t.values<uint16_t>()[1] = 0xc000;
  EXPECT_EQ(t.ToDoubles(), (std::vector<double>{1.0, -2.0}));
}

}  // namespace tensor_test
}  // namespace ipfs_accel::core

namespace ipfs_accel::core {
namespace tensor_test {

TEST(Float16Test, FloatToHalfRoundsAndSaturates) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(FloatToHalf(-2.0f), 0xc000);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToHalf(1e9f), 0x7bff);  // saturates, no infinity
  EXPECT_EQ(FloatToHalf(-3.4e38f), 0xfbff);
  EXPECT_EQ(FloatToHalf(5.9604644775390625e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(FloatToHalf(0.0f), 0x0000);
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to even (1.0).
  EXPECT_EQ(FloatToHalf(1.0f + 0x1.0p-11f), 0x3c00);
  EXPECT_EQ(FloatToHalf(1.0f + 0x1.8p-11f), 0x3c01);
  for (uint16_t h : {0x3555, 0x0400, 0x03ff, 0x7bfe, 0x8001, 0xd000})
    EXPECT_EQ(FloatToHalf(HalfToFloat(h)), h) << h;
}

}  // namespace tensor_test
}  // namespace ipfs_accel::core

namespace ipfs_accel::core {
namespace tensor_test {

TEST(TensorLimits, ShapesThatOverflowOrAreNegativeAreRefusedBeforeAllocation) {
  const Shape overflow{int64_t{1} << 40, int64_t{1} << 40};
  EXPECT_EQ(
      ipfs_accel::testing::CatchError([&] { Tensor::Zeros(DType::kFloat32, overflow); }).kind(),
      ErrorKind::kInvalidArgument);
  EXPECT_EQ(ipfs_accel::testing::CatchError([&] {
              Tensor::Zeros(DType::kFloat32, {4, -1});
            }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(ipfs_accel::testing::CatchError([&] { ElementCount(overflow); }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(ElementCount({3, 0, 5}), 0);
}

TEST(TensorLimits, ATensorNoMachineHoldsIsUnsupportedNotACrash) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer ends the process on an allocation it cannot make";
#endif
  // 2^50 bytes: far past any machine's memory, so the allocation itself fails.
  const Error e =
      ipfs_accel::testing::CatchError([&] { Tensor::Zeros(DType::kFloat32, {int64_t{1} << 48}); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("does not fit in this machine's memory"), std::string::npos);
}

}  // namespace tensor_test
}  // namespace ipfs_accel::core
