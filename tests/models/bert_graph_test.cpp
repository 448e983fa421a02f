// Tests for the BERT graph builder through models::LoadModel on catalog names,
// and BuildBert directly for config options it must refuse. Parameter counts are
// Hugging Face's (BertModel at the default configs, see
// shared/fixtures/hf-tiny/README.md); the graph is inspected as an
// onnx::ModelProto parsed from the returned bytes.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/encoder_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"

namespace ipfs_accel::models {
namespace bert_graph_test {

using core::Error;
using core::ErrorKind;
using ::testing::HasSubstr;

using ipfs_accel::testing::CatchError;

struct BertSize {
  int64_t vocab, hidden, layers, intermediate, positions, type_vocab;
};

// BertModel's parameters, counted module by module as PyTorch holds them.
int64_t HfBertParameters(const BertSize& s) {
  const int64_t h = s.hidden, i = s.intermediate;
  const int64_t embeddings = (s.vocab + s.positions + s.type_vocab) * h + 2 * h;
  const int64_t layer = 4 * (h * h + h)  // query, key, value, attention output
                        + 2 * h          // attention LayerNorm
                        + (h * i + i)    // intermediate
                        + (i * h + h)    // output
                        + 2 * h;         // output LayerNorm
  const int64_t pooler = h * h + h;
  return embeddings + s.layers * layer + pooler;
}

// The HF parameter names of a BertModel with `layers` layers.
std::set<std::string> HfBertNames(int layers) {
  std::set<std::string> names = {"embeddings.word_embeddings.weight",
                                 "embeddings.position_embeddings.weight",
                                 "embeddings.token_type_embeddings.weight",
                                 "embeddings.LayerNorm.weight",
                                 "embeddings.LayerNorm.bias",
                                 "pooler.dense.weight",
                                 "pooler.dense.bias"};
  const char* per_layer[] = {"attention.self.query",
                             "attention.self.key",
                             "attention.self.value",
                             "attention.output.dense",
                             "attention.output.LayerNorm",
                             "intermediate.dense",
                             "output.dense",
                             "output.LayerNorm"};
  for (int l = 0; l < layers; ++l)
    for (const char* m : per_layer)
      for (const char* p : {"weight", "bias"})
        names.insert("encoder.layer." + std::to_string(l) + "." + m + "." + p);
  return names;
}

int64_t ElementCount(const onnx::TensorProto& t) {
  int64_t n = 1;
  for (int64_t d : t.dims()) n *= d;
  return n;
}

bool IsHfWeight(const onnx::TensorProto& t) { return t.name().rfind("const_", 0) != 0; }

onnx::ModelProto Parse(const std::string& bytes) {
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromString(bytes));
  return proto;
}

const onnx::TensorProto* FindInitializer(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name) return &t;
  return nullptr;
}

std::vector<float> FloatValues(const onnx::TensorProto& t) {
  EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT) << t.name();
  std::vector<float> v(static_cast<size_t>(ElementCount(t)));
  EXPECT_EQ(t.raw_data().size(), v.size() * sizeof(float)) << t.name();
  std::memcpy(v.data(), t.raw_data().data(), std::min(t.raw_data().size(), v.size() * 4));
  return v;
}

// "batch", 768 ... as strings, for comparing a ValueInfo's shape.
std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

TEST(BertParameterFormulaTest, MatchesHuggingFaceCounts) {
  // Figures from transformers' BertModel (fixtures README and fixture.json).
  EXPECT_EQ(HfBertParameters({30522, 768, 12, 3072, 512, 2}), 109482240);
  EXPECT_EQ(HfBertParameters({30522, 1024, 24, 4096, 512, 2}), 335141888);
  EXPECT_EQ(HfBertParameters({1000, 64, 2, 128, 128, 2}), 143552);
  EXPECT_EQ(HfBertNames(2).size(), 39u);
}

// bert-base is large (110M parameters); it is built once for these tests.
class BertBaseTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    model_ = new Model(LoadModel("bert-base-uncased"));
    proto_ = new onnx::ModelProto(Parse(model_->onnx_bytes));
  }
  static void TearDownTestSuite() {
    delete proto_;
    delete model_;
    proto_ = nullptr;
    model_ = nullptr;
  }
  static Model* model_;
  static onnx::ModelProto* proto_;
};
Model* BertBaseTest::model_ = nullptr;
onnx::ModelProto* BertBaseTest::proto_ = nullptr;

TEST_F(BertBaseTest, HasHuggingFaceParameterCount) {
  EXPECT_EQ(model_->info.parameters, 109482240);
}

TEST_F(BertBaseTest, DescribesItself) {
  const ModelInfo& info = model_->info;
  EXPECT_EQ(info.name, "bert-base-uncased");
  EXPECT_EQ(info.architecture, "bert");
  EXPECT_EQ(info.modality, "text");
  EXPECT_EQ(info.source, "catalog");
  EXPECT_EQ(info.content_hash, "seed:42");  // LoadOptions' default seed
  EXPECT_FALSE(model_->onnx_bytes.empty());
  EXPECT_TRUE(model_->onnx_path.empty());
  EXPECT_EQ(model_->dim_roles.batch, "batch");
  EXPECT_EQ(model_->dim_roles.sequence, "sequence");
  EXPECT_EQ(model_->dim_roles.max_sequence, 512);
  ASSERT_EQ(model_->input_hints.size(), 3u);
  const InputHint ids = model_->input_hints.at("input_ids");
  EXPECT_EQ(ids.kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(ids.low, 0);
  EXPECT_EQ(ids.high, 30522);
  const InputHint types = model_->input_hints.at("token_type_ids");
  EXPECT_EQ(types.kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(types.low, 0);
  EXPECT_EQ(types.high, 2);
  EXPECT_EQ(model_->input_hints.at("attention_mask").kind, InputHint::Kind::kOnes);
}

TEST_F(BertBaseTest, InputsAndOutputsMatchBertModel) {
  const onnx::GraphProto& g = proto_->graph();
  ASSERT_EQ(g.input_size(), 3);
  std::set<std::string> input_names;
  for (const auto& in : g.input()) {
    SCOPED_TRACE(in.name());
    input_names.insert(in.name());
    EXPECT_EQ(in.type().tensor_type().elem_type(), onnx::TensorProto::INT64);
    EXPECT_EQ(Dims(in), (std::vector<std::string>{"batch", "sequence"}));
  }
  EXPECT_EQ(input_names, (std::set<std::string>{"input_ids", "attention_mask", "token_type_ids"}));

  ASSERT_EQ(g.output_size(), 2);
  std::map<std::string, std::vector<std::string>> outputs;
  for (const auto& out : g.output()) {
    EXPECT_EQ(out.type().tensor_type().elem_type(), onnx::TensorProto::FLOAT) << out.name();
    outputs[out.name()] = Dims(out);
  }
  EXPECT_EQ(outputs["last_hidden_state"], (std::vector<std::string>{"batch", "sequence", "768"}));
  EXPECT_EQ(outputs["pooler_output"], (std::vector<std::string>{"batch", "768"}));
}

TEST_F(BertBaseTest, OpsetAndProducer) {
  ASSERT_GE(proto_->opset_import_size(), 1);
  bool default_domain = false;
  for (const auto& o : proto_->opset_import())
    if (o.domain().empty()) {
      default_domain = true;
      EXPECT_GE(o.version(), 17);  // LayerNormalization
    }
  EXPECT_TRUE(default_domain);
  EXPECT_EQ(proto_->graph().name(), "bert-base-uncased");
}

TEST_F(BertBaseTest, HfNamedInitializersAreTheParameters) {
  const onnx::GraphProto& g = proto_->graph();
  int64_t hf_elements = 0;
  std::set<std::string> hf_names;
  for (const auto& t : g.initializer()) {
    if (!IsHfWeight(t)) continue;
    EXPECT_TRUE(hf_names.insert(t.name()).second) << "duplicate initializer " << t.name();
    EXPECT_EQ(t.data_type(), onnx::TensorProto::FLOAT) << t.name();
    EXPECT_EQ(t.raw_data().size(), static_cast<size_t>(ElementCount(t)) * 4) << t.name();
    hf_elements += ElementCount(t);
  }
  EXPECT_EQ(hf_elements, model_->info.parameters);
  EXPECT_EQ(hf_elements, 109482240);
  EXPECT_EQ(hf_names, HfBertNames(12));
}

TEST_F(BertBaseTest, WeightShapes) {
  const onnx::GraphProto& g = proto_->graph();
  auto dims = [&](const std::string& name) {
    const onnx::TensorProto* t = FindInitializer(g, name);
    std::vector<int64_t> out;
    if (t == nullptr) {
      ADD_FAILURE() << "no initializer " << name;
      return out;
    }
    out.assign(t->dims().begin(), t->dims().end());
    return out;
  };
  EXPECT_EQ(dims("embeddings.word_embeddings.weight"), (std::vector<int64_t>{30522, 768}));
  EXPECT_EQ(dims("embeddings.position_embeddings.weight"), (std::vector<int64_t>{512, 768}));
  EXPECT_EQ(dims("embeddings.token_type_embeddings.weight"), (std::vector<int64_t>{2, 768}));
  // Linear weights are stored [in, out] for MatMul (HF holds [out, in]).
  EXPECT_EQ(dims("encoder.layer.0.intermediate.dense.weight"), (std::vector<int64_t>{768, 3072}));
  EXPECT_EQ(dims("encoder.layer.11.output.dense.weight"), (std::vector<int64_t>{3072, 768}));
  EXPECT_EQ(dims("encoder.layer.5.attention.output.LayerNorm.bias"), (std::vector<int64_t>{768}));
  EXPECT_EQ(dims("pooler.dense.weight"), (std::vector<int64_t>{768, 768}));
}

TEST_F(BertBaseTest, AliasesBuildTheSameModel) {
  for (const std::string alias : {"bert", "bert-base"}) {
    SCOPED_TRACE(alias);
    const auto entry = FindInCatalog(alias);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->name, "bert-base-uncased");
    EXPECT_EQ(entry->architecture, "bert");
  }
  const Model alias = LoadModel("bert");
  EXPECT_EQ(alias.info.name, "bert-base-uncased");
  EXPECT_EQ(alias.info.parameters, 109482240);
  EXPECT_TRUE(alias.onnx_bytes == model_->onnx_bytes);
}

TEST(BertCatalogTest, NamesAreCaseSensitiveAndUnique) {
  EXPECT_FALSE(FindInCatalog("BERT").has_value());
  EXPECT_FALSE(FindInCatalog("bert-huge").has_value());
  std::set<std::string> seen;
  for (const auto& e : Catalog()) {
    EXPECT_TRUE(seen.insert(e.name).second) << e.name;
    for (const auto& a : e.aliases) EXPECT_TRUE(seen.insert(a).second) << a;
  }
  const Error e = CatchError([] { LoadModel("BERT"); });
  EXPECT_EQ(e.kind(), ErrorKind::kNotFound) << e.what();
}

TEST(BertLargeTest, HasHuggingFaceParameterCount) {
  const Model m = LoadModel("bert-large-uncased");
  EXPECT_EQ(m.info.parameters, 335141888);
  EXPECT_EQ(m.info.name, "bert-large-uncased");
  EXPECT_EQ(m.dim_roles.max_sequence, 512);
}

TEST(BertTinyTest, BuildsAtItsSize) {
  const Model m = LoadModel("bert-tiny");
  EXPECT_EQ(m.info.parameters, HfBertParameters({30522, 128, 2, 512, 512, 2}));
  const onnx::ModelProto proto = Parse(m.onnx_bytes);
  int64_t hf_elements = 0;
  for (const auto& t : proto.graph().initializer())
    if (IsHfWeight(t)) hf_elements += ElementCount(t);
  EXPECT_EQ(hf_elements, m.info.parameters);
  for (const auto& out : proto.graph().output())
    if (out.name() == "pooler_output") {
      EXPECT_EQ(Dims(out), (std::vector<std::string>{"batch", "128"}));
    }
}

TEST(BertTinyTest, SeededWeightsAreDeterministic) {
  const Model a = LoadModel("bert-tiny", {.seed = 1});
  const Model b = LoadModel("bert-tiny", {.seed = 1});
  const Model c = LoadModel("bert-tiny", {.seed = 2});
  EXPECT_EQ(a.info.content_hash, "seed:1");
  EXPECT_EQ(c.info.content_hash, "seed:2");
  EXPECT_TRUE(a.onnx_bytes == b.onnx_bytes);
  EXPECT_FALSE(a.onnx_bytes == c.onnx_bytes);
  EXPECT_EQ(a.onnx_bytes.size(), c.onnx_bytes.size());  // same graph, other values
  EXPECT_EQ(a.info.parameters, c.info.parameters);
}

TEST(BertTinyTest, SeededWeightsFollowHfInitialization) {
  const onnx::ModelProto proto = Parse(LoadModel("bert-tiny", {.seed = 7}).onnx_bytes);
  const onnx::GraphProto& g = proto.graph();

  // Normal weights: mean 0, standard deviation initializer_range (0.02).
  const onnx::TensorProto* word = FindInitializer(g, "embeddings.word_embeddings.weight");
  ASSERT_NE(word, nullptr);
  const std::vector<float> v = FloatValues(*word);
  double sum = 0, sum_sq = 0;
  for (float x : v) {
    sum += x;
    sum_sq += static_cast<double>(x) * x;
  }
  const double n = static_cast<double>(v.size());
  const double mean = sum / n;
  const double stdev = std::sqrt(sum_sq / n - mean * mean);
  EXPECT_NEAR(mean, 0.0, 1e-3);
  EXPECT_NEAR(stdev, 0.02, 0.001);

  // Different weights get different values.
  const onnx::TensorProto* q = FindInitializer(g, "encoder.layer.0.attention.self.query.weight");
  const onnx::TensorProto* k = FindInitializer(g, "encoder.layer.0.attention.self.key.weight");
  ASSERT_NE(q, nullptr);
  ASSERT_NE(k, nullptr);
  EXPECT_NE(q->raw_data(), k->raw_data());

  // LayerNorm weights are ones, biases zeros (as HF's _init_weights).
  for (const auto& t : g.initializer()) {
    if (!IsHfWeight(t)) continue;
    const std::string& name = t.name();
    const bool is_norm_weight = name.find("LayerNorm.weight") != std::string::npos;
    const bool is_bias = name.size() > 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
    if (!is_norm_weight && !is_bias) continue;
    const float want = is_norm_weight ? 1.0f : 0.0f;
    for (float x : FloatValues(t)) {
      ASSERT_EQ(x, want) << name;
    }
  }
}

// The bert template's config, built by the encoder builder, as the registry does.
void BuildBert(const HfConfig& config, GraphBuilder& g) {
  const HfConfig resolved = ApplyTemplate(*FindTemplate("bert"), config);
  BuildEncoder(resolved, EncoderVariantOf(resolved), g);
}

// BuildBert directly, for the config options it must refuse.
class BuildBertConfigTest : public ::testing::Test {
 protected:
  Error Build(const nlohmann::json& overrides) {
    nlohmann::json json = {{"model_type", "bert"},        {"vocab_size", 100},
                           {"hidden_size", 16},           {"num_hidden_layers", 1},
                           {"num_attention_heads", 2},    {"intermediate_size", 32},
                           {"max_position_embeddings", 8}};
    json.update(overrides);
    return CatchError([&] {
      onnx::GraphProto graph;
      SeededRandomWeights weights(1, 0.02);
      GraphBuilder builder(&graph, &weights);
      BuildBert(HfConfig(json, "test-config"), builder);
    });
  }
};

TEST_F(BuildBertConfigTest, SmallConfigBuilds) {
  onnx::GraphProto graph;
  SeededRandomWeights weights(1, 0.02);
  GraphBuilder builder(&graph, &weights);
  const nlohmann::json json = {{"model_type", "bert"},        {"vocab_size", 100},
                               {"hidden_size", 16},           {"num_hidden_layers", 1},
                               {"num_attention_heads", 2},    {"intermediate_size", 32},
                               {"max_position_embeddings", 8}};
  BuildBert(HfConfig(json, "test-config"), builder);
  EXPECT_EQ(weights.parameter_count(), HfBertParameters({100, 16, 1, 32, 8, 2}));
}

TEST_F(BuildBertConfigTest, RelativePositionsAreUnsupported) {
  const Error e = Build({{"position_embedding_type", "relative_key"}});
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("relative_key"));
  EXPECT_THAT(e.what(), HasSubstr("test-config"));
}

TEST_F(BuildBertConfigTest, DecoderIsUnsupported) {
  EXPECT_EQ(Build({{"is_decoder", true}}).kind(), ErrorKind::kUnsupported);
  EXPECT_EQ(Build({{"add_cross_attention", true}}).kind(), ErrorKind::kUnsupported);
}

TEST_F(BuildBertConfigTest, HiddenNotDivisibleByHeadsIsCorrupt) {
  const Error e = Build({{"num_attention_heads", 5}});
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("test-config"));
}

TEST_F(BuildBertConfigTest, UnknownActivationIsUnsupported) {
  const Error e = Build({{"hidden_act", "swiglu_xyz"}});
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("swiglu_xyz"));
}

TEST_F(BuildBertConfigTest, NonIntegerSizeIsCorrupt) {
  const Error e = Build({{"hidden_size", "big"}});
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("hidden_size"));
}

}  // namespace bert_graph_test
}  // namespace ipfs_accel::models

namespace ipfs_accel::models {
namespace bert_graph_test {

TEST(CountParametersTest, StructureAloneGivesHuggingFaceCounts) {
  EXPECT_EQ(CountParameters("bert-base-uncased"), 109482240);
  EXPECT_EQ(CountParameters("bert-large-uncased"), 335141888);
  EXPECT_EQ(CountParameters(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/bert"), 143552);
  EXPECT_THROW(CountParameters("no-such-model"), core::Error);
}

}  // namespace bert_graph_test
}  // namespace ipfs_accel::models
