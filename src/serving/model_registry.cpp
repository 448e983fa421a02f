#include "ipfs_accel/serving/model_registry.h"

#include <algorithm>
#include <filesystem>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::serving {

namespace {

using core::Error;
using core::ErrorKind;

// Throws what the models layer throws when `spec` names nothing. Cheap: reads a config or
// checks a file, builds nothing.
void CheckSpecNamesSomething(const std::string& spec) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(spec, ec)) return;
  try {
    models::ComponentsOf(spec);
  } catch (const Error&) {
    // "name:component": the part must be one the base model has.
    const size_t colon = spec.rfind(':');
    const bool templated = spec.rfind(models::kTemplateSpecPrefix, 0) == 0;
    if (colon == std::string::npos || (templated && colon < models::kTemplateSpecPrefix.size()))
      throw;
    const auto parts = models::ComponentsOf(spec.substr(0, colon));
    const std::string part = spec.substr(colon + 1);
    if (std::find(parts.begin(), parts.end(), part) == parts.end())
      throw Error(
          ErrorKind::kNotFound,
          fmt::format("model '{}' has no part '{}'{}", spec.substr(0, colon), part,
                      parts.empty() ? "" : fmt::format(" (it has: {})", fmt::join(parts, ", "))));
  }
}

}  // namespace

ModelSource ModelRegistry::Register(ModelSource source) {
  if (source.spec.empty())
    throw Error(ErrorKind::kInvalidArgument,
                "a model to serve needs a spec (catalog name, "
                "folder, .onnx file or template:NAME)");
  if (source.name.empty()) source.name = source.spec;
  if (source.name.find_first_of("/ \t\r\n") != std::string::npos)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("model name '{}' has '/' or whitespace; give it a name without "
                            "(e.g. NAME=PATH)",
                            source.name));
  CheckSpecNamesSomething(source.spec);
  std::lock_guard lock(mutex_);
  sources_[source.name] = source;
  return source;
}

bool ModelRegistry::Unregister(const std::string& name) {
  std::lock_guard lock(mutex_);
  return sources_.erase(name) > 0;
}

std::optional<ModelSource> ModelRegistry::Find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = sources_.find(name);
  if (it == sources_.end()) return std::nullopt;
  return it->second;
}

ModelSource ModelRegistry::Get(const std::string& name) const {
  if (auto found = Find(name)) return *found;
  std::vector<std::string> names;
  for (const auto& s : List()) names.push_back(s.name);
  throw Error(ErrorKind::kNotFound,
              fmt::format("model '{}' is not registered{}; registered: {}", name,
                          models::DidYouMean(models::ClosestNames(name, names)),
                          names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
}

std::vector<ModelSource> ModelRegistry::List() const {
  std::lock_guard lock(mutex_);
  std::vector<ModelSource> out;
  for (const auto& [name, s] : sources_) out.push_back(s);
  return out;
}

}  // namespace ipfs_accel::serving
