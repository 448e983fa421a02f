#pragma once
// Plain records of the template database (schema v9): architecture templates as stored, their
// history, and the outcomes of validating them. The store knows nothing of how a template is
// resolved or built; the CLI maps models::ArchitectureTemplate onto these records.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ipfs_accel::store {

class ResultStore;

// A config key the template reads: its canonical (builder) name and HF's default.
struct TemplateVariableRecord {
  std::string key = {};                  // the config.json key
  std::string canonical = {};            // the name builders read it by (== key when not aliased)
  std::string hf_default_json = "null";  // HF's default as JSON text ("null": none)
};

// A builder piece the template sets (norm, rope, sliding_window, ...) and its value.
struct TemplatePieceRecord {
  std::string piece = {};
  std::string value_json = {};  // JSON text
};

// What a template needs: its parent ("inherits") or the builder it instantiates ("builder").
struct TemplateDependencyRecord {
  std::string depends_on = {};
  std::string kind = {};  // "inherits" or "builder"
};

// One history entry a template file states: the version and why it was made.
struct TemplateHistoryRecord {
  int64_t version = 0;
  std::string reason = {};
};

// One template at one version, with inheritance resolved.
struct TemplateRecord {
  std::string model_type = {};
  int64_t version = 0;
  std::string builder = {};
  std::string inherits = {};  // "" for a root (stored as NULL)
  bool abstract = false;
  std::string hf_config_class = {};  // "" when none (stored as NULL)
  std::string source = {};           // "data/templates/decoder/llama.json" or a file's path
  std::string content_hash = {};     // "sha256:<hex>" of the resolved JSON
  std::string resolved_json = {};    // the whole template after inheritance (JSON text)
  std::vector<TemplateHistoryRecord> history = {};  // oldest first; the last is `version`
  std::vector<TemplateVariableRecord> variables = {};
  std::vector<TemplatePieceRecord> pieces = {};
  std::vector<TemplateDependencyRecord> dependencies = {};
};

// One outcome of validating a model type.
struct TemplateValidationRecord {
  std::string model_type = {};
  std::optional<int64_t> version = {};     // unset for a model type without a template
  std::string status = {};                 // "exact", "structural", "unsupported", "failed"
  std::optional<int64_t> parameters = {};  // counted at HF's default config
  std::optional<int64_t> expected_parameters = {};  // catalog_truth.json's, where it has one
  std::string reason = {};                          // why failed / unsupported / not compared
  std::optional<double> seconds = {};               // the validation's wall time
  std::string validated_at = {};                    // ISO-8601 UTC
  std::string git_commit = {};                      // of the tool that validated
};

// A stored template version (the `templates` table).
struct StoredTemplate {
  std::string model_type = {};
  int64_t version = 0;
  std::string builder = {};
  std::string inherits = {};
  std::string content_hash = {};
  std::string resolved_json = {};
  std::string git_commit = {};
  std::string loaded_at = {};
};

// Writing them is ResultStore::WriteTemplates and WriteTemplateValidations.

// The latest validation of each model type, by model type.
std::map<std::string, TemplateValidationRecord> LatestTemplateValidations(ResultStore& store);

// The stored version of `model_type` (the highest when `version` is unset); nullopt when none.
std::optional<StoredTemplate> FindStoredTemplate(ResultStore& store, const std::string& model_type,
                                                 std::optional<int64_t> version = std::nullopt);

}  // namespace ipfs_accel::store
