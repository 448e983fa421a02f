// analysis::EstimateCost against counts worked out independently: BERT's FLOPs from its
// hyperparameters (the formula of Kaplan et al. 2020, table 1, which every transformer FLOP
// count uses), the same total whether attention is plain MatMuls or the fused contrib
// operator, and ResNet-50's multiply-adds as torchvision documents them (4.09 GFLOPS, i.e.
// giga multiply-adds, for 224x224). A Scan's body counted once per step on a hand-built graph.

#include "ipfs_accel/analysis/graph_cost.h"

#include <gtest/gtest.h>

#include "ipfs_accel/models/model.h"
#include "support/onnx_protos.h"

namespace ipfs_accel::analysis {
namespace graph_cost_test {

using ShapeMap = std::map<std::string, core::Shape>;

// bert-tiny: google/bert_uncased_L-2_H-128_A-2.
constexpr double kLayers = 2, kHidden = 128, kIntermediate = 512;

// Forward FLOPs of BERT's matrix products for one sequence: per token and layer 2·(4h² + 2h·I)
// for the projections and 2·2·S·h for Q·Kᵀ and P·V; the pooler's dense layer reads one token.
double BertMatrixFlops(double sequence) {
  const double per_token_layer = 2 * (4 * kHidden * kHidden + 2 * kHidden * kIntermediate);
  const double attention = 2 * 2 * sequence * kHidden;
  return kLayers * sequence * (per_token_layer + attention) + 2 * kHidden * kHidden;
}

ShapeMap BertShapes(int64_t batch, int64_t sequence) {
  return {{"input_ids", {batch, sequence}},
          {"attention_mask", {batch, sequence}},
          {"token_type_ids", {batch, sequence}}};
}

double MatrixFlops(const GraphCost& c) {
  double f = 0;
  for (const char* cls : {"matmul", "attention"}) {
    const auto it = c.by_class.find(cls);
    if (it != c.by_class.end()) f += it->second.flops;
  }
  return f;
}

TEST(GraphCost, CountsBertsMatrixProductsAsItsHyperparametersPredict) {
  const models::Model m = models::LoadModel("bert-tiny");
  const GraphCost c = EstimateCost(m, BertShapes(1, 16));
  EXPECT_EQ(c.unknown_nodes, 0);
  EXPECT_DOUBLE_EQ(MatrixFlops(c), BertMatrixFlops(16));
  EXPECT_EQ(c.by_class.count("attention"), 0u);  // the plain graph has no fused attention
  EXPECT_GT(c.by_class.at("softmax").flops, 0);
  EXPECT_GE(c.weights_bytes, 4 * 4'385'920);
}

TEST(GraphCost, GivesTheFusedGraphTheSameMatrixFlopsAsThePlainOne) {
  const models::Model plain = models::LoadModel("bert-tiny");
  const models::Model fused = models::LoadModel("bert-tiny", {.fused = true});
  const GraphCost p = EstimateCost(plain, BertShapes(2, 32));
  const GraphCost f = EstimateCost(fused, BertShapes(2, 32));
  EXPECT_GT(f.by_class.at("attention").nodes, 0);
  EXPECT_DOUBLE_EQ(MatrixFlops(f), MatrixFlops(p));
  EXPECT_DOUBLE_EQ(MatrixFlops(p), 2 * BertMatrixFlops(32));
}

TEST(GraphCost, ScalesTheAttentionProductsQuadraticallyAndTheRestLinearlyInSequence) {
  const models::Model m = models::LoadModel("bert-tiny");
  const double f64 = MatrixFlops(EstimateCost(m, BertShapes(1, 64)));
  const double f128 = MatrixFlops(EstimateCost(m, BertShapes(1, 128)));
  EXPECT_DOUBLE_EQ(f128 - f64, BertMatrixFlops(128) - BertMatrixFlops(64));
}

TEST(GraphCost, CountsResNet50sMultiplyAddsAsTorchvisionDocumentsThem) {
  const models::Model m = models::LoadModel("resnet-50");
  const GraphCost c = EstimateCost(m, {{"pixel_values", {1, 3, 224, 224}}});
  EXPECT_EQ(c.unknown_nodes, 0);
  // HF's ResNetModel has no classifier; torchvision's fc adds 2048 x 1000 multiply-adds.
  const double macs = c.by_class.at("conv").flops / 2 + 2048 * 1000;
  EXPECT_NEAR(macs / 1e9, 4.09, 0.005);
}

// state [4] and xs [steps, 4] -> Scan(body: s2 = s + x; y = s2 * s2) -> final [4], ys [steps, 4].
models::Model RunningSumScan() {
  using namespace ipfs_accel::testing::onnx_protos;  // NOLINT(google-build-using-namespace)
  onnx::ModelProto m = NewModel();
  auto* g = m.mutable_graph();
  g->set_name("running_sum");
  AddValueInfo(g->mutable_input(), "state", onnx::TensorProto::FLOAT, {"4"});
  AddValueInfo(g->mutable_input(), "xs", onnx::TensorProto::FLOAT, {"steps", "4"});
  AddValueInfo(g->mutable_output(), "final", onnx::TensorProto::FLOAT, {"4"});
  AddValueInfo(g->mutable_output(), "ys", onnx::TensorProto::FLOAT, {"steps", "4"});
  onnx::NodeProto* scan = AddNode(g, "Scan", {"state", "xs"}, {"final", "ys"}, "scan");
  auto* steps_attr = scan->add_attribute();
  steps_attr->set_name("num_scan_inputs");
  steps_attr->set_type(onnx::AttributeProto::INT);
  steps_attr->set_i(1);
  auto* body_attr = scan->add_attribute();
  body_attr->set_name("body");
  body_attr->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto* body = body_attr->mutable_g();
  body->set_name("step");
  AddValueInfo(body->mutable_input(), "s", onnx::TensorProto::FLOAT, {"4"});
  AddValueInfo(body->mutable_input(), "x", onnx::TensorProto::FLOAT, {"4"});
  AddValueInfo(body->mutable_output(), "s2", onnx::TensorProto::FLOAT, {"4"});
  AddValueInfo(body->mutable_output(), "y", onnx::TensorProto::FLOAT, {"4"});
  AddNode(body, "Add", {"s", "x"}, {"s2"});
  AddNode(body, "Mul", {"s2", "s2"}, {"y"});
  return FromProto(m);
}

TEST(GraphCost, CountsAScansBodyOncePerStep) {
  for (const int64_t steps : {5, 12}) {
    const GraphCost c = EstimateCost(RunningSumScan(), {{"state", {4}}, {"xs", {steps, 4}}});
    EXPECT_EQ(c.unknown_nodes, 0);
    const OperatorCost& body = c.by_class.at("elementwise");
    EXPECT_EQ(body.nodes, 2 * steps);
    EXPECT_DOUBLE_EQ(body.flops, 2 * 4 * steps);          // one FLOP per output element
    EXPECT_DOUBLE_EQ(body.bytes, 2 * 3 * 4 * 4 * steps);  // two inputs and one output of 16 B
    EXPECT_EQ(c.by_class.at("other").nodes, 1);           // the Scan itself
  }
}

TEST(GraphCost, ClassifiesOperatorsByWhatTheyDo) {
  EXPECT_EQ(OperatorClass("MatMul", ""), "matmul");
  EXPECT_EQ(OperatorClass("MultiHeadAttention", "com.microsoft"), "attention");
  EXPECT_EQ(OperatorClass("SkipLayerNormalization", "com.microsoft"), "normalization");
  EXPECT_EQ(OperatorClass("Transpose", ""), "data_movement");
  EXPECT_EQ(OperatorClass("Gelu", "com.microsoft"), "elementwise");
}

}  // namespace graph_cost_test
}  // namespace ipfs_accel::analysis
