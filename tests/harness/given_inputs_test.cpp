// Tests for the inputs a user gives (given_inputs.h) and Hugging Face's defaults for those left
// out (input_defaults.h).

#include "ipfs_accel/harness/given_inputs.h"

#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/input_defaults.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::harness {
namespace given_inputs_test {

using core::DType;
using core::ErrorKind;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const runtime::TensorSpec kIds{"input_ids", DType::kInt64, {-1, -1}, {"batch", "sequence"}};

TEST(GivenInputs, ParsesNameAndNumbers) {
  const GivenInput g = ParseGivenInput("sr=16000", "--input");
  EXPECT_EQ(g.name, "sr");
  EXPECT_THAT(g.values, ElementsAre(16000.0));
  EXPECT_THAT(ParseGivenInput("x=1.5,-2", "--input").values, ElementsAre(1.5, -2.0));
}

TEST(GivenInputs, RefusesWhatIsNotNameEqualsNumbers) {
  for (const char* bad : {"sr", "=1", "sr=", "sr=1,,2", "sr=1x", "sr=nan"}) {
    const auto e = testing::CatchError([&] { ParseGivenInput(bad, "--input"); });
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << bad;
    EXPECT_THAT(e.what(), HasSubstr("--input")) << bad;
  }
}

TEST(GivenInputs, FillTheShapeOrRepeatOneItemAlongTheBatch) {
  const GivenInput one_item{"input_ids", {101, 7592, 102}, "--input"};
  const core::Tensor t = ShapeGivenInput(one_item, kIds, {2, 3});
  EXPECT_EQ(t.dtype, DType::kInt64);
  EXPECT_THAT(t.values<int64_t>(), ElementsAre(101, 7592, 102, 101, 7592, 102));
  const GivenInput both{"input_ids", {1, 2, 3, 4, 5, 6}, "--input"};
  EXPECT_THAT(ShapeGivenInput(both, kIds, {2, 3}).values<int64_t>(), ElementsAre(1, 2, 3, 4, 5, 6));
  const runtime::TensorSpec sr{"sr", DType::kInt64, {}, {}};
  EXPECT_THAT(ShapeGivenInput({"sr", {16000}, "--input"}, sr, {}).values<int64_t>(),
              ElementsAre(16000));
}

TEST(GivenInputs, WrongCountNamesTheInputAndTheShapeItTakes) {
  const auto e = testing::CatchError([&] {
    ShapeGivenInput({"input_ids", {1, 2}, "--input"}, kIds, {2, 3});
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("input 'input_ids'"));
  EXPECT_THAT(e.what(), HasSubstr("[2,3]"));
  EXPECT_THAT(e.what(), HasSubstr("6 values, or 3 for one item"));
}

TEST(GivenInputs, FractionForAnIntegerInputIsRefused) {
  const auto e = testing::CatchError([&] {
    ShapeGivenInput({"input_ids", {1.5}, "--input"}, kIds, {1, 1});
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("integers"));
}

TEST(GivenInputs, UnknownNameListsTheModelsInputs) {
  std::map<std::string, core::Tensor> tensors;
  const auto e = testing::CatchError([&] {
    ApplyGivenInputs({{"nope", {1}, "--input"}}, {kIds}, {{"input_ids", {1, 1}}}, tensors);
  });
  EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  EXPECT_THAT(e.what(), HasSubstr("'nope'"));
  EXPECT_THAT(e.what(), HasSubstr("inputs: input_ids"));
}

TEST(GivenInputs, LoadsAFilesTensorsByNameOrAsIoInputs) {
  testing::TempDir tmp;
  const std::string path = tmp.File("inputs.safetensors");
  core::Tensor sr = core::Tensor::Zeros(DType::kInt64, {1});
  sr.values<int64_t>()[0] = 16000;
  models::WriteSafetensors(path, {{"input.sr", sr},
                                  {"state", core::Tensor::Zeros(DType::kFloat32, {2})},
                                  {"output.y", core::Tensor::Zeros(DType::kFloat32, {1})}});
  const auto given = LoadGivenInputs(path);
  ASSERT_EQ(given.size(), 2u);  // output.* is not an input
  EXPECT_EQ(given[0].name, "sr");
  EXPECT_THAT(given[0].values, ElementsAre(16000.0));
  EXPECT_EQ(given[1].name, "state");
  EXPECT_EQ(given[1].source, path);
}

// A VAD-like graph: audio x [1, 16000] and its sample rate sr [1]; it runs only when sr is
// 16000 (it reshapes x to [1, sr]), as a VAD model takes another branch for another rate.
std::string WriteSampleRateGraph(const testing::TempDir& tmp) {
  onnx::ModelProto proto;
  proto.set_ir_version(8);
  proto.add_opset_import()->set_version(17);
  onnx::GraphProto* g = proto.mutable_graph();
  g->set_name("sample_rate");
  auto io = [](onnx::ValueInfoProto* v, const std::string& name, int32_t type,
               std::vector<int64_t> dims) {
    v->set_name(name);
    auto* t = v->mutable_type()->mutable_tensor_type();
    t->set_elem_type(type);
    for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
  };
  io(g->add_input(), "x", onnx::TensorProto::FLOAT, {1, 16000});
  io(g->add_input(), "sr", onnx::TensorProto::INT64, {1});
  io(g->add_output(), "y", onnx::TensorProto::FLOAT, {1, 16000});
  onnx::TensorProto* one = g->add_initializer();
  one->set_name("one");
  one->set_data_type(onnx::TensorProto::INT64);
  one->add_dims(1);
  one->add_int64_data(1);
  auto node = [&](const std::string& op, std::vector<std::string> in, const std::string& out) {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    for (const auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  onnx::AttributeProto* axis = node("Concat", {"one", "sr"}, "shape")->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(0);
  onnx::AttributeProto* allow_zero = node("Reshape", {"x", "shape"}, "y")->add_attribute();
  allow_zero->set_name("allowzero");  // sr 0 is a size of 0, not "keep x's dimension"
  allow_zero->set_type(onnx::AttributeProto::INT);
  allow_zero->set_i(1);
  const std::string path = tmp.File("sample_rate.onnx");
  std::ofstream(path, std::ios::binary) << proto.SerializeAsString();
  return path;
}

TEST(GivenInputs, BenchmarkRunsOnTheGivenSampleRateWhereAGeneratedOneFails) {
  testing::TempDir tmp;
  const models::Model model = models::LoadModel(WriteSampleRateGraph(tmp));
  BenchmarkConfig config;
  config.warmup = 0;
  config.iterations = 2;
  config.min_time_s = 0;
  config.early_stopping = false;
  EXPECT_THROW(RunBenchmark(model, config), core::Error);  // sr generated: 0
  config.given_inputs = {ParseGivenInput("sr=16000", "--input")};
  EXPECT_EQ(RunBenchmark(model, config).samples_ms.size(), 2u);
  EXPECT_NO_THROW(CheckShapes(model, {config.shape}, config.given_inputs));
  const auto e = testing::CatchError(
      [&] { CheckShapes(model, {config.shape}, {ParseGivenInput("sr=1,2", "--input")}); });
  EXPECT_THAT(e.what(), HasSubstr("input 'sr', which takes shape [1]"));
}

TEST(HfDefaults, ComeFromOneTableByInputName) {
  EXPECT_EQ(HfDefaultFor("token_type_ids"), HfDefault::kZeros);
  EXPECT_EQ(HfDefaultFor("attention_mask"), HfDefault::kOnes);
  EXPECT_EQ(HfDefaultFor("position_ids"), HfDefault::kPositions);
  EXPECT_EQ(HfDefaultFor("past_key_values.3.value"), HfDefault::kEmptyCache);
  EXPECT_EQ(HfDefaultFor("input_ids"), std::nullopt);  // required in HF: generated here
  EXPECT_EQ(HfDefaultFor("pixel_values"), std::nullopt);
}

TEST(HfDefaults, PositionsCountAlongTheLastAxisInEveryRow) {
  const core::Tensor p = MakeHfDefault(HfDefault::kPositions, DType::kInt64, {2, 3});
  EXPECT_THAT(p.values<int64_t>(), ElementsAre(0, 1, 2, 0, 1, 2));
  EXPECT_THAT(MakeHfDefault(HfDefault::kOnes, DType::kInt32, {2}).values<int32_t>(),
              ElementsAre(1, 1));
}

}  // namespace given_inputs_test
}  // namespace ipfs_accel::harness
