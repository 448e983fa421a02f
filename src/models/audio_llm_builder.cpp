#include "audio_llm_builder.h"

#include <fmt/format.h>

#include "activation.h"
#include "architectures.h"
#include "decoder_builder.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/templates.h"
#include "llava_builder.h"
#include "piece_choice.h"
#include "seq2seq_attention.h"
#include "whisper_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

constexpr const char* kBuilder = "audio_llm";

// Everything the builder reads from the composite config.
struct AudioLlmParts {
  HfConfig audio, text;
  DecoderSizes lm = {};
  int64_t positions = 0, width = 0;  // the tower's output rows per clip and their width
  int64_t stack = 1;                 // tower rows per projector row (stack_frames)
  bool mlp = false, bias = true;
  std::string act = {};
  int64_t projector_hidden = 0;
  int64_t audio_token = 0;
  bool masked = false;  // the tower takes input_features_mask
};

// The sub-config at `key` ({} when absent or null) with `model_type` filled in by `fallback`.
json SubConfig(const HfConfig& c, const std::string& key, const std::string& fallback) {
  json sub = json::object();
  if (c.Has(key) && c.json()[key].is_object()) sub = c.json()[key];
  if (!sub.contains("model_type") || sub["model_type"].is_null()) sub["model_type"] = fallback;
  return sub;
}

HfConfig AudioConfig(const HfConfig& c) {
  const json sub = SubConfig(c, "audio_config", c.PieceString("audio_model_type", ""));
  const std::string type = sub["model_type"].get<std::string>();
  const ArchitectureTemplate* t = FindTemplate(type);
  if (!t || t->builder != "whisper_audio_encoder")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': audio_config.model_type='{}' is not an audio tower the {} "
                            "builder takes (whisper_audio_encoder templates are)",
                            c.origin(), type, kBuilder));
  return ApplyTemplate(*t, HfConfig(sub, fmt::format("{} (audio_config)", c.origin())));
}

// text_config over the template's text_defaults (HF's _default_text_config_kwargs), the LM
// head tied as the composite's tie_word_embeddings says where it has the key.
HfConfig AudioLlmTextConfig(const HfConfig& c) {
  json text = c.Piece("text_defaults");
  if (!text.is_object()) text = json::object();
  const json given = SubConfig(c, "text_config", c.PieceString("text_model_type", ""));
  for (const auto& [k, v] : given.items()) text[k] = v;
  if (c.Has("tie_word_embeddings") && c.json()["tie_word_embeddings"].is_boolean())
    text["tie_word_embeddings"] = c.json()["tie_word_embeddings"];
  return DecoderTextConfig(HfConfig(std::move(text), fmt::format("{} (text_config)", c.origin())));
}

void ReadProjector(const HfConfig& c, AudioLlmParts& p) {
  p.mlp = PieceChoice(c, "projector", kBuilder, {"linear", "mlp"}) == 1;
  p.bias = c.PieceBool("projector_bias", true);
  p.act = c.String("projector_hidden_act", "gelu");
  const bool twice = PieceChoice(c, "projector_width", kBuilder, {"text", "twice_text"}) == 1;
  p.projector_hidden = twice ? 2 * p.lm.hidden : p.lm.hidden;
  if (PieceChoice(c, "stack_frames", kBuilder, {"none", "intermediate"}) == 1) {
    const int64_t inter = p.audio.Int("intermediate_size", p.audio.Int("encoder_ffn_dim", 0));
    if (inter <= 0 || inter % p.width != 0 || p.positions % (inter / p.width) != 0)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': audio_config.intermediate_size {} does not regroup {} frames "
                              "of width {}",
                              c.origin(), inter, p.positions, p.width));
    p.stack = inter / p.width;
  }
}

AudioLlmParts ReadAudioLlmParts(const HfConfig& c) {
  AudioLlmParts p{AudioConfig(c), AudioLlmTextConfig(c)};
  if (!DecoderTakesEmbeddings(p.text))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': text_config.model_type='{}' cannot take audio features among "
                            "its input embeddings (only layout \"llama\" decoders can)",
                            c.origin(), p.text.ModelType()));
  p.lm = ReadDecoderSizes(p.text);
  p.width = p.audio.Int("d_model", 0);
  p.positions = p.audio.Int("max_source_positions", 0);
  if (p.audio.PieceString("pooling", "none") == "average_pairs") p.positions /= 2;
  p.masked = WhisperAudioTowerMasked(p.audio);
  ReadProjector(c, p);
  const json token = c.Piece("audio_token");
  if (!token.is_number_integer())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the audio token id is {} (the model cannot place audio "
                            "features without one)",
                            c.origin(), token.is_null() ? "null" : token.dump()));
  p.audio_token = token.get<int64_t>();
  return p;
}

// get_audio_features: the tower, the regrouping and the projector, [batch * tokens or kept rows,
// text hidden].
std::string AudioFeatures(GraphBuilder& g, const AudioLlmParts& p) {
  const WhisperAudioTower tower = [&] {
    WeightScope scope(g, "audio_tower.");
    return WhisperAudioTowerOn(p.audio, g, "input_features", p.masked ? "input_features_mask" : "");
  }();
  const int64_t in = p.width * p.stack;
  std::string x = g.Node("Reshape", {tower.hidden, g.ConstInt64({0, -1, in})});
  if (p.mlp) {
    x = g.Linear(x, "multi_modal_projector.linear_1", in, p.projector_hidden, p.bias);
    x = Activation(g, x, p.act);
    x = g.Linear(x, "multi_modal_projector.linear_2", p.projector_hidden, p.lm.hidden, p.bias);
  } else {
    x = g.Linear(x, "multi_modal_projector.linear", in, p.lm.hidden, true);
  }
  if (!p.masked) return x;
  const std::string frames =
      g.Node("ReduceSum", {"input_features_mask", g.ConstInt64({-1})}, {{"keepdims", int64_t{0}}});
  return KeepValidAudioRows(g, x, frames, p.positions / p.stack, p.lm.hidden);
}

int64_t FeaturesFrames(const AudioLlmParts& p) {
  return 2 * p.audio.Int("max_source_positions", 0);
}

}  // namespace

std::string KeepValidAudioRows(GraphBuilder& g, const std::string& features,
                               const std::string& frames, int64_t positions, int64_t width) {
  auto half = [&](const std::string& n, int64_t minus) {  // (n - minus) // 2 + 1, n >= minus
    return g.Node("Add",
                  {g.Node("Div", {g.Node("Sub", {n, g.ConstInt64({minus})}), g.ConstInt64({2})}),
                   g.ConstInt64({1})});
  };
  const std::string kept = half(half(frames, 1), 2);  // _get_feat_extract_output_lengths
  const std::string rows = g.Node("Unsqueeze", {kept, g.ConstInt64({1})});  // [batch, 1]
  const std::string index =
      g.Node("Unsqueeze", {PositionRange(g, g.ConstInt64({0}), g.ConstInt64({positions})),
                           g.ConstInt64({0})});  // [1, positions]
  const std::string valid = g.Node("Reshape", {g.Node("Less", {index, rows}), g.ConstInt64({-1})});
  const std::string flat = g.Node("Reshape", {features, g.ConstInt64({-1, width})});
  return g.Node("Compress", {flat, valid}, {{"axis", int64_t{0}}});
}

void BuildAudioLlm(const HfConfig& config, GraphBuilder& g) {
  const AudioLlmParts p = ReadAudioLlmParts(config);
  const Dim batch = std::string("batch");
  const int64_t frames = FeaturesFrames(p);
  g.Input("input_ids", onnx::TensorProto::INT64, {batch, std::string("sequence")});
  g.Input("input_features", onnx::TensorProto::FLOAT,
          {batch, p.audio.Int("num_mel_bins", 0), frames});
  if (p.masked) g.Input("input_features_mask", onnx::TensorProto::INT64, {batch, frames});
  const DecoderTokens tokens = DecoderTokenEmbeddings(p.text, g, "input_ids");
  const std::string merged = ScatterFeaturesAtTokens(
      g, "input_ids", tokens.embeddings, AudioFeatures(g, p), p.audio_token, p.lm.hidden);
  DecoderEmbeddingsInput in;
  in.embeddings = merged;
  in.embedding_table = tokens.table;
  BuildDecoderFromEmbeddings(p.text, g, in);
}

int64_t AudioLlmTokens(const HfConfig& config) {
  const AudioLlmParts p = ReadAudioLlmParts(config);
  return p.positions / p.stack;
}

void AddAudioLlmArchitectures(std::vector<Architecture>& out) {
  out.push_back({
      .model_type = kBuilder,
      .modality = "multimodal",
      // 5.x in memory (model.audio_tower., model.language_model., lm_head), 4.x and the hub
      // (audio_tower., language_model.model., language_model.lm_head).
      .checkpoint_prefixes = {"model.language_model.", "language_model.model.", "language_model.",
                              "model."},
      .build = BuildAudioLlm,
      .input_hints =
          [](const HfConfig& c) {
            const AudioLlmParts p = ReadAudioLlmParts(c);
            InputHint ids{InputHint::Kind::kIndexRangeWithRun, 0, p.lm.vocab};
            ids.run_value = p.audio_token;
            ids.run_length = AudioLlmTokens(c);
            return std::map<std::string, InputHint>{
                {"input_ids", ids},
                {"input_features", {InputHint::Kind::kAny, 0, 0}},
                {"input_features_mask", {InputHint::Kind::kOnes, 0, 0}},
                {"attention_mask", {InputHint::Kind::kOnes, 0, 0}},
            };
          },
      .dim_roles =
          [](const HfConfig& c) {
            const AudioLlmParts p = ReadAudioLlmParts(c);
            return DecoderDimRoles(DecoderMaxPositions(p.text), AudioLlmTokens(c));
          },
  });
}

}  // namespace ipfs_accel::models
