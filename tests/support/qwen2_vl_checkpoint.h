#pragma once
// A tiny Qwen2-VL checkpoint written under Hugging Face's parameter names with seeded values
// (there is no transformers fixture): its config, the language model's and the vision tower's
// state-dict names and shapes, and a folder writer.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/safetensors.h"
#include "support/kv_cache_check.h"

namespace ipfs_accel::testing::qwen2_vl {

using ShapeMap = std::map<std::string, core::Shape>;
using TensorMap = std::map<std::string, core::Tensor>;

inline constexpr int64_t kVocab = kTinyVocab, kHidden = 64, kLayers = 2;
inline constexpr int64_t kKvHeads = 2, kHeadDim = 16;
inline constexpr int64_t kImage = 250, kVideo = 251, kStart = 248, kEnd = 249;
// Vision: embed 16, 2 heads of 8, MLP 32, patches of 3 channels x 2 frames x P x P.
inline constexpr int64_t kEmbed = 16, kVisionHeads = 2, kVisionMlp = 32, kChannels = 3;
inline constexpr int64_t kFrames = 2;

inline nlohmann::json TinyConfig(int64_t patch = 2, int64_t depth = 2) {
  return {{"model_type", "qwen2_vl"},
          {"vocab_size", kVocab},
          {"hidden_size", kHidden},
          {"intermediate_size", kTinyInter},
          {"num_hidden_layers", kLayers},
          {"num_attention_heads", kTinyHeads},
          {"num_key_value_heads", kKvHeads},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 10000.0},
          {"rope_scaling", {{"type", "mrope"}, {"mrope_section", {2, 3, 3}}}},
          {"max_position_embeddings", 512},
          {"image_token_id", kImage},
          {"video_token_id", kVideo},
          {"vision_start_token_id", kStart},
          {"vision_end_token_id", kEnd},
          {"vision_config",
           {{"depth", depth},
            {"embed_dim", kEmbed},
            {"num_heads", kVisionHeads},
            {"mlp_ratio", 2},
            {"hidden_size", kHidden},
            {"patch_size", patch},
            {"temporal_patch_size", kFrames},
            {"spatial_merge_size", 2}}}};
}

// HF's language-model names ("model." + ...), with Qwen2's q/k/v biases.
inline ShapeMap LanguageNames(const std::string& prefix) {
  ShapeMap out;
  for (const auto& [name, shape] : LlamaLikeNames(kKvHeads, kHeadDim, false, kLayers)) {
    const std::string bare = name.rfind("model.", 0) == 0 ? name.substr(6) : name;
    out[bare == name ? name : prefix + bare] = shape;
  }
  for (int64_t l = 0; l < kLayers; ++l) {
    const std::string p = prefix + "layers." + std::to_string(l) + ".self_attn.";
    out[p + "q_proj.bias"] = {kHidden};
    out[p + "k_proj.bias"] = {kKvHeads * kHeadDim};
    out[p + "v_proj.bias"] = {kKvHeads * kHeadDim};
  }
  return out;
}

// HF's vision tower names under `prefix` ("visual." or transformers 5's "model.visual.").
inline ShapeMap VisionNames(const std::string& prefix, int64_t patch, int64_t depth) {
  ShapeMap m = {{prefix + "patch_embed.proj.weight", {kEmbed, kChannels, kFrames, patch, patch}},
                {prefix + "merger.ln_q.weight", {kEmbed}},
                {prefix + "merger.ln_q.bias", {kEmbed}},
                {prefix + "merger.mlp.0.weight", {4 * kEmbed, 4 * kEmbed}},
                {prefix + "merger.mlp.0.bias", {4 * kEmbed}},
                {prefix + "merger.mlp.2.weight", {kHidden, 4 * kEmbed}},
                {prefix + "merger.mlp.2.bias", {kHidden}}};
  for (int64_t b = 0; b < depth; ++b) {
    const std::string p = prefix + "blocks." + std::to_string(b) + ".";
    for (const char* norm : {"norm1", "norm2"}) {
      m[p + norm + ".weight"] = {kEmbed};
      m[p + norm + ".bias"] = {kEmbed};
    }
    m[p + "attn.qkv.weight"] = {3 * kEmbed, kEmbed};
    m[p + "attn.qkv.bias"] = {3 * kEmbed};
    m[p + "attn.proj.weight"] = {kEmbed, kEmbed};
    m[p + "attn.proj.bias"] = {kEmbed};
    m[p + "mlp.fc1.weight"] = {kVisionMlp, kEmbed};
    m[p + "mlp.fc1.bias"] = {kVisionMlp};
    m[p + "mlp.fc2.weight"] = {kEmbed, kVisionMlp};
    m[p + "mlp.fc2.bias"] = {kEmbed};
  }
  return m;
}

// N(0, 0.1), norm scales near 1, so that every weight (biases included) matters.
inline TensorMap Seeded(const ShapeMap& shapes, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.1f);
  TensorMap out;
  for (const auto& [name, shape] : shapes) {
    core::Tensor t = core::Tensor::Zeros(core::DType::kFloat32, shape);
    const bool scale =
        shape.size() == 1 && name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
        (name.find("norm") != std::string::npos || name.find("ln_q") != std::string::npos);
    for (float& v : t.values<float>()) v = normal(rng) + (scale ? 1.0f : 0.0f);
    out[name] = std::move(t);
  }
  return out;
}

inline void WriteFolder(const std::filesystem::path& dir, const nlohmann::json& config,
                        const TensorMap& weights) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "config.json") << config.dump(2);
  models::WriteSafetensors((dir / "model.safetensors").string(), weights);
}

template <typename Map>
Map Merge(Map a, const Map& b) {
  a.insert(b.begin(), b.end());
  return a;
}

}  // namespace ipfs_accel::testing::qwen2_vl
