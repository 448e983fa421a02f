// Tests for harness::ResolveShapes and harness::GenerateInputs, with input specs
// written by hand the way the runtime reports them (symbolic dimensions are -1
// with their name in dim_names).

#include "ipfs_accel/harness/input_generator.h"
#include "support/catch_error.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/float16.h"

namespace ipfs_accel::harness {
namespace input_generator_test {

using core::DType;
using core::Error;
using core::ErrorKind;
using core::Shape;
using models::DimRoles;
using models::InputHint;
using runtime::TensorSpec;
using ::testing::HasSubstr;

using ipfs_accel::testing::CatchError;

// BERT's inputs as ONNX Runtime reports them.
std::vector<TensorSpec> BertInputs() {
  std::vector<TensorSpec> specs;
  for (const char* name : {"input_ids", "attention_mask", "token_type_ids"})
    specs.push_back({name, DType::kInt64, {-1, -1}, {"batch", "sequence"}});
  return specs;
}

const DimRoles kBertRoles = {.batch = "batch", .sequence = "sequence", .max_sequence = 512};

std::map<std::string, InputHint> BertHints() {
  return {{"input_ids", {InputHint::Kind::kIndexRange, 0, 30522}},
          {"token_type_ids", {InputHint::Kind::kIndexRange, 0, 2}},
          {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
}

ShapeRequest Request(int64_t batch, int64_t seq,
                     std::map<std::string, std::vector<int64_t>> overrides = {}) {
  ShapeRequest r;
  r.batch_size = batch;
  r.seq_len = seq;
  r.overrides = std::move(overrides);
  return r;
}

TEST(ResolveShapesTest, BatchAndSequenceRoles) {
  const auto shapes = ResolveShapes(BertInputs(), kBertRoles, Request(2, 16));
  ASSERT_EQ(shapes.size(), 3u);
  for (const auto& [name, shape] : shapes) EXPECT_EQ(shape, (Shape{2, 16})) << name;
}

TEST(ResolveShapesTest, RolesAreMatchedByNameNotPosition) {
  // A model whose inputs are [sequence, batch].
  const std::vector<TensorSpec> specs = {{"ids", DType::kInt64, {-1, -1}, {"sequence", "batch"}}};
  const auto shapes = ResolveShapes(specs, kBertRoles, Request(3, 10));
  EXPECT_EQ(shapes.at("ids"), (Shape{10, 3}));
}

TEST(ResolveShapesTest, FixedDimensionsAreKept) {
  const std::vector<TensorSpec> specs = {
      {"pixel_values", DType::kFloat32, {-1, 3, 224, 224}, {"batch", "", "", ""}}};
  const auto shapes = ResolveShapes(specs, kBertRoles, Request(4, 16));
  EXPECT_EQ(shapes.at("pixel_values"), (Shape{4, 3, 224, 224}));
}

TEST(ResolveShapesTest, WholeInputOverride) {
  const auto shapes =
      ResolveShapes(BertInputs(), kBertRoles, Request(2, 16, {{"input_ids", {3, 7}}}));
  EXPECT_EQ(shapes.at("input_ids"), (Shape{3, 7}));
  // Only the named input changes.
  EXPECT_EQ(shapes.at("attention_mask"), (Shape{2, 16}));
  EXPECT_EQ(shapes.at("token_type_ids"), (Shape{2, 16}));
}

TEST(ResolveShapesTest, DimensionOverrideAppliesEverywhere) {
  const auto shapes = ResolveShapes(BertInputs(), kBertRoles, Request(2, 16, {{"sequence", {32}}}));
  for (const auto& [name, shape] : shapes) EXPECT_EQ(shape, (Shape{2, 32})) << name;
  const auto batch = ResolveShapes(BertInputs(), kBertRoles, Request(2, 16, {{"batch", {5}}}));
  for (const auto& [name, shape] : batch) EXPECT_EQ(shape, (Shape{5, 16})) << name;
}

TEST(ResolveShapesTest, WholeInputOverrideWinsOverDimensionOverride) {
  const auto shapes = ResolveShapes(BertInputs(), kBertRoles,
                                    Request(2, 16, {{"sequence", {8}}, {"input_ids", {1, 4}}}));
  EXPECT_EQ(shapes.at("input_ids"), (Shape{1, 4}));
  EXPECT_EQ(shapes.at("attention_mask"), (Shape{2, 8}));
}

TEST(ResolveShapesTest, DimensionOverrideTakesOneSize) {
  const Error e = CatchError([] {
    ResolveShapes(BertInputs(), kBertRoles, Request(2, 16, {{"sequence", {8, 9}}}));
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("sequence"));
}

TEST(ResolveShapesTest, UnknownOverrideNameIsInvalid) {
  const Error e = CatchError([] {
    ResolveShapes(BertInputs(), kBertRoles, Request(2, 16, {{"pixel_values", {1}}}));
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("pixel_values"));
  EXPECT_THAT(e.what(), HasSubstr("input_ids"));  // lists what there is
}

TEST(ResolveShapesTest, WrongRankIsInvalid) {
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{1, 2, 3}, {4}}) {
    const Error e = CatchError([&] {
      ResolveShapes(BertInputs(), kBertRoles, Request(2, 16, {{"input_ids", dims}}));
    });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("input_ids"));
    EXPECT_THAT(e.what(), HasSubstr("rank 2"));
  }
}

TEST(ResolveShapesTest, ContradictingAFixedDimensionIsInvalid) {
  const std::vector<TensorSpec> specs = {
      {"pixel_values", DType::kFloat32, {-1, 3, 224, 224}, {"batch", "", "", ""}}};
  const Error e = CatchError([&] {
    ResolveShapes(specs, kBertRoles, Request(1, 16, {{"pixel_values", {1, 4, 224, 224}}}));
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("pixel_values"));
  EXPECT_THAT(e.what(), HasSubstr("axis 1"));
  // Giving the fixed value itself is fine.
  EXPECT_EQ(ResolveShapes(specs, kBertRoles, Request(1, 16, {{"pixel_values", {6, 3, 224, 224}}}))
                .at("pixel_values"),
            (Shape{6, 3, 224, 224}));
}

TEST(ResolveShapesTest, SequenceLongerThanPositionsIsInvalid) {
  EXPECT_NO_THROW(ResolveShapes(BertInputs(), kBertRoles, Request(1, 512)));
  ShapeRequest asked = Request(1, 513);
  asked.seq_len_explicit = true;
  for (const ShapeRequest& r :
       {asked, Request(1, 16, {{"sequence", {1024}}}), Request(1, 16, {{"input_ids", {1, 600}}})}) {
    const Error e = CatchError([&] { ResolveShapes(BertInputs(), kBertRoles, r); });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("512"));
  }
  // A default length nobody asked for is cut to the model's positions instead.
  EXPECT_EQ(ResolveShapes(BertInputs(), kBertRoles, Request(1, 513)).at("input_ids"),
            (Shape{1, 512}));
  // Without a known bound any length goes.
  const DimRoles unbounded = {.batch = "batch", .sequence = "sequence"};
  EXPECT_EQ(ResolveShapes(BertInputs(), unbounded, Request(1, 4096)).at("input_ids"),
            (Shape{1, 4096}));
}

TEST(ResolveShapesTest, UnresolvableSymbolicDimensionSuggestsShape) {
  const std::vector<TensorSpec> specs = {
      {"features", DType::kFloat32, {-1, -1}, {"batch", "width"}}};
  const Error e = CatchError([&] { ResolveShapes(specs, kBertRoles, Request(2, 16)); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("--shape"));
  EXPECT_THAT(e.what(), HasSubstr("width"));
  EXPECT_THAT(e.what(), HasSubstr("features"));
  // Following the advice works.
  EXPECT_EQ(ResolveShapes(specs, kBertRoles, Request(2, 16, {{"width", {80}}})).at("features"),
            (Shape{2, 80}));
}

TEST(ResolveShapesTest, UnnamedSymbolicDimensionSuggestsShape) {
  const std::vector<TensorSpec> specs = {{"x", DType::kFloat32, {-1, -1}, {"batch", ""}}};
  const Error e = CatchError([&] { ResolveShapes(specs, kBertRoles, Request(2, 16)); });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("--shape x="));
}

TEST(ResolveShapesTest, GuessesWithoutRoles) {
  // No roles from the model: axis 0 is the batch, names like a sequence are the sequence.
  const DimRoles none;
  const std::vector<TensorSpec> specs = {{"a", DType::kInt64, {-1, -1}, {"N", "seq_len"}},
                                         {"b", DType::kInt64, {-1, -1}, {"unk__1", "num_tokens"}},
                                         {"c", DType::kFloat32, {-1, 8}, {"", ""}}};
  const auto shapes = ResolveShapes(specs, none, Request(3, 20));
  EXPECT_EQ(shapes.at("a"), (Shape{3, 20}));
  EXPECT_EQ(shapes.at("b"), (Shape{3, 20}));
  EXPECT_EQ(shapes.at("c"), (Shape{3, 8}));
}

TEST(ResolveShapesTest, NonPositiveSizesAreInvalid) {
  EXPECT_EQ(CatchError([] { ResolveShapes(BertInputs(), kBertRoles, Request(0, 16)); }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(CatchError([] { ResolveShapes(BertInputs(), kBertRoles, Request(1, -1)); }).kind(),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(CatchError([] {
              ResolveShapes(BertInputs(), kBertRoles, Request(1, 16, {{"sequence", {0}}}));
            }).kind(),
            ErrorKind::kInvalidArgument);
}

TEST(GenerateInputsTest, TokenIdsInRangeAndMasksOfOnes) {
  const auto specs = BertInputs();
  const auto shapes = ResolveShapes(specs, kBertRoles, Request(4, 128));
  const auto inputs = GenerateInputs(specs, shapes, BertHints(), 42);
  ASSERT_EQ(inputs.size(), 3u);
  for (const auto& [name, t] : inputs) {
    EXPECT_EQ(t.dtype, DType::kInt64) << name;
    EXPECT_EQ(t.shape, (Shape{4, 128})) << name;
  }
  std::set<int64_t> ids, types;
  for (int64_t x : inputs.at("input_ids").values<int64_t>()) {
    ASSERT_GE(x, 0);
    ASSERT_LT(x, 30522);
    ids.insert(x);
  }
  EXPECT_GT(ids.size(), 400u) << "512 draws from 30522 should be mostly distinct";
  for (int64_t x : inputs.at("token_type_ids").values<int64_t>()) {
    ASSERT_TRUE(x == 0 || x == 1) << x;
    types.insert(x);
  }
  EXPECT_EQ(types.size(), 2u);
  for (int64_t x : inputs.at("attention_mask").values<int64_t>()) ASSERT_EQ(x, 1);
}

TEST(GenerateInputsTest, IndexRangeWithNonZeroLowOnNarrowTypes) {
  const std::vector<TensorSpec> specs = {{"a", DType::kInt32, {1000}, {""}},
                                         {"b", DType::kInt8, {1000}, {""}},
                                         {"c", DType::kInt16, {1000}, {""}}};
  const std::map<std::string, Shape> shapes = {{"a", {1000}}, {"b", {1000}}, {"c", {1000}}};
  const std::map<std::string, InputHint> hints = {{"a", {InputHint::Kind::kIndexRange, 5, 8}},
                                                  {"b", {InputHint::Kind::kIndexRange, -3, 3}},
                                                  {"c", {InputHint::Kind::kIndexRange, 100, 101}}};
  const auto inputs = GenerateInputs(specs, shapes, hints, 1);
  std::set<int32_t> a;
  for (int32_t x : inputs.at("a").values<int32_t>()) a.insert(x);
  EXPECT_EQ(a, (std::set<int32_t>{5, 6, 7}));
  std::set<int8_t> b;
  for (int8_t x : inputs.at("b").values<int8_t>()) b.insert(x);
  EXPECT_EQ(b, (std::set<int8_t>{-3, -2, -1, 0, 1, 2}));
  for (int16_t x : inputs.at("c").values<int16_t>()) ASSERT_EQ(x, 100);
}

TEST(GenerateInputsTest, UnhintedIntegersAreZeros) {
  const std::vector<TensorSpec> specs = {{"z", DType::kInt64, {2, 3}, {"", ""}},
                                         {"k", DType::kInt64, {2, 3}, {"", ""}},
                                         {"flag", DType::kBool, {4}, {""}},
                                         {"m", DType::kUInt8, {4}, {""}}};
  const std::map<std::string, Shape> shapes = {
      {"z", {2, 3}}, {"k", {2, 3}}, {"flag", {4}}, {"m", {4}}};
  const std::map<std::string, InputHint> hints = {{"k", {InputHint::Kind::kZeros, 0, 0}},
                                                  {"m", {InputHint::Kind::kOnes, 0, 0}}};
  const auto inputs = GenerateInputs(specs, shapes, hints, 9);
  for (int64_t x : inputs.at("z").values<int64_t>()) EXPECT_EQ(x, 0);
  for (int64_t x : inputs.at("k").values<int64_t>()) EXPECT_EQ(x, 0);
  EXPECT_EQ(inputs.at("flag").dtype, DType::kBool);
  for (std::byte x : inputs.at("flag").bytes) EXPECT_EQ(x, std::byte{0});
  for (uint8_t x : inputs.at("m").values<uint8_t>()) EXPECT_EQ(x, 1);
}

TEST(GenerateInputsTest, SameSeedSameTensorsOtherSeedOthers) {
  const auto specs = BertInputs();
  const auto shapes = ResolveShapes(specs, kBertRoles, Request(2, 64));
  const auto a = GenerateInputs(specs, shapes, BertHints(), 7);
  const auto b = GenerateInputs(specs, shapes, BertHints(), 7);
  const auto c = GenerateInputs(specs, shapes, BertHints(), 8);
  for (const auto& [name, t] : a) {
    EXPECT_EQ(t.bytes, b.at(name).bytes) << name;
    EXPECT_EQ(t.shape, c.at(name).shape) << name;
  }
  EXPECT_NE(a.at("input_ids").bytes, c.at("input_ids").bytes);
  EXPECT_NE(a.at("token_type_ids").bytes, c.at("token_type_ids").bytes);
  EXPECT_EQ(a.at("attention_mask").bytes, c.at("attention_mask").bytes);  // ones either way
}

TEST(GenerateInputsTest, FloatInputsAreStandardNormal) {
  const std::vector<TensorSpec> specs = {{"x", DType::kFloat32, {-1, 100}, {"batch", ""}},
                                         {"y", DType::kFloat64, {50, 100}, {"", ""}}};
  const std::map<std::string, Shape> shapes = {{"x", {100, 100}}, {"y", {50, 100}}};
  const auto inputs = GenerateInputs(specs, shapes, {}, 3);
  for (const auto& [name, t] : inputs) {
    SCOPED_TRACE(name);
    const std::vector<double> v = t.ToDoubles();
    double sum = 0, sum_sq = 0;
    for (double x : v) {
      ASSERT_TRUE(std::isfinite(x));
      sum += x;
      sum_sq += x * x;
    }
    const double n = static_cast<double>(v.size());
    const double mean = sum / n;
    EXPECT_NEAR(mean, 0.0, 0.05);
    EXPECT_NEAR(std::sqrt(sum_sq / n - mean * mean), 1.0, 0.05);
  }
  EXPECT_NE(GenerateInputs(specs, shapes, {}, 4).at("x").bytes, inputs.at("x").bytes);
}

TEST(GenerateInputsTest, HalfAndBFloat16AreExactSixtyFourths) {
  const std::vector<TensorSpec> specs = {{"h", DType::kFloat16, {4096}, {""}},
                                         {"b", DType::kBFloat16, {4096}, {""}}};
  const std::map<std::string, Shape> shapes = {{"h", {4096}}, {"b", {4096}}};
  const auto inputs = GenerateInputs(specs, shapes, {}, 11);
  for (const auto& [name, t] : inputs) {
    SCOPED_TRACE(name);
    std::set<int> grid;
    for (uint16_t bits : t.values<uint16_t>()) {
      const float f = name == "h" ? core::HalfToFloat(bits) : core::BFloat16ToFloat(bits);
      ASSERT_GE(f, -1.0f) << bits;
      ASSERT_LT(f, 1.0f) << bits;
      const float scaled = f * 64.0f;
      ASSERT_EQ(scaled, std::round(scaled)) << "not a multiple of 1/64: " << f;
      grid.insert(static_cast<int>(scaled));
    }
    EXPECT_EQ(grid.size(), 128u) << "4096 draws should hit all 128 grid points";
  }
}

}  // namespace input_generator_test
}  // namespace ipfs_accel::harness

namespace ipfs_accel::harness {
namespace input_generator_test {

TEST(ResolveShapesTest, ExplicitBatchAgainstFixedBatchIsAnError) {
  const std::vector<runtime::TensorSpec> specs = {
      {"pixels", core::DType::kFloat32, {2, 3, 8, 8}, {"", "", "", ""}}};
  ShapeRequest req;
  req.batch_size = 4;
  // Not asked for explicitly: the graph's own batch is run.
  EXPECT_EQ(ResolveShapes(specs, {}, req).at("pixels"), (core::Shape{2, 3, 8, 8}));
  req.batch_explicit = true;
  const core::Error e = ipfs_accel::testing::CatchError([&] { ResolveShapes(specs, {}, req); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(e.what()).find("fixed batch of 2"), std::string::npos) << e.what();
  req.batch_size = 2;
  EXPECT_NO_THROW(ResolveShapes(specs, {}, req));
}

TEST(EffectiveBatchAndSequenceTest, ReportsWhatTheShapesHold) {
  const std::vector<runtime::TensorSpec> bert = {
      {"input_ids", core::DType::kInt64, {-1, -1}, {"batch", "sequence"}}};
  const models::DimRoles roles = {.batch = "batch", .sequence = "sequence", .max_sequence = 512};
  const auto d = EffectiveBatchAndSequence(bert, roles, {{"input_ids", {3, 40}}});
  EXPECT_EQ(d.batch_size, 3);
  EXPECT_EQ(d.seq_len, 40);

  const std::vector<runtime::TensorSpec> conv = {
      {"x", core::DType::kFloat32, {2, 3, 7, 5}, {"", "", "", ""}}};
  const auto c = EffectiveBatchAndSequence(conv, {}, {{"x", {2, 3, 7, 5}}});
  EXPECT_EQ(c.batch_size, 2);
  EXPECT_EQ(c.seq_len, 0);

  const std::vector<runtime::TensorSpec> scalars = {{"start", core::DType::kFloat32, {}, {}}};
  const auto s = EffectiveBatchAndSequence(scalars, {}, {{"start", {}}});
  EXPECT_EQ(s.batch_size, 1);
  EXPECT_EQ(s.seq_len, 0);
}

}  // namespace input_generator_test
}  // namespace ipfs_accel::harness

namespace ipfs_accel::harness {
namespace input_generator_test {

TEST(ResolveShapesTest, DecoderSequenceFollowsItsOwnLength) {
  const std::vector<runtime::TensorSpec> specs = {
      {"input_ids", core::DType::kInt64, {-1, -1}, {"batch", "sequence"}},
      {"decoder_input_ids", core::DType::kInt64, {-1, -1}, {"batch", "decoder_sequence"}}};
  const models::DimRoles roles = {.batch = "batch",
                                  .sequence = "sequence",
                                  .decoder_sequence = "decoder_sequence",
                                  .max_decoder_sequence = 32};
  ShapeRequest req{.batch_size = 2, .seq_len = 20};
  EXPECT_EQ(ResolveShapes(specs, roles, req).at("decoder_input_ids"), (core::Shape{2, 20}));
  req.decoder_seq_len = 7;
  EXPECT_EQ(ResolveShapes(specs, roles, req).at("decoder_input_ids"), (core::Shape{2, 7}));
  req.decoder_seq_len = 33;
  EXPECT_THROW(ResolveShapes(specs, roles, req), core::Error);
}

}  // namespace input_generator_test
}  // namespace ipfs_accel::harness
