// The float64 rewrite of window ops (support/window_ops_float64.h) that the gradient checks run
// through: each rewritten one-node graph gives ONNX Runtime's float32 kernel's output.

#include <random>

#include <gtest/gtest.h>

#include "models/graph_builder.h"
#include "support/window_ops_float64.h"

namespace ipfs_accel::models {
namespace window_ops_float64_test {

struct WindowOpCase {
  const char* name;
  const char* op;
  std::vector<core::Shape> inputs;
  std::vector<Attr> attrs;
};

const WindowOpCase kWindowOpCases[] = {
    {"ConvGroupedDilatedPaddedWithBias",
     "Conv",
     {{2, 4, 7, 6}, {6, 2, 3, 3}, {6}},
     {{"group", int64_t{2}},
      {"dilations", std::vector<int64_t>{2, 1}},
      {"pads", std::vector<int64_t>{2, 1, 1, 0}}}},
    {"ConvStrided1d", "Conv", {{2, 3, 11}, {4, 3, 3}}, {{"strides", std::vector<int64_t>{3}}}},
    {"ConvTransposeGroupedWithOutputPadding",
     "ConvTranspose",
     {{1, 4, 3, 4}, {4, 3, 3, 2}, {6}},
     {{"group", int64_t{2}},
      {"strides", std::vector<int64_t>{2, 3}},
      {"pads", std::vector<int64_t>{1, 0, 0, 1}},
      {"output_padding", std::vector<int64_t>{1, 2}}}},
    {"ConvTransposeDilated",
     "ConvTranspose",
     {{2, 2, 5}, {2, 3, 3}},
     {{"dilations", std::vector<int64_t>{2}}, {"pads", std::vector<int64_t>{1, 2}}}},
    {"AveragePoolExcludingPads",
     "AveragePool",
     {{1, 2, 5, 4}},
     {{"kernel_shape", std::vector<int64_t>{3, 2}},
      {"strides", std::vector<int64_t>{2, 1}},
      {"pads", std::vector<int64_t>{1, 1, 1, 0}}}},
    {"AveragePoolIncludingPads",
     "AveragePool",
     {{1, 2, 5, 5}},
     {{"kernel_shape", std::vector<int64_t>{3, 3}},
      {"strides", std::vector<int64_t>{2, 2}},
      {"pads", std::vector<int64_t>{1, 1, 1, 1}},
      {"count_include_pad", int64_t{1}}}},
    {"GlobalAveragePool", "GlobalAveragePool", {{2, 3, 4, 5}}, {}},
    {"InstanceNormalization", "InstanceNormalization", {{2, 3, 7}, {3}, {3}}, {}},
};

class WindowOpRewrite : public ::testing::TestWithParam<WindowOpCase> {};

TEST_P(WindowOpRewrite, InFloat64EqualsOnnxRuntimesFloat32Kernel) {
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  GraphBuilder g(m.mutable_graph(), nullptr);
  std::mt19937_64 rng(11);
  std::map<std::string, core::Tensor> feeds;
  std::vector<std::string> names;
  for (size_t i = 0; i < GetParam().inputs.size(); ++i) {
    const core::Shape& shape = GetParam().inputs[i];
    names.push_back("in" + std::to_string(i));
    g.Input(names.back(), onnx::TensorProto::FLOAT, std::vector<Dim>(shape.begin(), shape.end()));
    const core::Tensor values = testing::RandomDoubles(shape, rng);
    feeds[names.back()] =
        core::Tensor::FromDoubles(core::DType::kFloat32, shape, values.ToDoubles());
  }
  g.Node(GetParam().op, names, GetParam().attrs, "y");
  g.Output("y", onnx::TensorProto::FLOAT, {});
  Model model;
  model.info.name = GetParam().name;
  ASSERT_TRUE(m.SerializeToString(&model.onnx_bytes));
  const core::Tensor expected = runtime::OpenSession(model, {})->Run(feeds).at("y");
  Model lowered = model;
  lowered.onnx_bytes = testing::LowerWindowOpsToFloat64(model.onnx_bytes, feeds);
  const core::Tensor got =
      runtime::OpenSession(lowered, {})->Run(testing::FeedsToFloat64(feeds)).at("y");
  EXPECT_EQ(got.dtype, core::DType::kFloat64);
  ASSERT_EQ(got.shape, expected.shape);
  const auto a = got.ToDoubles(), b = expected.ToDoubles();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << "element " << i;
}

INSTANTIATE_TEST_SUITE_P(EachOperator, WindowOpRewrite, ::testing::ValuesIn(kWindowOpCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace window_ops_float64_test
}  // namespace ipfs_accel::models
