#include "clap_builder.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "activation.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// ClapTextConfig's structure and defaults: RoBERTa's (positions after padding) with 514 position
// rows and one token type. Its sub-config has no template, so the defaults live here.
EncoderVariant MakeClapTextVariant() {
  EncoderVariant v;
  v.model_type = "clap_text_model";
  v.positions = EncoderPositions::kAfterPadding;
  v.segment_token_types = false;
  v.defaults.vocab_size = 50265;
  v.defaults.pad_token_id = 1;
  v.defaults.max_position_embeddings = 514;
  v.defaults.type_vocab_size = 1;
  return v;
}

// ClapProjectionLayer: linear1, activation, linear2, under `prefix`.
std::string Projection(GraphBuilder& g, const ClapShape& s, const std::string& x,
                       const std::string& prefix, int64_t in) {
  WeightScope scope(g, prefix);
  const std::string h =
      Activation(g, g.Linear(x, "linear1", in, s.projection_dim), s.projection_act);
  return g.Linear(h, "linear2", s.projection_dim, s.projection_dim);
}

// x / ||x|| over the last axis, as ClapModel.forward normalises (no epsilon).
std::string L2Normalize(GraphBuilder& g, const std::string& x, const std::string& name) {
  const std::string norm =
      g.Node("ReduceL2", {x}, {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  return g.Node("Div", {x, norm}, {}, name);
}

// a b^T exp(scale), [batch_a, batch_b].
std::string ScaledSimilarity(GraphBuilder& g, const std::string& a, const std::string& b,
                             const std::string& scale, const std::string& name) {
  const std::string bt = g.Node("Transpose", {b}, {{"perm", std::vector<int64_t>{1, 0}}});
  const std::string factor = g.Node("Exp", {g.Weight(scale, {}, WeightInit::kNormal)});
  return g.Node("Mul", {g.Node("MatMul", {a, bt}), factor}, {}, name);
}

}  // namespace

const EncoderVariant& ClapTextVariant() {
  static const EncoderVariant variant = MakeClapTextVariant();
  return variant;
}

HfConfig ClapSubConfig(const HfConfig& config, const std::string& key) {
  nlohmann::json sub = config.Has(key) ? config.json()[key] : nlohmann::json::object();
  if (!sub.is_object())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} is not a JSON object", config.origin(), key));
  return HfConfig(std::move(sub), fmt::format("{}:{}", config.origin(), key));
}

ClapShape ReadClapShape(const HfConfig& config) {
  ClapShape s;
  s.text = ReadEncoderShape(ClapSubConfig(config, "text_config"), ClapTextVariant());
  s.audio = ReadHtsatShape(ClapSubConfig(config, "audio_config"));
  s.projection_dim = config.Int("projection_dim", 512);
  s.projection_act = config.String("projection_hidden_act", "relu");
  if (s.projection_dim <= 0)
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': projection_dim {} must be positive",
                                                 config.origin(), s.projection_dim));
  return s;
}

int64_t ClapInputFrames(const ClapShape& s) { return s.audio.spec_size; }

void BuildClap(const HfConfig& config, GraphBuilder& g, const Dim& time) {
  const ClapShape s = ReadClapShape(config);
  const Dim batch = std::string("batch");
  const std::vector<Dim> tokens = {batch, std::string("sequence")};
  g.Input("input_ids", onnx::TensorProto::INT64, tokens);
  g.Input("attention_mask", onnx::TensorProto::INT64, tokens);
  g.Input("input_features", onnx::TensorProto::FLOAT,
          {batch, s.audio.input_channels, time, s.audio.mel_bins});
  if (s.audio.fusion) g.Input("is_longer", onnx::TensorProto::BOOL, {batch, int64_t{1}});

  std::string audio;
  {
    WeightScope scope(g, "audio_model.");
    audio = BuildHtsat(g, s.audio, "input_features", time, s.audio.fusion ? "is_longer" : "");
  }
  audio = L2Normalize(g, Projection(g, s, audio, "audio_projection.", s.audio.hidden_size),
                      "audio_embeds");
  std::string text;
  {
    WeightScope scope(g, "text_model.");
    EncoderInputs in;
    in.token_type_ids.clear();  // ClapModel passes none: the zeros buffer
    text = BuildEncoderOn(ClapSubConfig(config, "text_config"), ClapTextVariant(), g, in)
               .pooler_output;
  }
  text = L2Normalize(g, Projection(g, s, text, "text_projection.", s.text.hidden), "text_embeds");
  ScaledSimilarity(g, audio, text, "logit_scale_a", "logits_per_audio");
  ScaledSimilarity(g, text, audio, "logit_scale_t", "logits_per_text");

  const auto f = onnx::TensorProto::FLOAT;
  g.Output("logits_per_audio", f, {batch, batch});
  g.Output("logits_per_text", f, {batch, batch});
  g.Output("text_embeds", f, {batch, s.projection_dim});
  g.Output("audio_embeds", f, {batch, s.projection_dim});
}

namespace {

// ClapAudioEncoder's last_hidden_state: the normed tokens [batch, F * T, C] as [batch, C, F, T],
// F split into freq_ratio groups of c = F / freq_ratio rows, regrouped to [batch, C, c, -1].
std::string GroupedLastHiddenState(GraphBuilder& g, const HtsatShape& s,
                                   const std::string& tokens) {
  const auto last = static_cast<int64_t>(s.depths.size()) - 1;
  const int64_t f = s.grid[0] >> last, t = s.grid[1] >> last, c = f / s.freq_ratio;
  if (c <= 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("the last HTSAT stage has {} frequency rows, fewer than freq_ratio {}",
                            f, s.freq_ratio));
  const std::string map =
      g.Node("Reshape", {g.Node("Transpose", {tokens}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
                         g.ConstInt64({0, s.num_features, f / c, c, t})});
  const std::string grouped =
      g.Node("Transpose", {map}, {{"perm", std::vector<int64_t>{0, 1, 3, 2, 4}}});
  return g.Node("Reshape", {grouped, g.ConstInt64({0, s.num_features, c, -1})}, {},
                "last_hidden_state");
}

}  // namespace

void BuildClapAudioModel(const HfConfig& config, GraphBuilder& g) {
  const HtsatShape s = ReadHtsatShape(config);
  const Dim batch = std::string("batch"), time = s.spec_size;
  g.Input("input_features", onnx::TensorProto::FLOAT, {batch, s.input_channels, time, s.mel_bins});
  if (s.fusion) g.Input("is_longer", onnx::TensorProto::BOOL, {batch, int64_t{1}});
  const HtsatOutputs out =
      BuildHtsatOutputs(g, s, "input_features", time, s.fusion ? "is_longer" : "");
  GroupedLastHiddenState(g, s, out.tokens);
  g.Node("Identity", {out.pooled}, {}, "pooler_output");
  const auto last = static_cast<int64_t>(s.depths.size()) - 1;
  const int64_t f = s.grid[0] >> last, t = s.grid[1] >> last;
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT,
           {batch, s.num_features, f / s.freq_ratio, s.freq_ratio * t});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {batch, s.num_features});
}

}  // namespace ipfs_accel::models
