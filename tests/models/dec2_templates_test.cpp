// Decoder-family templates added by the second decoder round of issue 16 (cohere2_moe, ...):
// each count at HF's default config against Hugging Face's own number (catalog_truth.json) and
// against a count worked out by hand from the HF module's shapes; and the weight names and
// switches HF's modeling code gives, at the tiny size.

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "support/template_builds.h"

namespace ipfs_accel::models {
namespace dec2_templates_test {

using nlohmann::json;
using testing::CatalogTruth;
using testing::DefaultCount;
using testing::TinyGraph;

bool Has(const std::string& graph, const std::string& name) {
  return graph.find(name) != std::string::npos;
}

struct Counted {
  const char* type;
  const char* column;  // catalog_truth's column the graph has, but for
  int64_t head;        // an LM head catalog_truth's column has not (0: none)
  int64_t by_hand;     // from HF's module shapes at the default config
};

// Cohere2MoeForCausalLM: 40 layers of q/k/v/o 8192^2, a router 8 x 8192, 8 experts of
// gate_up 2 x 22528 x 8192 and down 8192 x 22528, one bias-free LayerNorm; the tied embedding
// 256000 x 8192 and the final LayerNorm.
constexpr int64_t kCohere2MoeLayer = 4 * 8192LL * 8192 + 8 * 8192 + 8 * 3 * 8192LL * 22528 + 8192;

// AfmoeForCausalLM: 32 layers of q/k/v/o and the output gate 2048^2 (16 heads of 128), q/k norms
// 128 each, four RMSNorms; layer 0's MLP 3 x 2048 x 6144; 31 MoE layers of 64 experts
// 3 x 2048 x 1408, router 64 x 2048, expert_bias 64, shared experts 3 x 2048 x (2 x 1408); the
// embedding and the untied head 200192 x 2048, the final norm.
constexpr int64_t kAfmoeAttention = 5 * 2048LL * 2048 + 2 * 128 + 4 * 2048;
constexpr int64_t kAfmoeMoe = 64 * 3 * 2048LL * 1408 + 64 * 2048 + 64 + 3 * 2048LL * 2816;

// LagunaForCausalLM: 40 layers of q and o 2048 x 6144 (48 heads of 128), k and v 2048 x 1024,
// g_proj 2048 x 48 (a gate per head), q/k norms 128 each, two RMSNorms; layer 0's MLP
// 3 x 2048 x 8192; 39 MoE layers of 256 experts 3 x 2048 x 512, router 256 x 2048,
// e_score_correction_bias 256, a shared expert 3 x 2048 x 512; embedding and untied head
// 100352 x 2048, the final norm.
constexpr int64_t kLagunaAttention =
    2 * 2048LL * 6144 + 2 * 2048LL * 1024 + 2048 * 48 + 2 * 128 + 2 * 2048;
constexpr int64_t kLagunaMoe = 256 * 3 * 2048LL * 512 + 256 * 2048 + 256 + 3 * 2048LL * 512;

// Mistral4ForCausalLM: 36 layers of latent attention (q_a 4096 x 1024 and its norm, q_b
// 1024 x 32 x 128, kv_a 4096 x (256 + 64) and its norm 256, kv_b 256 x 32 x (64 + 128), o
// 32 x 128 x 4096), two norms, 128 experts 3 x 4096 x 2048, router 128 x 4096, a shared expert
// 3 x 4096 x 2048; embedding and untied head 131072 x 4096, the final norm. catalog_truth has
// Mistral4Model only: the head is added to its count.
constexpr int64_t kMistral4Attention = 4096LL * 1024 + 1024 + 1024LL * 32 * 128 + 4096LL * 320 +
                                       256 + 256LL * 32 * 192 + 32LL * 128 * 4096;
constexpr int64_t kMistral4Moe = 128 * 3 * 4096LL * 2048 + 128 * 4096 + 3 * 4096LL * 2048;

// MuseGlimmerTextModel + MuseGlimmerForConditionalGeneration's head: 52 layers of q, o and the
// output gate 6656 x 4096 (32 heads of 128), k and v 6656 x 256, MLP 3 x 6656 x 19968, four
// RMSNorms (the q/k and embedding norms have no weights); embedding and untied head
// 202048 x 6656, the final norm. catalog_truth has the base model only: the head is added.
constexpr int64_t kMuseGlimmerLayer =
    3 * 6656LL * 4096 + 2 * 6656LL * 256 + 3 * 6656LL * 19968 + 4 * 6656;

const Counted kCounted[] = {
    {"muse_glimmer_text", "base_params", 202048LL * 6656,
     52 * kMuseGlimmerLayer + 2 * 202048LL * 6656 + 6656},
    {"mistral4", "base_params", 131072LL * 4096,
     36 * (kMistral4Attention + 2 * 4096 + kMistral4Moe) + 2 * 131072LL * 4096 + 4096},
    {"laguna", "causal_lm_params", 0,
     40 * kLagunaAttention + 3 * 2048LL * 8192 + 39 * kLagunaMoe + 2 * 100352LL * 2048 + 2048},
    {"cohere2_moe", "causal_lm_params", 0, 40 * kCohere2MoeLayer + 256000LL * 8192 + 8192},
    {"afmoe", "causal_lm_params", 0,
     32 * kAfmoeAttention + 3 * 2048LL * 6144 + 31 * kAfmoeMoe + 2 * 200192LL * 2048 + 2048},
};

TEST(Dec2Templates, CountsEveryParameterHfCountsAtTheDefaultConfig) {
  for (const Counted& c : kCounted) {
    SCOPED_TRACE(c.type);
    EXPECT_EQ(DefaultCount(c.type), c.by_hand);
    const int64_t truth = CatalogTruth(c.type, c.column);
    if (truth > 0) {
      EXPECT_EQ(DefaultCount(c.type), truth + c.head);
    }
  }
}

// Cohere2MoeSparseMoeBlock: router `mlp.gate`, experts `mlp.experts.gate_up_proj`, shared experts
// `mlp.shared_experts.*_proj`; one input_layernorm feeds both branches (no second norm).
TEST(Dec2Templates, Cohere2MoeHasHfsWeightNamesAndAveragesTheSharedExpert) {
  const std::string graph = TinyGraph("cohere2_moe");
  EXPECT_TRUE(Has(graph, "layers.1.mlp.gate.weight"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.experts.gate_up_proj"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.shared_experts.down_proj.weight"));
  EXPECT_FALSE(Has(graph, "post_attention_layernorm"));
  EXPECT_NE(graph, TinyGraph("cohere2_moe", {{"shared_expert_combination_strategy", "sum"}}));
  EXPECT_ANY_THROW(TinyGraph("cohere2_moe", {{"expert_selection_fn", "sigmoid"}}));
  EXPECT_ANY_THROW(TinyGraph("cohere2_moe", {{"rms_norm_eps", 1e-5}}));
}

// AfmoeDecoderLayer: the gate on the attention output, four norms, a dense first layer, the router
// under mlp.router.gate choosing with mlp.expert_bias; every global_attn_every_n_layers-th layer
// full (the last of each group), as the config's layer_types says.
TEST(Dec2Templates, AfmoeHasHfsWeightNamesAndLayerPattern) {
  const std::string graph = TinyGraph("afmoe");
  EXPECT_TRUE(Has(graph, "layers.3.self_attn.gate_proj.weight"));
  EXPECT_TRUE(Has(graph, "layers.3.self_attn.q_norm.weight"));
  EXPECT_TRUE(Has(graph, "layers.3.post_attention_layernorm.weight"));
  EXPECT_TRUE(Has(graph, "layers.3.pre_mlp_layernorm.weight"));
  EXPECT_TRUE(Has(graph, "layers.3.post_mlp_layernorm.weight"));
  EXPECT_TRUE(Has(graph, "layers.0.mlp.gate_proj.weight"));
  EXPECT_FALSE(Has(graph, "layers.0.mlp.router"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.router.gate.weight"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.expert_bias"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.shared_experts.up_proj.weight"));
  const json types = {"sliding_attention", "full_attention", "sliding_attention", "full_attention"};
  EXPECT_EQ(graph, TinyGraph("afmoe", {{"layer_types", types}}));
  const json flipped = {"full_attention", "sliding_attention", "full_attention",
                        "sliding_attention"};
  EXPECT_NE(graph, TinyGraph("afmoe", {{"layer_types", flipped}}));
}

// LagunaAttention: g_proj gives one softplus gate per head; each layer type rotates with its own
// rope_parameters entry, the full layers over half of each head by default.
TEST(Dec2Templates, LagunaGatesPerHeadAndRotatesPerLayerType) {
  const std::string graph = TinyGraph("laguna");
  EXPECT_TRUE(Has(graph, "layers.2.self_attn.g_proj.weight"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.gate.e_score_correction_bias"));
  EXPECT_TRUE(Has(graph, "layers.0.mlp.gate_proj.weight"));
  EXPECT_FALSE(Has(graph, "layers.0.mlp.experts"));
  auto rope = [](double full_partial, double sliding_partial) {
    return json{{"full_attention",
                 {{"rope_type", "default"},
                  {"rope_theta", 500000.0},
                  {"partial_rotary_factor", full_partial}}},
                {"sliding_attention",
                 {{"rope_type", "default"},
                  {"rope_theta", 10000.0},
                  {"partial_rotary_factor", sliding_partial}}}};
  };
  EXPECT_EQ(graph, TinyGraph("laguna", {{"rope_parameters", rope(0.5, 1.0)}}));
  EXPECT_NE(graph, TinyGraph("laguna", {{"rope_parameters", rope(1.0, 1.0)}}));
  EXPECT_NE(graph, TinyGraph("laguna", {{"rope_parameters", rope(0.5, 0.5)}}));
  EXPECT_ANY_THROW(TinyGraph("laguna", {{"gating", "per-element"}}));
}

// Mistral4Attention: queries times get_llama_4_attn_scale (llama_4_scaling_beta); the rope's
// partial_rotary_factor is of qk_nope + qk_rope, so it must leave exactly qk_rope_head_dim.
TEST(Dec2Templates, Mistral4ScalesQueriesAndRotatesTheRopePartOfEachKey) {
  const ArchitectureTemplate* t = FindTemplate("mistral4");
  ASSERT_NE(t, nullptr);
  const std::string graph = TinyGraph("mistral4");
  EXPECT_TRUE(Has(graph, "layers.0.self_attn.kv_a_proj_with_mqa.weight"));
  EXPECT_TRUE(Has(graph, "layers.1.mlp.shared_experts.gate_proj.weight"));
  EXPECT_FALSE(Has(graph, "e_score_correction_bias"));
  json rope = TinyConfig(*t).json()["rope_parameters"];
  rope["llama_4_scaling_beta"] = 0.0;
  EXPECT_NE(graph, TinyGraph("mistral4", {{"rope_parameters", rope}}));
  rope["llama_4_scaling_beta"] = 0.1;
  EXPECT_EQ(graph, TinyGraph("mistral4", {{"rope_parameters", rope}}));
  rope["partial_rotary_factor"] = 1.0;  // 8 rotated features, but qk_rope_head_dim is 4
  EXPECT_ANY_THROW(TinyGraph("mistral4", {{"rope_parameters", rope}}));
}

// rotate_half negates one half of q and of k: two Neg nodes per layer with rotary.
size_t Negations(const std::string& graph) {
  size_t count = 0;
  for (size_t at = graph.find("\"\x03Neg"); at != std::string::npos;
       at = graph.find("\"\x03Neg", at + 1))
    ++count;
  return count;
}

// MuseGlimmerTextConfig: without layer_types every 4th layer counted back from the last is full
// and, without layer_rope_theta, has no rotary; q/k norms have no weights; the activation is
// hidden_activation; the post-norms use post_norm_eps.
TEST(Dec2Templates, MuseGlimmerCountsFullAndNopeLayersFromTheLast) {
  const json five = {{"num_hidden_layers", 5}};
  const std::string graph = TinyGraph("muse_glimmer_text", five);
  EXPECT_TRUE(Has(graph, "layers.4.self_attn.gate_proj.weight"));
  EXPECT_TRUE(Has(graph, "layers.4.pre_feedforward_layernorm.weight"));
  EXPECT_TRUE(Has(graph, "layers.4.post_feedforward_layernorm.weight"));
  EXPECT_FALSE(Has(graph, "q_norm"));
  EXPECT_EQ(Negations(graph), 2u * 3);  // layers 0 and 4 are full and NoPE
  json typed = five;
  typed["layer_types"] = {"full_attention", "sliding_attention", "sliding_attention",
                          "sliding_attention", "full_attention"};
  EXPECT_EQ(graph, TinyGraph("muse_glimmer_text", typed));
  typed["layer_rope_theta"] = {10000.0, 10000.0, 10000.0, 10000.0, 10000.0};
  EXPECT_EQ(Negations(TinyGraph("muse_glimmer_text", typed)), 2u * 5);
  typed["layer_rope_theta"] = {0, 10000.0, 10000.0, 10000.0, 0};
  EXPECT_EQ(Negations(TinyGraph("muse_glimmer_text", typed)), 2u * 3);
  json gelu = five;
  gelu["hidden_activation"] = "gelu";
  EXPECT_NE(graph, TinyGraph("muse_glimmer_text", gelu));
  json post_eps = five;
  post_eps["post_norm_eps"] = 1e-5;
  EXPECT_NE(graph, TinyGraph("muse_glimmer_text", post_eps));
}

}  // namespace dec2_templates_test
}  // namespace ipfs_accel::models
