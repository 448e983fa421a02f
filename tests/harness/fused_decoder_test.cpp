// The fused variant of the rotary decoder LMs (LoadOptions::fused: MultiHeadAttention,
// RotaryEmbedding, SkipSimplifiedLayerNormalization) keeps the plain graph's I/O and numbers:
//  - the hf-tiny llama, qwen2 and qwen3 fixtures verify against transformers;
//  - a tiny seeded Mistral (grouped queries, with and without a sliding window) and Gemma
//    (one KV head, wide heads, tied embeddings, (1 + weight) norms) give the plain logits and
//    cache on right-padded and left-padded batches, as do LLaMA with yarn and partial rotary;
//  - the stepwise KV cache (prefill, a multi-token step, then single tokens, present.* fed back)
//    equals the full pass;
//  - GPT-2 (no contrib form here) stays plain when asked for fused;
//  - the fused graph really holds the contrib ops and counts the plain graph's parameters.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/kv_cache_check.h"
#include "support/op_counts.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace fused_decoder_test {

using ipfs_accel::testing::OpCounts;

using ipfs_accel::testing::EmptyCache;
using ipfs_accel::testing::ExpectCacheConsistent;
using ipfs_accel::testing::LlamaLikeNames;
using ipfs_accel::testing::MakePrompt;
using ipfs_accel::testing::Prompt;

using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::SliceAxis1;

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;
using ipfs_accel::testing::TempDir;

const fs::path kFixtures = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny";
constexpr double kTolerance = 1e-4;

// ---- tensors ----

void ExpectContribLayers(const models::Model& model, int64_t layers) {
  ASSERT_TRUE(model.fused);
  auto counts = OpCounts(model);
  EXPECT_EQ(counts["com.microsoft:MultiHeadAttention"], layers);
  EXPECT_EQ(counts["com.microsoft:RotaryEmbedding"], 2 * layers);  // q and k
  // Every residual add but the embedding's meets a norm: two per layer.
  EXPECT_EQ(counts["com.microsoft:SkipSimplifiedLayerNormalization"], 2 * layers);
  EXPECT_EQ(counts[":Softmax"], 0);  // attention is the op's, not a subgraph beside it
}

// ---- the hf-tiny fixtures against transformers ----

class FusedDecoderFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedDecoderFixtureTest, MatchesTransformersAndPlainParameterCount) {
  const fs::path dir = kFixtures / GetParam();
  const models::Model fused = models::LoadHfFolder(dir.string(), {.fused = true});
  const models::Model plain = models::LoadHfFolder(dir.string());
  EXPECT_EQ(fused.info.parameters, plain.info.parameters);
  ExpectContribLayers(fused, 2);
  const ReferenceIo io = LoadReferenceIo((dir / "io.safetensors").string());
  const VerificationResult r = Verify(fused, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_TRUE(r.outputs[0].shape_matches);
  EXPECT_LT(r.outputs[0].max_abs_error, kTolerance);
  EXPECT_TRUE(r.passed);
  std::cout << GetParam() << " (fused): logits max abs error " << r.outputs[0].max_abs_error << ", "
            << fused.info.parameters << " parameters\n";
}

INSTANTIATE_TEST_SUITE_P(HfTiny, FusedDecoderFixtureTest,
                         ::testing::Values("llama", "qwen2", "qwen3"));

// ---- the KV cache against the full pass ----

class FusedDecoderFixtureCacheTest : public ::testing::TestWithParam<std::string> {};

TEST_P(FusedDecoderFixtureCacheTest, StepwiseDecodingMatchesFullPass) {
  const models::Model model =
      models::LoadHfFolder((kFixtures / GetParam()).string(), {.fused = true});
  ExpectCacheConsistent(model, 1000, GetParam() + " (fused)");
}

INSTANTIATE_TEST_SUITE_P(HfTiny, FusedDecoderFixtureCacheTest,
                         ::testing::Values("llama", "qwen2", "qwen3"));

// ---- tiny seeded checkpoints: fused against plain ----

// The sizes LlamaLikeNames writes, so configs and checkpoints agree.
constexpr int64_t kVocab = ipfs_accel::testing::kTinyVocab,
                  kHidden = ipfs_accel::testing::kTinyHidden,
                  kInter = ipfs_accel::testing::kTinyInter,
                  kHeads = ipfs_accel::testing::kTinyHeads, kLayers = 2;

// Writes config.json + seeded model.safetensors (norm scales near 1, Gemma's offsets near 0,
// the rest N(0, 0.1), so every weight moves the logits) and loads the folder both ways.
struct Pair {
  models::Model plain, fused;
};
Pair TinyPair(const TempDir& dir, const json& config,
              const std::map<std::string, core::Shape>& shapes, bool norm_offset) {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  TensorMap weights;
  for (const auto& [name, shape] : shapes) {
    Tensor t = Tensor::Zeros(DType::kFloat32, shape);
    const bool norm_scale = name.find("norm") != std::string::npos && shape.size() == 1;
    for (float& v : t.values<float>()) v = normal(rng) + (norm_scale && !norm_offset ? 1.0f : 0.0f);
    weights[name] = std::move(t);
  }
  std::ofstream(dir.path() / "config.json") << config.dump(2);
  models::WriteSafetensors((dir.path() / "model.safetensors").string(), weights);
  return {models::LoadHfFolder(dir.path().string()),
          models::LoadHfFolder(dir.path().string(), {.fused = true})};
}

json TinyConfig(const std::string& model_type) {
  return {{"model_type", model_type},     {"vocab_size", kVocab},
          {"hidden_size", kHidden},       {"intermediate_size", kInter},
          {"num_hidden_layers", kLayers}, {"num_attention_heads", kHeads},
          {"max_position_embeddings", 64}};
}

// Every output (logits and cache, padded positions included) of fused and plain on the same
// batch, right-padded and then left-padded.
void ExpectFusedEqualsPlain(const Pair& m, int64_t vocab, const std::string& label) {
  EXPECT_EQ(m.fused.info.parameters, m.plain.info.parameters) << label;
  ExpectContribLayers(m.fused, kLayers);
  auto plain = runtime::OpenOnnxRuntimeSession(m.plain, {});
  auto fused = runtime::OpenOnnxRuntimeSession(m.fused, {});
  const Prompt p = MakePrompt(2, vocab, 5);
  std::vector<int64_t> left_mask(24, 1);
  std::fill_n(left_mask.begin() + 12, 4, 0);  // second row: 4 padding tokens first
  for (const Tensor& mask : {p.mask, Int64Tensor({2, 12}, left_mask)}) {
    TensorMap in = EmptyCache(*plain, 2);
    in["input_ids"] = p.ids;
    in["attention_mask"] = mask;
    const TensorMap a = plain->Run(in), b = fused->Run(in);
    ASSERT_EQ(a.size(), b.size());
    double worst = 0;
    for (const auto& [name, tensor] : a) worst = std::max(worst, MaxAbsDiff(tensor, b.at(name)));
    EXPECT_LT(worst, kTolerance) << label;
    std::cout << label << ": fused differs from plain by " << worst << "\n";
  }
}

TEST(FusedDecoderTest, MistralWithGroupedQueries) {
  TempDir dir;
  json c = TinyConfig("mistral");
  c["num_key_value_heads"] = 2;
  c["sliding_window"] = nullptr;
  const Pair m = TinyPair(dir, c, LlamaLikeNames(2, 16, false, kLayers), false);
  ExpectFusedEqualsPlain(m, kVocab, "mistral");
  ExpectCacheConsistent(m.fused, kVocab, "mistral (fused)");
}

TEST(FusedDecoderTest, MistralWithSlidingWindow) {
  TempDir dir;
  json c = TinyConfig("mistral");
  c["num_key_value_heads"] = 2;
  c["sliding_window"] = 4;
  const Pair m = TinyPair(dir, c, LlamaLikeNames(2, 16, false, kLayers), false);
  ExpectFusedEqualsPlain(m, kVocab, "mistral (sliding window 4)");
  ExpectCacheConsistent(m.fused, kVocab, "mistral (sliding window 4) (fused)");
}

TEST(FusedDecoderTest, GemmaWithOneKvHeadAndWideHeads) {
  TempDir dir;
  json c = TinyConfig("gemma");
  c["num_key_value_heads"] = 1;
  c["head_dim"] = 32;  // heads x head_dim (128) != hidden (64), as in Gemma-7B
  c["hidden_act"] = "gelu_pytorch_tanh";
  c["tie_word_embeddings"] = true;
  const Pair m = TinyPair(dir, c, LlamaLikeNames(1, 32, true, kLayers), true);
  ExpectFusedEqualsPlain(m, kVocab, "gemma");
  ExpectCacheConsistent(m.fused, kVocab, "gemma (fused)");
}

TEST(FusedDecoderTest, LlamaWithYarnRope) {
  TempDir dir;
  json c = TinyConfig("llama");
  c["num_key_value_heads"] = 2;
  c["rope_parameters"] = {{"rope_type", "yarn"},
                          {"rope_theta", 10000.0},
                          {"factor", 4.0},
                          {"original_max_position_embeddings", 16}};
  const Pair m = TinyPair(dir, c, LlamaLikeNames(2, 16, false, kLayers), false);
  ExpectFusedEqualsPlain(m, kVocab, "llama (yarn)");
}

// RotaryEmbedding's rotary_embedding_dim: only the first half of each head turns.
TEST(FusedDecoderTest, LlamaWithPartialRotary) {
  TempDir dir;
  json c = TinyConfig("llama");
  c["num_key_value_heads"] = 2;
  c["partial_rotary_factor"] = 0.5;
  const Pair m = TinyPair(dir, c, LlamaLikeNames(2, 16, false, kLayers), false);
  ExpectFusedEqualsPlain(m, kVocab, "llama (partial rotary)");
  ExpectCacheConsistent(m.fused, kVocab, "llama (partial rotary) (fused)");
}

// Families without a contrib form stay plain when asked for the fused variant.
TEST(FusedDecoderTest, GptTwoStaysPlain) {
  const models::Model fused = models::LoadHfFolder((kFixtures / "gpt2").string(), {.fused = true});
  auto counts = OpCounts(fused);
  EXPECT_EQ(counts["com.microsoft:MultiHeadAttention"], 0);
  EXPECT_GT(counts[":Softmax"], 0);
}

}  // namespace fused_decoder_test
}  // namespace ipfs_accel::harness
