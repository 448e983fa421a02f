// Tests for the Whisper builders: parameter counts against Hugging Face's (WhisperModel at
// the default config, catalog_truth.json, the hf-tiny fixture and a module-by-module formula
// for the catalog's checkpoints), the HF names and shapes the graphs ask for (the fixture's
// checkpoint, tensor by tensor), the graphs' inputs and outputs (a fixed input_features
// length, the LM head of WhisperForConditionalGeneration, the cache graphs), and the config
// options they must refuse. Numerical checks are in tests/harness/whisper_verify_test.cpp.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
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
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/seq2seq_graphs.h"
#include "models/weights.h"
#include "models/whisper_builder.h"
#include "support/catch_error.h"
#include "support/temp_dir.h"

namespace ipfs_accel::models {
namespace whisper_graph_test {

using core::ErrorKind;
using ipfs_accel::testing::CatchError;
using ipfs_accel::testing::TempDir;
using ::testing::HasSubstr;

const std::string kFixture = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/whisper";
constexpr int64_t kWhisperTinyParameters = 37760640;  // WhisperModel at WhisperConfig()

// ---- Hugging Face's parameter counts, module by module ----

struct WhisperSize {
  int64_t vocab, d_model, mel_bins, source_positions, target_positions;
  int64_t encoder_layers, encoder_ffn, decoder_layers, decoder_ffn;
  bool untied_proj_out = false;  // WhisperForConditionalGeneration with its own proj_out
};

int64_t HfWhisperParameters(const WhisperSize& s) {
  const int64_t d = s.d_model;
  const int64_t attention = 4 * d * d + 3 * d;  // q, k, v, out; k_proj has no bias
  const int64_t norm = 2 * d;
  auto ffn = [&](int64_t f) { return (d * f + f) + (f * d + d); };
  const int64_t convs = (s.mel_bins * d * 3 + d) + (d * d * 3 + d);
  const int64_t encoder = convs + s.source_positions * d +
                          s.encoder_layers * (attention + norm + ffn(s.encoder_ffn) + norm) + norm;
  const int64_t decoder = s.vocab * d + s.target_positions * d +
                          s.decoder_layers * (2 * (attention + norm) + ffn(s.decoder_ffn) + norm) +
                          norm;
  return encoder + decoder + (s.untied_proj_out ? s.vocab * d : 0);
}

TEST(WhisperCountTest, FormulaMatchesHuggingFaceFigures) {
  EXPECT_EQ(HfWhisperParameters({51865, 384, 80, 1500, 448, 4, 1536, 4, 1536}),
            kWhisperTinyParameters);
  EXPECT_EQ(HfWhisperParameters({1000, 64, 16, 32, 32, 2, 128, 2, 128}), 250880);  // fixture
}

TEST(WhisperCountTest, DefaultConfigMatchesCatalogTruth) {
  std::ifstream truth_file(std::string(IPFS_ACCEL_SHARED_DIR) +
                           "/fixtures/hf-catalog/catalog_truth.json");
  const auto truth = nlohmann::json::parse(truth_file).at("models").at("whisper");
  EXPECT_EQ(truth.at("base_class"), "WhisperModel");
  EXPECT_EQ(truth.at("base_params").get<int64_t>(), kWhisperTinyParameters);

  TempDir tmp;  // config.json with only model_type: every WhisperConfig default
  std::ofstream(tmp.path() / "config.json") << R"({"model_type": "whisper"})";
  EXPECT_EQ(CountParameters(tmp.path().string()), kWhisperTinyParameters);
}

TEST(WhisperCountTest, CatalogEntriesMatchHuggingFace) {
  // WhisperForConditionalGeneration ties proj_out to the embedding: WhisperModel's count.
  EXPECT_EQ(CountParameters("whisper-tiny"), kWhisperTinyParameters);
  EXPECT_EQ(CountParameters("whisper-base"),
            HfWhisperParameters({51865, 512, 80, 1500, 448, 6, 2048, 6, 2048}));
  EXPECT_EQ(CountParameters("whisper-base"), 72593920);
  EXPECT_EQ(CountParameters("whisper-small"),
            HfWhisperParameters({51865, 768, 80, 1500, 448, 12, 3072, 12, 3072}));
  EXPECT_EQ(CountParameters("whisper-small"), 241734912);
  EXPECT_EQ(CountParameters(kFixture), 250880);
}

TEST(WhisperCountTest, UntiedProjOutCountsOnce) {
  TempDir tmp;
  std::ofstream(tmp.path() / "config.json")
      << R"({"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"],
             "tie_word_embeddings": false})";
  WhisperSize s{51865, 384, 80, 1500, 448, 4, 1536, 4, 1536};
  s.untied_proj_out = true;
  EXPECT_EQ(CountParameters(tmp.path().string()), HfWhisperParameters(s));
}

TEST(WhisperCatalogTest, EntriesAndAliases) {
  const std::map<std::string, std::string> names = {
      {"whisper-tiny", "openai/whisper-tiny"},        {"whisper", "openai/whisper-tiny"},
      {"openai/whisper-tiny", "openai/whisper-tiny"}, {"whisper-base", "openai/whisper-base"},
      {"openai/whisper-base", "openai/whisper-base"}, {"whisper-small", "openai/whisper-small"}};
  for (const auto& [name, hf_id] : names) {
    SCOPED_TRACE(name);
    const auto entry = FindInCatalog(name);
    ASSERT_TRUE(entry.has_value());
    EXPECT_EQ(entry->architecture, "whisper");
    EXPECT_EQ(entry->modality, "audio");
    EXPECT_EQ(entry->hf_id, hf_id);
  }
}

// ---- The weights the graphs ask for ----

// Records every weight asked for (name -> shape) and hands out shape-only tensors.
class RecordingWeights : public WeightProvider {
 public:
  std::map<std::string, core::Shape> asked;

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape, WeightInit) override {
    asked[name] = shape;
    return core::Tensor{core::DType::kFloat32, shape, {}};
  }
};

std::map<std::string, core::Shape> AskedBy(void (*build)(const HfConfig&, GraphBuilder&),
                                           const HfConfig& config) {
  RecordingWeights weights;
  onnx::GraphProto graph;
  GraphBuilder builder(&graph, &weights);
  build(config, builder);
  return weights.asked;
}

std::map<std::string, core::Shape> FixtureTensors() {
  const auto file = SafetensorsFile::Open(kFixture + "/model.safetensors");
  std::map<std::string, core::Shape> out;
  for (const auto& [name, entry] : file->entries()) out[name] = entry.shape;
  return out;
}

TEST(WhisperNamesTest, FullForwardAsksForEveryFixtureTensorAtItsShape) {
  const auto asked = AskedBy(BuildWhisper, HfConfig::Load(kFixture));
  EXPECT_EQ(asked, FixtureTensors());  // names and shapes, nothing more, nothing less
  // What a BART-like graph would get wrong.
  EXPECT_EQ(asked.count("encoder.layers.0.self_attn.k_proj.bias"), 0u);
  EXPECT_EQ(asked.at("encoder.layers.0.self_attn.q_proj.bias"), (core::Shape{64}));
  EXPECT_EQ(asked.at("encoder.conv1.weight"), (core::Shape{64, 16, 3}));
  EXPECT_EQ(asked.at("encoder.conv2.weight"), (core::Shape{64, 64, 3}));
  EXPECT_EQ(asked.at("encoder.embed_positions.weight"), (core::Shape{32, 64}));
  EXPECT_EQ(asked.at("decoder.embed_positions.weight"), (core::Shape{32, 64}));  // no offset
}

TEST(WhisperNamesTest, CacheGraphsSplitTheWeightsBetweenThem) {
  const HfConfig config = HfConfig::Load(kFixture);
  const auto encoder = AskedBy(BuildWhisperEncoder, config);
  const auto decoder = AskedBy(BuildWhisperDecoderWithPast, config);
  // The cross-attention keys and values are the encoder graph's; nothing is in both.
  std::map<std::string, core::Shape> both = encoder;
  for (const auto& [name, shape] : decoder) EXPECT_TRUE(both.emplace(name, shape).second) << name;
  EXPECT_EQ(both, FixtureTensors());
  EXPECT_EQ(encoder.count("decoder.layers.1.encoder_attn.k_proj.weight"), 1u);
  EXPECT_EQ(decoder.count("decoder.layers.1.encoder_attn.q_proj.weight"), 1u);
}

TEST(WhisperNamesTest, ProjOutOnlyWhenUntied) {
  nlohmann::json config = {{"model_type", "whisper"},
                           {"architectures", {"WhisperForConditionalGeneration"}}};
  EXPECT_EQ(AskedBy(BuildWhisper, HfConfig(config, "tied")).count("proj_out.weight"), 0u);
  config["tie_word_embeddings"] = false;
  const auto untied = AskedBy(BuildWhisper, HfConfig(config, "untied"));
  EXPECT_EQ(untied.at("proj_out.weight"), (core::Shape{51865, 384}));
  EXPECT_EQ(
      AskedBy(BuildWhisperDecoderWithPast, HfConfig(config, "untied")).count("proj_out.weight"),
      1u);
}

// ---- Inputs and outputs ----

std::vector<std::string> Dims(const onnx::ValueInfoProto& v) {
  std::vector<std::string> out;
  for (const auto& d : v.type().tensor_type().shape().dim())
    out.push_back(d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

using Signature = std::map<std::string, std::vector<std::string>>;
struct Io {
  Signature inputs, outputs;
};

// One of the Seq2SeqGraph graphs, checked by ONNX as BuildSeq2SeqGraph checks it.
Io BuiltIo(const nlohmann::json& config, Seq2SeqGraph which) {
  SeededRandomWeights weights(1, 0.02);
  onnx::ModelProto proto;
  EXPECT_TRUE(
      proto.ParseFromString(BuildSeq2SeqGraph(HfConfig(config, "test-config"), weights, which)));
  Io io;
  for (const auto& v : proto.graph().input()) io.inputs[v.name()] = Dims(v);
  for (const auto& v : proto.graph().output()) io.outputs[v.name()] = Dims(v);
  return io;
}

nlohmann::json FixtureConfig() {
  std::ifstream f(kFixture + "/config.json");
  return nlohmann::json::parse(f);
}

TEST(WhisperIoTest, FullForwardOfWhisperModel) {
  const Io io = BuiltIo(FixtureConfig(), Seq2SeqGraph::kFullForward);
  // 16 mel bins, exactly 2 * max_source_positions (32) frames: fixed, as HF insists.
  EXPECT_EQ(io.inputs, (Signature{{"input_features", {"batch", "16", "64"}},
                                  {"decoder_input_ids", {"batch", "decoder_sequence"}},
                                  {"decoder_attention_mask", {"batch", "decoder_sequence"}}}));
  EXPECT_EQ(io.outputs, (Signature{{"last_hidden_state", {"batch", "decoder_sequence", "64"}},
                                   {"encoder_last_hidden_state", {"batch", "32", "64"}}}));
}

TEST(WhisperIoTest, ConditionalGenerationReturnsLogits) {
  nlohmann::json config = FixtureConfig();
  config["architectures"] = {"WhisperForConditionalGeneration"};
  const Io full = BuiltIo(config, Seq2SeqGraph::kFullForward);
  EXPECT_EQ(full.outputs, (Signature{{"logits", {"batch", "decoder_sequence", "1000"}},
                                     {"encoder_last_hidden_state", {"batch", "32", "64"}}}));
  const Io decoder = BuiltIo(config, Seq2SeqGraph::kDecoderWithPast);
  EXPECT_EQ(decoder.outputs.at("logits"), (std::vector<std::string>{"batch", "sequence", "1000"}));
  EXPECT_EQ(decoder.outputs.count("last_hidden_state"), 0u);
}

TEST(WhisperIoTest, CacheGraphs) {
  const Io encoder = BuiltIo(FixtureConfig(), Seq2SeqGraph::kEncoder);
  EXPECT_EQ(encoder.inputs, (Signature{{"input_features", {"batch", "16", "64"}}}));
  EXPECT_EQ(encoder.outputs.at("last_hidden_state"),
            (std::vector<std::string>{"batch", "32", "64"}));
  // Declared "encoder_sequence"; shape inference pins it to max_source_positions.
  EXPECT_EQ(encoder.outputs.at("present.1.encoder.value"),
            (std::vector<std::string>{"batch", "4", "32", "16"}));
  EXPECT_EQ(encoder.outputs.size(), 1u + 2 * 2);

  const Io decoder = BuiltIo(FixtureConfig(), Seq2SeqGraph::kDecoderWithPast);
  EXPECT_EQ(decoder.inputs.size(), 1u + 2 * 4);  // input_ids, no mask, 4 cache tensors a layer
  EXPECT_EQ(decoder.inputs.at("input_ids"), (std::vector<std::string>{"batch", "sequence"}));
  EXPECT_EQ(decoder.inputs.at("past_key_values.0.decoder.key"),
            (std::vector<std::string>{"batch", "4", "past_sequence", "16"}));
  EXPECT_EQ(decoder.inputs.at("past_key_values.1.encoder.key"),
            (std::vector<std::string>{"batch", "4", "encoder_sequence", "16"}));
  EXPECT_EQ(decoder.outputs.at("present.1.decoder.value"),
            (std::vector<std::string>{"batch", "4", "total_sequence", "16"}));
  EXPECT_EQ(decoder.outputs.size(), 1u + 2 * 2);
}

TEST(WhisperIoTest, HintsAndRoles) {
  const HfConfig config(FixtureConfig(), "fixture");
  const Architecture& arch = FindArchitecture("whisper", "test");
  EXPECT_EQ(arch.modality, "audio");
  EXPECT_EQ(arch.checkpoint_prefixes, (std::vector<std::string>{"model."}));
  const auto hints = arch.input_hints(config);
  EXPECT_EQ(hints.at("decoder_input_ids").kind, InputHint::Kind::kIndexRange);
  EXPECT_EQ(hints.at("decoder_input_ids").high, 1000);
  EXPECT_EQ(hints.at("decoder_attention_mask").kind, InputHint::Kind::kOnes);
  const DimRoles roles = arch.dim_roles(config);
  EXPECT_EQ(roles.batch, "batch");
  EXPECT_EQ(roles.decoder_sequence, "decoder_sequence");
  EXPECT_EQ(roles.max_decoder_sequence, 32);  // max_target_positions
}

// ---- Config options ----

TEST(WhisperConfigTest, UnsupportedOptionsNameThemselves) {
  nlohmann::json config = FixtureConfig();
  config["architectures"] = {"WhisperForAudioClassification"};
  auto e = CatchError([&] { AskedBy(BuildWhisper, HfConfig(config, "cls.json")); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("WhisperForAudioClassification"));

  config = FixtureConfig();
  config["activation_function"] = "laplace";
  e = CatchError([&] { AskedBy(BuildWhisper, HfConfig(config, "act.json")); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
  EXPECT_THAT(e.what(), HasSubstr("laplace"));
}

TEST(WhisperConfigTest, HeadsThatDoNotDivideAreCorrupt) {
  nlohmann::json config = FixtureConfig();
  config["decoder_attention_heads"] = 5;
  const auto e = CatchError([&] { AskedBy(BuildWhisper, HfConfig(config, "heads.json")); });
  EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
  EXPECT_THAT(e.what(), HasSubstr("decoder_attention_heads 5"));
}

TEST(WhisperConfigTest, OtherActivationsReachTheFeedForwardOnly) {
  // The convolution stem always uses exact GELU (nn.functional.gelu); activation_function
  // picks the layers' FFN activation: relu leaves only the stem's two Erf.
  nlohmann::json config = FixtureConfig();
  config["activation_function"] = "relu";
  SeededRandomWeights weights(1, 0.02);
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(
      BuildSeq2SeqGraph(HfConfig(config, "relu"), weights, Seq2SeqGraph::kFullForward)));
  std::map<std::string, int> ops;
  for (const auto& n : proto.graph().node()) ++ops[n.op_type()];
  EXPECT_EQ(ops["Erf"], 2);
  EXPECT_EQ(ops["Relu"], 2 + 2);  // encoder and decoder layers
  EXPECT_EQ(ops["Conv"], 2);
}

// ---- Whisper-style audio encoders (builder whisper_audio_encoder) ----

struct AudioEncoderGraph {
  onnx::GraphProto graph;
  std::map<std::string, core::Shape> asked;
};

// The template's tiny build, as `templates validate` builds it.
AudioEncoderGraph BuildAudioEncoder(const std::string& model_type) {
  const ArchitectureTemplate* t = FindTemplate(model_type);
  EXPECT_NE(t, nullptr) << model_type;
  AudioEncoderGraph out;
  RecordingWeights weights;
  GraphBuilder builder(&out.graph, &weights);
  BuildWhisperAudioEncoder(ApplyTemplate(*t, TinyConfig(*t)), builder);
  out.asked = weights.asked;
  return out;
}

std::map<std::string, int> OpCounts(const onnx::GraphProto& g) {
  std::map<std::string, int> ops;
  for (const auto& n : g.node()) ++ops[n.op_type()];
  return ops;
}

TEST(WhisperAudioEncoder, Qwen2AudioPoolsPairsOfPositionsBeforeItsUnprefixedFinalNorm) {
  const AudioEncoderGraph g = BuildAudioEncoder("qwen2_audio_encoder");
  // Tiny: 16 mel bins, 32 positions, d_model 64; HF's names carry no "encoder." prefix.
  EXPECT_EQ(g.asked.at("conv1.weight"), (core::Shape{64, 16, 3}));
  EXPECT_EQ(g.asked.at("embed_positions.weight"), (core::Shape{32, 64}));
  EXPECT_EQ(g.asked.count("layers.1.self_attn.k_proj.bias"), 0u);
  EXPECT_EQ(g.asked.count("layer_norm.weight"), 1u);
  EXPECT_EQ(g.asked.count("encoder.layer_norm.weight"), 0u);
  EXPECT_EQ(OpCounts(g.graph)["AveragePool"], 1);
  ASSERT_EQ(g.graph.output_size(), 1);
  EXPECT_EQ(Dims(g.graph.output(0)), (std::vector<std::string>{"batch", "16", "64"}));
  ASSERT_EQ(g.graph.input_size(), 1);
  EXPECT_EQ(Dims(g.graph.input(0)), (std::vector<std::string>{"batch", "16", "64"}));
}

TEST(WhisperAudioEncoder, VoxtralKeepsEveryPosition) {
  const AudioEncoderGraph g = BuildAudioEncoder("voxtral_encoder");
  EXPECT_EQ(OpCounts(g.graph)["AveragePool"], 0);
  EXPECT_EQ(Dims(g.graph.output(0)), (std::vector<std::string>{"batch", "32", "64"}));
}

TEST(WhisperAudioEncoder, AudioFlamingo3HidesTheKeysPastEachSamplesHalvedFrameCount) {
  const AudioEncoderGraph g = BuildAudioEncoder("audioflamingo3_encoder");
  ASSERT_EQ(g.graph.input_size(), 2);
  EXPECT_EQ(g.graph.input(1).name(), "input_features_mask");
  EXPECT_EQ(Dims(g.graph.input(1)), (std::vector<std::string>{"batch", "64"}));  // frames
  const auto ops = OpCounts(g.graph);
  EXPECT_EQ(ops.at("ReduceSum"), 1);  // the frame count, (n + 1) / 2 after conv2
  EXPECT_EQ(ops.at("Less"), 1);
  EXPECT_EQ(ops.at("AveragePool"), 1);
  EXPECT_EQ(Dims(g.graph.output(0)), (std::vector<std::string>{"batch", "16", "64"}));
}

TEST(WhisperAudioEncoder, GlmAsrRotatesHalfOfEachHeadAndHasNoPositionTable) {
  const AudioEncoderGraph g = BuildAudioEncoder("glmasr_encoder");
  EXPECT_EQ(g.asked.count("embed_positions.weight"), 0u);
  EXPECT_EQ(g.asked.count("layers.0.self_attn.k_proj.bias"), 0u);
  EXPECT_EQ(g.asked.at("layers.0.self_attn.o_proj.bias"), (core::Shape{64}));
  EXPECT_EQ(g.asked.at("layers.1.mlp.fc1.weight"), (core::Shape{128, 64}));
  EXPECT_EQ(g.asked.count("norm.weight"), 1u);
  // head_dim 16, partial_rotary_factor 0.5: 4 inverse frequencies over 8 rotated features.
  int64_t frequencies = 0;
  for (const auto& t : g.graph.initializer())
    if (t.name() == "rope.inv_freq") frequencies = t.dims(0);
  EXPECT_EQ(frequencies, 4);
  EXPECT_EQ(Dims(g.graph.output(0)), (std::vector<std::string>{"batch", "32", "64"}));
}

TEST(WhisperAudioEncoder, AnUnknownPoolingIsRefusedNamingIt) {
  const ArchitectureTemplate t =
      ResolveTemplate({{"model_type", "qwen2_audio_sideways"},
                       {"inherits", "qwen2_audio_encoder"},
                       {"version", 1},
                       {"history", {{{"version", 1}, {"reason", "test"}}}},
                       {"pieces", {{"pooling", "max_pairs"}}}},
                      "test-template");
  onnx::GraphProto graph;
  SeededRandomWeights weights(1, 0.02);
  GraphBuilder builder(&graph, &weights);
  const core::Error e =
      CatchError([&] { BuildWhisperAudioEncoder(ApplyTemplate(t, TinyConfig(t)), builder); });
  EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  EXPECT_THAT(e.what(), HasSubstr("max_pairs"));
}

}  // namespace whisper_graph_test
}  // namespace ipfs_accel::models
