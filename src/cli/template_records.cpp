#include "cli/template_records.h"

#include <map>

namespace ipfs_accel::cli {
namespace {

// Config key -> canonical name: attribute_map maps canonical -> the config's own key.
std::map<std::string, std::string> CanonicalNames(const models::ArchitectureTemplate& t) {
  std::map<std::string, std::string> out;
  for (const auto& [canonical, key] : t.attribute_map.items())
    if (key.is_string()) out[key.get<std::string>()] = canonical;
  return out;
}

std::vector<store::TemplateVariableRecord> Variables(const models::ArchitectureTemplate& t) {
  const auto canonical = CanonicalNames(t);
  std::vector<store::TemplateVariableRecord> out;
  for (const auto& [key, value] : t.defaults.items()) {
    const auto it = canonical.find(key);
    out.push_back({key, it == canonical.end() ? key : it->second, value.dump()});
  }
  // An alias HF's defaults do not list is still a key the template reads.
  for (const auto& [key, name] : canonical)
    if (!t.defaults.contains(key)) out.push_back({key, name, "null"});
  return out;
}

}  // namespace

store::TemplateRecord TemplateRecordOf(const models::ArchitectureTemplate& t) {
  store::TemplateRecord r{.model_type = t.model_type,
                          .version = t.version,
                          .builder = t.builder,
                          .inherits = t.inherits,
                          .abstract = t.abstract,
                          .hf_config_class = t.hf_config_class,
                          .source = t.source,
                          .content_hash = t.content_hash,
                          .resolved_json = t.resolved.dump()};
  for (const auto& h : t.history) r.history.push_back({h.version, h.reason});
  r.variables = Variables(t);
  for (const auto& [piece, value] : t.pieces.items()) r.pieces.push_back({piece, value.dump()});
  if (!t.inherits.empty()) r.dependencies.push_back({t.inherits, "inherits"});
  if (!t.builder.empty()) r.dependencies.push_back({t.builder, "builder"});
  return r;
}

std::vector<store::TemplateRecord> AllTemplateRecords() {
  std::vector<store::TemplateRecord> out;
  for (const auto& t : models::Templates()) out.push_back(TemplateRecordOf(t));
  return out;
}

store::TemplateValidationRecord ValidationRecordOf(const harness::TemplateOutcome& o,
                                                   const std::string& validated_at,
                                                   const std::string& git_commit) {
  return {.model_type = o.model_type,
          .version = o.version,
          .status = o.status,
          .parameters = o.parameters,
          .expected_parameters = o.expected_parameters,
          .reason = o.reason,
          .seconds = o.status == "unsupported" ? std::nullopt : std::optional(o.seconds),
          .validated_at = validated_at,
          .git_commit = git_commit};
}

}  // namespace ipfs_accel::cli
