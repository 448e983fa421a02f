#pragma once
// Validation of architecture templates (`templates validate`): a template is built at its tiny
// size with seeded weights (ONNX checker and strict shape inference, as LoadModel does), run
// once on CPU (every output finite, of the rank and fixed sizes the graph declares), and its
// parameter count at Hugging Face's default config compared with catalog_truth.json. Outcomes:
//   exact       the template names a reference fixture and the graph matches HF's outputs there
//   structural  built, ran, and its count equals HF's (or the template says why it differs)
//   failed      the reason: the error, or the two counts
//   unsupported a model type without a template (models::UnsupportedModelTypes()'s reason)

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ipfs_accel/models/templates.h"

namespace ipfs_accel::harness {

// Hugging Face's parameter counts at each model type's default config.
struct CatalogTruth {
  struct Counts {
    std::optional<int64_t> base_params;       // AutoModel's
    std::optional<int64_t> causal_lm_params;  // AutoModelForCausalLM's
  };
  std::map<std::string, Counts> model_types = {};  // every model_type the file lists
  std::string path = {};
};

// Reads catalog_truth.json ({"models": {model_type: {"base_params": n, ...}}}).
// Throws core::Error: kNotFound (no file), kCorrupt (not that shape).
CatalogTruth LoadCatalogTruth(const std::string& path);

struct TemplateOutcome {
  std::string model_type = {};
  std::optional<int64_t> version = {};     // unset for a model type without a template
  std::string status = {};                 // "exact", "structural", "unsupported", "failed"
  std::optional<int64_t> parameters = {};  // counted at HF's default config
  std::optional<int64_t> expected_parameters = {};  // the truth's, of the template's class
  std::string reason = {};  // why failed / unsupported / not compared; "" for a plain pass
  double seconds = 0;       // wall time of the validation
};

struct ValidationOptions {
  const CatalogTruth* truth = nullptr;  // null: counts are not compared (the reason says so)
  std::string fixtures_dir;  // where reference fixtures live (<dir>/<reference>/); "": none
  uint64_t seed = 42;        // of the tiny graph's weights and inputs
};

// Validates one template. Never throws for a template that fails: the outcome says why.
TemplateOutcome ValidateTemplate(const models::ArchitectureTemplate& t,
                                 const ValidationOptions& options);

// The outcome of a model type without a template: unsupported, with the reason from
// models::UnsupportedModelTypes() or "no template yet", and the truth's count when known.
TemplateOutcome UnsupportedOutcome(const std::string& model_type, const ValidationOptions& options);

// Every model type to validate: those of the truth (when given) and those with a
// (non-abstract) template, sorted.
std::vector<std::string> EveryModelType(const ValidationOptions& options);

// ValidateTemplate for a model type with a (non-abstract) template, else UnsupportedOutcome.
TemplateOutcome ValidateModelType(const std::string& model_type, const ValidationOptions& options);

}  // namespace ipfs_accel::harness
