// Multi-head latent attention's projections (src/models/mla.h) run by ONNX Runtime against a
// double-precision reference written from DeepSeek-V2/V3's attention modules: the low-rank query,
// the compressed keys and values, and the rotary part in each of HF's three layouts.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/graph_builder.h"
#include "models/mla.h"
#include "models/rotary.h"
#include "models/weights.h"
#include "support/checked_graph.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {
namespace mla_test {

using nlohmann::json;

constexpr int64_t kHidden = 12, kTokens = 4, kHeads = 2;

models::MlaSpec Spec(int64_t q_lora_rank, const std::string& layout) {
  models::MlaSpec s;
  s.hidden = kHidden;
  s.heads = kHeads;
  s.q_lora_rank = q_lora_rank;
  s.kv_lora_rank = 6;
  s.nope_dim = 4;
  s.rope_dim = 6;
  s.value_dim = 5;
  s.bias = true;
  s.rope_layout = layout;
  return s;
}

Checkpoint MlaWeights(const models::MlaSpec& s) {
  Checkpoint w(7);
  const int64_t q_out = s.heads * s.key_dim();
  if (s.q_lora_rank == 0) {
    w.Linear("q_proj", s.hidden, q_out, false);
  } else {
    w.Linear("q_a_proj", s.hidden, s.q_lora_rank, s.bias);
    w.Add("q_a_layernorm.weight", {s.q_lora_rank}, 0.1, 1.0);
    w.Linear("q_b_proj", s.q_lora_rank, q_out, false);
  }
  w.Linear("kv_a_proj_with_mqa", s.hidden, s.kv_lora_rank + s.rope_dim, s.bias);
  w.Add("kv_a_layernorm.weight", {s.kv_lora_rank}, 0.1, 1.0);
  w.Linear("kv_b_proj", s.kv_lora_rank, s.heads * (s.nope_dim + s.value_dim), false);
  return w;
}

Vec RmsNorm(const Vec& x, const Vec& weight) {
  double ms = 0;
  for (double v : x) ms += v * v / static_cast<double>(x.size());
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(ms + 1e-6) * weight[i];
  return y;
}

// The rotary part of one head at position p, as HF's three rotary functions compute it.
Vec RotateRef(Vec x, int64_t p, const std::vector<float>& inv_freq, const std::string& layout) {
  const size_t half = x.size() / 2;
  if (layout == "complex") {
    for (size_t i = 0; i < half; ++i) {
      const double a = x[2 * i], b = x[2 * i + 1], t = p * static_cast<double>(inv_freq[i]);
      x[2 * i] = a * std::cos(t) - b * std::sin(t);
      x[2 * i + 1] = a * std::sin(t) + b * std::cos(t);
    }
    return x;
  }
  if (layout == "interleave") {
    Vec d(x.size());
    for (size_t i = 0; i < half; ++i) d[i] = x[2 * i], d[half + i] = x[2 * i + 1];
    x = d;
  }
  Vec y(x.size());
  for (size_t i = 0; i < half; ++i) {
    const double t = p * static_cast<double>(inv_freq[i]);
    y[i] = x[i] * std::cos(t) - x[half + i] * std::sin(t);
    y[half + i] = x[half + i] * std::cos(t) + x[i] * std::sin(t);
  }
  return y;
}

struct Expected {
  Vec q, k, v;  // [heads, S, d] each
};

Expected Reference(const models::MlaSpec& s, const Checkpoint& w, const Vec& x,
                   const std::vector<float>& inv_freq) {
  const int64_t kd = s.key_dim();
  Expected e;
  e.q.resize(kHeads * kTokens * kd);
  e.k.resize(kHeads * kTokens * kd);
  e.v.resize(kHeads * kTokens * s.value_dim);
  for (int64_t t = 0; t < kTokens; ++t) {
    const Vec xt(x.begin() + t * kHidden, x.begin() + (t + 1) * kHidden);
    const Vec q = s.q_lora_rank == 0
                      ? Linear(w, "q_proj", xt, 1, kHidden, kHeads * kd)
                      : Linear(w, "q_b_proj",
                               RmsNorm(Linear(w, "q_a_proj", xt, 1, kHidden, s.q_lora_rank),
                                       w["q_a_layernorm.weight"]),
                               1, s.q_lora_rank, kHeads * kd);
    const Vec c = Linear(w, "kv_a_proj_with_mqa", xt, 1, kHidden, s.kv_lora_rank + s.rope_dim);
    const Vec kv =
        Linear(w, "kv_b_proj",
               RmsNorm(Vec(c.begin(), c.begin() + s.kv_lora_rank), w["kv_a_layernorm.weight"]), 1,
               s.kv_lora_rank, kHeads * (s.nope_dim + s.value_dim));
    const Vec k_rot =
        RotateRef(Vec(c.begin() + s.kv_lora_rank, c.end()), t, inv_freq, s.rope_layout);
    for (int64_t h = 0; h < kHeads; ++h) {
      const auto qh = q.begin() + h * kd;
      const Vec q_rot = RotateRef(Vec(qh + s.nope_dim, qh + kd), t, inv_freq, s.rope_layout);
      const auto kvh = kv.begin() + h * (s.nope_dim + s.value_dim);
      for (int64_t i = 0; i < kd; ++i) {
        const bool nope = i < s.nope_dim;
        e.q[(h * kTokens + t) * kd + i] = nope ? qh[i] : q_rot[i - s.nope_dim];
        e.k[(h * kTokens + t) * kd + i] = nope ? kvh[i] : k_rot[i - s.nope_dim];
      }
      for (int64_t i = 0; i < s.value_dim; ++i)
        e.v[(h * kTokens + t) * s.value_dim + i] = kvh[s.nope_dim + i];
    }
  }
  return e;
}

double MaxDifference(const models::MlaSpec& s) {
  TempDir dir;
  const Checkpoint w = MlaWeights(s);
  w.Save(dir, json{{"model_type", "test"}});
  models::RopeSpec rope;
  rope.rotary_dim = s.rope_dim;
  for (int64_t i = 0; i < s.rope_dim / 2; ++i)
    rope.inv_freq.push_back(static_cast<float>(std::pow(100.0, -2.0 * i / s.rope_dim)));
  models::SafetensorsWeights weights(dir.path().string(), {});
  const models::Model m = CheckedGraph(weights, "mla", [&](models::GraphBuilder& g) {
    const models::Dim batch = std::string("batch"), seq = std::string("sequence");
    g.Input("x", onnx::TensorProto::FLOAT, {batch, seq, kHidden});
    g.Input("positions", onnx::TensorProto::INT64, {1, seq});
    const models::MlaHeads heads =
        models::MlaProjections(g, s, "x", "", models::RopeCosSin(g, rope, "positions"));
    for (const auto& [name, value, d] :
         {std::tuple{"q", heads.q, s.key_dim()}, std::tuple{"k", heads.k, s.key_dim()},
          std::tuple{"v", heads.v, s.value_dim}}) {
      g.Node("Identity", {value}, {}, name);
      g.Output(name, onnx::TensorProto::FLOAT, {batch, kHeads, seq, d});
    }
  });

  Vec x(kTokens * kHidden);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double& v : x) v = static_cast<float>(normal(rng));
  auto session = runtime::OpenOnnxRuntimeSession(m, {});
  const auto out = session->Run({{"x", FloatTensor({1, kTokens, kHidden}, x)},
                                 {"positions", Int64Tensor({1, kTokens}, {0, 1, 2, 3})}});
  const Expected e = Reference(s, w, x, rope.inv_freq);
  return std::max({MaxAbsDiff(out.at("q"), FloatTensor({1, kHeads, kTokens, s.key_dim()}, e.q)),
                   MaxAbsDiff(out.at("k"), FloatTensor({1, kHeads, kTokens, s.key_dim()}, e.k)),
                   MaxAbsDiff(out.at("v"), FloatTensor({1, kHeads, kTokens, s.value_dim}, e.v))});
}

TEST(LatentAttention, DeepseekV3LowRankQueryWithInterleavedRopeMatchesReference) {
  EXPECT_LT(MaxDifference(Spec(5, "interleave")), 1e-4);
}

TEST(LatentAttention, DeepseekV2ComplexRopeMatchesReference) {
  EXPECT_LT(MaxDifference(Spec(5, "complex")), 1e-4);
}

TEST(LatentAttention, PlainQueryProjectionWithRotateHalfMatchesReference) {
  EXPECT_LT(MaxDifference(Spec(0, "half")), 1e-4);
}

TEST(LatentAttention, YarnMscaleAllDimScalesTheSoftmax) {
  const json sizes = {
      {"kv_lora_rank", 8}, {"qk_nope_head_dim", 8}, {"qk_rope_head_dim", 8}, {"v_head_dim", 8}};
  json yarn = sizes;
  yarn["rope_parameters"] = {
      {"rope_type", "yarn"}, {"factor", 40.0}, {"mscale_all_dim", 1.0}, {"rope_theta", 1e4}};
  const double mscale = 0.1 * std::log(40.0) + 1.0;
  EXPECT_NEAR(models::ReadMlaSpec(models::HfConfig(yarn, "test"), 16, 2).scale,
              mscale * mscale / 4.0, 1e-6);
  EXPECT_NEAR(models::ReadMlaSpec(models::HfConfig(sizes, "test"), 16, 2).scale, 0.25, 1e-7);
}

}  // namespace mla_test
}  // namespace ipfs_accel::testing
