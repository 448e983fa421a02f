#include "ipfs_accel/models/templates.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "content_hash.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/json.h"

namespace ipfs_accel::models {
namespace generated {
struct TemplateFile {
  const char* path;
  const char* json;
};
extern const TemplateFile kTemplateFiles[];
extern const size_t kTemplateFileCount;
}  // namespace generated

namespace {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

constexpr const char* kStructuralKeysFile = "structural_keys.json";
constexpr const char* kUnsupportedFile = "unsupported.json";

// Fields a template file may have; those after `kOwnFields` are not inherited.
const std::set<std::string>& InheritedFields() {
  static const std::set<std::string> fields = {"builder",
                                               "modality",
                                               "family",
                                               "hf_config_class",
                                               "defaults",
                                               "attribute_map",
                                               "pieces",
                                               "required",
                                               "tiny",
                                               "tiny_inputs",
                                               "checkpoint_prefixes",
                                               "parameters_class"};
  return fields;
}
const std::set<std::string>& OwnFields() {
  static const std::set<std::string> fields = {
      "model_type", "abstract", "inherits", "version", "history", "parameters_differ", "reference"};
  return fields;
}

struct TemplateFile {
  std::string source;
  nlohmann::json json;
};

[[noreturn]] void Malformed(const std::string& source, const std::string& what) {
  throw Error(ErrorKind::kCorrupt, fmt::format("template '{}': {}", source, what));
}

void CheckFields(const TemplateFile& f) {
  if (!f.json.is_object()) Malformed(f.source, "is not a JSON object");
  for (const auto& [key, value] : f.json.items())
    if (!InheritedFields().count(key) && !OwnFields().count(key))
      Malformed(f.source,
                fmt::format("unknown field '{}' (docs/templates.md lists the fields)", key));
  if (!f.json.contains("model_type") || !f.json["model_type"].is_string() ||
      f.json["model_type"].get<std::string>().empty())
    Malformed(f.source, "needs a 'model_type' string");
  for (const char* object :
       {"defaults", "attribute_map", "pieces", "required", "tiny", "tiny_inputs"})
    if (f.json.contains(object) && !f.json[object].is_object())
      Malformed(f.source, fmt::format("'{}' must be an object", object));
}

// Objects merge key by key, the child winning; anything else is replaced.
void MergeInto(nlohmann::json& base, const nlohmann::json& child) {
  for (const auto& [key, value] : child.items()) {
    if (value.is_object() && base.contains(key) && base[key].is_object())
      MergeInto(base[key], value);
    else
      base[key] = value;
  }
}

std::vector<TemplateChange> ReadHistory(const TemplateFile& f, int64_t version) {
  const nlohmann::json history = f.json.value("history", nlohmann::json::array());
  if (!history.is_array() || history.empty())
    Malformed(f.source, "needs a 'history' list of {\"version\", \"reason\"} entries");
  std::vector<TemplateChange> out;
  for (const auto& h : history) {
    if (!h.is_object() || !h.contains("version") || !h["version"].is_number_integer() ||
        !h.contains("reason") || !h["reason"].is_string())
      Malformed(f.source, "each 'history' entry needs an integer 'version' and a 'reason'");
    out.push_back({h["version"].get<int64_t>(), h["reason"].get<std::string>()});
    if (out.size() > 1 && out.back().version <= out[out.size() - 2].version)
      Malformed(f.source, "'history' versions must increase");
  }
  if (out.back().version != version)
    Malformed(f.source, fmt::format("'version' is {} but the last 'history' entry is version {}",
                                    version, out.back().version));
  return out;
}

std::string StringField(const nlohmann::json& j, const char* key, const std::string& source) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) Malformed(source, fmt::format("'{}' must be a string", key));
  return j[key].get<std::string>();
}

// The template of `f` with its parents' fields merged under its own.
ArchitectureTemplate Resolve(const TemplateFile& f,
                             const std::map<std::string, TemplateFile>& by_type) {
  nlohmann::json merged = nlohmann::json::object();
  std::vector<std::string> lineage;
  std::vector<const TemplateFile*> chain = {&f};
  for (std::string parent = StringField(f.json, "inherits", f.source); !parent.empty();) {
    if (std::find(lineage.begin(), lineage.end(), parent) != lineage.end() ||
        parent == f.json["model_type"].get<std::string>())
      Malformed(f.source, fmt::format("inherits in a cycle through '{}'", parent));
    const auto it = by_type.find(parent);
    if (it == by_type.end())
      Malformed(f.source, fmt::format("inherits '{}', which is no template", parent));
    lineage.push_back(parent);
    chain.push_back(&it->second);
    parent = StringField(it->second.json, "inherits", it->second.source);
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it)
    for (const auto& [key, value] : (*it)->json.items())
      if (InheritedFields().count(key)) {
        if (value.is_object() && merged.contains(key))
          MergeInto(merged[key], value);
        else
          merged[key] = value;
      }
  for (const auto& [key, value] : f.json.items())
    if (OwnFields().count(key)) merged[key] = value;

  ArchitectureTemplate t;
  t.source = f.source;
  t.file = f.json;
  t.model_type = merged["model_type"].get<std::string>();
  t.inherits = StringField(merged, "inherits", f.source);
  t.lineage = lineage;
  t.abstract = merged.value("abstract", false);
  t.builder = StringField(merged, "builder", f.source);
  if (t.builder.empty()) Malformed(f.source, "names no 'builder' (nor does any parent)");
  t.modality = StringField(merged, "modality", f.source);
  t.family = StringField(merged, "family", f.source);
  if (!merged.contains("version") || !merged["version"].is_number_integer() ||
      merged["version"].get<int64_t>() < 1)
    Malformed(f.source, "needs a 'version' of 1 or more");
  t.version = merged["version"].get<int64_t>();
  t.history = ReadHistory(f, t.version);
  t.hf_config_class = StringField(merged, "hf_config_class", f.source);
  for (auto [field, target] : {std::pair{"defaults", &t.defaults},
                               {"attribute_map", &t.attribute_map},
                               {"pieces", &t.pieces},
                               {"required", &t.required},
                               {"tiny", &t.tiny},
                               {"tiny_inputs", &t.tiny_inputs}})
    if (merged.contains(field)) *target = merged[field];
  for (const auto& [canonical, alias] : t.attribute_map.items())
    if (!alias.is_string()) Malformed(f.source, "'attribute_map' values must be config keys");
  t.checkpoint_prefixes = merged.value("checkpoint_prefixes", std::vector<std::string>{});
  t.parameters_class = merged.value("parameters_class", std::string("base"));
  if (t.parameters_class != "base" && t.parameters_class != "causal_lm")
    Malformed(f.source, "'parameters_class' must be \"base\" or \"causal_lm\"");
  t.parameters_differ = StringField(merged, "parameters_differ", f.source);
  t.reference = StringField(merged, "reference", f.source);
  t.resolved = merged;
  t.content_hash = Sha256OfText(merged.dump());
  return t;
}

bool IsDataFile(const std::string& path) {
  const std::string name = fs::path(path).filename().string();
  return name == kStructuralKeysFile || name == kUnsupportedFile;
}

TemplateFile ReadFile(const std::string& path) { return {path, core::ReadJsonFile(path)}; }

std::vector<TemplateFile> CompiledInFiles() {
  std::vector<TemplateFile> out;
  for (size_t i = 0; i < generated::kTemplateFileCount; ++i) {
    const auto& f = generated::kTemplateFiles[i];
    if (IsDataFile(f.path)) continue;
    out.push_back({f.path, nlohmann::json::parse(f.json)});
  }
  return out;
}

std::vector<TemplateFile> UserFiles() {
  std::vector<TemplateFile> out;
  std::error_code ec;
  for (const fs::path& dir : UserTemplateFolders()) {
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<std::string> paths;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ".json") paths.push_back(e.path().string());
    std::sort(paths.begin(), paths.end());
    for (const auto& p : paths) out.push_back(ReadFile(p));
  }
  return out;
}

// Every template file by model_type; a later file replaces an earlier one of the same type.
std::map<std::string, TemplateFile> FilesByType() {
  std::map<std::string, TemplateFile> by_type;
  std::vector<TemplateFile> files = CompiledInFiles();
  for (auto& f : UserFiles()) files.push_back(std::move(f));
  for (auto& f : files) {
    CheckFields(f);
    by_type[f.json["model_type"].get<std::string>()] = std::move(f);
  }
  return by_type;
}

const std::map<std::string, TemplateFile>& AllFiles() {
  static const std::map<std::string, TemplateFile> files = FilesByType();
  return files;
}

const nlohmann::json& CompiledInDataFile(const char* name) {
  static std::map<std::string, nlohmann::json> cache;
  static const bool loaded = [] {
    for (size_t i = 0; i < generated::kTemplateFileCount; ++i) {
      const auto& f = generated::kTemplateFiles[i];
      if (IsDataFile(f.path))
        cache[fs::path(f.path).filename().string()] = nlohmann::json::parse(f.json);
    }
    return true;
  }();
  (void)loaded;
  static const nlohmann::json empty;
  const auto it = cache.find(name);
  return it == cache.end() ? empty : it->second;
}

// Keys the template speaks of: its defaults, aliases, required values and piece references.
std::set<std::string> KnownKeys(const ArchitectureTemplate& t) {
  std::set<std::string> keys;
  for (const auto& [k, v] : t.defaults.items()) keys.insert(k);
  for (const auto& [k, v] : t.required.items()) keys.insert(k);
  for (const auto& [k, v] : t.attribute_map.items()) {
    keys.insert(k);
    keys.insert(v.get<std::string>());
  }
  const std::function<void(const nlohmann::json&)> refs = [&](const nlohmann::json& j) {
    if (j.is_string() && j.get<std::string>().rfind('$', 0) == 0)
      keys.insert(j.get<std::string>().substr(1));
    if (j.is_structured())
      for (const auto& v : j) refs(v);
  };
  refs(t.pieces);
  return keys;
}

// A structural key set to null, false, 0 or empty turns its feature off: transformers 4 wrote
// add_cross_attention: false into every config.json, and that builds what the template builds.
bool IsOff(const nlohmann::json& v) {
  return v.is_null() || v == false || (v.is_number() && v == 0) || (v.is_string() && v == "") ||
         (v.is_structured() && v.empty());
}

void CheckKeys(const ArchitectureTemplate& t, const HfConfig& config,
               const nlohmann::json& merged) {
  for (const auto& [key, value] : t.required.items())
    if (merged.contains(key) && !merged[key].is_null() && merged[key] != value)
      throw Error(
          ErrorKind::kUnsupported,
          fmt::format("'{}': {} = {} is not built by the '{}' template (it builds {}); "
                      "export the model to .onnx and pass that file instead",
                      config.origin(), key, merged[key].dump(), t.model_type, value.dump()));
  // A template without defaults leaves its config keys to its builder (the builders written
  // before templates), which reads only the keys it knows: nothing here to check them against.
  if (t.defaults.empty()) return;
  const std::set<std::string> known = KnownKeys(t);
  for (const std::string& key : StructuralKeys())
    if (config.json().contains(key) && !known.count(key) && !IsOff(config.json()[key]))
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}' sets '{}', which changes the structure of some architectures "
                              "and which the '{}' template does not understand; it is not built "
                              "rather than built wrong (export the model to .onnx instead)",
                              config.origin(), key, t.model_type));
}

}  // namespace

// The folders of IPFS_ACCEL_TEMPLATE_PATH, then the user's ($XDG_DATA_HOME or
// ~/.local/share)/ipfs-accelerate/templates.
std::vector<fs::path> UserTemplateFolders() {
  std::vector<fs::path> out;
  if (const char* path = std::getenv("IPFS_ACCEL_TEMPLATE_PATH")) {
    std::string rest = path;
    for (size_t at; !rest.empty(); rest = at == std::string::npos ? "" : rest.substr(at + 1)) {
      at = rest.find(':');
      if (const std::string dir = rest.substr(0, at); !dir.empty()) out.emplace_back(dir);
    }
  }
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg)
    out.push_back(fs::path(xdg) / "ipfs-accelerate" / "templates");
  else if (home && *home)
    out.push_back(fs::path(home) / ".local" / "share" / "ipfs-accelerate" / "templates");
  return out;
}

const std::vector<ArchitectureTemplate>& Templates() {
  static const std::vector<ArchitectureTemplate> templates = [] {
    std::vector<ArchitectureTemplate> out;
    for (const auto& [type, f] : AllFiles()) out.push_back(Resolve(f, AllFiles()));
    return out;
  }();
  return templates;
}

const ArchitectureTemplate* FindTemplate(const std::string& model_type) {
  for (const auto& t : Templates())
    if (t.model_type == model_type) return &t;
  return nullptr;
}

ArchitectureTemplate ResolveTemplate(const nlohmann::json& file, const std::string& source) {
  TemplateFile f{source, file};
  CheckFields(f);
  std::map<std::string, TemplateFile> by_type = AllFiles();
  by_type[file["model_type"].get<std::string>()] = f;
  return Resolve(f, by_type);
}

ArchitectureTemplate LoadTemplateFile(const std::string& path) {
  const TemplateFile f = ReadFile(path);
  return ResolveTemplate(f.json, path);
}

HfConfig ApplyTemplate(const ArchitectureTemplate& t, const HfConfig& config) {
  nlohmann::json merged = t.defaults;
  const nlohmann::json& given = config.json();
  for (const auto& [key, value] : given.items()) merged[key] = value;
  for (const auto& [canonical, alias_json] : t.attribute_map.items()) {
    const std::string alias = alias_json.get<std::string>();
    if (given.contains(canonical) && !given.contains(alias)) merged[alias] = given[canonical];
    if (merged.contains(alias)) merged[canonical] = merged[alias];
  }
  CheckKeys(t, config, merged);
  HfConfig out(std::move(merged), config.origin());
  out.SetTemplate(t.model_type, t.version, t.pieces);
  return out;
}

HfConfig DefaultConfig(const ArchitectureTemplate& t) {
  return HfConfig(nlohmann::json{{"model_type", t.model_type}},
                  fmt::format("template:{} (HF defaults)", t.model_type));
}

HfConfig TinyConfig(const ArchitectureTemplate& t) {
  nlohmann::json j = t.tiny;
  j["model_type"] = t.model_type;
  return HfConfig(std::move(j), fmt::format("template:{}", t.model_type));
}

const std::vector<std::string>& StructuralKeys() {
  static const std::vector<std::string> keys =
      CompiledInDataFile(kStructuralKeysFile).is_array()
          ? CompiledInDataFile(kStructuralKeysFile).get<std::vector<std::string>>()
          : std::vector<std::string>{};
  return keys;
}

const std::map<std::string, std::string>& UnsupportedModelTypes() {
  static const std::map<std::string, std::string> types =
      CompiledInDataFile(kUnsupportedFile).is_object()
          ? CompiledInDataFile(kUnsupportedFile).get<std::map<std::string, std::string>>()
          : std::map<std::string, std::string>{};
  return types;
}

}  // namespace ipfs_accel::models
