// Tests for the encoder-decoder builders (T5, BART): parameter counts against Hugging
// Face's (T5Model / BartModel, catalog_truth.json and the hf-tiny fixture), the HF names
// and shapes the graphs ask for, T5's relative position buckets, BART's offset position
// tables, the graphs' inputs and outputs, and the config options they must refuse.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/bart_builder.h"
#include "models/graph_builder.h"
#include "models/seq2seq_graphs.h"
#include "models/t5_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"

namespace ipfs_accel::models {
namespace seq2seq_graph_test {

using core::Error;
using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ::testing::HasSubstr;

const std::string kT5Fixture = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/t5";

// ---- Hugging Face's parameter counts, module by module ----

struct T5Size {
  int64_t vocab, d_model, d_kv, heads, d_ff, encoder_layers, decoder_layers, buckets;
  bool gated;
};

int64_t HfT5Parameters(const T5Size& s) {
  const int64_t d = s.d_model, inner = s.heads * s.d_kv;
  const int64_t attention = 4 * d * inner;  // q, k, v, o without biases
  const int64_t ff = (s.gated ? 3 : 2) * d * s.d_ff;
  const int64_t norm = d;  // T5LayerNorm: weight only
  const int64_t encoder_block = attention + norm + ff + norm;
  const int64_t decoder_block = 2 * (attention + norm) + ff + norm;
  const int64_t bias_table = s.buckets * s.heads;  // first block of each stack only
  return s.vocab * d + s.encoder_layers * encoder_block + bias_table + norm +
         s.decoder_layers * decoder_block + bias_table + norm;
}

struct BartSize {
  int64_t vocab, d_model, positions, encoder_layers, encoder_ffn, decoder_layers, decoder_ffn;
};

int64_t HfBartParameters(const BartSize& s) {
  const int64_t d = s.d_model;
  const int64_t attention = 4 * (d * d + d), norm = 2 * d;
  auto ffn = [&](int64_t f) { return (d * f + f) + (f * d + d); };
  const int64_t embeddings = s.vocab * d;
  const int64_t positions = 2 * (s.positions + 2) * d;  // two tables, offset 2
  const int64_t embedding_norms = 2 * norm;             // layernorm_embedding, both stacks
  return embeddings + positions + embedding_norms +
         s.encoder_layers * (attention + norm + ffn(s.encoder_ffn) + norm) +
         s.decoder_layers * (2 * (attention + norm) + ffn(s.decoder_ffn) + norm);
}

TEST(Seq2SeqParameterFormulaTest, MatchesHuggingFaceCounts) {
  // catalog_truth.json: T5Model and BartModel at their default configs.
  EXPECT_EQ(HfT5Parameters({32128, 512, 64, 8, 2048, 6, 6, 32, false}), 60506624);
  EXPECT_EQ(HfBartParameters({50265, 1024, 1024, 12, 4096, 12, 4096}), 406291456);
  // hf-tiny/t5/fixture.json.
  EXPECT_EQ(HfT5Parameters({1000, 64, 16, 4, 128, 2, 2, 8, false}), 228672);
}

// ---- Full-size counts from the graphs' structure ----

int64_t CountWithShapesOnly(const nlohmann::json& config,
                            void (*build)(const HfConfig&, GraphBuilder&)) {
  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder builder(&graph, &weights);
  build(HfConfig(config, "test-config"), builder);
  return weights.parameter_count();
}

TEST(Seq2SeqCountTest, DefaultConfigsMatchCatalogTruth) {
  // An empty config takes every default of T5Config / BartConfig.
  EXPECT_EQ(CountWithShapesOnly({{"model_type", "t5"}}, BuildT5), 60506624);
  EXPECT_EQ(CountWithShapesOnly({{"model_type", "bart"}}, BuildBart), 406291456);
}

TEST(Seq2SeqCountTest, CatalogEntriesMatchHuggingFace) {
  EXPECT_EQ(CountParameters("t5-small"), 60506624);
  // T5 v1.1: gated FFN (wi_0, wi_1), 6 heads, 8 + 8 layers; T5Model (no LM head).
  EXPECT_EQ(CountParameters("google/t5-v1_1-small"),
            HfT5Parameters({32128, 512, 64, 6, 1024, 8, 8, 32, true}));
  EXPECT_EQ(CountParameters("google/t5-v1_1-small"), 60511616);
  EXPECT_EQ(CountParameters("facebook/bart-base"), 139420416);
  EXPECT_EQ(CountParameters("facebook/bart-large"), 406291456);
  EXPECT_EQ(CountParameters(kT5Fixture), 228672);
}

TEST(Seq2SeqCatalogTest, EntriesAndAliases) {
  const std::map<std::string, std::string> names = {{"t5-small", "t5"},
                                                    {"t5", "t5"},
                                                    {"google/t5-v1_1-small", "t5"},
                                                    {"facebook/bart-base", "bart"},
                                                    {"bart-base", "bart"},
                                                    {"facebook/bart-large", "bart"},
                                                    {"bart", "bart"}};
  for (const auto& [name, architecture] : names) {
    SCOPED_TRACE(name);
    const auto entry = FindInCatalog(name);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->architecture, architecture);
    EXPECT_EQ(entry->modality, "text");
  }
  EXPECT_EQ(FindInCatalog("google/t5-v1_1-small")->config.String("feed_forward_proj", ""),
            "gated-gelu");
}

// ---- Graph structure on tiny configs ----

struct BuiltGraph {
  onnx::GraphProto graph;
  int64_t parameters = 0;
  std::map<std::string, std::vector<int64_t>> weights;  // HF-named initializers
};

BuiltGraph Build(const nlohmann::json& config, void (*build)(const HfConfig&, GraphBuilder&)) {
  BuiltGraph out;
  SeededRandomWeights weights(1, 0.02);
  GraphBuilder builder(&out.graph, &weights);
  build(HfConfig(config, "test-config"), builder);
  out.parameters = weights.parameter_count();
  for (const auto& t : out.graph.initializer())
    if (t.name().rfind("const_", 0) != 0)
      out.weights[t.name()] = std::vector<int64_t>(t.dims().begin(), t.dims().end());
  return out;
}

std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

using Signature = std::map<std::string, std::vector<std::string>>;
Signature Inputs(const onnx::GraphProto& g) {
  Signature out;
  for (const auto& v : g.input()) out[v.name()] = Dims(v);
  return out;
}
Signature Outputs(const onnx::GraphProto& g) {
  Signature out;
  for (const auto& v : g.output()) out[v.name()] = Dims(v);
  return out;
}

const nlohmann::json kTinyT5 = {
    {"model_type", "t5"}, {"vocab_size", 100},       {"d_model", 16},
    {"d_kv", 8},          {"num_heads", 2},          {"d_ff", 32},
    {"num_layers", 2},    {"num_decoder_layers", 3}, {"relative_attention_num_buckets", 8}};

// T5Model's parameter names for the tiny config above.
std::set<std::string> HfT5Names(int encoder_layers, int decoder_layers, bool gated) {
  std::set<std::string> names = {"shared.weight", "encoder.final_layer_norm.weight",
                                 "decoder.final_layer_norm.weight",
                                 "encoder.block.0.layer.0.SelfAttention.relative_attention_bias."
                                 "weight",
                                 "decoder.block.0.layer.0.SelfAttention.relative_attention_bias."
                                 "weight"};
  auto attention = [&](const std::string& prefix) {
    for (const char* p : {"q", "k", "v", "o"}) names.insert(prefix + "." + p + ".weight");
  };
  auto ff = [&](const std::string& prefix) {
    names.insert(prefix + ".layer_norm.weight");
    for (const char* w : gated ? std::vector<const char*>{"wi_0", "wi_1", "wo"}
                               : std::vector<const char*>{"wi", "wo"})
      names.insert(prefix + ".DenseReluDense." + w + ".weight");
  };
  for (int i = 0; i < encoder_layers; ++i) {
    const std::string b = "encoder.block." + std::to_string(i);
    attention(b + ".layer.0.SelfAttention");
    names.insert(b + ".layer.0.layer_norm.weight");
    ff(b + ".layer.1");
  }
  for (int i = 0; i < decoder_layers; ++i) {
    const std::string b = "decoder.block." + std::to_string(i);
    attention(b + ".layer.0.SelfAttention");
    names.insert(b + ".layer.0.layer_norm.weight");
    attention(b + ".layer.1.EncDecAttention");
    names.insert(b + ".layer.1.layer_norm.weight");
    ff(b + ".layer.2");
  }
  return names;
}

std::set<std::string> Keys(const std::map<std::string, std::vector<int64_t>>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

TEST(T5GraphTest, AsksForT5ModelNamesAndShapes) {
  const BuiltGraph relu = Build(kTinyT5, BuildT5);
  EXPECT_EQ(Keys(relu.weights), HfT5Names(2, 3, false));
  EXPECT_EQ(relu.parameters, HfT5Parameters({100, 16, 8, 2, 32, 2, 3, 8, false}));
  // Linear weights are stored [in, out] for MatMul; the bias table is [buckets, heads].
  EXPECT_EQ(relu.weights.at("encoder.block.1.layer.0.SelfAttention.q.weight"),
            (std::vector<int64_t>{16, 16}));
  EXPECT_EQ(relu.weights.at("decoder.block.2.layer.2.DenseReluDense.wi.weight"),
            (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(relu.weights.at("decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"),
            (std::vector<int64_t>{8, 2}));

  nlohmann::json gated_config = kTinyT5;
  gated_config["feed_forward_proj"] = "gated-gelu";
  const BuiltGraph gated = Build(gated_config, BuildT5);
  EXPECT_EQ(Keys(gated.weights), HfT5Names(2, 3, true));
  EXPECT_EQ(gated.parameters, HfT5Parameters({100, 16, 8, 2, 32, 2, 3, 8, true}));
}

TEST(T5GraphTest, NoBiasesAndRmsNormHasNoMean) {
  const BuiltGraph g = Build(kTinyT5, BuildT5);
  for (const auto& [name, dims] : g.weights)
    EXPECT_EQ(name.find(".bias"), std::string::npos) << name;
  std::map<std::string, int> ops;
  for (const auto& n : g.graph.node()) ++ops[n.op_type()];
  EXPECT_EQ(ops["LayerNormalization"], 0);              // T5LayerNorm is RMS, written out
  EXPECT_EQ(ops["ReduceMean"], 2 * 2 + 1 + 3 * 3 + 1);  // one per T5LayerNorm, no mean taken
  // The only ReduceMean inputs are squares (mean of x^2).
  std::map<std::string, std::string> producer;
  for (const auto& n : g.graph.node())
    for (const auto& o : n.output()) producer[o] = n.op_type();
  for (const auto& n : g.graph.node())
    if (n.op_type() == "ReduceMean") {
      EXPECT_EQ(producer[n.input(0)], "Mul");
    }
}

TEST(T5GraphTest, GatedGeluUsesGeluNewAndReluDoesNot) {
  auto has_tanh = [](const BuiltGraph& g) {
    for (const auto& n : g.graph.node())
      if (n.op_type() == "Tanh") return true;
    return false;
  };
  nlohmann::json gated = kTinyT5;
  gated["feed_forward_proj"] = "gated-gelu";
  EXPECT_TRUE(has_tanh(Build(gated, BuildT5)));  // gelu_new is the tanh approximation
  EXPECT_FALSE(has_tanh(Build(kTinyT5, BuildT5)));
}

TEST(T5GraphTest, InputsAndOutputsAreT5Model) {
  const BuiltGraph g = Build(kTinyT5, BuildT5);
  EXPECT_EQ(Inputs(g.graph), (Signature{{"input_ids", {"batch", "sequence"}},
                                        {"attention_mask", {"batch", "sequence"}},
                                        {"decoder_input_ids", {"batch", "decoder_sequence"}}}));
  EXPECT_EQ(Outputs(g.graph),
            (Signature{{"last_hidden_state", {"batch", "decoder_sequence", "16"}},
                       {"encoder_last_hidden_state", {"batch", "sequence", "16"}}}));
  for (const auto& in : g.graph.input())
    EXPECT_EQ(in.type().tensor_type().elem_type(), onnx::TensorProto::INT64) << in.name();
}

TEST(T5GraphTest, BucketTablesAreConstantsNotParameters) {
  const BuiltGraph g = Build(kTinyT5, BuildT5);
  std::set<std::string> tables;
  for (const auto& t : g.graph.initializer())
    if (t.name().rfind("const_t5_buckets", 0) == 0) {
      tables.insert(t.name());
      EXPECT_EQ(t.dims(0), 2 * 128 + 1) << t.name();  // key - query in [-128, 128]
    }
  EXPECT_EQ(tables,
            (std::set<std::string>{"const_t5_buckets_bidirectional", "const_t5_buckets_causal"}));
}

TEST(T5BucketTest, MatchesHuggingFaceBuckets) {
  // HF _relative_position_bucket, t5-small (32 buckets, max distance 128), by hand:
  // encoder (bidirectional): 16 buckets per direction, 8 exact, then logarithmic.
  auto enc = [](int64_t rel) { return T5RelativePositionBucket(rel, true, 32, 128); };
  EXPECT_EQ(enc(0), 0);
  EXPECT_EQ(enc(-1), 1);
  EXPECT_EQ(enc(1), 17);  // keys after the query use the upper half
  EXPECT_EQ(enc(-7), 7);
  EXPECT_EQ(enc(-8), 8);    // 8 + log(1)/log(16)*8
  EXPECT_EQ(enc(-16), 10);  // 8 + 0.25*8 exactly in float32
  EXPECT_EQ(enc(-32), 12);
  EXPECT_EQ(enc(-127), 15);
  EXPECT_EQ(enc(-128), 15);  // clamped
  EXPECT_EQ(enc(-100000), 15);
  EXPECT_EQ(enc(100000), 31);
  EXPECT_EQ(enc(20), 16 + 8 + 2);  // 8 + trunc(log(2.5)/log(16)*8 = 2.64)
  // decoder (causal): 32 buckets for the past, 16 exact; future keys fall in bucket 0.
  auto dec = [](int64_t rel) { return T5RelativePositionBucket(rel, false, 32, 128); };
  EXPECT_EQ(dec(5), 0);
  EXPECT_EQ(dec(-5), 5);
  EXPECT_EQ(dec(-15), 15);
  EXPECT_EQ(dec(-16), 16);
  EXPECT_EQ(dec(-32), 21);  // 16 + trunc(16/3)
  EXPECT_EQ(dec(-64), 26);  // 16 + trunc(32/3)
  EXPECT_EQ(dec(-128), 31);
  EXPECT_EQ(dec(-5000), 31);
}

TEST(T5BucketTest, MonotoneAndSaturatedBeyondMaxDistance) {
  for (const bool bidirectional : {true, false}) {
    for (const int64_t buckets : {8, 32}) {
      int64_t previous = 0;
      for (int64_t distance = 0; distance <= 300; ++distance) {
        const int64_t b = T5RelativePositionBucket(-distance, bidirectional, buckets, 128);
        EXPECT_GE(b, previous) << distance;
        EXPECT_LT(b, bidirectional ? buckets / 2 : buckets);
        if (distance >= 128) {
          EXPECT_EQ(b, (bidirectional ? buckets / 2 : buckets) - 1);
        }
        previous = b;
      }
    }
  }
}

class BuildT5ConfigTest : public ::testing::Test {
 protected:
  Error BuildWith(const nlohmann::json& overrides) {
    nlohmann::json json = kTinyT5;
    json.update(overrides);
    return CatchError([&] { Build(json, BuildT5); });
  }
};

TEST_F(BuildT5ConfigTest, MalformedFeedForwardProjIsCorrupt) {
  const Error e = BuildWith({{"feed_forward_proj", "gated-gelu-fast"}});
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("gated-gelu-fast"));
  EXPECT_THAT(e.what(), HasSubstr("test-config"));
  EXPECT_EQ(BuildWith({{"feed_forward_proj", "fancy-relu"}}).kind(), ErrorKind::kCorrupt);
}

TEST_F(BuildT5ConfigTest, UnknownActivationIsUnsupported) {
  const Error e = BuildWith({{"feed_forward_proj", "gated-swiglu_xyz"}});
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("swiglu_xyz"));
}

TEST_F(BuildT5ConfigTest, BucketLayoutWithoutSaturationIsUnsupported) {
  const Error e = BuildWith({{"relative_attention_max_distance", 4}});
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("relative_attention_max_distance"));
}

TEST_F(BuildT5ConfigTest, GatedSiluBuilds) {
  nlohmann::json json = kTinyT5;
  json["feed_forward_proj"] = "gated-silu";
  EXPECT_EQ(Keys(Build(json, BuildT5).weights), HfT5Names(2, 3, true));
}

// ---- BART ----

const nlohmann::json kTinyBart = {
    {"model_type", "bart"},          {"vocab_size", 100},   {"d_model", 16},
    {"max_position_embeddings", 20}, {"encoder_layers", 2}, {"encoder_attention_heads", 2},
    {"encoder_ffn_dim", 32},         {"decoder_layers", 1}, {"decoder_attention_heads", 4},
    {"decoder_ffn_dim", 24}};

TEST(BartGraphTest, AsksForBartModelNamesAndShapes) {
  const BuiltGraph g = Build(kTinyBart, BuildBart);
  EXPECT_EQ(g.parameters, HfBartParameters({100, 16, 20, 2, 32, 1, 24}));
  // Positions are read at offset 2: each table has max_position_embeddings + 2 rows.
  EXPECT_EQ(g.weights.at("encoder.embed_positions.weight"), (std::vector<int64_t>{22, 16}));
  EXPECT_EQ(g.weights.at("decoder.embed_positions.weight"), (std::vector<int64_t>{22, 16}));
  EXPECT_EQ(g.weights.at("shared.weight"), (std::vector<int64_t>{100, 16}));
  // The tied embedding is asked for once, under its shared name.
  EXPECT_EQ(g.weights.count("encoder.embed_tokens.weight"), 0u);
  EXPECT_EQ(g.weights.count("decoder.embed_tokens.weight"), 0u);
  for (const char* name :
       {"encoder.layernorm_embedding.weight", "encoder.layernorm_embedding.bias",
        "decoder.layernorm_embedding.bias", "encoder.layers.1.self_attn.q_proj.bias",
        "encoder.layers.1.self_attn_layer_norm.weight", "encoder.layers.0.fc1.bias",
        "encoder.layers.0.final_layer_norm.bias", "decoder.layers.0.encoder_attn.k_proj.bias",
        "decoder.layers.0.encoder_attn_layer_norm.weight",
        "decoder.layers.0.self_attn.out_proj.bias"})
    EXPECT_EQ(g.weights.count(name), 1u) << name;
  EXPECT_EQ(g.weights.at("decoder.layers.0.fc1.weight"), (std::vector<int64_t>{16, 24}));
  EXPECT_EQ(g.weights.count("decoder.layers.1.fc1.weight"), 0u);
  // BART has no final layer norm on either stack (mBART does).
  EXPECT_EQ(g.weights.count("encoder.layer_norm.weight"), 0u);
  EXPECT_EQ(g.weights.count("decoder.layer_norm.weight"), 0u);
}

TEST(BartGraphTest, InputsAndOutputsAreBartModel) {
  const BuiltGraph g = Build(kTinyBart, BuildBart);
  EXPECT_EQ(Inputs(g.graph), (Signature{{"input_ids", {"batch", "sequence"}},
                                        {"attention_mask", {"batch", "sequence"}},
                                        {"decoder_input_ids", {"batch", "decoder_sequence"}}}));
  EXPECT_EQ(Outputs(g.graph),
            (Signature{{"last_hidden_state", {"batch", "decoder_sequence", "16"}},
                       {"encoder_last_hidden_state", {"batch", "sequence", "16"}}}));
}

// The Mul constants applied right after a Gather of the shared embedding.
std::vector<float> EmbeddingScales(const onnx::GraphProto& g) {
  std::map<std::string, float> scalars;
  for (const auto& t : g.initializer())
    if (t.data_type() == onnx::TensorProto::FLOAT && t.dims_size() == 0 && t.raw_data().size() == 4)
      std::memcpy(&scalars[t.name()], t.raw_data().data(), 4);
  std::set<std::string> gathered;
  for (const auto& n : g.node())
    if (n.op_type() == "Gather" && n.input(0) == "shared.weight") gathered.insert(n.output(0));
  std::vector<float> out;
  for (const auto& n : g.node())
    if (n.op_type() == "Mul" && gathered.count(n.input(0)) && scalars.count(n.input(1)))
      out.push_back(scalars.at(n.input(1)));
  return out;
}

TEST(BartGraphTest, ScaleEmbeddingMultipliesBySqrtDModel) {
  EXPECT_TRUE(EmbeddingScales(Build(kTinyBart, BuildBart).graph).empty());
  nlohmann::json scaled = kTinyBart;
  scaled["scale_embedding"] = true;
  EXPECT_EQ(EmbeddingScales(Build(scaled, BuildBart).graph),
            (std::vector<float>{4.0f, 4.0f}));  // sqrt(16), encoder and decoder
}

TEST(BartGraphTest, HeadsThatDoNotDivideDModelAreCorrupt) {
  nlohmann::json json = kTinyBart;
  json["decoder_attention_heads"] = 5;
  const Error e = CatchError([&] { Build(json, BuildBart); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("decoder_attention_heads"));
}

TEST(BartGraphTest, UnknownActivationIsUnsupported) {
  nlohmann::json json = kTinyBart;
  json["activation_function"] = "swiglu_xyz";
  EXPECT_EQ(CatchError([&] { Build(json, BuildBart); }).kind(), ErrorKind::kUnsupported);
}

// ---- Through LoadModel: checked graphs, hints and roles ----

TEST(Seq2SeqModelTest, FixtureFolderDescribesItself) {
  const Model m = LoadHfFolder(kT5Fixture);
  EXPECT_EQ(m.info.architecture, "t5");
  EXPECT_EQ(m.info.parameters, 228672);
  EXPECT_EQ(m.dim_roles.batch, "batch");
  EXPECT_EQ(m.dim_roles.sequence, "sequence");
  EXPECT_EQ(m.dim_roles.max_sequence, 0);  // relative positions: no bound
  ASSERT_EQ(m.input_hints.size(), 3u);
  for (const char* ids : {"input_ids", "decoder_input_ids"}) {
    EXPECT_EQ(m.input_hints.at(ids).kind, InputHint::Kind::kIndexRange) << ids;
    EXPECT_EQ(m.input_hints.at(ids).high, 1000) << ids;
  }
  EXPECT_EQ(m.input_hints.at("attention_mask").kind, InputHint::Kind::kOnes);
}

TEST(Seq2SeqModelTest, BartBaseFromTheCatalog) {
  const Model m = LoadModel("bart-base");
  EXPECT_EQ(m.info.name, "facebook/bart-base");
  EXPECT_EQ(m.info.parameters, 139420416);
  EXPECT_EQ(m.dim_roles.max_sequence, 1024);
  EXPECT_EQ(m.input_hints.at("decoder_input_ids").high, 50265);
}

// ---- Generation graphs (encoder, decoder with KV cache) ----

onnx::GraphProto GenerationGraph(const nlohmann::json& config, Seq2SeqGraph which,
                                 int64_t* parameters = nullptr) {
  SeededRandomWeights weights(1, 0.02);
  onnx::ModelProto proto;
  EXPECT_TRUE(
      proto.ParseFromString(BuildSeq2SeqGraph(HfConfig(config, "test-config"), weights, which)));
  if (parameters != nullptr) *parameters = weights.parameter_count();
  return proto.graph();
}

TEST(Seq2SeqGenerationGraphTest, EncoderReturnsTheCrossAttentionCache) {
  // tiny T5: 2 heads of 8, 3 decoder layers.
  Signature outputs = {{"last_hidden_state", {"batch", "sequence", "16"}}};
  for (int i = 0; i < 3; ++i)
    for (const char* part : {"key", "value"})
      outputs["present." + std::to_string(i) + ".encoder." + part] = {"batch", "2", "sequence",
                                                                      "8"};
  const onnx::GraphProto g = GenerationGraph(kTinyT5, Seq2SeqGraph::kEncoder);
  EXPECT_EQ(Outputs(g), outputs);
  EXPECT_EQ(Inputs(g), (Signature{{"input_ids", {"batch", "sequence"}},
                                  {"attention_mask", {"batch", "sequence"}}}));
}

TEST(Seq2SeqGenerationGraphTest, DecoderTakesOptimumCacheNames) {
  // tiny BART decoder: 1 layer, 4 heads of 4.
  const onnx::GraphProto g = GenerationGraph(kTinyBart, Seq2SeqGraph::kDecoderWithPast);
  EXPECT_EQ(
      Inputs(g),
      (Signature{{"input_ids", {"batch", "sequence"}},
                 {"encoder_attention_mask", {"batch", "encoder_sequence"}},
                 {"past_key_values.0.decoder.key", {"batch", "4", "past_sequence", "4"}},
                 {"past_key_values.0.decoder.value", {"batch", "4", "past_sequence", "4"}},
                 {"past_key_values.0.encoder.key", {"batch", "4", "encoder_sequence", "4"}},
                 {"past_key_values.0.encoder.value", {"batch", "4", "encoder_sequence", "4"}}}));
  EXPECT_EQ(Outputs(g),
            (Signature{{"last_hidden_state", {"batch", "sequence", "16"}},
                       {"present.0.decoder.key", {"batch", "4", "total_sequence", "4"}},
                       {"present.0.decoder.value", {"batch", "4", "total_sequence", "4"}}}));
  const DimRoles roles = Seq2SeqDecoderDimRoles();
  EXPECT_EQ(roles.sequence, "sequence");
  EXPECT_EQ(roles.past_sequence, "past_sequence");
  EXPECT_EQ(roles.total_sequence, "total_sequence");
}

TEST(Seq2SeqGenerationGraphTest, GraphsSplitTheParameters) {
  for (const auto& config : {kTinyT5, kTinyBart}) {
    SCOPED_TRACE(config.dump());
    int64_t full = 0, encoder = 0, decoder = 0;
    GenerationGraph(config, Seq2SeqGraph::kFullForward, &full);
    GenerationGraph(config, Seq2SeqGraph::kEncoder, &encoder);
    GenerationGraph(config, Seq2SeqGraph::kDecoderWithPast, &decoder);
    EXPECT_EQ(encoder + decoder - 100 * 16, full);  // the shared embedding is in both
  }
}

TEST(Seq2SeqGenerationGraphTest, OtherArchitecturesAreUnsupported) {
  SeededRandomWeights weights(1, 0.02);
  const Error e = CatchError([&] {
    BuildSeq2SeqGraph(HfConfig({{"model_type", "bert"}}, "test-config"), weights,
                      Seq2SeqGraph::kEncoder);
  });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("bert"));
}

// ---- Templates of the BART and T5 families (template pieces) ----

// The template's tiny config with `overrides`, as ApplyTemplate hands it to the builder.
HfConfig TemplateConfig(const std::string& model_type, const nlohmann::json& overrides = {}) {
  const ArchitectureTemplate* t = FindTemplate(model_type);
  if (t == nullptr) throw Error(ErrorKind::kNotFound, "no template " + model_type);
  nlohmann::json json = TinyConfig(*t).json();
  if (overrides.is_object()) json.update(overrides);
  return ApplyTemplate(*t, HfConfig(json, "test-config"));
}

BuiltGraph BuildTemplate(const std::string& model_type,
                         void (*build)(const HfConfig&, GraphBuilder&),
                         const nlohmann::json& overrides = {}) {
  BuiltGraph out;
  SeededRandomWeights weights(1, 0.02);
  GraphBuilder builder(&out.graph, &weights);
  build(TemplateConfig(model_type, overrides), builder);
  out.parameters = weights.parameter_count();
  for (const auto& t : out.graph.initializer())
    if (t.name().rfind("const_", 0) != 0)
      out.weights[t.name()] = std::vector<int64_t>(t.dims().begin(), t.dims().end());
  return out;
}

std::vector<float> InitializerValues(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name) {
      std::vector<float> out(t.raw_data().size() / sizeof(float));
      std::memcpy(out.data(), t.raw_data().data(), t.raw_data().size());
      return out;
    }
  ADD_FAILURE() << "no initializer " << name;
  return {};
}

// The op of the node that makes `tensor` ("" for a graph input or initializer).
std::string Producer(const onnx::GraphProto& g, const std::string& tensor) {
  for (const auto& n : g.node())
    for (const auto& o : n.output())
      if (o == tensor) return n.op_type();
  return "";
}

// The input of the LayerNormalization whose scale is `weight`.
std::string NormInput(const onnx::GraphProto& g, const std::string& weight) {
  for (const auto& n : g.node())
    if (n.op_type() == "LayerNormalization" && n.input(1) == weight) return n.input(0);
  ADD_FAILURE() << "no LayerNormalization of " << weight;
  return "";
}

TEST(BartTemplatesTest, PreNormStacksEndInTheirOwnLayerNorm) {
  for (const char* type : {"mbart", "pegasus", "blenderbot", "m2m_100"}) {
    SCOPED_TRACE(type);
    const BuiltGraph g = BuildTemplate(type, BuildBart);
    EXPECT_EQ(g.weights.count("encoder.layer_norm.weight"), 1u);
    EXPECT_EQ(g.weights.count("decoder.layer_norm.bias"), 1u);
    // Pre-norm: each sublayer's LayerNorm reads the residual stream, not a sum with it.
    EXPECT_NE(Producer(g.graph, NormInput(g.graph, "encoder.layers.0.final_layer_norm.weight")),
              "LayerNormalization");
  }
  EXPECT_EQ(BuildTemplate("plbart", BuildBart).weights.count("encoder.layer_norm.weight"), 0u);
}

TEST(BartTemplatesTest, MarianPositionsAreFrozenSinusoidsCountedAsParameters) {
  const HfConfig c = TemplateConfig("marian");
  const int64_t rows = c.Int("max_position_embeddings"), d = c.Int("d_model");
  const BuiltGraph g = BuildTemplate("marian", BuildBart);
  // max_position_embeddings rows from position 0 (no offset), in both stacks, counted.
  EXPECT_EQ(g.weights.at("encoder.embed_positions.weight"), (std::vector<int64_t>{rows, d}));
  EXPECT_EQ(g.weights.count("encoder.layernorm_embedding.weight"), 0u);
  const std::vector<float> table = InitializerValues(g.graph, "decoder.embed_positions.weight");
  ASSERT_EQ(table.size(), static_cast<size_t>(rows * d));
  // Row p: sin(p / 10000^(2i/d)) in column i of the first half, cos in column d/2 + i,
  // whatever the seed (HF computes them at init, checkpoints often omit them).
  EXPECT_FLOAT_EQ(table[0 * d + 0], 0.0f);
  EXPECT_FLOAT_EQ(table[0 * d + d / 2], 1.0f);
  EXPECT_FLOAT_EQ(table[3 * d + 1], static_cast<float>(std::sin(3.0 / std::pow(10000.0, 2.0 / d))));
  EXPECT_FLOAT_EQ(table[3 * d + d / 2 + 1],
                  static_cast<float>(std::cos(3.0 / std::pow(10000.0, 2.0 / d))));
  // Counted as HF counts the frozen nn.Parameter: one more position is a row in each table.
  const BuiltGraph longer =
      BuildTemplate("marian", BuildBart, {{"max_position_embeddings", rows + 1}});
  EXPECT_EQ(longer.parameters - g.parameters, 2 * d);
}

TEST(BartTemplatesTest, M2M100PositionsCountNonPaddingTokensInABuffer) {
  const HfConfig c = TemplateConfig("m2m_100");
  const int64_t d = c.Int("d_model"), pad = c.Id("pad_token_id");
  const BuiltGraph g = BuildTemplate("m2m_100", BuildBart);
  EXPECT_EQ(g.weights.count("encoder.embed_positions.weight"), 0u);  // a buffer, not counted
  const std::vector<float> table = InitializerValues(g.graph, "const_encoder_sinusoidal_positions");
  ASSERT_EQ(table.size(), static_cast<size_t>((c.Int("max_position_embeddings") + 2) * d));
  for (int64_t i = 0; i < d; ++i) EXPECT_EQ(table[pad * d + i], 0.0f) << i;  // padding row
  int cumsums = 0;
  for (const auto& n : g.graph.node()) cumsums += n.op_type() == "CumSum";
  EXPECT_EQ(cumsums, 2);  // positions from the tokens, in each stack
}

TEST(BartTemplatesTest, BlenderbotSmallNormsDecoderTokensBeforeAddingPositions) {
  const BuiltGraph g = BuildTemplate("blenderbot-small", BuildBart);
  EXPECT_EQ(Producer(g.graph, NormInput(g.graph, "encoder.layernorm_embedding.weight")), "Add");
  const std::string decoder_in =
      Producer(g.graph, NormInput(g.graph, "decoder.layernorm_embedding.weight"));
  EXPECT_TRUE(decoder_in == "Gather" || decoder_in == "Mul") << decoder_in;  // tokens (scaled)
  // Learned positions from row 0: max_position_embeddings rows.
  EXPECT_EQ(g.weights.at("decoder.embed_positions.weight")[0],
            TemplateConfig("blenderbot-small").Int("max_position_embeddings"));
}

TEST(BartTemplatesTest, AnUnknownPieceValueIsRefusedNamingIt) {
  const ArchitectureTemplate t =
      ResolveTemplate({{"model_type", "bart_sideways"},
                       {"inherits", "bart"},
                       {"version", 1},
                       {"history", {{{"version", 1}, {"reason", "test"}}}},
                       {"pieces", {{"norm_position", "sideways"}}}},
                      "test-template");
  onnx::GraphProto graph;
  SeededRandomWeights weights(1, 0.02);
  GraphBuilder builder(&graph, &weights);
  const Error e = CatchError([&] { BuildBart(ApplyTemplate(t, TinyConfig(t)), builder); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("norm_position"));
  EXPECT_THAT(e.what(), HasSubstr("sideways"));
}

TEST(Speech2TextTemplate, SubsamplesFeaturesWithGluConvsAndMasksTheSubsampledFrames) {
  const HfConfig c = TemplateConfig("speech_to_text");
  const int64_t d = c.Int("d_model"), mid = c.Int("conv_channels");
  const BuiltGraph g = BuildTemplate("speech_to_text", BuildSpeech2Text);
  // Conv1dSubsampler: in -> mid channels, GLU halves them, then mid / 2 -> 2 * d_model.
  EXPECT_EQ(g.weights.at("encoder.conv.conv_layers.0.weight"),
            (std::vector<int64_t>{mid, c.Int("input_feat_per_channel"), 5}));
  EXPECT_EQ(g.weights.at("encoder.conv.conv_layers.1.weight"),
            (std::vector<int64_t>{2 * d, mid / 2, 5}));
  // The decoder's own embedding, no shared table, sinusoids as buffers sized per stack.
  EXPECT_EQ(g.weights.at("decoder.embed_tokens.weight"),
            (std::vector<int64_t>{c.Int("vocab_size"), d}));
  EXPECT_EQ(g.weights.count("shared.weight"), 0u);
  EXPECT_EQ(g.weights.count("encoder.embed_positions.weight"), 0u);
  EXPECT_EQ(InitializerValues(g.graph, "const_encoder_sinusoidal_positions").size(),
            static_cast<size_t>((c.Int("max_source_positions") + 2) * d));
  EXPECT_EQ(InitializerValues(g.graph, "const_decoder_sinusoidal_positions").size(),
            static_cast<size_t>((c.Int("max_target_positions") + 2) * d));
  std::map<std::string, int> ops;
  for (const auto& n : g.graph.node()) ++ops[n.op_type()];
  EXPECT_EQ(ops["Sigmoid"], 2);  // one GLU per conv
  EXPECT_EQ(ops["Div"], 2);      // the frame count halved once per conv
  ASSERT_EQ(g.graph.input_size(), 3);
  EXPECT_EQ(g.graph.input(0).name(), "input_features");
}

TEST(Speech2TextTemplate, KernelsThatDoNotMatchTheConvCountAreCorrupt) {
  SeededRandomWeights weights(1, 0.02);
  onnx::GraphProto graph;
  GraphBuilder builder(&graph, &weights);
  const Error e = CatchError([&] {
    BuildSpeech2Text(TemplateConfig("speech_to_text", {{"conv_kernel_sizes", {5, 5, 5}}}), builder);
  });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("num_conv_layers"));
}

TEST(T5TemplatesTest, Umt5HasARelativeBiasTableInEveryLayer) {
  const BuiltGraph g =
      BuildTemplate("umt5", BuildT5, {{"num_layers", 2}, {"num_decoder_layers", 2}});
  for (const char* stack : {"encoder", "decoder"})
    for (int i = 0; i < 2; ++i)
      EXPECT_EQ(g.weights.count(fmt::format(
                    "{}.block.{}.layer.0.SelfAttention.relative_attention_bias.weight", stack, i)),
                1u)
          << stack << i;
  // mT5 keeps T5's single table per stack.
  const BuiltGraph mt5 =
      BuildTemplate("mt5", BuildT5, {{"num_layers", 2}, {"num_decoder_layers", 2}});
  EXPECT_EQ(
      mt5.weights.count("encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"),
      0u);
}

TEST(T5TemplatesTest, LongT5EncoderAttendsWithinTheLocalRadius) {
  const BuiltGraph g = BuildTemplate("longt5", BuildT5);
  EXPECT_EQ(g.weights.count("encoder.block.0.layer.0.LocalSelfAttention.q.weight"), 1u);
  EXPECT_EQ(g.weights.count("encoder.block.0.layer.0.SelfAttention.q.weight"), 0u);
  EXPECT_EQ(g.weights.count("decoder.block.0.layer.0.SelfAttention.q.weight"), 1u);
  int abs = 0;
  for (const auto& n : g.graph.node()) abs += n.op_type() == "Abs";
  EXPECT_EQ(abs, 1);  // |key - query| > local_radius is masked
  // The transient-global encoder is not built: its config is refused naming the key.
  const Error e = CatchError([&] {
    TemplateConfig("longt5", {{"encoder_attention_type", "transient-global"}});
  });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("encoder_attention_type"));
}

}  // namespace seq2seq_graph_test
}  // namespace ipfs_accel::models
