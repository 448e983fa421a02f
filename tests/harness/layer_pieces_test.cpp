// The decoder layer pieces that only some templates use, run in ONNX Runtime against the formulas
// of HF's modules in double precision: Apertus' xIELU, Gemma 2's tanh soft-capping and Ministral
// 3's LLaMA 4 query scale; and the templates built from them decoding with their KV cache as in
// one pass (NoPE layers, local rope, sinks, query scales and windows all depend on positions).

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/activation.h"
#include "models/decoder_layer_pieces.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/kv_cache_check.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace layer_pieces_test {

using core::DType;
using core::Tensor;
using ipfs_accel::testing::Int64Tensor;

double Softplus(double x) { return std::log1p(std::exp(x)); }

TEST(LayerPiecesTest, XieluSoftCapAndLlama4ScaleMatchHfFormulas) {
  const std::vector<float> xs = {-6.0f, -1.5f, -1e-3f, 0.0f, 2e-4f, 0.7f, 3.0f, 40.0f};
  const int64_t n = static_cast<int64_t>(xs.size());
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("layer-pieces");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(models::kOpsetVersion);
  models::SeededRandomWeights weights(5, 0.5);
  models::GraphBuilder g(proto.mutable_graph(), &weights);
  g.Input("x", onnx::TensorProto::FLOAT, {n});
  g.Input("positions", onnx::TensorProto::INT64, {1, n});
  g.Node("Identity", {models::ActivationWithParameters(g, "x", "xielu", "act")}, {}, "xielu");
  g.Node("Identity", {models::SoftCap(g, "x", 5.0f)}, {}, "capped");
  g.Node("Identity", {models::Llama4QueryScale(g, "positions", 0.1, 3.0)}, {}, "scale");
  g.Output("xielu", onnx::TensorProto::FLOAT, {n});
  g.Output("capped", onnx::TensorProto::FLOAT, {n});
  g.Output("scale", onnx::TensorProto::FLOAT, {1, 1, n, 1});
  std::map<std::string, double> params;
  for (const auto& t : proto.graph().initializer())
    if (t.name().rfind("act.", 0) == 0) {
      float v = 0;
      std::memcpy(&v, t.raw_data().data(), sizeof v);
      params[t.name()] = v;
    }
  ASSERT_EQ(params.size(), 2u);
  models::Model model;
  ASSERT_TRUE(proto.SerializeToString(&model.onnx_bytes));
  Tensor x = Tensor::Zeros(DType::kFloat32, {n});
  std::copy(xs.begin(), xs.end(), x.values<float>().begin());
  std::vector<int64_t> positions(n);
  for (int64_t i = 0; i < n; ++i) positions[i] = i * 2;  // 0, 2, ..., 14: floor(p / 3) steps
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const auto out = session->Run({{"x", x}, {"positions", Int64Tensor({1, n}, positions)}});

  // XIELUActivation: alpha_p = softplus(a_p), alpha_n = beta + softplus(a_n), beta 0.5, eps -1e-6.
  const double alpha_p = Softplus(params.at("act.alpha_p"));
  const double alpha_n = 0.5 + Softplus(params.at("act.alpha_n"));
  const auto xielu = out.at("xielu").ToDoubles(), capped = out.at("capped").ToDoubles(),
             scale = out.at("scale").ToDoubles();
  for (int64_t i = 0; i < n; ++i) {
    const double v = xs[i];
    const double want = v > 0 ? alpha_p * v * v + 0.5 * v
                              : (std::expm1(std::min(v, -1e-6)) - v) * alpha_n + 0.5 * v;
    EXPECT_NEAR(xielu[i], want, 1e-5 * std::max(1.0, std::fabs(want))) << "x = " << v;
    EXPECT_NEAR(capped[i], 5.0 * std::tanh(v / 5.0), 1e-6) << "x = " << v;
    const double p = static_cast<double>(positions[i]);
    EXPECT_NEAR(scale[i], 1 + 0.1 * std::log(1 + std::floor(p / 3.0)), 1e-6) << "position " << p;
  }
  EXPECT_GT(scale[n - 1], 1.1);  // the scale grows with the position
}

TEST(LayerPiecesTest, VariantTemplatesDecodeWithTheCacheAsInOnePass) {
  const std::vector<std::string> types = {
      "apertus",     "arcee",       "bitnet",     "cwm",      "diffllama", "ernie4_5",    "exaone4",
      "gemma2",      "gemma3_text", "glm",        "glm4",     "granite",   "granite_swa", "helium",
      "hyperclovax", "minicpm3",    "ministral3", "nanochat", "olmo2",     "olmo3",       "phi3",
      "seed_oss",    "smollm3",     "vaultgemma", "youtu"};
  for (const std::string& type : types) {
    const models::ArchitectureTemplate* t = models::FindTemplate(type);
    ASSERT_NE(t, nullptr) << type;
    const models::Model model = models::LoadConfig(models::TinyConfig(*t), "template:" + type);
    ipfs_accel::testing::ExpectCacheConsistent(model, models::TinyConfig(*t).Int("vocab_size"),
                                               type);
  }
}

}  // namespace layer_pieces_test
}  // namespace ipfs_accel::harness
