// Tests for the BERT family built by BuildEncoder: parameter counts against Hugging Face's
// (catalog_truth.json at each config class's defaults, and module-by-module formulas for the
// real checkpoints in the catalog), HF parameter names per member, inputs and outputs, ALBERT's
// layer sharing, the config options each member refuses, and the hints the harness gets.
// Numerical checks that run the graphs are in tests/harness/encoder_family_run_test.cpp.

#include <cstdint>
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
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"
#include "models/encoder_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/op_counts.h"

namespace ipfs_accel::models {
namespace encoder_family_test {

using core::Error;
using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::CountOps;
using ipfs_accel::testing::InputNames;
using ipfs_accel::testing::OutputNames;
using ipfs_accel::testing::WeightInitializerNames;
using ::testing::HasSubstr;

// The config as the registry sees it: through its type's template (HF's defaults, pieces).
HfConfig Resolved(const nlohmann::json& config) {
  const HfConfig c(config, "test-config");
  return ApplyTemplate(*FindTemplate(c.ModelType()), c);
}

// The model types the encoder builder instantiates.
std::vector<std::string> EncoderTypes() {
  std::vector<std::string> types;
  for (const ArchitectureTemplate& t : Templates())
    if (t.builder == "encoder" && !t.abstract) types.push_back(t.model_type);
  return types;
}

// A graph built from a config with shape-only weights: structure and parameter count.
struct Built {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

Built Build(const nlohmann::json& config) {
  Built b;
  b.proto.set_ir_version(onnx::IR_VERSION);
  auto* opset = b.proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  ShapeOnlyWeights weights;
  GraphBuilder builder(b.proto.mutable_graph(), &weights);
  const HfConfig c = Resolved(config);
  BuildEncoder(c, EncoderVariantOf(c), builder);
  b.parameters = weights.parameter_count();
  return b;
}

// The same with seeded weights, then ONNX's checker and strict shape inference, as LoadModel does.
void ExpectValidOnnx(const nlohmann::json& config) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  SeededRandomWeights weights(3, 0.02);
  GraphBuilder builder(proto.mutable_graph(), &weights);
  const HfConfig c = Resolved(config);
  BuildEncoder(c, EncoderVariantOf(c), builder);
  EXPECT_NO_THROW({
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  }) << config.dump();
}

// Nodes that read `tensor`.
int Consumers(const onnx::GraphProto& g, const std::string& tensor) {
  int n = 0;
  for (const auto& node : g.node())
    for (const auto& in : node.input()) n += in == tensor ? 1 : 0;
  return n;
}

// Tiny configs, one per member, with every size spelled out.
nlohmann::json Tiny(const std::string& model_type) {
  if (model_type == "distilbert")
    return {{"model_type", "distilbert"},
            {"vocab_size", 50},
            {"dim", 16},
            {"n_layers", 2},
            {"n_heads", 2},
            {"hidden_dim", 24},
            {"max_position_embeddings", 20}};
  nlohmann::json j = {
      {"model_type", model_type},      {"vocab_size", 50},         {"hidden_size", 16},
      {"num_hidden_layers", 2},        {"num_attention_heads", 2}, {"intermediate_size", 24},
      {"max_position_embeddings", 20}, {"type_vocab_size", 3}};
  if (model_type == "electra" || model_type == "albert") j["embedding_size"] = 8;
  return j;
}

// ----- Parameter counts -----------------------------------------------------------------------

// Module-by-module counts of the base models, as PyTorch holds their parameters.
struct Sizes {
  int64_t vocab, embedding, hidden, intermediate, positions, type_vocab;
  int64_t distinct_layers;  // layers with their own weights (ALBERT: groups x inner_group_num)
  bool projection, pooler;
};

int64_t Linear(int64_t in, int64_t out) { return in * out + out; }

int64_t FamilyParameters(const Sizes& s) {
  const int64_t h = s.hidden, e = s.embedding;
  const int64_t embeddings = (s.vocab + s.positions + s.type_vocab) * e + 2 * e;
  const int64_t layer =
      4 * Linear(h, h) + 2 * h + Linear(h, s.intermediate) + Linear(s.intermediate, h) + 2 * h;
  return embeddings + (s.projection ? Linear(e, h) : 0) + s.distinct_layers * layer +
         (s.pooler ? Linear(h, h) : 0);
}

nlohmann::json CatalogTruth() {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  EXPECT_TRUE(in.good()) << "catalog_truth.json is missing";
  return in.good() ? nlohmann::json::parse(in) : nlohmann::json::object();
}

TEST(EncoderFamilyCountTest, HfDefaultConfigsMatchCatalogTruth) {
  const nlohmann::json truth = CatalogTruth();
  // The figures, as transformers 5.17 counts its base classes at default configs.
  const std::map<std::string, int64_t> expected = {
      {"bert", 109482240},      {"roberta", 124644864},   {"xlm-roberta", 109482240},
      {"camembert", 109482240}, {"distilbert", 66362880}, {"electra", 13483008},
      {"albert", 222595584},
  };
  for (const auto& [type, params] : expected) {
    SCOPED_TRACE(type);
    ASSERT_TRUE(truth["models"].contains(type));
    EXPECT_EQ(truth["models"][type]["base_params"].get<int64_t>(), params);
    // A config.json naming only model_type takes every size from the config class's defaults.
    EXPECT_EQ(Build({{"model_type", type}}).parameters, params);
  }
}

TEST(EncoderFamilyCountTest, DefaultConfigCatalogEntriesMatchCatalogTruth) {
  const nlohmann::json truth = CatalogTruth();
  const std::map<std::string, std::string> entry_of = {
      {"bert", "bert-base-uncased"},
      {"roberta", "roberta-default"},
      {"xlm-roberta", "xlm-roberta-default"},
      {"camembert", "camembert-default"},
      {"distilbert", "distilbert-base-uncased"},
      {"electra", "electra-small-discriminator"},
      {"albert", "albert-default"},
  };
  for (const auto& [type, name] : entry_of) {
    SCOPED_TRACE(name);
    const auto entry = FindInCatalog(name);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->architecture, type);
    EXPECT_EQ(entry->config.ModelType(), type);
    EXPECT_EQ(CountParameters(name), truth["models"][type]["base_params"].get<int64_t>());
  }
}

TEST(EncoderFamilyCountTest, FormulaMatchesHfFigures) {
  // bert-base, and the defaults of roberta, distilbert, electra and albert.
  EXPECT_EQ(FamilyParameters({30522, 768, 768, 3072, 512, 2, 12, false, true}), 109482240);
  EXPECT_EQ(FamilyParameters({50265, 768, 768, 3072, 512, 2, 12, false, true}), 124644864);
  EXPECT_EQ(FamilyParameters({30522, 768, 768, 3072, 512, 0, 6, false, false}), 66362880);
  EXPECT_EQ(FamilyParameters({30522, 128, 256, 1024, 512, 2, 12, true, false}), 13483008);
  EXPECT_EQ(FamilyParameters({30000, 128, 4096, 16384, 512, 2, 1, true, true}), 222595584);
}

TEST(EncoderFamilyCountTest, RealCheckpointsInTheCatalog) {
  // Sizes of each checkpoint's config.json; the literal is the HF base model's count.
  struct Case {
    std::string name;
    Sizes sizes;
    int64_t params;
  };
  const std::vector<Case> cases = {
      {"roberta-base", {50265, 768, 768, 3072, 514, 1, 12, false, true}, 124645632},
      {"roberta-large", {50265, 1024, 1024, 4096, 514, 1, 24, false, true}, 355359744},
      {"distilroberta-base", {50265, 768, 768, 3072, 514, 1, 6, false, true}, 82118400},
      {"xlm-roberta-base", {250002, 768, 768, 3072, 514, 1, 12, false, true}, 278043648},
      {"xlm-roberta-large", {250002, 1024, 1024, 4096, 514, 1, 24, false, true}, 559890432},
      {"camembert-base", {32005, 768, 768, 3072, 514, 1, 12, false, true}, 110621952},
      {"distilbert-base-uncased", {30522, 768, 768, 3072, 512, 0, 6, false, false}, 66362880},
      {"distilbert-base-cased", {28996, 768, 768, 3072, 512, 0, 6, false, false}, 65190912},
      {"electra-small-discriminator", {30522, 128, 256, 1024, 512, 2, 12, true, false}, 13483008},
      {"electra-base-discriminator", {30522, 768, 768, 3072, 512, 2, 12, false, false}, 108891648},
      {"albert-base-v2", {30000, 128, 768, 3072, 512, 2, 1, true, true}, 11683584},
      {"albert-large-v2", {30000, 128, 1024, 4096, 512, 2, 1, true, true}, 17683968},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(FindInCatalog(c.name).has_value());
    EXPECT_EQ(FamilyParameters(c.sizes), c.params);
    EXPECT_EQ(CountParameters(c.name), c.params);
  }
}

TEST(EncoderFamilyCountTest, EveryFamilyCatalogEntryBuilds) {
  std::set<std::string> types;
  for (const std::string& type : EncoderTypes()) types.insert(type);
  int entries = 0;
  for (const auto& e : Catalog()) {
    if (types.count(e.architecture) == 0) continue;
    SCOPED_TRACE(e.name);
    ++entries;
    EXPECT_EQ(e.modality, "text");
    EXPECT_EQ(e.config.ModelType(), e.architecture);
    EXPECT_GT(CountParameters(e.name), 0);
  }
  EXPECT_GE(entries, 22);  // bert.json's 6 and encoders.json's 16
}

// ----- Names, inputs, outputs -------------------------------------------------------------------

std::set<std::string> Prefixed(const std::string& prefix, const std::vector<std::string>& modules,
                               bool with_bias = true) {
  std::set<std::string> out;
  for (const auto& m : modules) {
    out.insert(prefix + m + ".weight");
    if (with_bias) out.insert(prefix + m + ".bias");
  }
  return out;
}

void Merge(std::set<std::string>& into, const std::set<std::string>& from) {
  into.insert(from.begin(), from.end());
}

TEST(EncoderFamilyNamesTest, RobertaUsesBertNames) {
  std::set<std::string> want = Prefixed(
      "embeddings.", {"word_embeddings", "position_embeddings", "token_type_embeddings"}, false);
  Merge(want, Prefixed("", {"embeddings.LayerNorm", "pooler.dense"}));
  for (int l = 0; l < 2; ++l)
    Merge(want, Prefixed("encoder.layer." + std::to_string(l) + ".",
                         {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense", "attention.output.LayerNorm",
                          "intermediate.dense", "output.dense", "output.LayerNorm"}));
  for (const std::string type : {"bert", "roberta", "xlm-roberta", "camembert"}) {
    SCOPED_TRACE(type);
    EXPECT_EQ(WeightInitializerNames(Build(Tiny(type)).proto.graph()), want);
  }
}

TEST(EncoderFamilyNamesTest, DistilBertNames) {
  std::set<std::string> want =
      Prefixed("embeddings.", {"word_embeddings", "position_embeddings"}, false);
  Merge(want, Prefixed("embeddings.", {"LayerNorm"}));
  for (int l = 0; l < 2; ++l)
    Merge(want,
          Prefixed("transformer.layer." + std::to_string(l) + ".",
                   {"attention.q_lin", "attention.k_lin", "attention.v_lin", "attention.out_lin",
                    "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"}));
  EXPECT_EQ(WeightInitializerNames(Build(Tiny("distilbert")).proto.graph()), want);
}

TEST(EncoderFamilyNamesTest, ElectraProjectsOnlyWhenEmbeddingSizeDiffers) {
  const std::set<std::string> narrow = WeightInitializerNames(Build(Tiny("electra")).proto.graph());
  EXPECT_TRUE(narrow.count("embeddings_project.weight"));
  EXPECT_TRUE(narrow.count("embeddings_project.bias"));
  EXPECT_FALSE(narrow.count("pooler.dense.weight"));
  EXPECT_TRUE(narrow.count("encoder.layer.1.output.LayerNorm.bias"));

  nlohmann::json same = Tiny("electra");
  same["embedding_size"] = 16;
  const Built b = Build(same);
  EXPECT_FALSE(WeightInitializerNames(b.proto.graph()).count("embeddings_project.weight"));
  EXPECT_EQ(b.parameters, FamilyParameters({50, 16, 16, 24, 20, 3, 2, false, false}));
  EXPECT_EQ(Build(Tiny("electra")).parameters,
            FamilyParameters({50, 8, 16, 24, 20, 3, 2, true, false}));
}

TEST(EncoderFamilyNamesTest, AlbertNamesAndFactorisedEmbeddings) {
  nlohmann::json config = Tiny("albert");
  config["num_hidden_groups"] = 2;
  config["inner_group_num"] = 2;
  config["num_hidden_layers"] = 4;
  const Built b = Build(config);
  std::set<std::string> want = Prefixed(
      "embeddings.", {"word_embeddings", "position_embeddings", "token_type_embeddings"}, false);
  Merge(want,
        Prefixed("", {"embeddings.LayerNorm", "encoder.embedding_hidden_mapping_in", "pooler"}));
  for (int g = 0; g < 2; ++g)
    for (int j = 0; j < 2; ++j)
      Merge(want,
            Prefixed("encoder.albert_layer_groups." + std::to_string(g) + ".albert_layers." +
                         std::to_string(j) + ".",
                     {"attention.query", "attention.key", "attention.value", "attention.dense",
                      "attention.LayerNorm", "ffn", "ffn_output", "full_layer_layer_norm"}));
  EXPECT_EQ(WeightInitializerNames(b.proto.graph()), want);
  // Embeddings (and their LayerNorm) are embedding_size wide; the mapping takes them to hidden.
  for (const auto& t : b.proto.graph().initializer()) {
    if (t.name() == "embeddings.word_embeddings.weight") {
      EXPECT_EQ(std::vector<int64_t>(t.dims().begin(), t.dims().end()),
                (std::vector<int64_t>{50, 8}));
    }
    if (t.name() == "embeddings.LayerNorm.weight") {
      EXPECT_EQ(t.dims(0), 8);
    }
    if (t.name() == "encoder.embedding_hidden_mapping_in.weight") {
      EXPECT_EQ(std::vector<int64_t>(t.dims().begin(), t.dims().end()),
                (std::vector<int64_t>{8, 16}));  // stored [in, out] for MatMul
    }
  }
  EXPECT_EQ(b.parameters, FamilyParameters({50, 8, 16, 24, 20, 3, 4, true, true}));
}

TEST(EncoderFamilyIoTest, InputsAndOutputsPerMember) {
  const std::vector<std::string> with_types = {"input_ids", "attention_mask", "token_type_ids"};
  const std::vector<std::string> pooled = {"last_hidden_state", "pooler_output"};
  const std::vector<std::string> unpooled = {"last_hidden_state"};
  for (const std::string type : {"bert", "roberta", "xlm-roberta", "camembert", "albert"}) {
    SCOPED_TRACE(type);
    const Built b = Build(Tiny(type));
    EXPECT_EQ(InputNames(b.proto.graph()), with_types);
    EXPECT_EQ(OutputNames(b.proto.graph()), pooled);
  }
  const Built electra = Build(Tiny("electra"));
  EXPECT_EQ(InputNames(electra.proto.graph()), with_types);
  EXPECT_EQ(OutputNames(electra.proto.graph()), unpooled);

  // DistilBERT has no token types at all: no input, no table.
  const Built distil = Build(Tiny("distilbert"));
  EXPECT_EQ(InputNames(distil.proto.graph()),
            (std::vector<std::string>{"input_ids", "attention_mask"}));
  EXPECT_EQ(OutputNames(distil.proto.graph()), unpooled);
}

TEST(EncoderFamilyIoTest, EveryMemberPassesOnnxChecks) {
  for (const std::string type :
       {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra", "albert"}) {
    SCOPED_TRACE(type);
    ExpectValidOnnx(Tiny(type));
  }
  nlohmann::json albert = Tiny("albert");
  albert["num_hidden_groups"] = 2;
  albert["inner_group_num"] = 3;
  albert["num_hidden_layers"] = 5;
  ExpectValidOnnx(albert);
}

TEST(EncoderFamilyIoTest, RobertaPositionsComeFromInputIds) {
  // Sequential members slice the table; RoBERTa members gather it by ids made with CumSum.
  EXPECT_EQ(CountOps(Build(Tiny("bert")).proto.graph(), "CumSum"), 0);
  EXPECT_EQ(CountOps(Build(Tiny("albert")).proto.graph(), "CumSum"), 0);
  for (const std::string type : {"roberta", "xlm-roberta", "camembert"}) {
    SCOPED_TRACE(type);
    const Built b = Build(Tiny(type));
    EXPECT_EQ(CountOps(b.proto.graph(), "CumSum"), 1);
    EXPECT_EQ(Consumers(b.proto.graph(), "embeddings.position_embeddings.weight"), 1);
  }
}

TEST(EncoderFamilyIoTest, DistilBertLayerNormEpsilonIsFixed) {
  nlohmann::json config = Tiny("distilbert");
  config["layer_norm_eps"] = 1e-5;  // DistilBERT's modules ignore it
  const Built b = Build(config);
  int norms = 0;
  for (const auto& node : b.proto.graph().node()) {
    if (node.op_type() != "LayerNormalization") continue;
    ++norms;
    for (const auto& a : node.attribute()) {
      if (a.name() == "epsilon") {
        EXPECT_FLOAT_EQ(a.f(), 1e-12f);
      }
    }
  }
  EXPECT_EQ(norms, 1 + 2 * 2);

  nlohmann::json roberta = Tiny("roberta");
  roberta["layer_norm_eps"] = 1e-5;
  const Built built_roberta = Build(roberta);
  for (const auto& node : built_roberta.proto.graph().node()) {
    if (node.op_type() != "LayerNormalization") continue;
    for (const auto& a : node.attribute()) {
      if (a.name() == "epsilon") {
        EXPECT_FLOAT_EQ(a.f(), 1e-5f);
      }
    }
  }
}

// ----- ALBERT sharing ---------------------------------------------------------------------------

TEST(AlbertSharingTest, OneGroupCountsTheSameAtAnyDepth) {
  nlohmann::json config = Tiny("albert");
  config["num_hidden_groups"] = 1;
  config["num_hidden_layers"] = 1;
  const int64_t one = Build(config).parameters;
  EXPECT_EQ(one, FamilyParameters({50, 8, 16, 24, 20, 3, 1, true, true}));
  for (int layers : {2, 3, 12, 24}) {
    SCOPED_TRACE(layers);
    config["num_hidden_layers"] = layers;
    const Built b = Build(config);
    EXPECT_EQ(b.parameters, one);
    // ...but the graph runs every layer: 2 LayerNorms each, plus the embeddings'.
    EXPECT_EQ(CountOps(b.proto.graph(), "LayerNormalization"), 1 + 2 * layers);
  }
  // The default (xxlarge) config at another depth: the same 222,595,584.
  EXPECT_EQ(Build({{"model_type", "albert"}, {"num_hidden_layers", 48}}).parameters, 222595584);
}

TEST(AlbertSharingTest, LayersUseTheirGroupAsAlbertTransformerComputesIt) {
  // Layer i runs group int(i / (L / G)): L=5, G=2 gives groups 0,0,0,1,1.
  nlohmann::json config = Tiny("albert");
  config["num_hidden_layers"] = 5;
  config["num_hidden_groups"] = 2;
  config["inner_group_num"] = 2;
  const Built b = Build(config);
  const onnx::GraphProto& g = b.proto.graph();
  auto uses = [&](int group, int inner) {
    return Consumers(g, "encoder.albert_layer_groups." + std::to_string(group) + ".albert_layers." +
                            std::to_string(inner) + ".attention.query.weight");
  };
  EXPECT_EQ(uses(0, 0), 3);
  EXPECT_EQ(uses(0, 1), 3);
  EXPECT_EQ(uses(1, 0), 2);
  EXPECT_EQ(uses(1, 1), 2);
  EXPECT_EQ(CountOps(g, "LayerNormalization"), 1 + 2 * 5 * 2);
  EXPECT_EQ(b.parameters, FamilyParameters({50, 8, 16, 24, 20, 3, 4, true, true}));
}

TEST(AlbertSharingTest, LayerOrderFollowsGroupIndex) {
  // L=6, G=4: L/G = 1.5, so layers 0..5 run groups 0,0,1,2,2,3 (not i % G, not i * G / L
  // rounded otherwise). Read the order off the graph: the query MatMuls in node order.
  nlohmann::json config = Tiny("albert");
  config["num_hidden_layers"] = 6;
  config["num_hidden_groups"] = 4;
  const Built b = Build(config);
  std::vector<int> order;
  for (const auto& node : b.proto.graph().node()) {
    if (node.op_type() != "MatMul") continue;
    for (int group = 0; group < 4; ++group)
      if (node.input(1) == "encoder.albert_layer_groups." + std::to_string(group) +
                               ".albert_layers.0.attention.query.weight")
        order.push_back(group);
  }
  EXPECT_EQ(order, (std::vector<int>{0, 0, 1, 2, 2, 3}));
  EXPECT_EQ(b.parameters, FamilyParameters({50, 8, 16, 24, 20, 3, 4, true, true}));
}

// ----- Config options ---------------------------------------------------------------------------

Error BuildError(nlohmann::json config) {
  return CatchError([&] { Build(config); });
}

TEST(EncoderFamilyConfigTest, RobertaPadMustLeavePositionRows) {
  nlohmann::json config = Tiny("roberta");
  config["pad_token_id"] = 19;  // max_position_embeddings 20: no row past the pad
  Error e = BuildError(config);
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("pad_token_id"));
  config["pad_token_id"] = nullptr;
  e = BuildError(config);
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("test-config"));
}

TEST(EncoderFamilyConfigTest, UnsupportedOptionsNameThemselves) {
  for (const std::string type : {"roberta", "electra", "albert"}) {
    SCOPED_TRACE(type);
    nlohmann::json config = Tiny(type);
    config["position_embedding_type"] = "relative_key_query";
    const Error e = BuildError(config);
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("relative_key_query"));
  }
  nlohmann::json decoder = Tiny("roberta");
  decoder["is_decoder"] = true;
  EXPECT_EQ(BuildError(decoder).kind(), ErrorKind::kUnsupported);
  nlohmann::json act = Tiny("distilbert");
  act["activation"] = "swiglu_xyz";
  const Error e = BuildError(act);
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("swiglu_xyz"));
}

TEST(EncoderFamilyConfigTest, SizesThatDoNotFitAreCorrupt) {
  nlohmann::json albert = Tiny("albert");
  albert["num_hidden_groups"] = 0;
  Error e = BuildError(albert);
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("num_hidden_groups"));
  nlohmann::json distil = Tiny("distilbert");
  distil["n_heads"] = 5;  // dim 16
  e = BuildError(distil);
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
}

TEST(EncoderFamilyConfigTest, DistilBertAcceptsBertKeyNames) {
  // HF's attribute_map: hidden_size -> dim, num_hidden_layers -> n_layers, ... .
  const nlohmann::json bert_names = {
      {"model_type", "distilbert"},   {"vocab_size", 50},         {"hidden_size", 16},
      {"num_hidden_layers", 2},       {"num_attention_heads", 2}, {"hidden_dim", 24},
      {"max_position_embeddings", 20}};
  EXPECT_EQ(Build(bert_names).parameters, Build(Tiny("distilbert")).parameters);
  EXPECT_EQ(Build(bert_names).parameters,
            FamilyParameters({50, 16, 16, 24, 20, 0, 2, false, false}));
}

// ----- What the harness gets --------------------------------------------------------------------

TEST(EncoderFamilyHintsTest, InputHintsAndSequenceBounds) {
  const Model roberta = LoadModel("distilroberta-base");
  EXPECT_EQ(roberta.info.architecture, "roberta");
  EXPECT_EQ(roberta.info.parameters, 82118400);
  EXPECT_EQ(roberta.input_hints.at("input_ids").high, 50265);
  // RoBERTa tokenizers send no token types; the model then uses zeros.
  EXPECT_EQ(roberta.input_hints.at("token_type_ids").kind, InputHint::Kind::kZeros);
  // Positions run pad+1 .. pad+seq: 514 rows with pad 1 hold 512 tokens.
  EXPECT_EQ(roberta.dim_roles.max_sequence, 512);
  EXPECT_EQ(roberta.dim_roles.batch, "batch");
  EXPECT_EQ(roberta.dim_roles.sequence, "sequence");

  const Model electra = LoadModel("electra-small-discriminator");
  EXPECT_EQ(electra.info.parameters, 13483008);
  EXPECT_EQ(electra.input_hints.at("token_type_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(electra.input_hints.at("token_type_ids").high, 2);
  EXPECT_EQ(electra.dim_roles.max_sequence, 512);

  const Model albert = LoadModel("albert-base-v2");
  EXPECT_EQ(albert.info.parameters, 11683584);
  EXPECT_EQ(albert.input_hints.at("input_ids").high, 30000);
  EXPECT_EQ(albert.input_hints.size(), 3u);

  const auto distil = FindInCatalog("distilbert");
  ASSERT_TRUE(distil.has_value());
  EXPECT_EQ(distil->name, "distilbert-base-uncased");
}

TEST(EncoderFamilyHintsTest, DistilBertHasNoTokenTypeHint) {
  // Through the registry, as LoadModel uses it.
  const Architecture& arch = FindArchitecture("distilbert", "test");
  EXPECT_EQ(arch.checkpoint_prefixes, (std::vector<std::string>{"distilbert."}));
  const HfConfig config(Tiny("distilbert"), "test-config");
  const auto hints = arch.input_hints(config);
  EXPECT_EQ(hints.size(), 2u);
  EXPECT_EQ(hints.count("token_type_ids"), 0u);
  EXPECT_EQ(hints.at("input_ids").high, 50);
  EXPECT_EQ(hints.at("attention_mask").kind, InputHint::Kind::kOnes);
  EXPECT_EQ(arch.dim_roles(config).max_sequence, 20);
}

TEST(EncoderFamilyHintsTest, CheckpointPrefixesAreTheTaskHeadsAttributes) {
  const std::map<std::string, std::string> prefix = {
      {"bert", "bert."},         {"roberta", "roberta."},       {"xlm-roberta", "roberta."},
      {"camembert", "roberta."}, {"distilbert", "distilbert."}, {"electra", "electra."},
      {"albert", "albert."},
  };
  for (const auto& [type, p] : prefix) {
    SCOPED_TRACE(type);
    const Architecture& arch = FindArchitecture(type, "test");
    EXPECT_EQ(arch.modality, "text");
    EXPECT_EQ(arch.checkpoint_prefixes, (std::vector<std::string>{p}));
  }
  // A RoBERTa default config: 512 rows, pad 1 -> 510 tokens.
  EXPECT_EQ(FindArchitecture("roberta", "test")
                .dim_roles(HfConfig({{"model_type", "roberta"}}, "test-config"))
                .max_sequence,
            510);
}

}  // namespace encoder_family_test
}  // namespace ipfs_accel::models
