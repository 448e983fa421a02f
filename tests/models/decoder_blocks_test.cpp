// Tests for the decoder layout "blocks" (src/models/decoder_blocks.h) without running it: the
// weight names its templates ask for against the module names of Hugging Face's modeling code
// (a real checkpoint must load), the ALiBi slopes and sinusoid frequencies of each family, and
// the config options the builder must refuse rather than build wrong.

#include <cmath>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/alibi.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/sinusoid_graph.h"
#include "models/weights.h"
#include "support/catch_error.h"

namespace ipfs_accel::models {
namespace decoder_blocks_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using nlohmann::json;
using ::testing::HasSubstr;

// Records the names a graph asks for.
class NameRecorder : public ShapeOnlyWeights {
 public:
  std::set<std::string> names;

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape, WeightInit init) override {
    names.insert(name);
    return ShapeOnlyWeights::Fetch(name, shape, init);
  }
};

std::set<std::string> WeightNames(const std::string& model_type) {
  const ArchitectureTemplate* t = FindTemplate(model_type);
  EXPECT_NE(t, nullptr) << model_type;
  const json config = TinyConfig(*t).json();
  NameRecorder recorder;
  onnx::GraphProto graph;
  GraphBuilder g(&graph, &recorder);
  FindArchitecture(model_type, "test").build(HfConfig(config, model_type), g);
  return recorder.names;
}

struct NamesCase {
  const char* model_type;
  std::vector<const char*> present, absent;
};

class BlocksWeightNamesTest : public ::testing::TestWithParam<NamesCase> {};

// Names from each family's modeling_*.py module attributes (base model, then the head).
TEST_P(BlocksWeightNamesTest, AsksForHuggingFacesNames) {
  const NamesCase c = GetParam();
  const std::set<std::string> names = WeightNames(c.model_type);
  for (const char* name : c.present) EXPECT_TRUE(names.count(name)) << c.model_type << ": " << name;
  for (const char* name : c.absent) EXPECT_FALSE(names.count(name)) << c.model_type << ": " << name;
}

INSTANTIATE_TEST_SUITE_P(
    Families, BlocksWeightNamesTest,
    ::testing::Values(
        NamesCase{"openai-gpt",
                  {"tokens_embed.weight", "positions_embed.weight", "h.1.attn.c_attn.weight",
                   "h.1.ln_2.bias", "h.1.mlp.c_proj.weight"},
                  {"ln_f.weight", "lm_head.weight"}},
        NamesCase{"gpt_neo",
                  {"wpe.weight", "h.0.attn.attention.q_proj.weight",
                   "h.0.attn.attention.out_proj.bias", "ln_f.weight"},
                  {"h.0.attn.attention.q_proj.bias"}},
        NamesCase{"gptj",
                  {"wte.weight", "h.0.attn.q_proj.weight", "h.0.mlp.fc_in.bias", "lm_head.bias"},
                  {"h.0.ln_2.weight", "h.0.attn.out_proj.bias"}},
        NamesCase{
            "codegen", {"h.0.attn.qkv_proj.weight", "lm_head.bias"}, {"h.0.attn.q_proj.weight"}},
        NamesCase{
            "gpt_bigcode", {"h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias", "wpe.weight"}, {}},
        NamesCase{"starcoder2",
                  {"layers.0.mlp.c_fc.bias", "layers.0.self_attn.o_proj.bias", "norm.bias"},
                  {"layers.0.mlp.gate_proj.weight"}},
        NamesCase{"persimmon",
                  {"layers.0.self_attn.query_key_value.bias", "layers.0.self_attn.q_layernorm.bias",
                   "layers.0.mlp.dense_h_to_4h.weight", "final_layernorm.weight"},
                  {}},
        NamesCase{
            "cohere",
            {"layers.0.input_layernorm.weight", "layers.0.mlp.gate_proj.weight", "norm.weight"},
            {"layers.0.input_layernorm.bias", "layers.0.post_attention_layernorm.weight",
             "lm_head.weight"}},
        NamesCase{"olmo",
                  {"layers.0.self_attn.q_proj.weight"},
                  {"layers.0.input_layernorm.weight", "norm.weight"}},
        NamesCase{"biogpt",
                  {"embed_positions.weight", "layers.0.self_attn_layer_norm.weight",
                   "layers.0.fc1.weight", "layer_norm.bias"},
                  {"output_projection.weight"}},
        NamesCase{"xglm",
                  {"layers.0.self_attn.out_proj.bias", "layer_norm.weight"},
                  {"embed_positions.weight"}},
        NamesCase{"ctrl",
                  {"w.weight", "h.0.multi_head_attention.Wq.weight", "h.0.ffn.0.weight",
                   "h.0.ffn.2.bias", "h.0.layernorm2.bias", "layernorm.weight", "lm_head.bias"},
                  {"lm_head.weight"}},
        NamesCase{"bloom",
                  {"word_embeddings_layernorm.weight", "h.0.self_attention.query_key_value.weight",
                   "h.0.mlp.dense_4h_to_h.bias", "ln_f.weight"},
                  {}},
        NamesCase{"mpt",
                  {"wte.weight", "blocks.0.norm_1.weight", "blocks.0.attn.Wqkv.weight",
                   "blocks.0.ffn.up_proj.weight", "norm_f.weight"},
                  {"blocks.0.norm_1.bias", "blocks.0.attn.Wqkv.bias", "norm_f.bias"}},
        NamesCase{"falcon",
                  {"word_embeddings.weight", "h.0.input_layernorm.bias",
                   "h.0.self_attention.query_key_value.weight", "ln_f.weight"},
                  {"h.0.post_attention_layernorm.weight", "h.0.self_attention.dense.bias"}},
        NamesCase{"gpt_neox_japanese",
                  {"embed_in.weight", "layers.1.attention.dense_bias",
                   "layers.0.attention.query_key_value.weight"},
                  {"layers.0.attention.dense_bias", "layers.0.attention.query_key_value.bias"}},
        NamesCase{"jais2",
                  {"layers.0.mlp.up_proj.bias", "layers.0.input_layernorm.bias"},
                  {"layers.0.mlp.gate_proj.weight"}},
        NamesCase{"imagegpt", {"h.0.ln_1.weight", "lm_head.weight"}, {"h.0.ln_1.bias"}},
        NamesCase{"fuyu",
                  {"vision_embed_tokens.weight", "vision_embed_tokens.bias",
                   "layers.0.self_attn.query_key_value.weight", "lm_head.weight"},
                  {}}),
    [](const auto& info) {
      std::string name = info.param.model_type;
      for (char& ch : name)
        if (ch == '-') ch = '_';
      return name;
    });

// Falcon's and GPTBigCode's multi-query projection: every q head, then one k and one v head.
TEST(DecoderBlocksTest, MultiQueryProjectsOneKeyAndOneValueHead) {
  for (const auto& [type, bias] : {std::pair{"falcon", 0}, std::pair{"gpt_bigcode", 1}}) {
    json config = TinyConfig(*FindTemplate(type)).json();
    const int64_t hidden = config["hidden_size"], layers = config["num_hidden_layers"];
    const int64_t head_dim = hidden / config["num_attention_heads"].get<int64_t>();
    config["multi_query"] = true;
    const int64_t multi_query = CountParameters(HfConfig(config, type));
    config["multi_query"] = false;
    const int64_t multi_head = CountParameters(HfConfig(config, type));
    EXPECT_EQ(multi_head - multi_query, layers * 2 * (hidden - head_dim) * (hidden + bias)) << type;
  }
}

// Fuyu is Persimmon plus a patch projection that text-only input never reads: counted (HF's
// parameter), fetched (a checkpoint has it), but not an initializer of the graph.
TEST(DecoderBlocksTest, FuyuCountsItsPatchProjectionButLeavesItOutOfTheGraph) {
  json config = TinyConfig(*FindTemplate("fuyu")).json();
  const int64_t hidden = config["hidden_size"], patch = config["patch_size"];
  const int64_t channels = config["num_channels"];
  const int64_t fuyu = CountParameters(HfConfig(config, "fuyu"));
  config["model_type"] = "persimmon";
  const int64_t persimmon = CountParameters(HfConfig(config, "persimmon"));
  EXPECT_EQ(fuyu - persimmon, hidden * patch * patch * channels + hidden);

  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder g(&graph, &weights);
  FindArchitecture("fuyu", "test")
      .build(HfConfig(TinyConfig(*FindTemplate("fuyu")).json(), "fuyu"), g);
  for (const onnx::TensorProto& t : graph.initializer())
    EXPECT_THAT(t.name(), ::testing::Not(HasSubstr("vision_embed_tokens")));
}

TEST(DecoderBlocksTest, AlibiSlopesAreEachFamilys) {
  // BLOOM: 2^(-8h/n) over the nearest power of two, then odd powers of the next one's base.
  EXPECT_THAT(AlibiSlopes(AlibiKind::kBloom, 6),
              ::testing::ElementsAre(0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f, 0.125f));
  EXPECT_THAT(AlibiSlopes(AlibiKind::kBloom, 4),
              ::testing::ElementsAre(0.25f, 0.0625f, 0.015625f, 0.00390625f));
  // MPT: 2^(-h * bias_max / n) over the power of two at or above, odd entries first.
  EXPECT_THAT(AlibiSlopes(AlibiKind::kMpt, 4, 8.0),
              ::testing::ElementsAre(0.25f, 0.0625f, 0.015625f, 0.00390625f));
  EXPECT_THAT(AlibiSlopes(AlibiKind::kMpt, 3, 8.0),
              ::testing::ElementsAre(0.0625f, 0.00390625f, 0.25f));
}

TEST(DecoderBlocksTest, SinusoidFrequenciesAreEachFamilys) {
  const std::vector<float> fairseq = FairseqSinusoidFrequencies(8);  // 10000^(-i / 3)
  const std::vector<float> ctrl = CtrlSinusoidFrequencies(8);        // 10000^(-2i / 8)
  ASSERT_EQ(fairseq.size(), 4u);
  ASSERT_EQ(ctrl.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(fairseq[i], std::pow(10000.0, -i / 3.0), 1e-6) << i;
    EXPECT_NEAR(ctrl[i], std::pow(10000.0, -2.0 * i / 8.0), 1e-6) << i;
  }
}

struct RefusalCase {
  const char* model_type;
  const char* overrides;  // JSON merged into the tiny config
  ErrorKind kind;
  const char* names;  // what the message must name
};

class BlocksRefusalTest : public ::testing::TestWithParam<RefusalCase> {};

TEST_P(BlocksRefusalTest, RefusesWhatItWouldBuildWrong) {
  const RefusalCase c = GetParam();
  json config = TinyConfig(*FindTemplate(c.model_type)).json();
  config.merge_patch(json::parse(c.overrides));
  const core::Error error = CatchError([&] { CountParameters(HfConfig(config, "config.json")); });
  EXPECT_EQ(error.kind(), c.kind) << c.model_type << " " << c.overrides << ": " << error.what();
  EXPECT_THAT(error.what(), HasSubstr(c.names));
}

INSTANTIATE_TEST_SUITE_P(
    Options, BlocksRefusalTest,
    ::testing::Values(
        RefusalCase{"falcon", R"({"new_decoder_architecture": true})", ErrorKind::kUnsupported,
                    "new_decoder_architecture"},
        RefusalCase{"falcon", R"({"alibi": true})", ErrorKind::kUnsupported, "alibi"},
        RefusalCase{"stablelm", R"({"qk_layernorm": true})", ErrorKind::kUnsupported,
                    "qk_layernorm"},
        RefusalCase{"cohere", R"({"use_qk_norm": true})", ErrorKind::kUnsupported, "use_qk_norm"},
        RefusalCase{"mpt", R"({"attn_config": {"qk_ln": true}})", ErrorKind::kUnsupported, "q/k"},
        RefusalCase{"codegen",
                    R"({"n_head": 6, "num_attention_heads": 6, "n_embd": 48, "hidden_size": 48})",
                    ErrorKind::kUnsupported, "CodeGen"},
        RefusalCase{"gpt_neo", R"({"attention_types": [[["global", "local"], 2]]})",
                    ErrorKind::kCorrupt, "attention_types"},
        RefusalCase{"gpt_neo", R"({"attention_types": [[["global", "sparse"], 1]]})",
                    ErrorKind::kUnsupported, "sparse"},
        RefusalCase{"bloom", R"({"apply_residual_connection_post_layernorm": true})",
                    ErrorKind::kUnsupported, "apply_residual_connection_post_layernorm"}));

}  // namespace decoder_blocks_test
}  // namespace ipfs_accel::models
