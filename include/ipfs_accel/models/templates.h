#pragma once
// Architecture templates: what an architecture is, as data. A template names the family builder
// it instantiates (a C++ piece, e.g. "decoder"), the Hugging Face config class's defaults, HF's
// attribute_map (canonical key -> this config's key), the builder's pieces (norm, biases,
// sliding window, ... literal values or "$key" references into the config), the config values
// it requires, and its version history. A template inherits from another ("mistral" is "llama"
// plus a sliding window): objects merge key by key, the child winning; lists and scalars are
// replaced. Templates are the checked-in files data/templates/<builder>/<model_type>.json
// (compiled in), plus *.json files in the folders of IPFS_ACCEL_TEMPLATE_PATH (':'-separated),
// which may add model types or replace compiled-in ones; docs/templates.md has the format.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct TemplateChange {
  int64_t version = 0;
  std::string reason;
};

// One template with its inheritance resolved.
struct ArchitectureTemplate {
  std::string model_type;            // HF model_type; for an abstract root, its own name
  std::string inherits;              // the parent template, "" for a root
  std::vector<std::string> lineage;  // this template's parents, nearest first
  bool abstract = false;             // a family root that is not a model type
  std::string builder;               // the C++ family builder it instantiates
  std::string modality, family;      // "text"...; the legacy family ("text_generation"...)
  int64_t version = 0;
  std::vector<TemplateChange> history;  // oldest first; the last one is `version`
  std::string hf_config_class;
  nlohmann::json defaults = nlohmann::json::object();       // HF's defaults of the config class
  nlohmann::json attribute_map = nlohmann::json::object();  // canonical key -> config key
  nlohmann::json pieces = nlohmann::json::object();         // the builder's knobs
  nlohmann::json required = nlohmann::json::object();       // config key -> the value built
  nlohmann::json tiny = nlohmann::json::object();           // config overrides: a tiny build
  // Input sizes that fit the tiny build: {"sequence": N, "shapes": {dim or input: [sizes]}}
  // (as `--seq-len` and `--shape`); empty: the commands' defaults.
  nlohmann::json tiny_inputs = nlohmann::json::object();
  std::vector<std::string> checkpoint_prefixes;  // e.g. "model." for *ForCausalLM checkpoints
  // Which Hugging Face class the built graph is, for parameter counts: "base" (AutoModel) or
  // "causal_lm" (AutoModelForCausalLM): catalog_truth.json's base_params / causal_lm_params.
  std::string parameters_class = "base";
  std::string parameters_differ;  // why the count differs from HF's, where it does
  std::string reference;          // the hf-tiny fixture that shows it exact ("" for none)
  std::string source;             // "data/templates/decoder/llama.json", or a file's path
  nlohmann::json file;            // the file as written (before inheritance)
  nlohmann::json resolved;        // the whole template after inheritance
  std::string content_hash;       // "sha256:<hex>" of `resolved`, serialised with sorted keys
};

// Every template, compiled in and from IPFS_ACCEL_TEMPLATE_PATH, sorted by model_type, loaded
// once. Throws core::Error(kCorrupt) naming the file and field of a malformed template.
const std::vector<ArchitectureTemplate>& Templates();
// nullptr when there is none (abstract roots are found too).
const ArchitectureTemplate* FindTemplate(const std::string& model_type);

// Reads and resolves one template file against Templates() (for `templates add` and
// `templates validate FILE`). Throws core::Error: kNotFound, kCorrupt (naming file and field).
ArchitectureTemplate LoadTemplateFile(const std::string& path);
// The same for a template already parsed; `source` names it in errors.
ArchitectureTemplate ResolveTemplate(const nlohmann::json& file, const std::string& source);

// The config a builder sees: `config` over the template's defaults (the config's own keys
// win), attribute_map aliases filled under their canonical names, and the pieces attached
// (HfConfig::Piece). Throws core::Error(kUnsupported) naming the key when the config sets a
// required key to another value, or a structural key (StructuralKeys()) the template does not
// know.
HfConfig ApplyTemplate(const ArchitectureTemplate& t, const HfConfig& config);
// The config HF makes with no arguments (model_type alone), and the template's tiny size.
HfConfig DefaultConfig(const ArchitectureTemplate& t);
HfConfig TinyConfig(const ArchitectureTemplate& t);

// Config keys that change a graph's structure in some HF architecture (data/templates/
// structural_keys.json): a config that sets one its template does not mention is refused.
const std::vector<std::string>& StructuralKeys();

// HF model types without a template, each with the one-line reason
// (data/templates/unsupported.json).
const std::map<std::string, std::string>& UnsupportedModelTypes();

// Where user templates are read from, in order: the folders of IPFS_ACCEL_TEMPLATE_PATH
// (':'-separated), then $XDG_DATA_HOME/ipfs-accelerate/templates, else
// ~/.local/share/ipfs-accelerate/templates. Empty when none of these is set.
std::vector<std::filesystem::path> UserTemplateFolders();

}  // namespace ipfs_accel::models
