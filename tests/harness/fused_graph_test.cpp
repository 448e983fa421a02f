// The fused variant of the BERT family (LoadOptions::fused: ONNX Runtime contrib operators)
// against the plain graph of the same checkpoint: every member at a tiny config with seeded
// weights, on a batch with right, left and full padding, must give the plain outputs; the fused
// graph must really hold the contrib ops (and no Softmax of its own); and the hf-tiny BERT
// fixture must verify fused as it does plain.

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/op_counts.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace fused_graph_test {

using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::OpCounts;

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "fused_graph_XXXXXX").string();
    path_ = mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A tiny member of the family, written as config.json + model.safetensors.
struct Member {
  std::string type;
  int64_t vocab = 40, embedding = 16, hidden = 16, intermediate = 24, layers = 2, heads = 2;
  int64_t positions = 24, pad = 0, groups = 1, inner = 1;
  std::string act = "gelu";

  bool distil() const { return type == "distilbert"; }
  bool albert() const { return type == "albert"; }
  bool pooler() const { return type != "distilbert" && type != "electra"; }
  int64_t LayerRuns() const { return albert() ? layers * inner : layers; }

  nlohmann::json Config() const {
    nlohmann::json c = {{"model_type", type},
                        {"vocab_size", vocab},
                        {"max_position_embeddings", positions},
                        {"pad_token_id", pad}};
    if (distil()) {
      c.update({{"dim", hidden},
                {"n_layers", layers},
                {"n_heads", heads},
                {"hidden_dim", intermediate},
                {"activation", act}});
      return c;
    }
    c.update({{"hidden_size", hidden},
              {"num_hidden_layers", layers},
              {"num_attention_heads", heads},
              {"intermediate_size", intermediate},
              {"type_vocab_size", 3},
              {"hidden_act", act},
              {"layer_norm_eps", 1e-5}});
    if (type == "electra" || albert()) c["embedding_size"] = embedding;
    if (albert()) c.update({{"num_hidden_groups", groups}, {"inner_group_num", inner}});
    return c;
  }

  // Every weight the base model has, by HF name, with random values (biases and norms too, so
  // a bias or norm in the wrong place shows).
  void Save(const std::string& dir, uint64_t seed) const {
    std::mt19937_64 rng(seed);
    std::map<std::string, core::Tensor> t;
    auto random = [&](const std::string& name, core::Shape shape, float mean, float stddev) {
      std::normal_distribution<float> dist(mean, stddev);
      core::Tensor x = core::Tensor::Zeros(core::DType::kFloat32, std::move(shape));
      for (float& v : x.values<float>()) v = dist(rng);
      t[name] = std::move(x);
    };
    auto linear = [&](const std::string& p, int64_t in, int64_t out) {
      random(p + ".weight", {out, in}, 0.0f, 1.0f / std::sqrt(static_cast<float>(in)));
      random(p + ".bias", {out}, 0.0f, 0.2f);
    };
    auto norm = [&](const std::string& p, int64_t size) {
      random(p + ".weight", {size}, 1.0f, 0.2f);
      random(p + ".bias", {size}, 0.0f, 0.2f);
    };
    const int64_t e = embedding, h = hidden, i = intermediate;
    random("embeddings.word_embeddings.weight", {vocab, e}, 0.0f, 1.0f);
    random("embeddings.position_embeddings.weight", {positions, e}, 0.0f, 1.0f);
    if (!distil()) random("embeddings.token_type_embeddings.weight", {3, e}, 0.0f, 1.0f);
    norm("embeddings.LayerNorm", e);
    if (albert()) linear("encoder.embedding_hidden_mapping_in", e, h);
    if (type == "electra" && e != h) linear("embeddings_project", e, h);
    std::vector<std::string> layer_prefixes;
    if (albert()) {
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t j = 0; j < inner; ++j)
          layer_prefixes.push_back(
              fmt::format("encoder.albert_layer_groups.{}.albert_layers.{}.", g, j));
    } else {
      for (int64_t l = 0; l < layers; ++l)
        layer_prefixes.push_back(
            fmt::format("{}.layer.{}.", distil() ? "transformer" : "encoder", l));
    }
    for (const std::string& p : layer_prefixes) {
      if (distil()) {
        for (const char* n :
             {"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin"})
          linear(p + n, h, h);
        norm(p + "sa_layer_norm", h);
        linear(p + "ffn.lin1", h, i);
        linear(p + "ffn.lin2", i, h);
        norm(p + "output_layer_norm", h);
      } else if (albert()) {
        for (const char* n :
             {"attention.query", "attention.key", "attention.value", "attention.dense"})
          linear(p + n, h, h);
        norm(p + "attention.LayerNorm", h);
        linear(p + "ffn", h, i);
        linear(p + "ffn_output", i, h);
        norm(p + "full_layer_layer_norm", h);
      } else {
        for (const char* n : {"attention.self.query", "attention.self.key", "attention.self.value",
                              "attention.output.dense"})
          linear(p + n, h, h);
        norm(p + "attention.output.LayerNorm", h);
        linear(p + "intermediate.dense", h, i);
        linear(p + "output.dense", i, h);
        norm(p + "output.LayerNorm", h);
      }
    }
    if (pooler()) linear(albert() ? "pooler" : "pooler.dense", h, h);
    std::ofstream(dir + "/config.json") << Config().dump(2);
    models::WriteSafetensors(dir + "/model.safetensors", t);
  }
};

// Rows: all real; right-padded (pad ids masked at the end); left-padded; fully masked (HF's
// scores then all tie: the fused mask must keep that).
std::map<std::string, core::Tensor> PaddedBatch(const Member& m) {
  const int64_t p = m.pad, batch = 4, seq = 6;
  std::vector<int64_t> ids = {5, 9, 7,  3, 11, 2,   //
                              8, 4, 6,  p, p,  p,   //
                              p, p, 13, 4, 9,  21,  //
                              3, 3, 7,  8, 2,  5};
  std::vector<int64_t> mask = {1, 1, 1, 1, 1, 1,  //
                               1, 1, 1, 0, 0, 0,  //
                               0, 0, 1, 1, 1, 1,  //
                               0, 0, 0, 0, 0, 0};
  std::vector<int64_t> types = {0, 0, 1, 1, 2, 2, 0, 1, 1, 0, 0, 0,
                                0, 0, 0, 1, 1, 2, 1, 0, 2, 1, 0, 1};
  std::map<std::string, core::Tensor> in = {{"input_ids", Int64Tensor({batch, seq}, ids)},
                                            {"attention_mask", Int64Tensor({batch, seq}, mask)}};
  if (!m.distil()) in["token_type_ids"] = Int64Tensor({batch, seq}, types);
  return in;
}

void ExpectFusedEqualsPlain(const Member& m) {
  SCOPED_TRACE(m.type);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  m.Save(dir.path(), 23);
  const models::Model plain = models::LoadHfFolder(dir.path());
  const models::Model fused = models::LoadHfFolder(dir.path(), {.fused = true});
  EXPECT_TRUE(fused.fused);
  EXPECT_EQ(fused.info.parameters, plain.info.parameters);

  const auto ops = OpCounts(fused);
  const int runs = static_cast<int>(m.LayerRuns());
  EXPECT_EQ(ops.count(":Softmax"), 0u) << "attention left unfused";
  EXPECT_EQ(ops.count("com.microsoft:Attention") ? ops.at("com.microsoft:Attention") : 0, runs);
  // Two residual norms per layer run, and the embeddings' norm.
  EXPECT_EQ(ops.count("com.microsoft:SkipLayerNormalization")
                ? ops.at("com.microsoft:SkipLayerNormalization")
                : 0,
            2 * runs + 1);
  EXPECT_EQ(ops.count(":LayerNormalization"), 0u);
  const std::string gelu = m.act == "gelu" ? "com.microsoft:BiasGelu" : "com.microsoft:FastGelu";
  EXPECT_EQ(ops.count(gelu) ? ops.at(gelu) : 0, runs);
  EXPECT_EQ(OpCounts(plain).count("com.microsoft:Attention"), 0u);

  const auto inputs = PaddedBatch(m);
  auto plain_session = runtime::OpenOnnxRuntimeSession(plain, {});
  auto fused_session = runtime::OpenOnnxRuntimeSession(fused, {});
  const auto want = plain_session->Run(inputs);
  const auto got = fused_session->Run(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, expected] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    EXPECT_EQ(got.at(name).shape, expected.shape) << name;
    EXPECT_LT(MaxAbsDiff(got.at(name), expected), 1e-4) << name;
  }
  // The same holds with ONNX Runtime's own fusions off: the Concats of Q/K/V then run as nodes.
  runtime::SessionOptions no_fusions;
  no_fusions.graph_optimization_level = 0;
  auto unoptimised = runtime::OpenOnnxRuntimeSession(fused, no_fusions);
  const auto raw = unoptimised->Run(inputs);
  EXPECT_LT(MaxAbsDiff(raw.at("last_hidden_state"), want.at("last_hidden_state")), 1e-4);
}

TEST(FusedGraphTest, BertEqualsPlain) { ExpectFusedEqualsPlain({.type = "bert"}); }

TEST(FusedGraphTest, RobertaFamilyEqualsPlain) {
  for (const std::string type : {"roberta", "xlm-roberta", "camembert"}) {
    Member m{.type = type};
    m.pad = 1;
    ExpectFusedEqualsPlain(m);
  }
}

TEST(FusedGraphTest, DistilBertEqualsPlain) {
  Member m{.type = "distilbert"};
  m.layers = 3;
  ExpectFusedEqualsPlain(m);
}

TEST(FusedGraphTest, ElectraEqualsPlainWithAndWithoutProjection) {
  Member narrow{.type = "electra"};
  narrow.embedding = 8;
  ExpectFusedEqualsPlain(narrow);
  ExpectFusedEqualsPlain({.type = "electra"});
}

TEST(FusedGraphTest, AlbertEqualsPlainWithSharedGroups) {
  Member m{.type = "albert"};
  m.embedding = 8;
  m.layers = 5;
  m.groups = 2;
  m.inner = 2;
  m.act = "gelu_new";
  ExpectFusedEqualsPlain(m);
}

TEST(FusedGraphTest, ActivationWithoutContribFormStaysPlain) {
  Member m{.type = "bert"};
  m.act = "relu";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  m.Save(dir.path(), 5);
  const models::Model plain = models::LoadHfFolder(dir.path());
  const models::Model fused = models::LoadHfFolder(dir.path(), {.fused = true});
  const auto ops = OpCounts(fused);
  EXPECT_EQ(ops.at(":Relu"), 2);
  EXPECT_EQ(ops.at("com.microsoft:Attention"), 2);
  const AccuracyResult r =
      CompareModels(plain, fused, {}, {.batch_size = 2, .seq_len = 9}, /*seed=*/3);
  EXPECT_LT(r.max_abs_error, 1e-4);
}

TEST(FusedGraphTest, HfTinyBertFixtureVerifiesFused) {
  const std::string dir = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/bert";
  const models::Model model = models::LoadHfFolder(dir, {.fused = true});
  EXPECT_EQ(model.info.parameters, 143552);  // fixture.json "params", as plain
  EXPECT_TRUE(OpCounts(model).count("com.microsoft:Attention"));
  const ReferenceIo io = LoadReferenceIo(dir + "/io.safetensors");
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, 1e-4);
  for (const auto& o : r.outputs) EXPECT_LT(o.max_abs_error, 1e-4) << o.name;
  EXPECT_TRUE(r.passed);
}

}  // namespace fused_graph_test
}  // namespace ipfs_accel::harness
