// Tests for the decoder-only builders without running them: parameter counts of the
// catalog entries against transformers' counts at each config class's defaults
// (shared/fixtures/hf-catalog/catalog_truth.json) and of the hf-tiny fixtures against
// fixture.json; the weight names asked for against the fixtures' checkpoints; the
// graph's inputs, outputs and dimension names; the RoPE frequencies of each scaling
// type; and the config options the builder must refuse.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/safetensors.h"
#include "models/architectures.h"
#include "models/decoder_builder.h"
#include "models/graph_builder.h"
#include "models/rotary.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/op_counts.h"

namespace ipfs_accel::models {
namespace decoder_graph_test {

namespace fs = std::filesystem;
using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::CountOps;
using nlohmann::json;
using ::testing::HasSubstr;

const fs::path kShared = IPFS_ACCEL_SHARED_DIR;
const fs::path kFixtures = kShared / "fixtures/hf-tiny";

// ---- parameter counts ----

// transformers' *ForCausalLM parameter count at the config class's defaults.
int64_t TruthCausalLmParams(const std::string& model_type) {
  std::ifstream in(kShared / "fixtures/hf-catalog/catalog_truth.json");
  EXPECT_TRUE(in.good()) << "catalog_truth.json is missing";
  if (!in) return -1;
  const json truth = json::parse(in);
  return truth.at("models").at(model_type).at("causal_lm_params").get<int64_t>();
}

struct DefaultEntry {
  const char* catalog_name;
  const char* model_type;
};

class DecoderDefaultCountTest : public ::testing::TestWithParam<DefaultEntry> {};

TEST_P(DecoderDefaultCountTest, CatalogEntryHasTransformersCount) {
  const DefaultEntry e = GetParam();
  const auto entry = FindInCatalog(e.catalog_name);
  ASSERT_TRUE(entry.has_value()) << e.catalog_name;
  EXPECT_EQ(entry->architecture, e.model_type);
  EXPECT_EQ(CountParameters(e.catalog_name), TruthCausalLmParams(e.model_type));
}

INSTANTIATE_TEST_SUITE_P(
    Defaults, DecoderDefaultCountTest,
    ::testing::Values(DefaultEntry{"gpt2", "gpt2"}, DefaultEntry{"opt-125m", "opt"},
                      DefaultEntry{"llama-7b", "llama"}, DefaultEntry{"mistral-7b", "mistral"},
                      DefaultEntry{"gemma-7b", "gemma"}, DefaultEntry{"phi-1", "phi"},
                      DefaultEntry{"gpt-neox-20b", "gpt_neox"},
                      DefaultEntry{"qwen2-default", "qwen2"},
                      DefaultEntry{"qwen3-default", "qwen3"}),
    [](const auto& info) {
      std::string name = info.param.model_type;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(DecoderCountTest, KnownFigures) {
  // The figures the fixtures README quotes, and the published sizes of the small real
  // checkpoints (Qwen2-0.5B 494M, TinyLlama 1.1B, Pythia-160m 162M).
  EXPECT_EQ(CountParameters("gpt2"), 124439808);
  EXPECT_EQ(CountParameters("opt-125m"), 125239296);
  EXPECT_EQ(CountParameters("llama-7b"), 6738415616);
  EXPECT_EQ(CountParameters("qwen2-0.5b"), 494032768);
  EXPECT_EQ(CountParameters("tinyllama-1.1b"), 1100048384);
  EXPECT_EQ(CountParameters("pythia-160m"), 162322944);
}

class DecoderFixtureCountTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderFixtureCountTest, FixtureParamsMatchGraph) {
  const fs::path dir = kFixtures / GetParam();
  std::ifstream in(dir / "fixture.json");
  const int64_t params = json::parse(in).at("params").get<int64_t>();
  EXPECT_EQ(CountParameters(dir.string()), params);
}

// Every weight the builder asks for, by name, from the fixture's checkpoint.
class RecordingWeights : public SafetensorsWeights {
 public:
  using SafetensorsWeights::SafetensorsWeights;
  std::vector<std::string> names;

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape, WeightInit init) override {
    names.push_back(name);
    return SafetensorsWeights::Fetch(name, shape, init);
  }
};

TEST_P(DecoderFixtureCountTest, UsesEveryCheckpointTensorOnce) {
  const fs::path dir = kFixtures / GetParam();
  const HfConfig config = HfConfig::Load(dir.string());
  const Architecture& arch = FindArchitecture(config.ModelType(), config.origin());
  RecordingWeights weights(dir.string(), arch.checkpoint_prefixes);
  onnx::GraphProto graph;
  GraphBuilder builder(&graph, &weights);
  arch.build(config, builder);
  const auto file = SafetensorsFile::Open((dir / "model.safetensors").string());
  std::set<std::string> used;
  for (const auto& name : weights.names) {
    std::string found;
    for (const auto& prefix : arch.checkpoint_prefixes)
      if (found.empty() && file->Has(prefix + name)) found = prefix + name;
    if (found.empty() && file->Has(name)) found = name;
    EXPECT_FALSE(found.empty()) << name;
    EXPECT_TRUE(used.insert(found).second) << "asked twice: " << found;
  }
  std::set<std::string> stored;
  for (const auto& [name, entry] : file->entries()) stored.insert(name);
  EXPECT_EQ(used, stored);
}

INSTANTIATE_TEST_SUITE_P(HfTiny, DecoderFixtureCountTest,
                         ::testing::Values("gpt2", "llama", "opt", "qwen2", "qwen3"));

// ---- graph structure at tiny configs ----

// GPT-2, OPT and GPT-NeoX have neither head_dim nor num_key_value_heads: their templates refuse
// a config that sets them rather than ignore a structural key.
json Tiny(const std::string& model_type) {
  json c = {{"model_type", model_type},
            {"vocab_size", 100},
            {"hidden_size", 32},
            {"intermediate_size", 64},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"max_position_embeddings", 40},
            {"n_embd", 32},
            {"n_layer", 2},
            {"n_head", 4},
            {"n_positions", 40},
            {"ffn_dim", 64},
            {"head_dim", 8}};
  if (model_type == "gpt2" || model_type == "opt" || model_type == "gpt_neox") {
    c.erase("head_dim");
    c.erase("num_key_value_heads");
  }
  return c;
}

struct Built {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

// Builds like LoadModel does, checker and strict shape inference included.
Built Build(const json& config_json) {
  const HfConfig config(config_json, "test:" + config_json.at("model_type").get<std::string>());
  const Architecture& arch = FindArchitecture(config.ModelType(), config.origin());
  SeededRandomWeights weights(1, 0.02);
  Built b;
  b.proto.set_ir_version(onnx::IR_VERSION);
  auto* opset = b.proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  b.proto.mutable_graph()->set_name("test");
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  arch.build(config, builder);
  onnx::checker::check_model(b.proto);
  onnx::shape_inference::InferShapes(b.proto, onnx::OpSchemaRegistry::Instance(),
                                     onnx::ShapeInferenceOptions(true, 1, false));
  b.parameters = weights.parameter_count();
  return b;
}

std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

bool HasInitializer(const onnx::GraphProto& g, const std::string& name) {
  return std::any_of(g.initializer().begin(), g.initializer().end(),
                     [&](const auto& t) { return t.name() == name; });
}

class DecoderGraphTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DecoderGraphTest, FollowsTheKvCacheConvention) {
  const Built b = Build(Tiny(GetParam()));
  const onnx::GraphProto& g = b.proto.graph();
  // KV heads: 2 where the family has grouped queries, else all 4 heads.
  const bool grouped = GetParam() != "gpt2" && GetParam() != "opt" && GetParam() != "gpt_neox";
  const std::string kv = grouped ? "2" : "4";
  // head_dim 8 is read where the config class has it; the others derive 32 / 4.
  const std::string hd = "8";
  ASSERT_EQ(g.input_size(), 2 + 2 * 2);
  EXPECT_EQ(g.input(0).name(), "input_ids");
  EXPECT_EQ(Dims(g.input(0)), (std::vector<std::string>{"batch", "sequence"}));
  EXPECT_EQ(g.input(1).name(), "attention_mask");
  EXPECT_EQ(Dims(g.input(1)), (std::vector<std::string>{"batch", "total_sequence"}));
  EXPECT_EQ(g.input(2).name(), "past_key_values.0.key");
  EXPECT_EQ(g.input(3).name(), "past_key_values.0.value");
  EXPECT_EQ(g.input(5).name(), "past_key_values.1.value");
  EXPECT_EQ(Dims(g.input(2)), (std::vector<std::string>{"batch", kv, "past_sequence", hd}));
  ASSERT_EQ(g.output_size(), 1 + 2 * 2);
  EXPECT_EQ(g.output(0).name(), "logits");
  EXPECT_EQ(Dims(g.output(0)), (std::vector<std::string>{"batch", "sequence", "100"}));
  EXPECT_EQ(g.output(1).name(), "present.0.key");
  EXPECT_EQ(g.output(4).name(), "present.1.value");
  EXPECT_EQ(Dims(g.output(1)), (std::vector<std::string>{"batch", kv, "total_sequence", hd}));
  for (const auto& in : g.input())
    EXPECT_EQ(in.type().tensor_type().elem_type(), in.name().rfind("past", 0) == 0
                                                       ? onnx::TensorProto::FLOAT
                                                       : onnx::TensorProto::INT64);
}

TEST_P(DecoderGraphTest, DimRolesAndHints) {
  const HfConfig config(Tiny(GetParam()), "test");
  const Architecture& arch = FindArchitecture(GetParam(), "test");
  const DimRoles roles = arch.dim_roles(config);
  EXPECT_EQ(roles.batch, "batch");
  EXPECT_EQ(roles.sequence, "sequence");
  EXPECT_EQ(roles.past_sequence, "past_sequence");
  EXPECT_EQ(roles.total_sequence, "total_sequence");
  EXPECT_EQ(roles.max_sequence, 40);
  const auto hints = arch.input_hints(config);
  ASSERT_EQ(hints.size(), 2u);
  EXPECT_EQ(hints.at("input_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(hints.at("input_ids").high, 100);
  EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  EXPECT_EQ(arch.modality, "text");
}

// head_dim is a config key only for the LLaMA family and Phi; the tiny config sets it
// to 8 = 32 / 4 so every family has the same shapes.
INSTANTIATE_TEST_SUITE_P(Families, DecoderGraphTest,
                         ::testing::Values("gpt2", "opt", "llama", "mistral", "qwen2", "qwen3",
                                           "gemma", "phi", "gpt_neox"));

TEST(DecoderGraphTest, TiedEmbeddingsCountOnce) {
  json tied = Tiny("llama"), untied = Tiny("llama");
  tied["tie_word_embeddings"] = true;
  untied["tie_word_embeddings"] = false;
  const Built a = Build(tied), b = Build(untied);
  EXPECT_EQ(b.parameters - a.parameters, 100 * 32);  // lm_head [vocab, hidden]
  EXPECT_FALSE(HasInitializer(a.proto.graph(), "lm_head.weight"));
  EXPECT_TRUE(HasInitializer(b.proto.graph(), "lm_head.weight"));
  // GPT-2 ties by default, GPT-NeoX does not.
  EXPECT_FALSE(HasInitializer(Build(Tiny("gpt2")).proto.graph(), "lm_head.weight"));
  EXPECT_TRUE(HasInitializer(Build(Tiny("gpt_neox")).proto.graph(), "embed_out.weight"));
}

TEST(DecoderGraphTest, GemmaNormsStoreTheOffsetFromOne) {
  // GemmaRMSNorm scales by (1 + weight), and HF initialises weight to zeros.
  const Built b = Build(Tiny("gemma"));
  for (const auto& t : b.proto.graph().initializer()) {
    if (t.name() != "norm.weight") continue;
    ASSERT_EQ(t.raw_data().size(), 32u * sizeof(float));
    for (size_t i = 0; i < 32; ++i)
      EXPECT_EQ(reinterpret_cast<const float*>(t.raw_data().data())[i], 0.0f);
    return;
  }
  ADD_FAILURE() << "no norm.weight initializer";
}

TEST(DecoderGraphTest, Qwen2SlidingLayersGetTheirOwnMask) {
  json c = Tiny("qwen2");
  EXPECT_EQ(CountOps(Build(c).proto.graph(), "Where"), 1);  // one full causal mask
  c["use_sliding_window"] = true;
  c["sliding_window"] = 8;
  c["max_window_layers"] = 1;  // layer 1 slides, layer 0 does not
  EXPECT_EQ(CountOps(Build(c).proto.graph(), "Where"), 2);
  c["layer_types"] = {"full_attention", "full_attention"};
  EXPECT_EQ(CountOps(Build(c).proto.graph(), "Where"), 1);
}

TEST(DecoderGraphTest, OptProjectsNarrowEmbeddings) {
  json c = Tiny("opt");
  c["word_embed_proj_dim"] = 16;  // as opt-350m: 512-wide embeddings, 1024-wide layers
  const Built b = Build(c);
  EXPECT_TRUE(HasInitializer(b.proto.graph(), "decoder.project_in.weight"));
  EXPECT_TRUE(HasInitializer(b.proto.graph(), "decoder.project_out.weight"));
  // 2 layers x (4 x (32x32 + 32) + 2 x 64 LayerNorm + fc1 + fc2) + embeddings, both
  // projections, positions (40 + 2 rows), final norm; lm_head tied to [100, 16].
  const int64_t layer = 4 * (32 * 32 + 32) + 2 * 64 + (32 * 64 + 64) + (64 * 32 + 32);
  EXPECT_EQ(b.parameters, 2 * layer + 100 * 16 + 2 * 16 * 32 + 42 * 32 + 64);
}

// ---- RoPE ----

HfConfig RopeConfig(const json& rope) {
  return HfConfig({{"model_type", "llama"}, {"rope_parameters", rope}}, "test");
}

TEST(RopeTest, DefaultFrequencies) {
  const RopeSpec s =
      ReadRope(RopeConfig({{"rope_type", "default"}, {"rope_theta", 500000.0}}), 64, 2048);
  EXPECT_EQ(s.rotary_dim, 64);
  ASSERT_EQ(s.inv_freq.size(), 32u);
  for (size_t i = 0; i < 32; ++i)
    EXPECT_NEAR(s.inv_freq[i], std::pow(500000.0, -2.0 * i / 64), 1e-6 * s.inv_freq[i]);
  EXPECT_EQ(s.attention_scaling, 1.0f);
}

TEST(RopeTest, LegacyKeysAndPartialRotary) {
  // transformers 4 configs: rope_theta and rope_scaling at the top level.
  const HfConfig legacy({{"model_type", "llama"},
                         {"rope_theta", 100.0},
                         {"rope_scaling", {{"type", "linear"}, {"factor", 4.0}}}},
                        "test");
  const RopeSpec s = ReadRope(legacy, 8, 64);
  ASSERT_EQ(s.inv_freq.size(), 4u);
  for (size_t i = 0; i < 4; ++i)
    EXPECT_NEAR(s.inv_freq[i], std::pow(100.0, -2.0 * i / 8) / 4, 1e-7);
  // GPT-NeoX's rotary_pct and Phi's partial_rotary_factor.
  const RopeKeys neox{.theta = "rotary_emb_base",
                      .partial_rotary_factor = "rotary_pct",
                      .default_partial_rotary_factor = 0.25};
  EXPECT_EQ(ReadRope(HfConfig({{"rotary_pct", 0.5}}, "test"), 64, 2048, neox).rotary_dim, 32);
  EXPECT_EQ(ReadRope(HfConfig(json::object(), "test"), 64, 2048, neox).rotary_dim, 16);
  EXPECT_EQ(
      ReadRope(HfConfig({{"rope_parameters", {{"partial_rotary_factor", 0.4}}}}, "test"), 80, 2048)
          .rotary_dim,
      32);
}

TEST(RopeTest, Llama3ScalesOnlyLowFrequencies) {
  const json rope = {{"rope_type", "llama3"},   {"rope_theta", 500000.0},
                     {"factor", 8.0},           {"low_freq_factor", 1.0},
                     {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  const RopeSpec scaled = ReadRope(RopeConfig(rope), 128, 131072);
  const RopeSpec plain =
      ReadRope(RopeConfig({{"rope_type", "default"}, {"rope_theta", 500000.0}}), 128, 131072);
  int high = 0, low = 0, medium = 0;
  for (size_t i = 0; i < plain.inv_freq.size(); ++i) {
    const double wavelen = 2 * M_PI / plain.inv_freq[i];
    if (wavelen < 8192 / 4.0) {
      EXPECT_EQ(scaled.inv_freq[i], plain.inv_freq[i]) << i;
      ++high;
    } else if (wavelen > 8192 / 1.0) {
      EXPECT_NEAR(scaled.inv_freq[i], plain.inv_freq[i] / 8, 1e-6 * plain.inv_freq[i]) << i;
      ++low;
    } else {
      EXPECT_LT(scaled.inv_freq[i], plain.inv_freq[i]) << i;
      EXPECT_GT(scaled.inv_freq[i], plain.inv_freq[i] / 8) << i;
      ++medium;
    }
  }
  EXPECT_GT(high, 0);
  EXPECT_GT(low, 0);
  EXPECT_GT(medium, 0);
}

TEST(RopeTest, YarnRampsFromExtrapolationToInterpolation) {
  const json rope = {{"rope_type", "yarn"},
                     {"rope_theta", 10000.0},
                     {"factor", 4.0},
                     {"original_max_position_embeddings", 4096}};
  const RopeSpec s = ReadRope(RopeConfig(rope), 128, 16384);
  const RopeSpec plain =
      ReadRope(RopeConfig({{"rope_type", "default"}, {"rope_theta", 10000.0}}), 128, 16384);
  EXPECT_FLOAT_EQ(s.attention_scaling, static_cast<float>(0.1 * std::log(4.0) + 1.0));
  EXPECT_FLOAT_EQ(s.inv_freq.front(), plain.inv_freq.front());    // fast: kept
  EXPECT_FLOAT_EQ(s.inv_freq.back(), plain.inv_freq.back() / 4);  // slow: interpolated
  for (size_t i = 0; i < s.inv_freq.size(); ++i) {
    EXPECT_LE(s.inv_freq[i], plain.inv_freq[i] * (1 + 1e-6)) << i;
    EXPECT_GE(s.inv_freq[i], plain.inv_freq[i] / 4 * (1 - 1e-6)) << i;
  }
  // An explicit attention_factor wins; mscale / mscale_all_dim give their ratio.
  json with_factor = rope;
  with_factor["attention_factor"] = 0.5;
  EXPECT_EQ(ReadRope(RopeConfig(with_factor), 128, 16384).attention_scaling, 0.5f);
  json deepseek = rope;
  deepseek["mscale"] = 0.707;
  deepseek["mscale_all_dim"] = 0.707;
  EXPECT_FLOAT_EQ(ReadRope(RopeConfig(deepseek), 128, 16384).attention_scaling, 1.0f);
}

// ---- refusals ----

TEST(DecoderRefusalTest, UnsupportedRopeTypes) {
  json c = Tiny("llama");
  c["rope_parameters"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  core::Error e = CatchError([&] { Build(c); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("'dynamic'"));
  c["rope_parameters"] = {{"rope_type", "longrope"}};
  e = CatchError([&] { Build(c); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("longrope"));
  c.erase("rope_parameters");
  c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};  // the legacy spelling
  EXPECT_EQ(CatchError([&] { Build(c); }).kind(), ErrorKind::kUnsupported);
}

TEST(DecoderRefusalTest, OptionsTheBuilderLacks) {
  json gpt2 = Tiny("gpt2");
  gpt2["add_cross_attention"] = true;
  core::Error e = CatchError([&] { Build(gpt2); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("add_cross_attention"));
  json gemma = Tiny("gemma");
  gemma["use_bidirectional_attention"] = true;
  EXPECT_EQ(CatchError([&] { Build(gemma); }).kind(), ErrorKind::kUnsupported);
  json qwen = Tiny("qwen3");
  qwen["layer_types"] = {"full_attention", "chunked_attention"};
  EXPECT_EQ(CatchError([&] { Build(qwen); }).kind(), ErrorKind::kUnsupported);
}

TEST(DecoderRefusalTest, InconsistentSizes) {
  json c = Tiny("mistral");
  c["num_key_value_heads"] = 3;  // 4 query heads cannot share 3 KV heads
  core::Error e = CatchError([&] { Build(c); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("num_key_value_heads"));
  json neox = Tiny("gpt_neox");
  neox["hidden_size"] = 30;  // not a multiple of 4 heads
  EXPECT_EQ(CatchError([&] { Build(neox); }).kind(), ErrorKind::kCorrupt);
  json qwen = Tiny("qwen2");
  qwen["layer_types"] = {"full_attention"};  // 2 layers
  EXPECT_EQ(CatchError([&] { Build(qwen); }).kind(), ErrorKind::kCorrupt);
}

}  // namespace decoder_graph_test
}  // namespace ipfs_accel::models
