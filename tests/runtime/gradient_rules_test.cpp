// Each operator's gradient rule, alone, against central finite differences: a one-operator graph
// in float64 with loss = sum(y * r) for a fixed random r, run through ONNX Runtime; every
// element of every differentiated input is checked (the inputs are tiny). Erf, Softplus,
// HardSigmoid, HardSwish and Resize have no float64 kernel in ONNX Runtime's CPU build: they are
// checked in float32, with a step and a tolerance that float32 allows. Conv, ConvTranspose and the
// average pools have none either: their graphs are built in float32 and run in float64 with those
// nodes rewritten into operators that have float64 kernels (support/window_ops_float64.h, itself
// checked against the float32 kernels).

#include <functional>
#include <random>

#include <gtest/gtest.h>

#include "ipfs_accel/runtime/backend.h"
#include "models/gradient_emit.h"
#include "models/gradient_graph.h"
#include "models/graph_builder.h"
#include "support/gradient_check.h"
#include "support/window_ops_float64.h"

namespace ipfs_accel::models {
namespace gradient_rules_test {

using testing::RandomDoubles;

// A one-operator graph under construction and the values of its inputs.
class OpGraph {
 public:
  // lowered: built in float32, checked in float64 with its window ops rewritten.
  OpGraph(bool float32, bool lowered)
      : float32_(float32 || lowered), lowered_(lowered), g_(model_.mutable_graph(), nullptr) {
    model_.set_ir_version(onnx::IR_VERSION);
    auto* opset = model_.add_opset_import();
    opset->set_domain("");
    opset->set_version(kOpsetVersion);
  }
  GraphBuilder& g() { return g_; }

  // A float64 input in [lo, hi) that the check differentiates with respect to.
  // symbolic: declared with named dimensions, so rules see no sizes.
  std::string Var(const std::string& name, core::Shape shape, double lo = -1, double hi = 1,
                  bool symbolic = false) {
    std::vector<Dim> dims(shape.begin(), shape.end());
    if (symbolic)
      for (size_t i = 0; i < dims.size(); ++i) dims[i] = name + "_d" + std::to_string(i);
    g_.Input(name, Elem(), dims);
    feeds_[name] = Typed(RandomDoubles(shape, rng_, lo, hi));
    wrt_.push_back(name);
    return name;
  }
  std::string Const(core::Tensor t) { return g_.Initializer(g_.UniqueName("k"), t); }
  std::string Doubles(core::Shape shape, std::vector<double> v) {
    return Const(core::Tensor::FromDoubles(core::DType::kFloat64, std::move(shape), v));
  }
  std::string Int64s(core::Shape shape, std::vector<int64_t> v) {
    core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, std::move(shape));
    std::copy(v.begin(), v.end(), t.values<int64_t>().begin());
    return Const(t);
  }

  // loss = sum(y * r), gradients of every Var; then every element checked. `y_shape`: y's
  // shape where inference cannot give it (symbolic inputs).
  void Check(const std::string& y, core::Shape y_shape = {}) {
    core::Shape shape = y_shape;
    const auto info = InferTensorInfo(model_);
    if (shape.empty())
      for (const auto& d : info.at(y).dims) shape.push_back(d.value);
    const std::string r = Const(Typed(RandomDoubles(shape, rng_)));
    g_.Node("ReduceSum", {g_.Node("Mul", {y, r})}, {{"keepdims", int64_t{0}}}, "loss");
    g_.Output("loss", Elem(), {});
    const auto grads = AddGradients(model_, "loss", wrt_);
    for (const auto& x : wrt_) {
      g_.Node("Identity", {grads.at(x)}, {}, "grad." + x);
      std::vector<Dim> dims(feeds_[x].shape.begin(), feeds_[x].shape.end());
      g_.Output("grad." + x, Elem(), dims);
    }
    Model m;
    m.info.name = "gradient rule check";
    ASSERT_TRUE(model_.SerializeToString(&m.onnx_bytes));
    if (lowered_) {
      m.onnx_bytes = testing::LowerWindowOpsToFloat64(m.onnx_bytes, feeds_);
      feeds_ = testing::FeedsToFloat64(feeds_);
      float32_ = false;
    }
    auto session = runtime::OpenSession(m, {});
    const auto out = session->Run(feeds_);
    for (const auto& x : wrt_) CheckInput(*session, x, out.at("grad." + x).ToDoubles());
  }

 private:
  onnx::TensorProto::DataType Elem() const {
    return float32_ ? onnx::TensorProto::FLOAT : onnx::TensorProto::DOUBLE;
  }
  core::Tensor Typed(const core::Tensor& t) const {
    return float32_ ? core::Tensor::FromDoubles(core::DType::kFloat32, t.shape, t.ToDoubles()) : t;
  }
  void CheckInput(runtime::Session& s, const std::string& x, const std::vector<double>& grad) {
    const core::Shape& shape = feeds_[x].shape;
    for (size_t i = 0; i < grad.size(); ++i) {
      std::vector<double> unit(grad.size(), 0.0);
      unit[i] = 1;
      const double fd = testing::CentralDifference(
          s, feeds_, x, Typed(core::Tensor::FromDoubles(core::DType::kFloat64, shape, unit)),
          "loss", float32_ ? 1e-3 : 1e-5);
      EXPECT_NEAR(grad[i], fd, (float32_ ? 2e-3 : 1e-7) * std::max(1.0, std::fabs(fd)))
          << "d loss / d " << x << "[" << i << "]";
    }
  }

  bool float32_, lowered_;
  onnx::ModelProto model_;
  GraphBuilder g_;
  std::mt19937_64 rng_{7};
  std::map<std::string, core::Tensor> feeds_;
  std::vector<std::string> wrt_;
};

struct OpCase {
  const char* name;
  std::function<std::string(OpGraph&)> build;  // returns y
  bool float32 = false;
  bool lowered = false;  // window ops: built in float32, run in float64 rewritten
};

std::string Unary(OpGraph& t, const char* op, double lo = -1, double hi = 1) {
  return t.g().Node(op, {t.Var("x", {2, 3}, lo, hi)});
}

const OpCase kCases[] = {
    {"AddBroadcastingARow",
     [](OpGraph& t) {
       return t.g().Node("Add", {t.Var("a", {2, 3, 4}), t.Var("b", {4})});
     }},
    {"AddBroadcastingAColumn",
     [](OpGraph& t) {
       return t.g().Node("Add", {t.Var("a", {3, 1}), t.Var("b", {2, 3, 4})});
     }},
    {"SubBroadcastingMiddle",
     [](OpGraph& t) {
       return t.g().Node("Sub", {t.Var("a", {2, 3, 4}), t.Var("b", {1, 3, 1})});
     }},
    {"MulBroadcasting",
     [](OpGraph& t) {
       return t.g().Node("Mul", {t.Var("a", {2, 3, 4}), t.Var("b", {2, 1, 4})});
     }},
    {"MulOfATensorWithItself",
     [](OpGraph& t) {
       const auto a = t.Var("a", {2, 3});
       return t.g().Node("Mul", {a, a});
     }},
    {"DivBroadcasting",
     [](OpGraph& t) {
       return t.g().Node("Div", {t.Var("a", {2, 3, 4}), t.Var("b", {3, 4}, 1, 2)});
     }},
    {"PowByAConstant",
     [](OpGraph& t) {
       return t.g().Node("Pow", {t.Var("a", {2, 3}, 0.5, 2), t.Doubles({}, {3.0})});
     }},
    {"PowOfBoth",
     [](OpGraph& t) {
       return t.g().Node("Pow", {t.Var("a", {2, 3}, 0.5, 2), t.Var("b", {3}, 1, 2)});
     }},
    {"MatMulByAMatrix",
     [](OpGraph& t) {
       return t.g().Node("MatMul", {t.Var("a", {2, 3, 4}), t.Var("b", {4, 5})});
     }},
    {"MatMulBatchedBroadcasting",
     [](OpGraph& t) {
       return t.g().Node("MatMul", {t.Var("a", {2, 1, 3, 4}), t.Var("b", {2, 4, 2})});
     }},
    {"GemmTransposedB",
     [](OpGraph& t) {
       return t.g().Node("Gemm", {t.Var("a", {3, 4}), t.Var("b", {5, 4}), t.Var("c", {5})},
                         {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}});
     }},
    {"GemmTransposedA",
     [](OpGraph& t) {
       return t.g().Node("Gemm", {t.Var("a", {4, 3}), t.Var("b", {4, 5})},
                         {{"transA", int64_t{1}}});
     }},
    {"GemmTransposedBoth",
     [](OpGraph& t) {
       return t.g().Node("Gemm", {t.Var("a", {4, 3}), t.Var("b", {5, 4})},
                         {{"transA", int64_t{1}}, {"transB", int64_t{1}}});
     }},
    {"SoftmaxLastAxis",
     [](OpGraph& t) {
       return t.g().Node("Softmax", {t.Var("x", {2, 3, 4})});
     }},
    {"SoftmaxMiddleAxis",
     [](OpGraph& t) {
       return t.g().Node("Softmax", {t.Var("x", {2, 3, 4})}, {{"axis", int64_t{1}}});
     }},
    {"LogSoftmax",
     [](OpGraph& t) {
       return t.g().Node("LogSoftmax", {t.Var("x", {2, 3, 4})}, {{"axis", int64_t{-1}}});
     }},
    {"LayerNormalizationLastAxis",
     [](OpGraph& t) {
       return t.g().Node("LayerNormalization",
                         {t.Var("x", {2, 3, 4}), t.Var("s", {4}), t.Var("b", {4})},
                         {{"epsilon", 1e-5f}});
     }},
    {"LayerNormalizationTwoAxes",
     [](OpGraph& t) {
       return t.g().Node("LayerNormalization", {t.Var("x", {2, 3, 4}), t.Var("s", {3, 4})},
                         {{"axis", int64_t{1}}});
     }},
    {"ErfInFloat32", [](OpGraph& t) { return Unary(t, "Erf"); }, true},
    {"Tanh", [](OpGraph& t) { return Unary(t, "Tanh"); }},
    {"Sigmoid", [](OpGraph& t) { return Unary(t, "Sigmoid"); }},
    {"Exp", [](OpGraph& t) { return Unary(t, "Exp"); }},
    {"Log", [](OpGraph& t) { return Unary(t, "Log", 0.5, 2); }},
    {"Sqrt", [](OpGraph& t) { return Unary(t, "Sqrt", 0.5, 2); }},
    {"Reciprocal", [](OpGraph& t) { return Unary(t, "Reciprocal", 0.5, 2); }},
    {"Neg", [](OpGraph& t) { return Unary(t, "Neg"); }},
    {"Relu", [](OpGraph& t) { return Unary(t, "Relu"); }},
    {"Sin", [](OpGraph& t) { return Unary(t, "Sin"); }},
    {"Cos", [](OpGraph& t) { return Unary(t, "Cos"); }},
    {"SoftplusInFloat32", [](OpGraph& t) { return Unary(t, "Softplus"); }, true},
    {"Abs", [](OpGraph& t) { return Unary(t, "Abs"); }},
    {"Identity", [](OpGraph& t) { return Unary(t, "Identity"); }},
    {"CastToItsOwnType",
     [](OpGraph& t) {
       return t.g().Node("Cast", {t.Var("x", {2, 3})},
                         {{"to", int64_t{onnx::TensorProto::DOUBLE}}});
     }},
    {"WhereBroadcasting",
     [](OpGraph& t) {
       core::Tensor c = core::Tensor::Zeros(core::DType::kBool, {2, 3});
       c.bytes[0] = c.bytes[4] = c.bytes[5] = std::byte{1};
       return t.g().Node("Where", {t.Const(c), t.Var("a", {2, 3}), t.Var("b", {3})});
     }},
    {"Expand",
     [](OpGraph& t) {
       return t.g().Node("Expand", {t.Var("x", {3, 1}), t.Int64s({3}, {2, 3, 4})});
     }},
    {"ReduceSumDroppingAnAxis",
     [](OpGraph& t) {
       return t.g().Node("ReduceSum", {t.Var("x", {2, 3, 4}), t.Int64s({1}, {1})},
                         {{"keepdims", int64_t{0}}});
     }},
    {"ReduceMeanKeepingTheAxis",
     [](OpGraph& t) {
       return t.g().Node("ReduceMean", {t.Var("x", {2, 3, 4})},
                         {{"axes", std::vector<int64_t>{-1}}});
     }},
    {"ReduceMeanOfEverything",
     [](OpGraph& t) {
       return t.g().Node("ReduceMean", {t.Var("x", {2, 3, 4})}, {{"keepdims", int64_t{0}}});
     }},
    {"Transpose",
     [](OpGraph& t) {
       return t.g().Node("Transpose", {t.Var("x", {2, 3, 4})},
                         {{"perm", std::vector<int64_t>{2, 0, 1}}});
     }},
    {"Reshape",
     [](OpGraph& t) {
       return t.g().Node("Reshape", {t.Var("x", {2, 3, 4}), t.Int64s({2}, {4, -1})});
     }},
    {"Squeeze",
     [](OpGraph& t) {
       return t.g().Node("Squeeze", {t.Var("x", {2, 1, 3}), t.Int64s({1}, {1})});
     }},
    {"Unsqueeze",
     [](OpGraph& t) {
       return t.g().Node("Unsqueeze", {t.Var("x", {2, 3}), t.Int64s({1}, {1})});
     }},
    {"Flatten",
     [](OpGraph& t) {
       return t.g().Node("Flatten", {t.Var("x", {2, 3, 4})}, {{"axis", int64_t{2}}});
     }},
    {"GatherRowsWithRepeats",
     [](OpGraph& t) {
       return t.g().Node("Gather", {t.Var("x", {3, 4}), t.Int64s({2, 2}, {0, 2, 2, 1})});
     }},
    {"GatherAlongAnInnerAxis",
     [](OpGraph& t) {
       return t.g().Node("Gather", {t.Var("x", {2, 3, 4}), t.Int64s({3}, {2, 0, 2})},
                         {{"axis", int64_t{1}}});
     }},
    {"GatherAScalarIndex",
     [](OpGraph& t) {
       return t.g().Node("Gather", {t.Var("x", {2, 3, 4}), t.Int64s({}, {1})},
                         {{"axis", int64_t{1}}});
     }},
    {"GatherElements",
     [](OpGraph& t) {
       return t.g().Node("GatherElements", {t.Var("x", {2, 3}), t.Int64s({2, 2}, {0, 2, 1, 1})},
                         {{"axis", int64_t{1}}});
     }},
    {"SliceWithAStep",
     [](OpGraph& t) {
       return t.g().Node("Slice", {t.Var("x", {2, 3, 6}), t.Int64s({1}, {1}), t.Int64s({1}, {5}),
                                   t.Int64s({1}, {2}), t.Int64s({1}, {2})});
     }},
    {"SliceFromTheEnd",
     [](OpGraph& t) {
       return t.g().Node("Slice", {t.Var("x", {2, 6}), t.Int64s({1}, {-3}), t.Int64s({1}, {1000}),
                                   t.Int64s({1}, {-1})});
     }},
    {"Concat",
     [](OpGraph& t) {
       return t.g().Node("Concat", {t.Var("a", {2, 3}), t.Var("b", {2, 2})},
                         {{"axis", int64_t{1}}});
     }},
    {"SplitWithOnePartUnused",
     [](OpGraph& t) {
       const auto parts = t.g().NodeN("Split", {t.Var("x", {2, 6}), t.Int64s({2}, {2, 4})}, 2,
                                      {{"axis", int64_t{1}}});
       return t.g().Node("Mul", {parts[1], parts[1]});
     }},
    {"MaxBroadcasting",
     [](OpGraph& t) {
       return t.g().Node("Max", {t.Var("a", {2, 3}), t.Var("b", {3})});
     }},
    {"MinWithAConstant",
     [](OpGraph& t) {
       return t.g().Node("Min", {t.Var("a", {2, 3}), t.Doubles({}, {0.1})});
     }},
    {"ClipBetweenBounds",
     [](OpGraph& t) {
       return t.g().Node("Clip", {t.Var("x", {2, 4}), t.Doubles({}, {-0.5}), t.Doubles({}, {0.5})});
     }},
    {"ScatterElementsOfBoth",
     [](OpGraph& t) {
       return t.g().Node("ScatterElements",
                         {t.Var("x", {2, 4}), t.Int64s({2, 2}, {3, 0, 1, 2}), t.Var("u", {2, 2})},
                         {{"axis", int64_t{1}}});
     }},
    {"ScatterNDOfRows",
     [](OpGraph& t) {
       return t.g().Node("ScatterND",
                         {t.Var("x", {4, 3}), t.Int64s({2, 1}, {2, 0}), t.Var("u", {2, 3})});
     }},
    {"GatherNDWithRepeats",
     [](OpGraph& t) {
       return t.g().Node("GatherND", {t.Var("x", {3, 2}), t.Int64s({3, 2}, {0, 1, 2, 0, 0, 1})});
     }},
    {"GatherNDWithABatchAxis",
     [](OpGraph& t) {
       return t.g().Node("GatherND", {t.Var("x", {2, 3, 2}), t.Int64s({2, 2, 1}, {2, 2, 0, 1})},
                         {{"batch_dims", int64_t{1}}});
     }},
    {"GatherNDWithTwoBatchAxes",
     [](OpGraph& t) {
       return t.g().Node("GatherND",
                         {t.Var("x", {2, 2, 3}), t.Int64s({2, 2, 2, 1}, {0, 2, 1, 1, 2, 2, 0, 0})},
                         {{"batch_dims", int64_t{2}}});
     }},
    {"ResizeLinearToSizesInFloat32",
     [](OpGraph& t) {
       return t.g().Node("Resize", {t.Var("x", {1, 2, 3, 4}), "", "", t.Int64s({4}, {1, 2, 5, 7})},
                         {{"mode", std::string("linear")}});
     },
     true},
    {"ResizeCubicByScalesInFloat32",
     [](OpGraph& t) {
       const std::string scales = t.Const(core::Tensor::FromDoubles(
           core::DType::kFloat32, {4}, std::vector<double>{1, 1, 2, 1.5}));
       return t.g().Node("Resize", {t.Var("x", {1, 2, 4, 4}), "", scales},
                         {{"mode", std::string("cubic")}});
     },
     true},
    {"ResizeNearestAlignedCornersInFloat32",
     [](OpGraph& t) {
       return t.g().Node("Resize", {t.Var("x", {2, 1, 3, 2}), "", "", t.Int64s({4}, {2, 1, 5, 5})},
                         {{"mode", std::string("nearest")},
                          {"coordinate_transformation_mode", std::string("align_corners")}});
     },
     true},
    {"TopKAlongTheMiddleAxis",
     [](OpGraph& t) {
       return t.g().NodeN("TopK", {t.Var("x", {2, 5, 3}), t.Int64s({1}, {2})}, 2,
                          {{"axis", int64_t{1}}})[0];
     }},
    {"ConvWithBiasAndPadding",
     [](OpGraph& t) {
       return t.g().Node("Conv",
                         {t.Var("x", {2, 3, 5, 5}), t.Var("w", {4, 3, 3, 3}), t.Var("b", {4})},
                         {{"pads", std::vector<int64_t>{1, 1, 1, 1}}});
     },
     false, true},
    {"ConvStridedWithUnevenPadsAndUnreadEdges",
     [](OpGraph& t) {
       return t.g().Node(
           "Conv", {t.Var("x", {1, 2, 7, 6}), t.Var("w", {3, 2, 3, 2})},
           {{"strides", std::vector<int64_t>{2, 3}}, {"pads", std::vector<int64_t>{1, 0, 0, 1}}});
     },
     false, true},
    {"ConvGroupedAndDilated",
     [](OpGraph& t) {
       return t.g().Node("Conv",
                         {t.Var("x", {2, 4, 7, 7}), t.Var("w", {6, 2, 3, 3}), t.Var("b", {6})},
                         {{"group", int64_t{2}},
                          {"dilations", std::vector<int64_t>{2, 2}},
                          {"pads", std::vector<int64_t>{2, 1, 1, 2}}});
     },
     false, true},
    {"ConvDepthwiseStrided",
     [](OpGraph& t) {
       return t.g().Node("Conv", {t.Var("x", {1, 3, 6, 6}), t.Var("w", {3, 1, 3, 3})},
                         {{"group", int64_t{3}},
                          {"strides", std::vector<int64_t>{2, 2}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
     },
     false, true},
    {"Conv1dGroupedStrided",
     [](OpGraph& t) {
       return t.g().Node("Conv", {t.Var("x", {2, 4, 11}), t.Var("w", {6, 2, 3}), t.Var("b", {6})},
                         {{"group", int64_t{2}},
                          {"strides", std::vector<int64_t>{2}},
                          {"pads", std::vector<int64_t>{1, 2}}});
     },
     false, true},
    {"Conv3dStrided",
     [](OpGraph& t) {
       return t.g().Node("Conv", {t.Var("x", {1, 2, 4, 5, 3}), t.Var("w", {2, 2, 2, 2, 2})},
                         {{"strides", std::vector<int64_t>{2, 2, 1}}});
     },
     false, true},
    {"AveragePoolStridedWithUnreadEdges",
     [](OpGraph& t) {
       return t.g().Node(
           "AveragePool", {t.Var("x", {2, 3, 5, 5})},
           {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}});
     },
     false, true},
    {"AveragePoolPaddedCountingRealElements",
     [](OpGraph& t) {
       return t.g().Node("AveragePool", {t.Var("x", {1, 2, 5, 4})},
                         {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
     },
     false, true},
    {"AveragePoolPaddedCountingPads",
     [](OpGraph& t) {
       return t.g().Node("AveragePool", {t.Var("x", {1, 2, 5, 5})},
                         {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"strides", std::vector<int64_t>{2, 2}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}},
                          {"count_include_pad", int64_t{1}}});
     },
     false, true},
    {"AveragePool1d",
     [](OpGraph& t) {
       return t.g().Node(
           "AveragePool", {t.Var("x", {2, 3, 9})},
           {{"kernel_shape", std::vector<int64_t>{2}}, {"strides", std::vector<int64_t>{2}}});
     },
     false, true},
    {"GlobalAveragePool",
     [](OpGraph& t) {
       return t.g().Node("GlobalAveragePool", {t.Var("x", {2, 3, 4, 5})});
     },
     false, true},
    {"MaxPoolPaddedStrided",
     [](OpGraph& t) {
       return t.g().Node("MaxPool", {t.Var("x", {2, 3, 7, 7})},
                         {{"kernel_shape", std::vector<int64_t>{3, 3}},
                          {"strides", std::vector<int64_t>{2, 2}},
                          {"pads", std::vector<int64_t>{1, 1, 1, 1}}});
     }},
    {"MaxPoolOverlapping1d",
     [](OpGraph& t) {
       return t.g().Node("MaxPool", {t.Var("x", {2, 2, 8})},
                         {{"kernel_shape", std::vector<int64_t>{3}}});
     }},
    {"BatchNormalizationWithRunningStatistics",
     [](OpGraph& t) {
       return t.g().Node("BatchNormalization",
                         {t.Var("x", {2, 3, 4, 2}), t.Var("s", {3}), t.Var("b", {3}),
                          t.Doubles({3}, {0.1, -0.2, 0.3}), t.Doubles({3}, {0.5, 1.5, 2.0})},
                         {{"epsilon", 1e-5f}});
     }},
    {"InstanceNormalization",
     [](OpGraph& t) {
       return t.g().Node("InstanceNormalization",
                         {t.Var("x", {2, 3, 6}), t.Var("s", {3}), t.Var("b", {3})},
                         {{"epsilon", 1e-5f}});
     },
     false, true},
    {"PadWithConstants",
     [](OpGraph& t) {
       return t.g().Node("Pad", {t.Var("x", {2, 3, 4}), t.Int64s({6}, {0, 1, 2, 0, 0, 1})});
     }},
    {"Tile",
     [](OpGraph& t) {
       return t.g().Node("Tile", {t.Var("x", {2, 3}), t.Int64s({2}, {2, 3})});
     }},
    {"ReduceL2DroppingAnAxis",
     [](OpGraph& t) {
       return t.g().Node("ReduceL2", {t.Var("x", {2, 3, 4})},
                         {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
     }},
    {"ReduceMaxOverTwoAxes",
     [](OpGraph& t) {
       return t.g().Node("ReduceMax", {t.Var("x", {2, 3, 4})},
                         {{"axes", std::vector<int64_t>{0, 2}}, {"keepdims", int64_t{0}}});
     }},
    {"ReduceLogSumExp",
     [](OpGraph& t) {
       return t.g().Node("ReduceLogSumExp", {t.Var("x", {2, 3, 4})},
                         {{"axes", std::vector<int64_t>{-1}}});
     }},
    {"HardSigmoidInFloat32",
     [](OpGraph& t) {
       return t.g().Node("HardSigmoid", {t.Var("x", {3, 4}, -4, 4)}, {{"alpha", 0.25f}});
     },
     true},
    {"HardSwishInFloat32", [](OpGraph& t) { return Unary(t, "HardSwish", -4, 4); }, true},
};

class GradientRule : public ::testing::TestWithParam<OpCase> {};

TEST_P(GradientRule, EqualsCentralFiniteDifferencesInFloat64) {
  OpGraph t(GetParam().float32, GetParam().lowered);
  t.Check(GetParam().build(t));
}

INSTANTIATE_TEST_SUITE_P(EveryOperator, GradientRule, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// Inputs whose sizes shape inference does not know (audio lengths): the input gradient of a
// strided convolution is cut to the input's size at run time.
TEST(GradientRuleOfUnknownSizes, StridedConvEqualsCentralFiniteDifferences) {
  OpGraph t(false, true);
  const auto y = t.g().Node(
      "Conv", {t.Var("x", {1, 2, 7, 6}, -1, 1, true), t.Var("w", {3, 2, 3, 2})},
      {{"strides", std::vector<int64_t>{2, 3}}, {"pads", std::vector<int64_t>{1, 0, 0, 1}}});
  t.Check(y, {1, 3, 3, 2});
}

// Compress's output size depends on the condition's values: inference gives its rank only.
TEST(GradientRuleOfUnknownSizes, CompressAlongAnAxisEqualsCentralFiniteDifferences) {
  OpGraph t(false, false);
  core::Tensor keep = core::Tensor::Zeros(core::DType::kBool, {4});
  keep.bytes[0] = keep.bytes[2] = keep.bytes[3] = std::byte{1};
  const auto y =
      t.g().Node("Compress", {t.Var("x", {2, 4, 3}), t.Const(keep)}, {{"axis", int64_t{1}}});
  t.Check(y, {2, 3, 3});
}

TEST(GradientRuleOfUnknownSizes, AveragePoolEqualsCentralFiniteDifferences) {
  OpGraph t(false, true);
  const auto y =
      t.g().Node("AveragePool", {t.Var("x", {2, 3, 9}, -1, 1, true)},
                 {{"kernel_shape", std::vector<int64_t>{2}}, {"strides", std::vector<int64_t>{2}}});
  t.Check(y, {2, 3, 4});
}

}  // namespace gradient_rules_test
}  // namespace ipfs_accel::models
