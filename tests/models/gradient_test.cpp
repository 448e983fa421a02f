// The gradient transform's contract without running anything: operators without a rule are
// refused by name, non-differentiable paths (shapes, integer masks, piecewise-constant ops) end
// without error, and a training step's inputs and outputs are the ones gradient.h documents.

#include <set>

#include <gtest/gtest.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/gradient.h"
#include "ipfs_accel/models/model.h"
#include "models/gradient_graph.h"
#include "models/graph_builder.h"

namespace ipfs_accel::models {
namespace gradient_test {

constexpr const char* kBert = IPFS_ACCEL_SHARED_DIR "/fixtures/hf-tiny/bert";

// y = op(x * w) for a float input x [2, 3] and a parameter w [3].
Model OneOpModel(const std::string& op) {
  onnx::ModelProto m;
  m.set_ir_version(onnx::IR_VERSION);
  auto* opset = m.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  m.mutable_graph()->set_name("one op");
  GraphBuilder g(m.mutable_graph(), nullptr);
  g.Input("x", onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  g.Initializer("w", core::Tensor::Zeros(core::DType::kFloat32, {3}));
  g.Node(op, {g.Node("Mul", {"x", "w"})}, {}, "y");
  g.Output("y", onnx::TensorProto::FLOAT, {int64_t{2}, int64_t{3}});
  Model model;
  m.SerializeToString(&model.onnx_bytes);
  return model;
}

std::set<std::string> InputNames(const Model& m) {
  onnx::ModelProto p;
  p.ParseFromString(m.onnx_bytes);
  std::set<std::string> names;
  for (const auto& v : p.graph().input()) names.insert(v.name());
  return names;
}

std::set<std::string> OutputNames(const Model& m) {
  onnx::ModelProto p;
  p.ParseFromString(m.onnx_bytes);
  std::set<std::string> names;
  for (const auto& v : p.graph().output()) names.insert(v.name());
  return names;
}

TEST(Gradient, AnOperatorWithoutARuleIsRefusedByName) {
  TrainingOptions o;
  o.loss = LossKind::kMse;
  o.parameters = {"w"};
  try {
    BuildTrainingStep(OneOpModel("Elu"), o);
    FAIL() << "Elu has no rule and was not refused";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("cannot differentiate operator Elu"), std::string::npos)
        << e.what();
  }
}

TEST(Gradient, AFusedGraphIsRefusedNamingItsContribOperator) {
  LoadOptions fused;
  fused.fused = true;
  TrainingOptions o;
  o.output = "last_hidden_state";
  o.tied_head = "embeddings.word_embeddings.weight";
  try {
    BuildTrainingStep(LoadModel(kBert, fused), o);
    FAIL() << "a graph of com.microsoft operators was not refused";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("operator com.microsoft."), std::string::npos) << e.what();
  }
}

TEST(Gradient, APiecewiseConstantOperatorEndsThePathInsteadOfBeingRefused) {
  TrainingOptions o;
  o.loss = LossKind::kMse;
  o.parameters = {"w"};
  try {
    BuildTrainingStep(OneOpModel("Floor"), o);
    FAIL() << "a loss reached only through Floor should have no parameter to train";
  } catch (const core::Error& e) {
    EXPECT_EQ(e.kind(), core::ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("depends on no trainable weight"), std::string::npos)
        << e.what();
  }
}

TEST(Gradient, TheTinyBertStepHasTheDocumentedInputsAndOutputs) {
  TrainingOptions o;
  o.output = "last_hidden_state";
  o.tied_head = "embeddings.word_embeddings.weight";
  const TrainingGraph t = BuildTrainingStep(LoadModel(kBert), o);
  const auto in = InputNames(t.model), out = OutputNames(t.model);
  for (const char* name : {"input_ids", "attention_mask", "token_type_ids", "labels",
                           "optimizer.lr", "optimizer.step"})
    EXPECT_TRUE(in.count(name)) << name;
  EXPECT_TRUE(out.count("loss"));
  EXPECT_TRUE(out.count("updated.optimizer.step"));
  for (const auto& p : t.parameters) {
    for (const std::string& state : {p, "optimizer.exp_avg." + p, "optimizer.exp_avg_sq." + p}) {
      EXPECT_TRUE(in.count(state)) << state;
      EXPECT_TRUE(out.count("updated." + state)) << state;
      EXPECT_TRUE(t.state.count(state)) << state;
    }
    EXPECT_TRUE(out.count("grad." + p)) << p;
  }
  // Every carried output feeds an input of the same name less "updated.".
  for (const auto& [from, to] : t.carry) EXPECT_EQ(from, "updated." + to);
  EXPECT_EQ(t.carry.size(), 3 * t.parameters.size() + 1);
}

TEST(Gradient, AClassifierHeadAddsItsOwnParametersOnThePooledOutput) {
  TrainingOptions o;
  o.output = "pooler_output";
  o.classes = 3;
  o.optimizer.kind = OptimizerKind::kSgdMomentum;
  const TrainingGraph t = BuildTrainingStep(LoadModel(kBert), o);
  const std::set<std::string> params(t.parameters.begin(), t.parameters.end());
  EXPECT_TRUE(params.count("classifier.weight"));
  EXPECT_TRUE(params.count("pooler.dense.weight"));  // the pooled output reaches the loss
  EXPECT_EQ(t.state.at("classifier.weight").shape, (core::Shape{64, 3}));
  EXPECT_TRUE(InputNames(t.model).count("optimizer.momentum_buffer.classifier.weight"));
}

// The shape path (Shape, Gather, Concat into Reshape) and the integer mask (Cast of
// attention_mask) are in every BERT graph; none of their operators needs a rule.
TEST(Gradient, EveryOperatorOnTheTinyBertAndLlamaPathsHasARule) {
  for (const char* dir : {kBert, IPFS_ACCEL_SHARED_DIR "/fixtures/hf-tiny/llama"}) {
    const Model forward = LoadModel(dir);
    onnx::ModelProto m;
    m.ParseFromString(forward.onnx_bytes);
    const std::string output = m.graph().output(0).name();
    std::vector<std::string> weights;
    for (const auto& t : m.graph().initializer())
      if (t.doc_string() == kParameterDoc) weights.push_back(t.name());
    const auto reaching = ReachingLoss(m, output, weights);
    EXPECT_FALSE(reaching.empty()) << dir;
    EXPECT_NO_THROW(AddGradients(m, output, reaching)) << dir;
  }
}

}  // namespace gradient_test
}  // namespace ipfs_accel::models
