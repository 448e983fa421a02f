// Audio architectures. Each model family registers from its own function below.

#include "architectures.h"
#include "moonshine_builder.h"
#include "parakeet_builder.h"
#include "wav2vec2_bert_builder.h"
#include "wav2vec2_builder.h"

namespace ipfs_accel::models {

namespace {

// Wav2Vec2Model and HubertModel (wav2vec2_builder.h). `prefix` is the base model's attribute in
// HF's task heads (Wav2Vec2ForCTC.wav2vec2, HubertForCTC.hubert).
Architecture Wav2Vec2Like(const std::string& model_type, const std::string& prefix) {
  const Wav2Vec2Variant& v = FindWav2Vec2Variant(model_type);  // static storage: safe to capture
  auto build = [&v](const HfConfig& c, GraphBuilder& g) { BuildWav2Vec2(c, v, g); };
  auto hints = [&v](const HfConfig& c) {
    std::map<std::string, InputHint> out = {{"input_values", {InputHint::Kind::kAny, 0, 0}}};
    // Only "layer" models take a mask (wav2vec2_builder.h); generated inputs are unpadded.
    if (ReadWav2Vec2Shape(c, v).layer_norm_convs)
      out["attention_mask"] = {InputHint::Kind::kOnes, 0, 0};
    return out;
  };
  // The samples axis plays the sequence role, so --seq-len and --shape samples=N size the audio.
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch", .sequence = "samples"}; };
  return {model_type, "audio", {prefix}, build, hints, roles};
}

void AddWav2Vec2Architectures(std::vector<Architecture>& out) {
  out.push_back(Wav2Vec2Like("wav2vec2", "wav2vec2."));
  out.push_back(Wav2Vec2Like("hubert", "hubert."));
}

// MoonshineForConditionalGeneration holds MoonshineModel as "model.". The samples axis plays the
// sequence role, at least the convolutions' receptive field long.
void AddMoonshineArchitectures(std::vector<Architecture>& out) {
  auto hints = [](const HfConfig& c) {
    return std::map<std::string, InputHint>{
        {"input_values", {InputHint::Kind::kAny, 0, 0}},
        {"decoder_input_ids", {InputHint::Kind::kIndexRange, 0, c.Int("vocab_size", 32768)}}};
  };
  auto roles = [](const HfConfig& c) {
    return DimRoles{.batch = "batch",
                    .sequence = "samples",
                    .decoder_sequence = "decoder_sequence",
                    .max_decoder_sequence = c.Int("max_position_embeddings", 512),
                    .min_sequence = MoonshineMinSamples()};
  };
  out.push_back({"moonshine", "audio", {"model."}, BuildMoonshine, hints, roles});
}

// Wav2Vec2BertForCTC and the other heads hold Wav2Vec2BertModel as "wav2vec2_bert.".
void AddWav2Vec2BertArchitectures(std::vector<Architecture>& out) {
  auto hints = [](const HfConfig&) {
    return std::map<std::string, InputHint>{{"input_features", {InputHint::Kind::kAny, 0, 0}},
                                            {"attention_mask", {InputHint::Kind::kOnes, 0, 0}}};
  };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch", .sequence = "frames"}; };
  out.push_back({"wav2vec2-bert", "audio", {"wav2vec2_bert."}, BuildWav2Vec2Bert, hints, roles});
}

// ParakeetEncoder (inside ParakeetForCTC as "encoder.") and ParakeetForCTC, and LASR's; the frames
// axis plays the sequence role.
void AddParakeetArchitectures(std::vector<Architecture>& out) {
  auto hints = [](const HfConfig&) {
    return std::map<std::string, InputHint>{{"input_features", {InputHint::Kind::kAny, 0, 0}}};
  };
  auto roles = [](const HfConfig&) { return DimRoles{.batch = "batch", .sequence = "frames"}; };
  out.push_back({"parakeet_encoder", "audio", {"encoder."}, BuildParakeetEncoder, hints, roles});
  out.push_back({"parakeet_ctc", "audio", {}, BuildParakeetCtc, hints, roles});
  // LasrEncoder and LasrForCTC: the same builders with the piece layout "lasr".
  out.push_back({"lasr_encoder", "audio", {"encoder."}, BuildParakeetEncoder, hints, roles});
  out.push_back({"lasr_ctc", "audio", {}, BuildParakeetCtc, hints, roles});
}

}  // namespace

void AddAudioArchitectures(std::vector<Architecture>& out) {
  AddParakeetArchitectures(out);
  AddWav2Vec2BertArchitectures(out);
  AddWav2Vec2Architectures(out);
  AddMoonshineArchitectures(out);
  AddWhisperArchitectures(out);
}

}  // namespace ipfs_accel::models
