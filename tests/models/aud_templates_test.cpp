// Templates of encoder-decoder and speech model types added on the bart, t5 and audio builders:
// the structure HF's modeling code gives them (module names, shapes, which layers are which).
// Their parameter counts at HF's default config are Templates.EveryTemplateCountsHfParameters...
// against catalog_truth.json.

#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/templates.h"
#include "models/bart_builder.h"
#include "models/clap_builder.h"
#include "models/graph_builder.h"
#include "models/moonshine_builder.h"
#include "models/parakeet_builder.h"
#include "models/t5_builder.h"
#include "models/wav2vec2_bert_builder.h"
#include "models/weights.h"
#include "support/op_counts.h"

namespace ipfs_accel::models {
namespace aud_templates_test {

using Build = void (*)(const HfConfig&, GraphBuilder&);
using ipfs_accel::testing::CountOps;
using ipfs_accel::testing::InputNames;

const ArchitectureTemplate& Template(const std::string& model_type) {
  const ArchitectureTemplate* t = FindTemplate(model_type);
  if (t == nullptr) throw core::Error(core::ErrorKind::kNotFound, "no template " + model_type);
  return *t;
}

// Records the HF names and shapes a graph asks for (before any transposition for MatMul).
class ShapeRecorder : public ShapeOnlyWeights {
 public:
  std::map<std::string, std::vector<int64_t>> shapes;

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape, WeightInit init) override {
    shapes[name] = std::vector<int64_t>(shape.begin(), shape.end());
    return ShapeOnlyWeights::Fetch(name, shape, init);
  }
};

// A template's graph at `config` (its tiny config by default), and the weights it asks for.
struct TinyGraph {
  onnx::GraphProto graph;
  std::map<std::string, std::vector<int64_t>> weights;
};

TinyGraph BuildAt(const HfConfig& config, Build build) {
  TinyGraph out;
  ShapeRecorder recorder;
  GraphBuilder g(&out.graph, &recorder);
  build(config, g);
  out.weights = recorder.shapes;
  for (const auto& t : out.graph.initializer())  // frozen parameters are stored, not fetched
    if (t.name().rfind("const_", 0) != 0 && !out.weights.count(t.name()))
      out.weights[t.name()] = std::vector<int64_t>(t.dims().begin(), t.dims().end());
  return out;
}

TinyGraph BuildTiny(const std::string& model_type, Build build) {
  const ArchitectureTemplate& t = Template(model_type);
  return BuildAt(ApplyTemplate(t, TinyConfig(t)), build);
}

// The value of a one-element int64 initializer `name`; nullopt for anything else.
std::optional<int64_t> Int64Scalar(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer())
    if (t.name() == name && t.data_type() == onnx::TensorProto::INT64 &&
        t.raw_data().size() == sizeof(int64_t)) {
      int64_t v = 0;
      std::memcpy(&v, t.raw_data().data(), sizeof v);
      return v;
    }
  return std::nullopt;
}

TEST(LedTemplate, EncoderLayersAttendThroughLongformerProjectionsAndAGlobalMask) {
  const TinyGraph g = BuildTiny("led", BuildBart);
  const std::string self = "encoder.layers.1.self_attn.";
  for (const char* p : {"query", "key", "value", "query_global", "key_global", "value_global"})
    EXPECT_EQ(g.weights.count(self + "longformer_self_attn." + p + ".weight"), 1u) << p;
  EXPECT_EQ(g.weights.count(self + "output.weight"), 1u);
  EXPECT_EQ(g.weights.count(self + "q_proj.weight"), 0u);
  EXPECT_EQ(g.weights.count("decoder.layers.0.self_attn.q_proj.weight"), 1u);  // BART's decoder
  // Learned positions without BART's offset of 2, one table length per stack.
  EXPECT_EQ(g.weights.at("encoder.embed_positions.weight")[0], 64);
  EXPECT_EQ(g.weights.at("decoder.embed_positions.weight")[0], 32);
  EXPECT_EQ(InputNames(g.graph),
            (std::vector<std::string>{"input_ids", "attention_mask", "decoder_input_ids",
                                      "global_attention_mask"}));
  // LEDEncoderSelfAttention's one_sided_attn_window_size = attention_window[layer] // 2: the
  // tiny config's windows [4, 6] let a local query see 2 and 3 positions to each side.
  std::vector<int64_t> one_sided;
  for (const auto& n : g.graph.node())
    if (n.op_type() == "LessOrEqual")
      one_sided.push_back(Int64Scalar(g.graph, n.input(1)).value_or(-1));
  EXPECT_EQ(one_sided, (std::vector<int64_t>{2, 3}));
}

TEST(FsmtTemplate, EachStackHasItsOwnVocabularyAndTheDecoderEndsInLogits) {
  const TinyGraph g = BuildTiny("fsmt", BuildBart);
  const int64_t d = 32;  // the tiny d_model
  // FSMTModel: nn.Embedding(src_vocab_size), nn.Embedding(tgt_vocab_size), the decoder's
  // output_projection Linear(d_model, tgt_vocab_size, bias=False); no shared table.
  EXPECT_EQ(g.weights.at("encoder.embed_tokens.weight"), (std::vector<int64_t>{512, d}));
  EXPECT_EQ(g.weights.at("decoder.embed_tokens.weight"), (std::vector<int64_t>{384, d}));
  EXPECT_EQ(g.weights.at("decoder.output_projection.weight"), (std::vector<int64_t>{384, d}));
  EXPECT_EQ(g.weights.count("decoder.output_projection.bias"), 0u);
  EXPECT_EQ(g.weights.count("shared.weight"), 0u);
  // SinusoidalPositionalEmbedding(max_position_embeddings + padding_idx + 1, d, padding_idx).
  EXPECT_EQ(g.weights.at("encoder.embed_positions.weight"), (std::vector<int64_t>{64 + 1 + 1, d}));
  EXPECT_EQ(g.weights.count("encoder.layernorm_embedding.weight"), 0u);
  ASSERT_EQ(g.graph.output_size(), 2);
  EXPECT_EQ(g.graph.output(0).name(), "last_hidden_state");
  EXPECT_EQ(g.graph.output(0).type().tensor_type().shape().dim(2).dim_value(), 384);
}

TEST(SwitchTransformersTemplate, SparseLayersAreTheOnesSwitchTransformersStackMakesSparse) {
  // 4 layers, 2 sparse: sparse_step 2, layer i sparse when i % 2 == 1.
  const TinyGraph g = BuildTiny("switch_transformers", BuildT5);
  const int64_t d = 64, d_ff = 128, experts = 4;  // the tiny sizes
  for (const char* stack : {"encoder", "decoder"})
    for (int i = 0; i < 4; ++i) {
      SCOPED_TRACE(fmt::format("{} {}", stack, i));
      const std::string ff = fmt::format("{}.block.{}.layer.{}.mlp.", stack, i,
                                         stack == std::string("encoder") ? 1 : 2);
      const bool sparse = i % 2 == 1;
      EXPECT_EQ(g.weights.count(ff + "wi.weight"), sparse ? 0u : 1u);
      EXPECT_EQ(g.weights.count(ff + "router.classifier.weight"), sparse ? 1u : 0u);
      if (sparse) {
        EXPECT_EQ(g.weights.at(ff + "router.classifier.weight"),
                  (std::vector<int64_t>{experts, d}));
        EXPECT_EQ(g.weights.at(ff + "experts.expert_3.wi.weight"), (std::vector<int64_t>{d_ff, d}));
        EXPECT_EQ(g.weights.at(ff + "experts.expert_3.wo.weight"), (std::vector<int64_t>{d, d_ff}));
      }
    }
  EXPECT_EQ(g.weights.count("encoder.block.1.layer.1.mlp.router.classifier.bias"), 0u);
  EXPECT_EQ(CountOps(g.graph, "TopK"), 4);  // one top-1 choice per sparse layer
  // At HF's default (12 layers, 3 sparse: step 4) the sparse layers are 1, 5 and 9.
  const ArchitectureTemplate& t = Template("switch_transformers");
  const TinyGraph full = BuildAt(ApplyTemplate(t, DefaultConfig(t)), BuildT5);
  std::vector<int> sparse;
  for (int i = 0; i < 12; ++i)
    if (full.weights.count(fmt::format("encoder.block.{}.layer.1.mlp.router.classifier.weight", i)))
      sparse.push_back(i);
  EXPECT_EQ(sparse, (std::vector<int>{1, 5, 9}));
}

// ClapAudioModel's parameters at ClapAudioConfig's defaults, module by module from HF's
// ClapAudioEncoder (catalog_truth.json has no count for this sub-config).
int64_t HfClapAudioParameters() {
  const int64_t mel = 64, embed = 96, window = 8;
  const std::vector<int64_t> depths = {2, 2, 6, 2}, heads = {4, 8, 16, 32};
  int64_t n = 2 * mel;                         // batch_norm over the mel bins
  n += embed * 1 * 4 * 4 + embed + 2 * embed;  // patch_embed.proj (Conv2d 4x4) and .norm
  for (size_t i = 0; i < depths.size(); ++i) {
    const int64_t d = embed << i;
    const int64_t block = 2 * 2 * d          // layernorm_before, layernorm_after
                          + 4 * (d * d + d)  // query, key, value, output.dense
                          + (2 * window - 1) * (2 * window - 1) * heads[i]  // bias table
                          + (d * 4 * d + 4 * d) + (4 * d * d + d);          // the MLP
    n += depths[i] * block;
    if (i + 1 < depths.size()) n += 2 * 4 * d + 4 * d * 2 * d;  // downsample.norm, .reduction
  }
  return n + 2 * (embed << 3);  // the final norm over 768 features
}

TEST(ClapAudioModelTemplate, CountsEveryParameterHfCountsAtTheDefaultConfig) {
  EXPECT_EQ(HfClapAudioParameters(), 27534488);  // worked out by hand from the same modules
  const ArchitectureTemplate& t = Template("clap_audio_model");
  onnx::GraphProto graph;
  ShapeOnlyWeights weights;
  GraphBuilder g(&graph, &weights);
  BuildClapAudioModel(ApplyTemplate(t, DefaultConfig(t)), g);
  EXPECT_EQ(weights.parameter_count(), HfClapAudioParameters());
}

TEST(ClapAudioModelTemplate, LastHiddenStateIsTheLastGridGroupedByFrequency) {
  // Tiny: spec_size 64, 16 mel bins (freq_ratio 4), stride 4, two stages: an 8 x 8 last grid
  // of 64 features; HF's reshape makes it [batch, 64, 8 / 4, 4 * 8].
  const TinyGraph g = BuildTiny("clap_audio_model", BuildClapAudioModel);
  EXPECT_EQ(g.weights.count("audio_encoder.patch_embed.proj.weight"), 1u);
  ASSERT_EQ(g.graph.output_size(), 2);
  EXPECT_EQ(g.graph.output(0).name(), "last_hidden_state");
  std::vector<int64_t> dims;
  for (const auto& d : g.graph.output(0).type().tensor_type().shape().dim())
    dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  EXPECT_EQ(dims, (std::vector<int64_t>{-1, 64, 2, 32}));
  EXPECT_EQ(g.graph.output(1).name(), "pooler_output");
}

TEST(MoonshineTemplate, LayersHaveMoonshineNamesAndTheRotaryCoversNineTenthsOfEachHead) {
  const TinyGraph g = BuildTiny("moonshine", BuildMoonshine);
  const int64_t h = 40, inter = 64;  // the tiny sizes
  // MoonshineEncoder: Conv1d(1, h, 127, stride 64, bias=False), Conv1d(h, 2h, 7), Conv1d(2h, h, 3).
  EXPECT_EQ(g.weights.at("encoder.conv1.weight"), (std::vector<int64_t>{h, 1, 127}));
  EXPECT_EQ(g.weights.count("encoder.conv1.bias"), 0u);
  EXPECT_EQ(g.weights.at("encoder.conv2.weight"), (std::vector<int64_t>{2 * h, h, 7}));
  EXPECT_EQ(g.weights.at("encoder.conv3.weight"), (std::vector<int64_t>{h, 2 * h, 3}));
  EXPECT_EQ(g.weights.count("encoder.groupnorm.bias"), 1u);
  // nn.LayerNorm(bias=False) everywhere; GLM's o_proj has no bias.
  EXPECT_EQ(g.weights.count("encoder.layers.0.input_layernorm.bias"), 0u);
  EXPECT_EQ(g.weights.count("decoder.layers.1.final_layernorm.weight"), 1u);
  EXPECT_EQ(g.weights.count("decoder.layers.0.encoder_attn.o_proj.bias"), 0u);
  // MoonshineDecoderMLP: fc1 to 2 x intermediate (value and gate), fc2 back.
  EXPECT_EQ(g.weights.at("decoder.layers.0.mlp.fc1.weight"), (std::vector<int64_t>{2 * inter, h}));
  EXPECT_EQ(g.weights.at("encoder.layers.0.mlp.fc1.weight"), (std::vector<int64_t>{inter, h}));
  // GLM's rotary over int(head_dim * partial_rotary_factor) = int(20 * 0.9) = 18 features of each
  // 20-feature head (the tiny config has 2 heads): 9 inverse frequencies.
  int64_t frequencies = 0;
  for (const auto& t : g.graph.initializer())
    if (t.name() == "encoder.rope.inv_freq") {
      frequencies = 1;
      for (int64_t d : t.dims()) frequencies *= d;
    }
  EXPECT_EQ(frequencies, 9);
  EXPECT_EQ(InputNames(g.graph), (std::vector<std::string>{"input_values", "decoder_input_ids"}));
}

TEST(PegasusXTemplate, GlobalTokensSeeEverythingAndLocalTokensTheirOwnBlock) {
  const TinyGraph g = BuildTiny("pegasus_x", BuildBart);
  const int64_t d = 32;  // the tiny d_model; 3 global tokens, blocks of 4
  // PegasusXEncoder: embed_global = nn.Embedding(num_global_tokens, d_model); each layer's
  // global_self_attn_layer_norm next to self_attn_layer_norm; PegasusXAttention(bias=False).
  EXPECT_EQ(g.weights.at("encoder.embed_global.weight"), (std::vector<int64_t>{3, d}));
  EXPECT_EQ(g.weights.count("encoder.layers.1.global_self_attn_layer_norm.weight"), 1u);
  EXPECT_EQ(g.weights.count("encoder.layers.0.self_attn.q_proj.bias"), 0u);
  EXPECT_EQ(g.weights.count("decoder.layers.0.encoder_attn.out_proj.bias"), 0u);
  EXPECT_EQ(g.weights.count("encoder.embed_positions.weight"), 0u);  // computed sinusoids
  EXPECT_EQ(g.weights.count("encoder.layer_norm.weight"), 1u);
  // Two block layouts: aligned (even layers) and shifted by block_size / 2 = 2 (odd layers,
  // stagger_local_blocks): the offsets added to the local positions are 0 - 3 and 2 - 3.
  std::vector<int64_t> offsets;
  for (const auto& n : g.graph.node())
    if (n.op_type() == "Div" && Int64Scalar(g.graph, n.input(1)) == 4)  // block_size
      for (const auto& m : g.graph.node())
        if (m.output(0) == n.input(0))
          offsets.push_back(Int64Scalar(g.graph, m.input(1)).value_or(0));
  EXPECT_EQ(offsets, (std::vector<int64_t>{-3, -1}));
}

TEST(Wav2Vec2BertTemplate, ConformerLayersHaveShawDistancesAndACausalDepthwiseConv) {
  const TinyGraph g = BuildTiny("wav2vec2-bert", BuildWav2Vec2Bert);
  const int64_t h = 32, head = 8;  // the tiny sizes: 4 heads, left 4, right 2, kernel 5
  const std::string layer = "encoder.layers.1.";
  // Wav2Vec2BertSelfAttention: nn.Embedding(left + right + 1, head_size).
  EXPECT_EQ(g.weights.at(layer + "self_attn.distance_embedding.weight"),
            (std::vector<int64_t>{4 + 2 + 1, head}));
  // Wav2Vec2BertConvolutionModule: bias-free pointwise and depthwise convs, depthwise_layer_norm.
  EXPECT_EQ(g.weights.at(layer + "conv_module.pointwise_conv1.weight"),
            (std::vector<int64_t>{2 * h, h, 1}));
  EXPECT_EQ(g.weights.at(layer + "conv_module.depthwise_conv.weight"),
            (std::vector<int64_t>{h, 1, 5}));
  EXPECT_EQ(g.weights.count(layer + "conv_module.depthwise_conv.bias"), 0u);
  EXPECT_EQ(g.weights.count(layer + "conv_module.depthwise_layer_norm.weight"), 1u);
  EXPECT_EQ(g.weights.at("feature_projection.projection.weight"), (std::vector<int64_t>{h, 20}));
  EXPECT_EQ(g.weights.count("masked_spec_embed"), 1u);  // mask_time_prob 0.05 keeps it
  // The depthwise conv is causal: kernel - 1 = 4 frames of padding on the left only.
  int causal = 0;
  for (const auto& n : g.graph.node())
    for (const auto& a : n.attribute())
      if (n.op_type() == "Conv" && a.name() == "pads" && a.ints_size() == 2 && a.ints(0) == 4 &&
          a.ints(1) == 0)
        ++causal;
  EXPECT_EQ(causal, 2);  // one per layer
  // Distances key - query clamped to [-4, 2], shifted by 4 into the table.
  std::vector<int64_t> clamps;
  for (const auto& n : g.graph.node())
    if (n.op_type() == "Min" || n.op_type() == "Max")
      clamps.push_back(Int64Scalar(g.graph, n.input(1)).value_or(0));
  EXPECT_EQ(clamps, (std::vector<int64_t>{2, -4}));
}

TEST(ParakeetTemplate, FastConformerBlocksAndTheSubsamplerHaveParakeetNamesAndShapes) {
  const TinyGraph g = BuildTiny("parakeet_encoder", BuildParakeetEncoder);
  const int64_t h = 32, head = 8, c = 8;  // tiny: 4 heads, 8 subsampling channels, 16 mel bins
  // ParakeetEncoderSubsamplingConv2D at subsampling_factor 4: Conv2d(1, c, 3), ReLU, then one
  // depthwise Conv2d(c, c, 3, groups=c) (index 2) and pointwise Conv2d(c, c, 1) (index 3);
  // linear over c x 16 // 2^2 features.
  EXPECT_EQ(g.weights.at("subsampling.layers.0.weight"), (std::vector<int64_t>{c, 1, 3, 3}));
  EXPECT_EQ(g.weights.at("subsampling.layers.2.weight"), (std::vector<int64_t>{c, 1, 3, 3}));
  EXPECT_EQ(g.weights.at("subsampling.layers.3.weight"), (std::vector<int64_t>{c, c, 1, 1}));
  EXPECT_EQ(g.weights.count("subsampling.layers.5.weight"), 0u);
  EXPECT_EQ(g.weights.at("subsampling.linear.weight"), (std::vector<int64_t>{h, c * 4}));
  // ParakeetEncoderAttention: bias_u, bias_v [heads, head_dim], relative_k_proj without bias.
  const std::string attn = "layers.1.self_attn.";
  EXPECT_EQ(g.weights.at(attn + "bias_u"), (std::vector<int64_t>{4, head}));
  EXPECT_EQ(g.weights.count(attn + "relative_k_proj.bias"), 0u);
  EXPECT_EQ(g.weights.count(attn + "o_proj.bias"), 1u);  // attention_bias true
  // The convolution module: depthwise Conv1d(h, h, conv_kernel_size, groups=h) with BatchNorm.
  EXPECT_EQ(g.weights.at("layers.0.conv.depthwise_conv.weight"), (std::vector<int64_t>{h, 1, 5}));
  EXPECT_EQ(g.weights.count("layers.0.conv.norm.running_var"), 1u);
  EXPECT_EQ(g.weights.count("layers.0.norm_feed_forward2.weight"), 1u);
  // ParakeetForCTC: ctc_head = Conv1d(hidden, vocab_size, 1) over the encoder under "encoder.".
  const TinyGraph ctc = BuildTiny("parakeet_ctc", BuildParakeetCtc);
  EXPECT_EQ(ctc.weights.at("ctc_head.weight"), (std::vector<int64_t>{33, h, 1}));
  EXPECT_EQ(ctc.weights.count("encoder.layers.1.self_attn.bias_v"), 1u);
  EXPECT_EQ(ctc.graph.output(0).type().tensor_type().shape().dim(2).dim_value(), 33);
}

TEST(LasrTemplate, RotaryConformerBlocksWithWeightedResidualsAndBiasFreeNorms) {
  const TinyGraph g = BuildTiny("lasr_encoder", BuildParakeetEncoder);
  const int64_t h = 32, c = 8;  // tiny: 16 mel bins, 8 subsampling channels, kernels 3 and 4
  // LasrEncoderSubsampling: dense_0 (mel -> h), conv_0 Conv1d(h, h, 3), conv_1 Conv1d(h, c, 3),
  // dense_1 (c -> h).
  EXPECT_EQ(g.weights.at("subsampler.dense_0.weight"), (std::vector<int64_t>{h, 16}));
  EXPECT_EQ(g.weights.at("subsampler.conv_1.weight"), (std::vector<int64_t>{c, h, 3}));
  EXPECT_EQ(g.weights.at("subsampler.dense_1.weight"), (std::vector<int64_t>{h, c}));
  // LlamaAttention (attention_bias false), no relative projection; bias-free LayerNorms;
  // convolution_bias false; out_norm.
  EXPECT_EQ(g.weights.count("layers.0.self_attn.q_proj.weight"), 1u);
  EXPECT_EQ(g.weights.count("layers.0.self_attn.q_proj.bias"), 0u);
  EXPECT_EQ(g.weights.count("layers.0.self_attn.relative_k_proj.weight"), 0u);
  EXPECT_EQ(g.weights.count("layers.0.norm_conv.bias"), 0u);
  EXPECT_EQ(g.weights.count("layers.0.conv.pointwise_conv1.bias"), 0u);
  EXPECT_EQ(g.weights.count("out_norm.weight"), 1u);
  // padding="same" for the even kernel 4: 1 frame left, 2 right, as PyTorch pads.
  int same = 0;
  for (const auto& n : g.graph.node())
    for (const auto& a : n.attribute())
      if (n.op_type() == "Conv" && a.name() == "pads" && a.ints_size() == 2 && a.ints(0) == 1 &&
          a.ints(1) == 2)
        ++same;
  EXPECT_EQ(same, 2);  // one depthwise conv per layer
  // feed_forward_residual_weights [1.5, 0.5] and conv_residual_weights [2, 1]: the residual is
  // scaled by 1.5 twice and by 2 once per layer.
  std::map<float, int> residual_scales;
  for (const auto& n : g.graph.node())
    if (n.op_type() == "Mul")
      for (const auto& t : g.graph.initializer())
        if (t.name() == n.input(1) && t.data_type() == onnx::TensorProto::FLOAT &&
            t.raw_data().size() == sizeof(float)) {
          float v = 0;
          std::memcpy(&v, t.raw_data().data(), sizeof v);
          ++residual_scales[v];
        }
  EXPECT_EQ(residual_scales[1.5f], 4);
  EXPECT_EQ(residual_scales[2.0f], 2);
}
}  // namespace aud_templates_test
}  // namespace ipfs_accel::models
