// The mixture-of-experts MLP (src/models/moe.h) run by ONNX Runtime against a double-precision
// reference written from Hugging Face's router and expert modules: Mixtral's softmax top-k
// renormalised, Qwen2-MoE's shared expert behind its sigmoid gate, GraniteMoE's softmax over the
// top-k logits, and DeepSeek-V3's sigmoid scores with a selection bias, group-limited choice and
// routed scaling.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"
#include "models/graph_builder.h"
#include "models/moe.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/checked_graph.h"
#include "support/kv_cache_check.h"
#include "support/reference_forward.h"
#include "support/temp_dir.h"
#include "support/tensors.h"

namespace ipfs_accel::testing {
namespace moe_test {

using nlohmann::json;

constexpr int64_t kHidden = 8, kTokens = 5;

Vec Softmax(Vec v) {
  const double top = *std::max_element(v.begin(), v.end());
  double sum = 0;
  for (double& x : v) sum += (x = std::exp(x - top));
  for (double& x : v) x /= sum;
  return v;
}

// Indices of the k largest values, largest first.
std::vector<int64_t> TopIndices(const Vec& v, int64_t k) {
  std::vector<int64_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
  idx.resize(k);
  return idx;
}

// One round of PhiMoE's sparsemixer in eval mode: the best candidate and its weight.
std::pair<int64_t, double> SparseMixerRound(const Vec& logits, const Vec& candidates, double eps) {
  const int64_t best = TopIndices(candidates, 1)[0];
  const double top = candidates[best];
  Vec masked = candidates;
  for (size_t e = 0; e < logits.size(); ++e)
    if ((top - logits[e]) / std::max(std::abs(logits[e]), top) > 2 * eps) masked[e] = -INFINITY;
  return {best, Softmax(masked)[best]};
}

// The routing weights of one token over all experts (zero outside its top k), as HF's routers.
Vec Route(const models::MoeSpec& s, const Checkpoint& w, const Vec& logits) {
  std::vector<int64_t> chosen;
  Vec picked(s.top_k);
  if (s.scoring == "sparsemixer") {
    const auto [first, w1] = SparseMixerRound(logits, logits, s.jitter_eps);
    Vec rest = logits;
    rest[first] = -INFINITY;
    const auto [second, w2] = SparseMixerRound(logits, rest, s.jitter_eps);
    chosen = {first, second};
    picked = {w1, w2};
  } else if (s.scoring == "topk_softmax") {
    chosen = TopIndices(logits, s.top_k);
    Vec top;
    for (int64_t i : chosen) top.push_back(logits[i]);
    picked = Softmax(top);
  } else {
    Vec scores = logits;
    if (s.scoring == "softmax") scores = Softmax(logits);
    if (s.scoring == "sigmoid")
      for (double& x : scores) x = 1.0 / (1.0 + std::exp(-x));
    Vec choice = scores;
    if (!s.selection_bias.empty())
      for (int64_t e = 0; e < s.experts; ++e) choice[e] += w["mlp." + s.selection_bias][e];
    if (s.groups > 1) {
      const int64_t per = s.experts / s.groups;
      Vec group_scores(s.groups);
      for (int64_t gi = 0; gi < s.groups; ++gi) {
        const Vec group(choice.begin() + gi * per, choice.begin() + (gi + 1) * per);
        for (int64_t i : TopIndices(group, 2)) group_scores[gi] += group[i];
      }
      std::vector<bool> kept(s.groups, false);
      for (int64_t gi : TopIndices(group_scores, s.groups_kept)) kept[gi] = true;
      for (int64_t e = 0; e < s.experts; ++e)
        if (!kept[e / per]) choice[e] = -INFINITY;
    }
    chosen = TopIndices(choice, s.top_k);
    for (int64_t i = 0; i < s.top_k; ++i) picked[i] = scores[chosen[i]];
  }
  if (s.norm_topk) {
    const double sum = std::accumulate(picked.begin(), picked.end(), 0.0) + s.norm_add;
    for (double& p : picked) p /= std::max(sum, s.norm_min);
  }
  Vec dense(s.experts, 0.0);
  for (int64_t i = 0; i < s.top_k; ++i) dense[chosen[i]] = picked[i] * s.routed_scaling;
  return dense;
}

Vec GatedMlp(const Vec& x, const Vec& gate, const Vec& up, const Vec& down, int64_t hidden,
             int64_t inter) {
  const Vec g = Act(Dense(x, 1, hidden, inter, gate, nullptr), "silu");
  const Vec u = Dense(x, 1, hidden, inter, up, nullptr);
  Vec mid(inter);
  for (int64_t i = 0; i < inter; ++i) mid[i] = g[i] * u[i];
  return Dense(mid, 1, inter, hidden, down, nullptr);
}

// GPT-OSS's expert e on one token: [in, out] weights, biases, interleaved gate/up, clamped gate.
Vec GptOssExpert(const models::MoeSpec& s, const Checkpoint& w, const Vec& x, int64_t e) {
  const std::string p = "mlp." + s.experts_prefix;
  const int64_t h = s.hidden, i2 = 2 * s.intermediate;
  Vec mid(s.intermediate);
  for (int64_t j = 0; j < s.intermediate; ++j) {
    double gate = w[p + s.gate_up + "_bias"][e * i2 + 2 * j];
    double up = w[p + s.gate_up + "_bias"][e * i2 + 2 * j + 1];
    for (int64_t k = 0; k < h; ++k) {
      gate += x[k] * w[p + s.gate_up][(e * h + k) * i2 + 2 * j];
      up += x[k] * w[p + s.gate_up][(e * h + k) * i2 + 2 * j + 1];
    }
    gate = std::min(gate, 7.0);
    up = std::clamp(up, -7.0, 7.0);
    mid[j] = (up + 1) * gate / (1.0 + std::exp(-1.702 * gate));
  }
  Vec out(h);
  for (int64_t o = 0; o < h; ++o) {
    out[o] = w[p + s.down + "_bias"][e * h + o];
    for (int64_t j = 0; j < s.intermediate; ++j)
      out[o] += mid[j] * w[p + s.down][(e * s.intermediate + j) * h + o];
  }
  return out;
}

// HF's block on one token.
Vec ReferenceMoe(const models::MoeSpec& s, const Checkpoint& w, const Vec& x) {
  const Vec logits = Linear(w, "mlp." + s.router, x, 1, s.hidden, s.experts);
  const Vec route = Route(s, w, logits);
  const std::string p = "mlp." + s.experts_prefix;
  const int64_t per_gate_up = 2 * s.intermediate * s.hidden, per_down = s.hidden * s.intermediate;
  Vec y(s.hidden, 0.0);
  for (int64_t e = 0; e < s.experts; ++e) {
    if (route[e] == 0.0) continue;
    if (s.experts_layout == "gpt_oss") {
      const Vec out = GptOssExpert(s, w, x, e);
      for (int64_t h = 0; h < s.hidden; ++h) y[h] += route[e] * out[h];
      continue;
    }
    const auto gu = w[p + s.gate_up].begin() + e * per_gate_up;
    const Vec gate(gu, gu + per_gate_up / 2), up(gu + per_gate_up / 2, gu + per_gate_up);
    const auto d = w[p + s.down].begin() + e * per_down;
    const Vec out = GatedMlp(x, gate, up, Vec(d, d + per_down), s.hidden, s.intermediate);
    for (int64_t h = 0; h < s.hidden; ++h) y[h] += route[e] * out[h];
  }
  if (s.shared_intermediate > 0) {
    const std::string sp = "mlp." + s.shared;
    Vec gate, up;
    if (s.shared_gate_up.empty()) {
      gate = w[sp + ".gate_proj.weight"];
      up = w[sp + ".up_proj.weight"];
    } else {  // [gate | up] rows of one matrix
      const Vec& both = w[sp + "." + s.shared_gate_up + ".weight"];
      const auto half = both.begin() + s.shared_intermediate * s.hidden;
      gate.assign(both.begin(), half);
      up.assign(half, both.end());
    }
    Vec out = GatedMlp(x, gate, up, w[sp + "." + s.shared_down + ".weight"], s.hidden,
                       s.shared_intermediate);
    if (!s.shared_gate.empty()) {
      const double z = Linear(w, "mlp." + s.shared_gate, x, 1, s.hidden, 1)[0];
      for (double& v : out) v /= 1.0 + std::exp(-z);
    }
    for (int64_t h = 0; h < s.hidden; ++h) y[h] += out[h];
  }
  return y;
}

Checkpoint MoeWeights(const models::MoeSpec& s, uint64_t seed) {
  Checkpoint w(seed);
  const std::string p = "mlp." + s.experts_prefix;
  w.Linear("mlp." + s.router, s.hidden, s.experts, s.router_bias);
  if (s.experts_layout == "gpt_oss") {  // large enough that the clamps at 7 bite
    w.Add(p + s.gate_up, {s.experts, s.hidden, 2 * s.intermediate}, 2.0);
    w.Add(p + s.gate_up + "_bias", {s.experts, 2 * s.intermediate}, 0.3);
    w.Add(p + s.down, {s.experts, s.intermediate, s.hidden}, 0.3);
    w.Add(p + s.down + "_bias", {s.experts, s.hidden}, 0.3);
  } else {
    w.Add(p + s.gate_up, {s.experts, 2 * s.intermediate, s.hidden}, 0.3);
    w.Add(p + s.down, {s.experts, s.hidden, s.intermediate}, 0.3);
  }
  if (!s.selection_bias.empty()) w.Add("mlp." + s.selection_bias, {s.experts}, 0.3);
  if (s.shared_intermediate > 0 && !s.shared_gate_up.empty()) {
    w.Linear("mlp." + s.shared + "." + s.shared_gate_up, s.hidden, 2 * s.shared_intermediate,
             false);
    w.Linear("mlp." + s.shared + "." + s.shared_down, s.shared_intermediate, s.hidden, false);
  } else if (s.shared_intermediate > 0)
    for (const char* name : {"gate_proj", "up_proj", "down_proj"}) {
      const bool down = std::string(name) == "down_proj";
      w.Linear("mlp." + s.shared + "." + name, down ? s.shared_intermediate : s.hidden,
               down ? s.hidden : s.shared_intermediate, false);
    }
  if (!s.shared_gate.empty()) w.Linear("mlp." + s.shared_gate, s.hidden, 1, false);
  return w;
}

// x [1, kTokens, kHidden] -> y through MoeMlp, the weights from `dir`.
models::Model MoeGraph(const TempDir& dir, const models::MoeSpec& s) {
  models::SafetensorsWeights weights(dir.path().string(), {});
  return CheckedGraph(weights, "moe", [&](models::GraphBuilder& g) {
    const models::Dim batch = std::string("batch"), seq = std::string("sequence");
    g.Input("x", onnx::TensorProto::FLOAT, {batch, seq, kHidden});
    g.Node("Identity", {models::MoeMlp(g, s, "x", "mlp.")}, {}, "y");
    g.Output("y", onnx::TensorProto::FLOAT, {batch, seq, kHidden});
  });
}

// The largest difference between ONNX Runtime's block and the reference over kTokens tokens.
double MaxDifferenceFromReference(const models::MoeSpec& s) {
  TempDir dir;
  const Checkpoint w = MoeWeights(s, 11);
  w.Save(dir, json{{"model_type", "test"}});
  Vec x(kTokens * kHidden);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double& v : x) v = static_cast<float>(normal(rng));
  auto session = runtime::OpenOnnxRuntimeSession(MoeGraph(dir, s), {});
  const core::Tensor y = session->Run({{"x", FloatTensor({1, kTokens, kHidden}, x)}}).at("y");
  Vec want;
  for (int64_t t = 0; t < kTokens; ++t) {
    const Vec row = ReferenceMoe(s, w, Vec(x.begin() + t * kHidden, x.begin() + (t + 1) * kHidden));
    want.insert(want.end(), row.begin(), row.end());
  }
  return MaxAbsDiff(y, FloatTensor({1, kTokens, kHidden}, want));
}

models::MoeSpec Spec(int64_t experts, int64_t top_k, int64_t intermediate) {
  models::MoeSpec s;
  s.hidden = kHidden;
  s.experts = experts;
  s.top_k = top_k;
  s.intermediate = intermediate;
  return s;
}

TEST(MoeMlp, MixtralSoftmaxTopKRenormalisedMatchesReference) {
  models::MoeSpec s = Spec(4, 2, 6);
  s.norm_topk = true;
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, Qwen2MoeSharedExpertBehindItsSigmoidGateMatchesReference) {
  models::MoeSpec s = Spec(6, 3, 4);
  s.shared_intermediate = 10;
  s.shared = "shared_expert";
  s.shared_gate = "shared_expert_gate";
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, GraniteSoftmaxOverTopKLogitsWithItsNamesMatchesReference) {
  models::MoeSpec s = Spec(5, 2, 3);
  s.scoring = "topk_softmax";
  s.router = "router.layer";
  s.experts_prefix = "";
  s.gate_up = "input_linear.weight";
  s.down = "output_linear.weight";
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, GraniteMoeSharedFusedSharedMlpAddedToTheExpertsMatchesReference) {
  models::MoeSpec s = Spec(5, 2, 3);
  s.scoring = "topk_softmax";
  s.router = "router";
  s.shared_intermediate = 7;
  s.shared = "shared_mlp";
  s.shared_gate_up = "input_linear";
  s.shared_down = "output_linear";
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, GptOssBiasedInterleavedClampedExpertsMatchReference) {
  models::MoeSpec s = Spec(4, 2, 3);
  s.scoring = "topk_softmax";
  s.router = "router";
  s.router_bias = true;
  s.experts_layout = "gpt_oss";
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, PhimoeSparseMixerMatchesReference) {
  models::MoeSpec s = Spec(6, 2, 4);
  s.scoring = "sparsemixer";
  s.router = "router";
  s.jitter_eps = 0.3;  // wide enough that some tokens' softmax keeps more than one expert
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, DeepseekV3SigmoidGroupLimitedChoiceMatchesReference) {
  models::MoeSpec s = Spec(8, 3, 4);
  s.scoring = "sigmoid";
  s.selection_bias = "gate.e_score_correction_bias";
  s.groups = 4;
  s.groups_kept = 2;
  s.norm_topk = true;
  s.norm_add = 1e-20;
  s.routed_scaling = 2.5;
  s.shared_intermediate = 8;
  EXPECT_LT(MaxDifferenceFromReference(s), 1e-4);
}

TEST(MoeMlp, RouterWithoutTheSelectionBiasChoosesOtherExperts) {
  // The check above is only worth something if the bias changes which experts win.
  models::MoeSpec s = Spec(8, 2, 4);
  s.scoring = "sigmoid";
  s.selection_bias = "gate.e_score_correction_bias";
  const Checkpoint w = MoeWeights(s, 11);
  const Vec x(kHidden, 0.5);
  const Vec with_bias = ReferenceMoe(s, w, x);
  s.selection_bias.clear();
  EXPECT_GT(
      MaxAbsDiff(FloatTensor({kHidden}, with_bias), FloatTensor({kHidden}, ReferenceMoe(s, w, x))),
      1e-3);
}

TEST(MoeMlp, ReadMoeSpecRefusesMoreExpertsPerTokenThanExperts) {
  const models::HfConfig c(json{{"num_local_experts", 4}, {"num_experts_per_tok", 5}}, "test");
  const json piece = {
      {"experts", "$num_local_experts"}, {"top_k", "$num_experts_per_tok"}, {"intermediate", 8}};
  const auto e = CatchError([&] { models::ReadMoeSpec(c, piece, kHidden, "silu"); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kCorrupt);
  EXPECT_NE(std::string(e.what()).find("experts per token (5)"), std::string::npos);
}

TEST(MoeMlp, LayersBeforeFirstDenseAndMlpOnlyLayersStayDense) {
  const models::HfConfig c(json{{"first_k_dense_replace", 2}, {"mlp_only_layers", {4}}}, "test");
  const json piece = {{"first_dense", "$first_k_dense_replace"},
                      {"dense_layers", "$mlp_only_layers"}};
  std::vector<bool> moe;
  for (int64_t l = 0; l < 6; ++l) moe.push_back(models::MoeLayer(c, piece, l));
  EXPECT_EQ(moe, (std::vector<bool>{false, false, true, true, false, true}));
}

TEST(MoeMlp, ErnieLayersFromStartToEndIndexEveryIntervalAreSparse) {
  // ERNIE 4.5: ((l + 1) % interval == 0) and start <= l <= end; end -1 is the last layer.
  const json piece = {{"first_dense", "$moe_layer_start_index"},
                      {"last_sparse", "$moe_layer_end_index"},
                      {"every", "$moe_layer_interval"}};
  auto layers = [&](const json& config) {
    std::vector<bool> moe;
    for (int64_t l = 0; l < 8; ++l)
      moe.push_back(models::MoeLayer(models::HfConfig(config, "t"), piece, l));
    return moe;
  };
  EXPECT_EQ(
      layers({{"moe_layer_start_index", 1}, {"moe_layer_end_index", 5}, {"moe_layer_interval", 2}}),
      (std::vector<bool>{false, true, false, true, false, true, false, false}));
  EXPECT_EQ(
      layers(
          {{"moe_layer_start_index", 2}, {"moe_layer_end_index", -1}, {"moe_layer_interval", 1}}),
      (std::vector<bool>{false, false, true, true, true, true, true, true}));
}

TEST(MoeMlp, GlmMlpLayerTypesChooseSparseLayersOverFirstDense) {
  const models::HfConfig c(json{{"mlp_layer_types", {"sparse", "dense", "sparse"}}}, "test");
  const json piece = {{"first_dense", 1}, {"layer_types", "$mlp_layer_types"}};
  EXPECT_TRUE(models::MoeLayer(c, piece, 0));
  EXPECT_FALSE(models::MoeLayer(c, piece, 1));
  EXPECT_FALSE(models::MoeLayer(models::HfConfig(json::object(), "test"), piece, 0));
  EXPECT_EQ(CatchError([&] { models::MoeLayer(c, piece, 3); }).kind(), core::ErrorKind::kCorrupt);
}

// Every template with a mixture of experts or latent attention, at its tiny size with seeded
// weights: finite logits, and decoding in chunks over the KV cache gives the one-pass logits and
// cache (so the experts route each token alike either way and MLA's cache holds what it uses).
TEST(MoeTemplates, EveryMoeOrLatentAttentionTemplateRunsTinyWithAConsistentCache) {
  int checked = 0;
  for (const models::ArchitectureTemplate& t : models::Templates()) {
    if (t.abstract || t.builder != "decoder") continue;
    const json& pieces = t.resolved["pieces"];
    if (pieces.value("mlp", "") != "moe" && pieces.value("attention", "") != "mla") continue;
    const models::HfConfig tiny = models::TinyConfig(t);
    const models::Model m = models::LoadConfig(tiny, "template:" + t.model_type);
    auto session = runtime::OpenOnnxRuntimeSession(m, {});
    const int64_t vocab = tiny.json()["vocab_size"].get<int64_t>();
    const Prompt p = MakePrompt(2, vocab, 3);
    TensorMap in = EmptyCache(*session, 2);
    in["input_ids"] = p.ids;
    in["attention_mask"] = p.mask;
    for (float v : session->Run(in).at("logits").values<float>())
      ASSERT_TRUE(std::isfinite(v)) << t.model_type;
    ExpectCacheConsistent(m, vocab, t.model_type);
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(MoeTemplates, AMixtralConfigWithDeepseeksDenseLayersIsRefusedNamingTheKey) {
  const models::HfConfig c(json{{"model_type", "mixtral"}, {"first_k_dense_replace", 1}}, "test");
  const core::Error e = CatchError([&] { models::CountParameters(c); });
  EXPECT_EQ(e.kind(), core::ErrorKind::kUnsupported);
  EXPECT_NE(std::string(e.what()).find("first_k_dense_replace"), std::string::npos) << e.what();
}

// Two HF default configs that cannot run (their templates state parameters_differ): with the one
// key set that makes them buildable, which carries no parameters, the count is HF's.
TEST(MoeTemplates, CountsEqualHfsWhereTheDefaultConfigCannotRun) {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  ASSERT_TRUE(in.good());
  const json truth = json::parse(in)["models"];
  struct Case {
    std::string type;
    json keys;
    int64_t head = 0;  // an LM head the graph has over HF's base count (vocab x hidden)
  };
  const std::vector<Case> cases = {
      {"deepseek_v2", {{"num_experts_per_tok", 6}}},
      {"glm4_moe", {{"head_dim", 42}, {"partial_rotary_factor", 1.0}}},
      {"glm4v_moe_text", {{"head_dim", 42}, {"partial_rotary_factor", 1.0}}, 151424LL * 4096}};
  for (const Case& c : cases) {
    const models::ArchitectureTemplate* t = models::FindTemplate(c.type);
    ASSERT_NE(t, nullptr) << c.type;
    EXPECT_FALSE(t->parameters_differ.empty()) << c.type;
    json config = c.keys;  // over HF's defaults, as DefaultConfig
    config["model_type"] = c.type;
    const char* column = c.head > 0 ? "base_params" : "causal_lm_params";
    EXPECT_EQ(models::CountParameters(models::HfConfig(config, "test:" + c.type)),
              truth[c.type][column].get<int64_t>() + c.head)
        << c.type;
  }
}

// dots.llm1's sliding layers: from max_window_layers on, with no use_sliding_window switch. The
// graph from max_window_layers 1 equals the one whose layer_types say so, and differs from the
// one with no sliding layer (12 tokens, a window of 4).
TEST(MoeTemplates, Dots1SlidesTheLayersFromMaxWindowLayersOnAsItsLayerTypesWould) {
  const models::ArchitectureTemplate* t = models::FindTemplate("dots1");
  ASSERT_NE(t, nullptr);
  auto logits = [&](const json& keys) {
    json config = models::TinyConfig(*t).json();
    for (const auto& [k, v] : keys.items()) config[k] = v;
    const models::Model m = models::LoadConfig(models::HfConfig(config, "test"), "template:dots1");
    auto session = runtime::OpenOnnxRuntimeSession(m, {});
    const Prompt p = MakePrompt(1, config["vocab_size"].get<int64_t>(), 3);
    TensorMap in = EmptyCache(*session, 1);
    in["input_ids"] = p.ids;
    in["attention_mask"] = p.mask;
    return session->Run(in).at("logits");
  };
  const core::Tensor from_one = logits({{"max_window_layers", 1}});
  const core::Tensor listed =
      logits({{"layer_types", {"full_attention", "sliding_attention", "sliding_attention"}}});
  const core::Tensor none = logits({{"max_window_layers", 3}});
  EXPECT_LT(MaxAbsDiff(from_one, listed), 1e-6);
  EXPECT_GT(MaxAbsDiff(from_one, none), 1e-4);
}

}  // namespace moe_test
}  // namespace ipfs_accel::testing
