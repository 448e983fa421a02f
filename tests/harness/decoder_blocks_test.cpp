// Runs the pieces of the decoder layout "blocks" (src/models/decoder_blocks.h) on ONNX Runtime:
//  - every template of that layout at its tiny size, with a seeded checkpoint written under the
//    names its graph asks for: decoding in chunks with the KV cache gives what one full pass
//    gives (learned, sinusoidal and mask-counted positions, ALiBi biases and sliding windows all
//    follow the cache), on a right-padded batch;
//  - interleaved rotary (GPT-J's rotate_every_two) against its formula;
//  - the ALiBi biases (BLOOM's counted from the mask, MPT's from the last key) against theirs.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/alibi.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/rotary.h"
#include "models/weights.h"
#include "support/kv_cache_check.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace decoder_blocks_test {

using core::Tensor;
using ipfs_accel::testing::ExpectCacheConsistent;
using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::TempDir;
using TensorMap = std::map<std::string, Tensor>;

// Seeded weights large enough that each one (norm scales and biases too) changes the logits,
// kept so they can be written as a checkpoint.
class SeededCheckpoint : public models::WeightProvider {
 public:
  TensorMap tensors;

 protected:
  Tensor Fetch(const std::string& name, const core::Shape& shape,
               models::WeightInit init) override {
    std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(name)));
    std::normal_distribution<float> normal(0.0f, init == models::WeightInit::kNormal ? 0.2f : 0.1f);
    Tensor t = Tensor::Zeros(core::DType::kFloat32, shape);
    for (float& v : t.values<float>())
      v = (init == models::WeightInit::kOnes ? 1.0f : 0.0f) + normal(rng);
    return tensors[name] = t;
  }
};

// The template's tiny config and a checkpoint for it, written as a Hugging Face folder.
models::Model TinyFolder(const TempDir& dir, const models::ArchitectureTemplate& t) {
  const models::HfConfig config = models::TinyConfig(t);
  SeededCheckpoint weights;
  onnx::GraphProto scratch;
  models::GraphBuilder builder(&scratch, &weights);
  models::FindArchitecture(t.model_type, "test").build(config, builder);
  std::ofstream(dir.path() / "config.json") << config.json().dump(2);
  models::WriteSafetensors((dir.path() / "model.safetensors").string(), weights.tensors);
  return models::LoadHfFolder(dir.path().string());
}

bool IsBlocks(const models::ArchitectureTemplate& t) {
  return !t.abstract && t.resolved.contains("pieces") &&
         t.resolved["pieces"].value("layout", "") == "blocks";
}

// The full pass's logits are finite and not all alike (a NaN would hide in the comparison).
void ExpectInformativeLogits(const models::Model& model, int64_t vocab, const std::string& label) {
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const testing::Prompt p = testing::MakePrompt(2, vocab, 7);
  TensorMap inputs = testing::EmptyCache(*session, 2);
  inputs["input_ids"] = p.ids;
  inputs["attention_mask"] = p.mask;
  const std::vector<double> logits = session->Run(inputs).at("logits").ToDoubles();
  double low = INFINITY, high = -INFINITY;
  for (double v : logits) {
    ASSERT_TRUE(std::isfinite(v)) << label;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  EXPECT_GT(high - low, 1e-3) << label;
}

TEST(DecoderBlocksTest, EveryBlocksTemplateDecodesStepwiseAsInOnePass) {
  int checked = 0;
  for (const models::ArchitectureTemplate& t : models::Templates()) {
    if (!IsBlocks(t)) continue;
    TempDir dir;
    const models::Model model = TinyFolder(dir, t);
    const int64_t vocab = models::TinyConfig(t).Int("vocab_size");
    ExpectInformativeLogits(model, vocab, t.model_type);
    ExpectCacheConsistent(model, vocab, t.model_type);
    ++checked;
  }
  EXPECT_GE(checked, 20);  // the GPT-style families of data/templates/decoder
}

// ---- single pieces on tiny graphs ----

TensorMap RunGraph(onnx::ModelProto& proto, const TensorMap& inputs) {
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(models::kOpsetVersion);
  proto.set_ir_version(8);
  models::Model model;
  EXPECT_TRUE(proto.SerializeToString(&model.onnx_bytes));
  return runtime::OpenOnnxRuntimeSession(model, {})->Run(inputs);
}

// GPT-J: each frequency rotates a pair of adjacent features; features past rotary_dim pass.
TEST(DecoderBlocksTest, InterleavedRotaryRotatesAdjacentPairs) {
  onnx::ModelProto proto;
  models::ShapeOnlyWeights none;
  models::GraphBuilder g(proto.mutable_graph(), &none);
  g.Input("x", onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{1}, int64_t{1}, int64_t{6}});
  g.Input("positions", onnx::TensorProto::INT64, {int64_t{1}, int64_t{1}});
  models::RopeSpec spec;
  spec.rotary_dim = 4;
  spec.inv_freq = {1.0f, 0.5f};
  spec.interleaved = true;
  const models::RopeTables tables = models::RopeCosSin(g, spec, "positions");
  g.Node("Identity", {models::ApplyRope(g, "x", tables, 4, 6)}, {}, "y");
  g.Output("y", onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{1}, int64_t{1}, int64_t{6}});
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  Tensor in = Tensor::Zeros(core::DType::kFloat32, {1, 1, 1, 6});
  std::copy(x.begin(), x.end(), in.values<float>().begin());
  const int64_t position = 3;
  const TensorMap out =
      RunGraph(proto, {{"x", in}, {"positions", Int64Tensor({1, 1}, {position})}});
  const auto y = out.at("y").values<float>();
  for (int pair = 0; pair < 2; ++pair) {
    const double angle = position * spec.inv_freq[pair];
    const double a = x[2 * pair], b = x[2 * pair + 1];
    EXPECT_NEAR(y[2 * pair], a * std::cos(angle) - b * std::sin(angle), 1e-5) << pair;
    EXPECT_NEAR(y[2 * pair + 1], b * std::cos(angle) + a * std::sin(angle), 1e-5) << pair;
  }
  EXPECT_EQ(y[4], 5.0f);
  EXPECT_EQ(y[5], 6.0f);
}

// BLOOM counts a key's position among the attended tokens (0 at padding); MPT from the last key.
TEST(DecoderBlocksTest, AlibiBiasesFollowEachFamilysPositions) {
  const std::vector<int64_t> mask = {0, 1, 1, 0, 1};
  const std::vector<double> bloom_positions = {0, 0, 1, 0, 2}, mpt_positions = {-4, -3, -2, -1, 0};
  for (const auto kind : {models::AlibiKind::kBloom, models::AlibiKind::kMpt}) {
    onnx::ModelProto proto;
    models::ShapeOnlyWeights none;
    models::GraphBuilder g(proto.mutable_graph(), &none);
    g.Input("attention_mask", onnx::TensorProto::INT64, {int64_t{1}, int64_t{5}});
    const std::vector<float> slopes = models::AlibiSlopes(kind, 2);
    g.Node("Identity", {models::AlibiBias(g, kind, slopes, "attention_mask")}, {}, "bias");
    g.Output("bias", onnx::TensorProto::FLOAT, {int64_t{1}, int64_t{2}, int64_t{1}, int64_t{5}});
    const TensorMap out = RunGraph(proto, {{"attention_mask", Int64Tensor({1, 5}, mask)}});
    const auto bias = out.at("bias").values<float>();
    const auto& positions = kind == models::AlibiKind::kBloom ? bloom_positions : mpt_positions;
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 5; ++k) EXPECT_FLOAT_EQ(bias[h * 5 + k], slopes[h] * positions[k]);
  }
}

}  // namespace decoder_blocks_test
}  // namespace ipfs_accel::harness
