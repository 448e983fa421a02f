// analysis::EstimateMemory against sizes the tests work out themselves: a hand-built graph
// whose every tensor is known, catalog models' parameter counts, and the scaling laws of
// encoders (linear in batch, quadratic attention in sequence) and decoders (KV cache).

#include "ipfs_accel/analysis/memory_estimate.h"

#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/model.h"
#include "support/catch_error.h"
#include "support/onnx_protos.h"
#include "support/temp_dir.h"

namespace ipfs_accel::analysis {
namespace memory_estimate_test {

namespace fs = std::filesystem;
using namespace ipfs_accel::testing::onnx_protos;  // NOLINT(google-build-using-namespace)
using core::Shape;
using ShapeMap = std::map<std::string, Shape>;

const fs::path kFixtures = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny";

// bert-tiny (google/bert_uncased_L-2_H-128_A-2).
constexpr int64_t kBertLayers = 2, kBertHidden = 128, kBertIntermediate = 512, kBertHeads = 2;

ShapeMap BertShapes(int64_t batch, int64_t sequence) {
  return {{"input_ids", {batch, sequence}},
          {"attention_mask", {batch, sequence}},
          {"token_type_ids", {batch, sequence}}};
}

// ---- hand-built graphs ----------------------------------------------------------------------

// x [batch, 64] -> MatMul W1 [64, 32] -> Relu -> MatMul W2 [32, 8] (external data) -> + a
// Constant [8] -> z (output) -> Reshape to [-1] -> flat (output).
onnx::ModelProto SmallMlp(const std::string& weights_file) {
  onnx::ModelProto m = NewModel();
  auto* g = m.mutable_graph();
  g->set_name("mlp");
  AddValueInfo(g->mutable_input(), "x", onnx::TensorProto::FLOAT, {"batch", "64"});
  AddValueInfo(g->mutable_output(), "z", onnx::TensorProto::FLOAT, {"batch", "8"});
  AddValueInfo(g->mutable_output(), "flat", onnx::TensorProto::FLOAT, {"n"});
  *g->add_initializer() = FloatTensor("W1", {64, 32});
  onnx::TensorProto w2 = FloatTensor("W2", {32, 8});
  std::ofstream(weights_file, std::ios::binary) << w2.raw_data();
  w2.clear_raw_data();
  w2.set_data_location(onnx::TensorProto::EXTERNAL);
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"location", "weights.bin"},
                                   {"offset", "0"},
                                   {"length", "1024"}}) {
    auto* entry = w2.add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  *g->add_initializer() = w2;
  onnx::TensorProto flat_shape;
  flat_shape.set_name("flat_shape");
  flat_shape.set_data_type(onnx::TensorProto::INT64);
  flat_shape.add_dims(1);
  flat_shape.add_int64_data(-1);
  *g->add_initializer() = flat_shape;
  AddNode(g, "MatMul", {"x", "W1"}, {"h"}, "first");
  AddNode(g, "Relu", {"h"}, {"r"}, "relu");
  auto* constant = AddNode(g, "Constant", {}, {"c"});
  auto* value = constant->add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  *value->mutable_t() = FloatTensor("", {8});
  AddNode(g, "MatMul", {"r", "W2"}, {"y"}, "second");
  AddNode(g, "Add", {"y", "c"}, {"z"});
  AddNode(g, "Reshape", {"z", "flat_shape"}, {"flat"});
  return m;
}

TEST(MemoryEstimateTest, HandBuiltGraphIsSizedExactly) {
  testing::TempDir dir;
  const onnx::ModelProto proto = SmallMlp(dir.File("weights.bin"));
  {
    std::ofstream out(dir.File("model.onnx"), std::ios::binary);
    ASSERT_TRUE(proto.SerializeToOstream(&out));
  }
  models::Model from_file;
  from_file.info.name = "hand-built";
  from_file.onnx_path = dir.File("model.onnx");
  const int64_t batch = 3;
  const MemoryEstimate e = EstimateMemory(from_file, {{"x", {batch, 64}}});

  // W1, W2 (external data), the Reshape target and the Constant's value.
  EXPECT_EQ(e.weights_bytes, 64 * 32 * 4 + 32 * 8 * 4 + 8 + 8 * 4);
  EXPECT_EQ(e.inputs_bytes, batch * 64 * 4);
  EXPECT_EQ(e.kv_cache_bytes, 0);
  // The peak is at Relu: h and r [batch, 32] are both live; later only [batch, 8] tensors.
  EXPECT_EQ(e.activation_peak_bytes, 2 * batch * 32 * 4);
  EXPECT_EQ(e.peak_node, "relu");
  EXPECT_EQ(e.total_bytes, e.weights_bytes + e.inputs_bytes + e.activation_peak_bytes);
  EXPECT_EQ(e.unknown_tensors, 0);
  EXPECT_EQ(e.subgraphs_ignored, 0);
  EXPECT_NE(e.method.find("estimate"), std::string::npos);

  // The same graph held in memory gives the same figures.
  const MemoryEstimate in_memory = EstimateMemory(FromProto(proto), {{"x", {batch, 64}}});
  EXPECT_EQ(in_memory.weights_bytes, e.weights_bytes);
  EXPECT_EQ(in_memory.activation_peak_bytes, e.activation_peak_bytes);
}

TEST(MemoryEstimateTest, WhatInferenceCannotSizeIsCountedNotGuessed) {
  onnx::ModelProto m = NewModel();
  auto* custom = m.add_opset_import();
  custom->set_domain("example.custom");
  custom->set_version(1);
  auto* g = m.mutable_graph();
  g->set_name("untidy");
  AddValueInfo(g->mutable_input(), "x", onnx::TensorProto::FLOAT, {"n"});
  AddValueInfo(g->mutable_input(), "flag", onnx::TensorProto::BOOL, {});
  AddValueInfo(g->mutable_output(), "known", onnx::TensorProto::FLOAT, {"n"});
  AddValueInfo(g->mutable_output(), "odd", onnx::TensorProto::FLOAT, {});
  AddValueInfo(g->mutable_output(), "nz_float", onnx::TensorProto::FLOAT, {});
  AddValueInfo(g->mutable_output(), "picked", onnx::TensorProto::FLOAT, {"n"});
  AddNode(g, "Relu", {"x"}, {"known"});
  // NonZero's length depends on the values: a symbolic dimension, and so is its Cast.
  AddNode(g, "NonZero", {"x"}, {"nz"});
  AddNode(g, "Cast", {"nz"}, {"nz_float"})->add_attribute()->CopyFrom([] {
    onnx::AttributeProto to;
    to.set_name("to");
    to.set_type(onnx::AttributeProto::INT);
    to.set_i(onnx::TensorProto::FLOAT);
    return to;
  }());
  // An operator no registry knows: no type at all, nor for what reads it.
  AddNode(g, "Mystery", {"x"}, {"mystery"})->set_domain("example.custom");
  AddNode(g, "Relu", {"mystery"}, {"odd"});
  // If with two bodies that read x from the outer scope.
  auto* branch = AddNode(g, "If", {"flag"}, {"picked"});
  for (const char* body : {"then_branch", "else_branch"}) {
    auto* attr = branch->add_attribute();
    attr->set_name(body);
    attr->set_type(onnx::AttributeProto::GRAPH);
    auto* sub = attr->mutable_g();
    sub->set_name(body);
    AddValueInfo(sub->mutable_output(), std::string(body) + "_out", onnx::TensorProto::FLOAT,
                 {"n"});
    AddNode(sub, "Identity", {"x"}, {std::string(body) + "_out"});
  }

  const int64_t n = 1000;
  MemoryEstimate e;
  ASSERT_NO_THROW(e = EstimateMemory(FromProto(m), {{"x", {n}}, {"flag", {}}}));
  EXPECT_EQ(e.unknown_tensors, 4);  // nz, nz_float, mystery, odd
  EXPECT_EQ(e.subgraphs_ignored, 2);
  EXPECT_EQ(e.inputs_bytes, n * 4 + 1);
  // What is known still counts: Relu's and If's [n] outputs, both graph outputs (live to the end).
  EXPECT_EQ(e.activation_peak_bytes, 2 * n * 4);
}

// ---- catalog models -------------------------------------------------------------------------

TEST(MemoryEstimateTest, Fp32WeightsAreTheParametersAtFourBytes) {
  const models::Model bert = models::LoadModel("bert-tiny");
  const MemoryEstimate e = EstimateMemory(bert, BertShapes(1, 16));
  // Besides the parameters the graph holds only small constants (Reshape targets, epsilons).
  EXPECT_GE(e.weights_bytes, bert.info.parameters * 4);
  EXPECT_LT(e.weights_bytes - bert.info.parameters * 4, 4096);
  EXPECT_EQ(e.unknown_tensors, 0);
}

TEST(MemoryEstimateTest, Int4WeightsArePackedNibblesAndBlockScales) {
  const MemoryEstimate fp32 = EstimateMemory(models::LoadModel("bert-tiny"), BertShapes(1, 16));
  models::LoadOptions int4;
  int4.precision = models::Precision::kInt4;
  const MemoryEstimate q = EstimateMemory(models::LoadModel("bert-tiny", int4), BertShapes(1, 16));
  // Every MatMul weight (Q, K, V, output, two FFN projections per layer; the pooler) goes from
  // 4 bytes an element to half a byte plus one fp32 scale per block of 32.
  const int64_t quantized =
      kBertLayers * (4 * kBertHidden * kBertHidden + 2 * kBertHidden * kBertIntermediate) +
      kBertHidden * kBertHidden;
  EXPECT_EQ(fp32.weights_bytes - q.weights_bytes, quantized * 4 - quantized / 2 - quantized / 8);
  EXPECT_EQ(q.unknown_tensors, 0);  // MatMulNBits is sized like ONNX Runtime documents it
}

TEST(MemoryEstimateTest, EncoderGrowsLinearlyInBatch) {
  for (const bool fused : {false, true}) {
    SCOPED_TRACE(fused ? "fused" : "plain");
    models::LoadOptions options;
    options.fused = fused;
    const models::Model bert = models::LoadModel("bert-tiny", options);
    const MemoryEstimate one = EstimateMemory(bert, BertShapes(1, 64));
    const MemoryEstimate four = EstimateMemory(bert, BertShapes(4, 64));
    EXPECT_EQ(four.inputs_bytes, 4 * one.inputs_bytes);
    EXPECT_EQ(four.activation_peak_bytes, 4 * one.activation_peak_bytes);
    EXPECT_EQ(four.weights_bytes, one.weights_bytes);
    EXPECT_EQ(one.unknown_tensors, 0);
    // At least the FFN's [batch, sequence, intermediate] activation and its GELU output.
    EXPECT_GE(one.activation_peak_bytes, 64 * kBertIntermediate * 4 * (fused ? 1 : 2));
  }
}

TEST(MemoryEstimateTest, AttentionScoresGrowQuadraticallyInSequence) {
  // From 384 tokens on, bert-tiny's peak is in attention (scores outgrow the FFN's 512 wide
  // activations): peak(S) = a S + b S^2, so the second difference over a step d is 2 b d^2.
  // Plain graph: the scores and the scaled scores [batch, heads, S, S] fp32 are live together;
  // fused Attention: ONNX Runtime's one probabilities buffer of that size.
  for (const bool fused : {false, true}) {
    SCOPED_TRACE(fused ? "fused" : "plain");
    models::LoadOptions options;
    options.fused = fused;
    const models::Model bert = models::LoadModel("bert-tiny", options);
    const int64_t batch = 2, step = 64;
    std::vector<int64_t> peaks;
    for (const int64_t s : {384, 448, 512})
      peaks.push_back(EstimateMemory(bert, BertShapes(batch, s)).activation_peak_bytes);
    const int64_t score_tensors = fused ? 1 : 2;
    const int64_t b = score_tensors * batch * kBertHeads * 4;
    EXPECT_EQ(peaks[2] - 2 * peaks[1] + peaks[0], 2 * b * step * step);
  }
}

TEST(MemoryEstimateTest, DecoderKvCacheIsPastAndPresent) {
  const fs::path dir = kFixtures / "llama";
  const nlohmann::json config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  const int64_t layers = config["num_hidden_layers"], kv_heads = config["num_key_value_heads"],
                head_dim = config["head_dim"];
  ASSERT_LT(kv_heads, config["num_attention_heads"].get<int64_t>());  // grouped-query attention
  for (const bool fused : {false, true}) {
    SCOPED_TRACE(fused ? "fused" : "plain");
    models::LoadOptions options;
    options.fused = fused;
    const models::Model llama = models::LoadModel(dir.string(), options);
    const int64_t batch = 2, past = 10, fresh = 3;
    ShapeMap shapes = {{"input_ids", {batch, fresh}}, {"attention_mask", {batch, past + fresh}}};
    for (int64_t l = 0; l < layers; ++l)
      for (const char* kv : {"key", "value"})
        shapes["past_key_values." + std::to_string(l) + "." + kv] = {batch, kv_heads, past,
                                                                     head_dim};
    const MemoryEstimate e = EstimateMemory(llama, shapes);
    const int64_t past_bytes = 2 * layers * batch * kv_heads * past * head_dim * 4;
    const int64_t present_bytes = 2 * layers * batch * kv_heads * (past + fresh) * head_dim * 4;
    EXPECT_EQ(e.inputs_bytes - batch * fresh * 8 - batch * (past + fresh) * 8, past_bytes);
    EXPECT_EQ(e.kv_cache_bytes, past_bytes + present_bytes);
    EXPECT_GE(e.activation_peak_bytes, present_bytes);  // the outputs stay live to the end
    EXPECT_EQ(e.unknown_tensors, 0);  // RotaryEmbedding, MultiHeadAttention sized in fused
  }
}

TEST(MemoryEstimateTest, ShapesMustMatchTheGraphInputs) {
  const models::Model bert = models::LoadModel("bert-tiny");
  ShapeMap missing = BertShapes(1, 8);
  missing.erase("token_type_ids");
  const core::Error no_shape = testing::CatchError([&] { EstimateMemory(bert, missing); });
  EXPECT_EQ(no_shape.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(no_shape.what()).find("token_type_ids"), std::string::npos);

  ShapeMap extra = BertShapes(1, 8);
  extra["pixel_values"] = {1, 3, 224, 224};
  const core::Error unknown = testing::CatchError([&] { EstimateMemory(bert, extra); });
  EXPECT_EQ(unknown.kind(), core::ErrorKind::kInvalidArgument);
  EXPECT_NE(std::string(unknown.what()).find("pixel_values"), std::string::npos);

  ShapeMap rank = BertShapes(1, 8);
  rank["input_ids"] = {8};
  EXPECT_EQ(testing::CatchError([&] { EstimateMemory(bert, rank); }).kind(),
            core::ErrorKind::kInvalidArgument);
}

TEST(MemoryEstimateTest, UnreadableFileIsNotFound) {
  models::Model m;
  m.info.name = "gone";
  m.onnx_path = "/nonexistent/model.onnx";
  EXPECT_EQ(testing::CatchError([&] { EstimateMemory(m, {}); }).kind(), core::ErrorKind::kNotFound);
  testing::TempDir dir;
  std::ofstream(dir.File("junk.onnx")) << "not a protobuf";
  m.onnx_path = dir.File("junk.onnx");
  EXPECT_EQ(testing::CatchError([&] { EstimateMemory(m, {}); }).kind(), core::ErrorKind::kCorrupt);
}

TEST(DescribeBytesTest, BinaryUnits) {
  EXPECT_EQ(DescribeBytes(0), "0 B");
  EXPECT_EQ(DescribeBytes(1023), "1023 B");
  EXPECT_EQ(DescribeBytes(1536), "1.5 KiB");
  EXPECT_EQ(DescribeBytes(int64_t{3} << 20), "3.0 MiB");
  EXPECT_EQ(DescribeBytes((int64_t{5} << 30) / 4), "1.25 GiB");
}

}  // namespace memory_estimate_test
}  // namespace ipfs_accel::analysis
