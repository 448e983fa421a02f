// Runs the decoder-only graphs on ONNX Runtime.
//  - The hf-tiny fixtures (gpt2, llama, opt, qwen2, qwen3) against the logits transformers
//    returned, second row right-padded, padded positions included.
//  - KV-cache consistency: the whole sequence in one pass (no past) against the same
//    tokens fed in chunks and then one at a time, each step's present.* fed back as
//    past_key_values.* with the attention mask growing: every step's logits and the
//    final cache must equal the full pass's. For the families without a fixture
//    (mistral, gemma, phi, gpt_neox, and llama with llama3/yarn RoPE) a tiny checkpoint
//    is written here under HF's parameter names with seeded values.
//  - Mistral's sliding window: with one layer, a token just outside the window cannot
//    change a logit, one just inside does.

#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/harness/verification.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/kv_cache_check.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::harness {
namespace decoder_verify_test {

using ipfs_accel::testing::ExpectCacheConsistent;
using ipfs_accel::testing::LlamaLikeNames;

using ipfs_accel::testing::Int64Tensor;
using ipfs_accel::testing::MaxAbsDiff;
using ipfs_accel::testing::SliceAxis1;

namespace fs = std::filesystem;
using core::DType;
using core::Tensor;
using nlohmann::json;
using TensorMap = std::map<std::string, Tensor>;

const fs::path kFixtures = fs::path(IPFS_ACCEL_SHARED_DIR) / "fixtures/hf-tiny";
constexpr double kTolerance = 1e-4;

int64_t FixtureParams(const fs::path& dir) {
  std::ifstream in(dir / "fixture.json");
  return json::parse(in).at("params").get<int64_t>();
}

// ---- the hf-tiny fixtures against transformers ----

class DecoderFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderFixtureTest, MatchesTransformers) {
  const fs::path dir = kFixtures / GetParam();
  const models::Model model = models::LoadHfFolder(dir.string());
  EXPECT_EQ(model.info.parameters, FixtureParams(dir));
  const ReferenceIo io = LoadReferenceIo((dir / "io.safetensors").string());
  ASSERT_EQ(io.inputs.size(), 2u);  // input_ids, attention_mask: the cache starts empty
  const VerificationResult r = Verify(model, {}, io.inputs, io.outputs, kTolerance);
  ASSERT_EQ(r.outputs.size(), 1u);
  EXPECT_EQ(r.outputs[0].name, "logits");
  EXPECT_TRUE(r.outputs[0].shape_matches);
  EXPECT_LT(r.outputs[0].max_abs_error, kTolerance);
  EXPECT_TRUE(r.passed);
  std::cout << GetParam() << ": logits max abs error " << r.outputs[0].max_abs_error << ", "
            << model.info.parameters << " parameters\n";
}

INSTANTIATE_TEST_SUITE_P(HfTiny, DecoderFixtureTest,
                         ::testing::Values("gpt2", "llama", "opt", "qwen2", "qwen3"));

// ---- tensors ----

// ---- left padding ----

// A row left-padded with 4 masked tokens gives its real tokens the logits of the
// unpadded row: padded keys are masked out, and the positions do not move (OPT counts
// them from the mask; rotary families see only relative positions, so their shifted
// absolute positions change nothing beyond float error). GPT-2's learned absolute
// positions do move with left padding in HF too, so it is not among these.
class DecoderLeftPaddingTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderLeftPaddingTest, PaddedRowMatchesUnpaddedRow) {
  const fs::path dir = kFixtures / GetParam();
  const models::Model model = models::LoadHfFolder(dir.string());
  const ReferenceIo io = LoadReferenceIo((dir / "io.safetensors").string());
  const Tensor tokens = SliceAxis1(io.inputs.at("input_ids"), 0, 12);
  const auto row = tokens.values<int64_t>();
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  auto run = [&](const std::vector<int64_t>& ids, const std::vector<int64_t>& mask) {
    const int64_t n = static_cast<int64_t>(ids.size());
    TensorMap in = {{"input_ids", Int64Tensor({1, n}, ids)},
                    {"attention_mask", Int64Tensor({1, n}, mask)}};
    for (const auto& spec : session->inputs())
      if (spec.name.rfind("past_key_values.", 0) == 0)
        in[spec.name] = Tensor::Zeros(DType::kFloat32, {1, spec.shape[1], 0, spec.shape[3]});
    return session->Run(in).at("logits");
  };
  const std::vector<int64_t> ids(row.begin(), row.begin() + 12);
  std::vector<int64_t> padded_ids = {1, 1, 1, 1};
  padded_ids.insert(padded_ids.end(), ids.begin(), ids.end());
  std::vector<int64_t> padded_mask(16, 1);
  std::fill_n(padded_mask.begin(), 4, 0);
  const Tensor plain = run(ids, std::vector<int64_t>(12, 1));
  const Tensor padded = SliceAxis1(run(padded_ids, padded_mask), 4, 16);
  const double diff = MaxAbsDiff(plain, padded);
  EXPECT_LT(diff, kTolerance) << GetParam();
  std::cout << GetParam() << ": left-padded row differs from the unpadded row by " << diff << "\n";
}

INSTANTIATE_TEST_SUITE_P(HfTiny, DecoderLeftPaddingTest,
                         ::testing::Values("opt", "llama", "qwen2", "qwen3"));

// ---- the KV cache against the full pass ----

class DecoderFixtureCacheTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderFixtureCacheTest, StepwiseDecodingMatchesFullPass) {
  const models::Model model = models::LoadHfFolder((kFixtures / GetParam()).string());
  ExpectCacheConsistent(model, 1000, GetParam());
}

INSTANTIATE_TEST_SUITE_P(HfTiny, DecoderFixtureCacheTest,
                         ::testing::Values("gpt2", "llama", "opt", "qwen3"));

// ---- tiny checkpoints written here ----

using ipfs_accel::testing::TempDir;

// The sizes LlamaLikeNames writes, so configs and checkpoints agree.
constexpr int64_t kVocab = ipfs_accel::testing::kTinyVocab,
                  kHidden = ipfs_accel::testing::kTinyHidden,
                  kInter = ipfs_accel::testing::kTinyInter,
                  kHeads = ipfs_accel::testing::kTinyHeads, kLayers = 2;

// HF's state dict for a tiny config, name -> shape, written from the HF modules.
using ShapeMap = std::map<std::string, core::Shape>;

ShapeMap PhiNames(bool qk_layernorm) {
  const int64_t hd = kHidden / kHeads;
  ShapeMap m = {{"model.embed_tokens.weight", {kVocab, kHidden}},
                {"model.final_layernorm.weight", {kHidden}},
                {"model.final_layernorm.bias", {kHidden}},
                {"lm_head.weight", {kVocab, kHidden}},
                {"lm_head.bias", {kVocab}}};
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "dense"}) {
      m[p + "self_attn." + proj + ".weight"] = {kHidden, kHidden};
      m[p + "self_attn." + proj + ".bias"] = {kHidden};
    }
    for (const char* norm : {"input_layernorm", "self_attn.q_layernorm", "self_attn.k_layernorm"}) {
      if (std::string(norm) != "input_layernorm" && !qk_layernorm) continue;
      const int64_t size = std::string(norm) == "input_layernorm" ? kHidden : hd;
      m[p + norm + ".weight"] = {size};
      m[p + norm + ".bias"] = {size};
    }
    m[p + "mlp.fc1.weight"] = {kInter, kHidden};
    m[p + "mlp.fc1.bias"] = {kInter};
    m[p + "mlp.fc2.weight"] = {kHidden, kInter};
    m[p + "mlp.fc2.bias"] = {kHidden};
  }
  return m;
}

ShapeMap GptNeoxNames() {
  ShapeMap m = {{"gpt_neox.embed_in.weight", {kVocab, kHidden}},
                {"gpt_neox.final_layer_norm.weight", {kHidden}},
                {"gpt_neox.final_layer_norm.bias", {kHidden}},
                {"embed_out.weight", {kVocab, kHidden}}};
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
    for (const char* norm : {"input_layernorm", "post_attention_layernorm"}) {
      m[p + norm + ".weight"] = {kHidden};
      m[p + norm + ".bias"] = {kHidden};
    }
    m[p + "attention.query_key_value.weight"] = {3 * kHidden, kHidden};
    m[p + "attention.query_key_value.bias"] = {3 * kHidden};
    m[p + "attention.dense.weight"] = {kHidden, kHidden};
    m[p + "attention.dense.bias"] = {kHidden};
    m[p + "mlp.dense_h_to_4h.weight"] = {kInter, kHidden};
    m[p + "mlp.dense_h_to_4h.bias"] = {kInter};
    m[p + "mlp.dense_4h_to_h.weight"] = {kHidden, kInter};
    m[p + "mlp.dense_4h_to_h.bias"] = {kHidden};
  }
  return m;
}

// Seeded values large enough that every weight (norm scales and biases included)
// changes the logits: norm scales near 1 (near 0 for Gemma's offset), the rest
// N(0, 0.1).
TensorMap SeededWeights(const ShapeMap& shapes, bool norm_offset, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  TensorMap out;
  for (const auto& [name, shape] : shapes) {
    Tensor t = Tensor::Zeros(DType::kFloat32, shape);
    const bool norm_scale = name.find("norm") != std::string::npos && shape.size() == 1 &&
                            name.find(".weight") != std::string::npos;
    for (float& v : t.values<float>()) v = normal(rng) + (norm_scale && !norm_offset ? 1.0f : 0.0f);
    out[name] = std::move(t);
  }
  return out;
}

int64_t CountOf(const ShapeMap& shapes) {
  int64_t n = 0;
  for (const auto& [name, shape] : shapes) n += core::ElementCount(shape);
  return n;
}

// Writes config.json + model.safetensors and loads the folder as any HF folder.
models::Model TinyModel(const TempDir& dir, const json& config, const ShapeMap& shapes,
                        bool norm_offset = false) {
  std::ofstream(dir.path() / "config.json") << config.dump(2);
  models::WriteSafetensors((dir.path() / "model.safetensors").string(),
                           SeededWeights(shapes, norm_offset, 11));
  models::Model model = models::LoadHfFolder(dir.path().string());
  EXPECT_EQ(model.info.parameters, CountOf(shapes)) << config.dump();
  return model;
}

json TinyConfig(const std::string& model_type) {
  return {{"model_type", model_type},     {"vocab_size", kVocab},
          {"hidden_size", kHidden},       {"intermediate_size", kInter},
          {"num_hidden_layers", kLayers}, {"num_attention_heads", kHeads},
          {"max_position_embeddings", 64}};
}

TEST(DecoderCacheTest, MistralWithGroupedQueries) {
  TempDir dir;
  json c = TinyConfig("mistral");
  c["num_key_value_heads"] = 2;
  c["sliding_window"] = nullptr;
  ExpectCacheConsistent(TinyModel(dir, c, LlamaLikeNames(2, 16, false, kLayers)), kVocab,
                        "mistral");
}

TEST(DecoderCacheTest, MistralWithSlidingWindow) {
  TempDir dir;
  json c = TinyConfig("mistral");
  c["num_key_value_heads"] = 2;
  c["sliding_window"] = 4;
  ExpectCacheConsistent(TinyModel(dir, c, LlamaLikeNames(2, 16, false, kLayers)), kVocab,
                        "mistral (sliding window 4)");
}

TEST(DecoderCacheTest, GemmaWithOneKvHeadAndWideHeads) {
  TempDir dir;
  json c = TinyConfig("gemma");
  c["num_key_value_heads"] = 1;
  c["head_dim"] = 32;  // heads x head_dim (128) != hidden (64), as in Gemma-7B
  c["hidden_act"] = "gelu_pytorch_tanh";
  c["tie_word_embeddings"] = true;
  ExpectCacheConsistent(TinyModel(dir, c, LlamaLikeNames(1, 32, true, kLayers), true), kVocab,
                        "gemma");
}

TEST(DecoderCacheTest, PhiWithPartialRotaryAndQkLayerNorm) {
  TempDir dir;
  json c = TinyConfig("phi");
  c["partial_rotary_factor"] = 0.5;
  c["qk_layernorm"] = true;
  c["hidden_act"] = "gelu_new";
  ExpectCacheConsistent(TinyModel(dir, c, PhiNames(true)), kVocab, "phi");
}

TEST(DecoderCacheTest, GptNeoxParallelAndSequentialResidual) {
  for (bool parallel : {true, false}) {
    TempDir dir;
    json c = TinyConfig("gpt_neox");
    c["rotary_pct"] = 0.25;
    c["use_parallel_residual"] = parallel;
    ExpectCacheConsistent(TinyModel(dir, c, GptNeoxNames()), kVocab,
                          parallel ? "gpt_neox (parallel)" : "gpt_neox (sequential)");
  }
}

TEST(DecoderCacheTest, LlamaWithScaledRope) {
  const json llama3 = {{"rope_type", "llama3"},   {"rope_theta", 10000.0},
                       {"factor", 8.0},           {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 16}};
  const json yarn = {{"rope_type", "yarn"},
                     {"rope_theta", 10000.0},
                     {"factor", 4.0},
                     {"original_max_position_embeddings", 16}};
  const json linear = {{"rope_type", "linear"}, {"rope_theta", 10000.0}, {"factor", 2.0}};
  for (const json& rope : {llama3, yarn, linear}) {
    TempDir dir;
    json c = TinyConfig("llama");
    c["num_key_value_heads"] = 2;
    c["rope_parameters"] = rope;
    ExpectCacheConsistent(TinyModel(dir, c, LlamaLikeNames(2, 16, false, kLayers)), kVocab,
                          "llama (" + rope["rope_type"].get<std::string>() + " rope)");
  }
}

// With one layer, the logit at position t sees tokens t-3..t for a window of 4.
TEST(DecoderCacheTest, SlidingWindowHidesTokensOutsideIt) {
  TempDir dir;
  json c = TinyConfig("mistral");
  c["num_hidden_layers"] = 1;
  c["num_key_value_heads"] = 2;
  c["sliding_window"] = 4;
  const models::Model model = TinyModel(dir, c, LlamaLikeNames(2, 16, false, 1));
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  auto run = [&](const std::vector<int64_t>& ids) {
    TensorMap in = {{"input_ids", Int64Tensor({1, 10}, ids)},
                    {"attention_mask", Int64Tensor({1, 10}, std::vector<int64_t>(10, 1))}};
    for (const char* kv : {"key", "value"})
      in[std::string("past_key_values.0.") + kv] = Tensor::Zeros(DType::kFloat32, {1, 2, 0, 16});
    return SliceAxis1(session->Run(in).at("logits"), 9, 10);  // the last position
  };
  const std::vector<int64_t> base = {3, 14, 15, 92, 65, 35, 89, 79, 32, 38};
  std::vector<int64_t> outside = base, inside = base;
  outside[5] = 200;  // 9 - 5 = 4: just outside the window
  inside[6] = 200;   // 9 - 6 = 3: the oldest token inside it
  EXPECT_EQ(MaxAbsDiff(run(base), run(outside)), 0.0);
  EXPECT_GT(MaxAbsDiff(run(base), run(inside)), 1e-3);
}

}  // namespace decoder_verify_test
}  // namespace ipfs_accel::harness
