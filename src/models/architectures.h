#pragma once
// The architectures this build can turn into graphs: one entry each, with the
// builder, the checkpoint name prefixes to try, and what the inputs mean.

#include <functional>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::models {

// A part of a composite model that is a model of its own (CLIPModel's text_model is a
// CLIPTextModel), built from the part's sub-config with the part's architecture. Its weights keep
// the composite checkpoint's names ("text_model.*"), which are also the part's own.
struct Component {
  std::string name;        // the composite's attribute in HF ("text_model", "vision_model")
  std::string model_type;  // the part's registered architecture ("clip_text_model")
  std::function<HfConfig(const HfConfig&)> config;  // the part's config from the composite's
};

// An input Hugging Face takes that fixes the graph's structure (Qwen2-VL's image_grid_thw):
// the config whose graph fits the input's values (flat, row-major). `apply` throws core::Error
// (kInvalidArgument, kUnsupported) for values the graph cannot be built for.
struct StructureInput {
  std::string name;
  std::function<HfConfig(const HfConfig&, const std::vector<int64_t>& values)> apply;
};

struct Architecture {
  std::string model_type;  // HF model_type
  std::string modality;
  std::vector<std::string> checkpoint_prefixes;  // e.g. "bert." for BertFor* checkpoints
  std::function<void(const HfConfig&, GraphBuilder&)> build;
  std::function<std::map<std::string, InputHint>(const HfConfig&)> input_hints;
  std::function<DimRoles(const HfConfig&)> dim_roles;
  // The model family of the system we rebuild ("embedding", "text_generation", "vision",
  // "audio", "multimodal"), set by Architectures() from the file that registers it.
  std::string family = {};
  std::vector<Component> components = {};  // parts that can be built alone (model:component)
  // Prefixes of the builder's weight names that a checkpoint may leave out (a standalone
  // CLIPTextModel saved without "text_model."): both layouts load, as in transformers.
  std::vector<std::string> optional_prefixes = {};
  std::vector<StructureInput> structure_inputs = {};  // see StructureInput; empty for most
  // The template it was instantiated from (templates.h): its build, input_hints and dim_roles
  // see the config through ApplyTemplate. 0 for a builder prototype.
  int64_t template_version = 0;
};

// One architecture per concrete template, from the builder the template names.
const std::vector<Architecture>& Architectures();
// The family builders templates instantiate, by name: "decoder", and the earlier builders
// named by the model type they were written for ("bert", "vit", "t5", ...).
const std::map<std::string, Architecture>& Builders();

// Each family file adds its builders (prototypes: model_type is the builder's name).
void AddEncoderArchitectures(std::vector<Architecture>& out);     // encoder_family.cpp
void AddDecoderArchitectures(std::vector<Architecture>& out);     // decoder_family.cpp: "decoder"
void AddSeq2SeqArchitectures(std::vector<Architecture>& out);     // seq2seq_family.cpp
void AddVisionArchitectures(std::vector<Architecture>& out);      // vision_family.cpp
void AddAudioArchitectures(std::vector<Architecture>& out);       // audio_family.cpp
void AddClapArchitectures(std::vector<Architecture>& out);        // clap_family.cpp
void AddDetectionArchitectures(std::vector<Architecture>& out);   // detection_family.cpp
void AddMultimodalArchitectures(std::vector<Architecture>& out);  // multimodal_family.cpp
void AddWhisperArchitectures(std::vector<Architecture>& out);     // whisper_builder.cpp (audio)

// The builder `t` names, seeing every config through `t` (ApplyTemplate); `t` must outlive
// the architecture's functions. Throws core::Error(kCorrupt) for a builder this build lacks.
Architecture InstantiateTemplate(const ArchitectureTemplate& t);

// Shared by the text families.
DimRoles TextDimRoles(const HfConfig& config);
// A decoder's with a KV cache (decoders and the composites around one): batch, sequence,
// past_sequence and total_sequence, positions up to `max_sequence`, prompts of at least
// `min_sequence` tokens (0: none).
DimRoles DecoderDimRoles(int64_t max_sequence, int64_t min_sequence = 0);
// Throws core::Error(kUnsupported) naming `origin` and the known architectures.
const Architecture& FindArchitecture(const std::string& model_type, const std::string& origin);

}  // namespace ipfs_accel::models
