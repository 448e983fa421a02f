// Tests for the encoder builder's template pieces (EncoderVariantFromPieces): what each piece
// adds to or changes in the graph (weight names, inputs), that the graphs pass ONNX's checker
// and strict shape inference, and that unknown pieces and values are refused naming them.
// Parameter counts at HF's defaults are the template tests' (tests/models/templates_test.cpp).

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
#include "models/encoder_builder.h"
#include "models/graph_builder.h"
#include "models/weights.h"
#include "support/catch_error.h"
#include "support/op_counts.h"

namespace ipfs_accel::models {
namespace encoder_pieces_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::InputNames;
using ipfs_accel::testing::WeightInitializerNames;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A tiny config every piece can build: BERT's keys, 2 layers of width 16.
nlohmann::json TinyConfig(const std::string& model_type) {
  return {{"model_type", model_type},      {"vocab_size", 40},         {"hidden_size", 16},
          {"num_hidden_layers", 2},        {"num_attention_heads", 2}, {"intermediate_size", 24},
          {"max_position_embeddings", 24}, {"type_vocab_size", 2},     {"pad_token_id", 1},
          {"layer_norm_eps", 1e-12},       {"hidden_act", "gelu"}};
}

// The graph `pieces` build from `config`, checked as LoadModel checks it.
onnx::GraphProto Build(const nlohmann::json& pieces, const nlohmann::json& config) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.mutable_graph()->set_name("test");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  SeededRandomWeights weights(3, 0.02);
  GraphBuilder g(proto.mutable_graph(), &weights);
  const std::string type = config["model_type"];
  BuildEncoder(HfConfig(config, "test-config"), EncoderVariantFromPieces(type, pieces, "test"), g);
  EXPECT_NO_THROW({
    onnx::checker::check_model(proto);
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  }) << pieces.dump();
  return proto.graph();
}

bool HasWeight(const onnx::GraphProto& g, const std::string& name) {
  return WeightInitializerNames(g).count(name) > 0;
}

TEST(EncoderPieces, PreNormLayoutsNameTheirNormsAsTheirModels) {
  const onnx::GraphProto megatron =
      Build({{"layout", "megatron_bert"}}, TinyConfig("megatron-bert"));
  EXPECT_TRUE(HasWeight(megatron, "encoder.layer.1.attention.ln.weight"));
  EXPECT_TRUE(HasWeight(megatron, "encoder.layer.1.ln.bias"));
  EXPECT_TRUE(HasWeight(megatron, "encoder.ln.weight"));
  EXPECT_FALSE(HasWeight(megatron, "embeddings.LayerNorm.weight"));

  const onnx::GraphProto xl = Build({{"layout", "xlm_roberta_xl"}, {"positions", "after_padding"}},
                                    TinyConfig("xlm-roberta-xl"));
  EXPECT_TRUE(HasWeight(xl, "encoder.layer.0.attention.self_attn_layer_norm.weight"));
  EXPECT_TRUE(HasWeight(xl, "encoder.layer.0.LayerNorm.weight"));
  EXPECT_TRUE(HasWeight(xl, "encoder.LayerNorm.bias"));
  EXPECT_FALSE(HasWeight(xl, "embeddings.LayerNorm.weight"));

  const onnx::GraphProto pre =
      Build({{"layout", "roberta_prelayernorm"}}, TinyConfig("roberta-prelayernorm"));
  EXPECT_TRUE(HasWeight(pre, "encoder.layer.0.attention.LayerNorm.weight"));
  EXPECT_TRUE(HasWeight(pre, "encoder.layer.0.intermediate.LayerNorm.weight"));
  EXPECT_TRUE(HasWeight(pre, "LayerNorm.weight"));  // the model's, after the encoder
  EXPECT_TRUE(HasWeight(pre, "embeddings.LayerNorm.weight"));
  EXPECT_FALSE(HasWeight(pre, "encoder.layer.0.output.LayerNorm.weight"));
}

TEST(EncoderPieces, RoformerRotatesFromItsSinusoidalTableInsteadOfAPositionTable) {
  nlohmann::json config = TinyConfig("roformer");
  config["embedding_size"] = 8;
  const onnx::GraphProto g =
      Build({{"positions", "rotary_table"}, {"projection", "when_sizes_differ"}, {"pooler", false}},
            config);
  EXPECT_TRUE(HasWeight(g, "encoder.embed_positions.weight"));
  EXPECT_TRUE(HasWeight(g, "embeddings_project.weight"));
  EXPECT_FALSE(HasWeight(g, "embeddings.position_embeddings.weight"));
  EXPECT_FALSE(HasWeight(g, "pooler.dense.weight"));

  config["hidden_size"] = 18;  // head size 9: no pairs to rotate
  config["num_attention_heads"] = 2;
  const auto e = CatchError([&] { Build({{"positions", "rotary_table"}}, config); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("even head size"));
}

TEST(EncoderPieces, MpnetSharesOneRelativeBiasAndHasNoTokenTypes) {
  const onnx::GraphProto g = Build({{"layout", "mpnet"},
                                    {"positions", "after_padding"},
                                    {"token_types", false},
                                    {"relative_bias", true},
                                    {"position_padding_idx", 1}},
                                   TinyConfig("mpnet"));
  EXPECT_TRUE(HasWeight(g, "encoder.relative_attention_bias.weight"));
  EXPECT_TRUE(HasWeight(g, "encoder.layer.1.attention.attn.o.weight"));
  EXPECT_FALSE(HasWeight(g, "embeddings.token_type_embeddings.weight"));
  EXPECT_THAT(InputNames(g), ElementsAre("input_ids", "attention_mask"));
}

TEST(EncoderPieces, XlmIndexesTokenTypesInTheWordTableAndSizesItsFfnFromHidden) {
  nlohmann::json config = TinyConfig("xlm");
  config.erase("intermediate_size");
  config["gelu_activation"] = false;
  const onnx::GraphProto g = Build({{"layout", "xlm"},
                                    {"pooler", false},
                                    {"intermediate_factor", 4},
                                    {"activation_flag", "gelu_activation"}},
                                   config);
  const std::set<std::string> names = WeightInitializerNames(g);
  EXPECT_TRUE(names.count("embeddings.weight"));
  EXPECT_TRUE(names.count("layer_norm_emb.weight"));
  EXPECT_TRUE(names.count("attentions.1.q_lin.weight"));
  EXPECT_TRUE(names.count("layer_norm2.1.bias"));
  EXPECT_FALSE(names.count("embeddings.token_type_embeddings.weight"));
  // ffns.N.lin1 is [hidden, 4 hidden] stored for MatMul
  std::vector<int64_t> lin1;
  for (const auto& t : g.initializer())
    if (t.name() == "ffns.0.lin1.weight") lin1.assign(t.dims().begin(), t.dims().end());
  EXPECT_THAT(lin1, ElementsAre(16, 64));
  EXPECT_EQ(ipfs_accel::testing::CountOps(g, "Relu"), 2);  // gelu_activation false
}

TEST(EncoderPieces, InputPiecesAddTheirInputs) {
  nlohmann::json xmod = TinyConfig("xmod");
  xmod["languages"] = {"en_XX", "de_DE"};
  const onnx::GraphProto x = Build({{"language_adapters", true}}, xmod);
  EXPECT_THAT(InputNames(x),
              ElementsAre("input_ids", "attention_mask", "token_type_ids", "lang_ids"));
  EXPECT_TRUE(HasWeight(x, "encoder.layer.1.output.adapter_modules.de_DE.dense2.weight"));

  const onnx::GraphProto layout = Build({{"box_positions", true}}, TinyConfig("layoutlm"));
  EXPECT_THAT(InputNames(layout),
              ElementsAre("input_ids", "attention_mask", "token_type_ids", "bbox"));
  EXPECT_TRUE(HasWeight(layout, "embeddings.h_position_embeddings.weight"));

  const onnx::GraphProto roc = Build({{"shape_pronunciation", true}}, TinyConfig("roc_bert"));
  EXPECT_THAT(InputNames(roc), ElementsAre("input_ids", "attention_mask", "token_type_ids",
                                           "input_shape_ids", "input_pronunciation_ids"));
  EXPECT_TRUE(HasWeight(roc, "embeddings.map_inputs_layer.weight"));
}

TEST(EncoderPieces, FlavaFnetTapasAltClipAndDprNameTheirWeightsAsTheirModels) {
  const onnx::GraphProto flava = Build({{"layout", "flava"}}, TinyConfig("flava_text_model"));
  EXPECT_TRUE(HasWeight(flava, "encoder.layer.1.attention.attention.query.weight"));
  EXPECT_TRUE(HasWeight(flava, "encoder.layer.1.layernorm_before.weight"));
  EXPECT_TRUE(HasWeight(flava, "layernorm.bias"));  // after the encoder

  nlohmann::json config = TinyConfig("fnet");
  config.erase("num_attention_heads");
  const onnx::GraphProto fnet = Build({{"layout", "fnet"}, {"projection", "after_norm"}}, config);
  EXPECT_TRUE(HasWeight(fnet, "encoder.layer.0.fourier.output.LayerNorm.weight"));
  EXPECT_TRUE(HasWeight(fnet, "embeddings.projection.weight"));
  EXPECT_FALSE(HasWeight(fnet, "encoder.layer.0.attention.self.query.weight"));
  EXPECT_THAT(InputNames(fnet), ElementsAre("input_ids", "token_type_ids"));  // no mask

  config = TinyConfig("tapas");
  config["type_vocab_sizes"] = {3, 5, 5, 2};
  const onnx::GraphProto tapas = Build({{"layout", "tapas"}, {"positions", "per_cell"}}, config);
  EXPECT_TRUE(HasWeight(tapas, "embeddings.token_type_embeddings_3.weight"));
  EXPECT_FALSE(HasWeight(tapas, "embeddings.token_type_embeddings.weight"));
  EXPECT_EQ(tapas.input(2).type().tensor_type().shape().dim(2).dim_value(), 4);
  config["type_vocab_sizes"] = {3, 5};  // no row ids to find the cells by
  EXPECT_EQ(CatchError([&] {
              Build({{"layout", "tapas"}, {"positions", "per_cell"}}, config);
            }).kind(),
            ErrorKind::kCorrupt);
  EXPECT_EQ(CatchError([&] {
              EncoderVariantFromPieces("x", {{"positions", "per_cell"}}, "x");
            }).kind(),
            ErrorKind::kCorrupt);

  config = TinyConfig("altclip_text_model");
  config["project_dim"] = 12;
  const onnx::GraphProto altclip =
      Build({{"layout", "altclip"}, {"positions", "after_padding"}, {"pooler", true}}, config);
  EXPECT_TRUE(HasWeight(altclip, "roberta.encoder.layer.0.attention.self.query.weight"));
  EXPECT_TRUE(HasWeight(altclip, "pre_LN.weight"));
  EXPECT_TRUE(HasWeight(altclip, "transformation.weight"));
  EXPECT_EQ(altclip.output(1).type().tensor_type().shape().dim(1).dim_value(), 12);

  const onnx::GraphProto dpr = Build({{"layout", "dpr"}, {"pooler", true}}, TinyConfig("dpr"));
  EXPECT_FALSE(HasWeight(dpr, "pooler.dense.weight"));  // the first token's state itself
  EXPECT_EQ(dpr.output(1).name(), "pooler_output");
}

TEST(EncoderPieces, XmodWithoutLanguagesIsCorrupt) {
  nlohmann::json config = TinyConfig("xmod");
  config["languages"] = nlohmann::json::array();
  const auto e = CatchError([&] { Build({{"language_adapters", true}}, config); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("languages"));
}

TEST(EncoderPieces, UnknownPiecesAndValuesAreRefusedNamingThem) {
  auto error = [](const nlohmann::json& pieces) {
    return CatchError([&] { EncoderVariantFromPieces("x", pieces, "x.json"); });
  };
  auto e = error({{"layout", "gpt2"}});
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("'layout'"));
  EXPECT_THAT(e.what(), HasSubstr("megatron_bert"));  // the known values are listed
  e = error({{"rotary", true}});
  EXPECT_THAT(e.what(), HasSubstr("'rotary' is no piece"));
  e = error({{"pooler", "yes"}});
  EXPECT_THAT(e.what(), HasSubstr("boolean"));
  e = error({{"intermediate_factor", 0}});
  EXPECT_THAT(e.what(), HasSubstr("positive integer"));
}

}  // namespace encoder_pieces_test
}  // namespace ipfs_accel::models
