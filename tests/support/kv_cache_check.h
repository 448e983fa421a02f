#pragma once
// Test helpers for decoders with a KV cache (the past_key_values.N / present.N
// convention): a padded prompt, and the check that decoding in chunks with the cache
// gives what one full pass gives. Shared by the plain and fused decoder tests.

#include <cmath>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {

using TensorMap = std::map<std::string, core::Tensor>;

// Zero-length past_key_values.* for every layer of `session`'s graph.
inline TensorMap EmptyCache(runtime::Session& session, int64_t batch) {
  TensorMap cache;
  for (const auto& in : session.inputs())
    if (in.name.rfind("past_key_values.", 0) == 0)
      cache[in.name] =
          core::Tensor::Zeros(core::DType::kFloat32, {batch, in.shape[1], 0, in.shape[3]});
  return cache;
}

// past_key_values.N.key -> present.N.key
inline std::string PresentName(const std::string& past) {
  return "present." + past.substr(std::string("past_key_values.").size());
}

struct Prompt {
  core::Tensor ids, mask;
};

// `batch` rows of 12 tokens; the second row right-padded from position 8, as in the fixtures.
inline Prompt MakePrompt(int64_t batch, int64_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ids(batch * 12), mask(batch * 12, 1);
  for (auto& t : ids) t = static_cast<int64_t>(rng() % static_cast<uint64_t>(vocab));
  if (batch > 1)
    for (int i = 12 + 8; i < 24; ++i) mask[i] = 0;
  return {Int64Tensor({batch, 12}, ids), Int64Tensor({batch, 12}, mask)};
}

struct CacheComparison {
  double logits = INFINITY, cache = INFINITY;
};

// The whole prompt in one pass against the same tokens fed in `chunks` with present.*
// fed back; the worst difference of the step logits and of the final cache.
inline CacheComparison CompareCacheWithFullPass(const models::Model& model, const Prompt& p,
                                                const std::vector<int64_t>& chunks) {
  auto session = runtime::OpenOnnxRuntimeSession(model, {});
  const TensorMap empty = EmptyCache(*session, p.ids.shape[0]);
  EXPECT_FALSE(empty.empty());
  TensorMap full_inputs = empty;
  full_inputs["input_ids"] = p.ids;
  full_inputs["attention_mask"] = p.mask;
  const TensorMap full = session->Run(full_inputs);
  CacheComparison worst{0, 0};
  TensorMap cache = empty;
  int64_t position = 0;
  for (int64_t chunk : chunks) {
    TensorMap step = cache;
    step["input_ids"] = SliceAxis1(p.ids, position, position + chunk);
    step["attention_mask"] = SliceAxis1(p.mask, 0, position + chunk);
    const TensorMap out = session->Run(step);
    worst.logits = std::max(
        worst.logits,
        MaxAbsDiff(out.at("logits"), SliceAxis1(full.at("logits"), position, position + chunk)));
    for (auto& [name, tensor] : cache) {
      tensor = out.at(PresentName(name));
      EXPECT_EQ(tensor.shape[2], position + chunk) << name;
    }
    position += chunk;
  }
  EXPECT_EQ(position, p.ids.shape[1]);
  for (const auto& [name, tensor] : cache)
    worst.cache = std::max(worst.cache, MaxAbsDiff(tensor, full.at(PresentName(name))));
  return worst;
}

// A prefill, a multi-token step over the cache, then single tokens, on two rows (the second
// right-padded): both differences must stay within `tolerance`.
inline void ExpectCacheConsistent(const models::Model& model, int64_t vocab,
                                  const std::string& label, double tolerance = 1e-4) {
  const CacheComparison c =
      CompareCacheWithFullPass(model, MakePrompt(2, vocab, 7), {5, 3, 1, 1, 1, 1});
  EXPECT_LT(c.logits, tolerance) << label;
  EXPECT_LT(c.cache, tolerance) << label;
  std::cout << label << ": cached-step logits differ by at most " << c.logits << ", final cache by "
            << c.cache << "\n";
}

// Sizes of the tiny seeded decoders the tests write.
inline constexpr int64_t kTinyVocab = 256, kTinyHidden = 64, kTinyInter = 128, kTinyHeads = 4;

// HF's LLaMA-style state dict (Mistral, Qwen2 and Gemma share it), name -> shape.
inline std::map<std::string, core::Shape> LlamaLikeNames(int64_t kv_heads, int64_t head_dim,
                                                         bool tied, int64_t layers) {
  std::map<std::string, core::Shape> m = {{"model.embed_tokens.weight", {kTinyVocab, kTinyHidden}},
                                          {"model.norm.weight", {kTinyHidden}}};
  if (!tied) m["lm_head.weight"] = {kTinyVocab, kTinyHidden};
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    m[p + "input_layernorm.weight"] = {kTinyHidden};
    m[p + "post_attention_layernorm.weight"] = {kTinyHidden};
    m[p + "self_attn.q_proj.weight"] = {kTinyHeads * head_dim, kTinyHidden};
    m[p + "self_attn.k_proj.weight"] = {kv_heads * head_dim, kTinyHidden};
    m[p + "self_attn.v_proj.weight"] = {kv_heads * head_dim, kTinyHidden};
    m[p + "self_attn.o_proj.weight"] = {kTinyHidden, kTinyHeads * head_dim};
    m[p + "mlp.gate_proj.weight"] = {kTinyInter, kTinyHidden};
    m[p + "mlp.up_proj.weight"] = {kTinyInter, kTinyHidden};
    m[p + "mlp.down_proj.weight"] = {kTinyHidden, kTinyInter};
  }
  return m;
}

}  // namespace ipfs_accel::testing
