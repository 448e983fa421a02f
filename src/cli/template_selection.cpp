#include "cli/template_selection.h"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

std::vector<const models::ArchitectureTemplate*> SelectTemplates(const std::string& family) {
  std::vector<const models::ArchitectureTemplate*> out;
  std::set<std::string> names;
  for (const auto& t : models::Templates()) {
    if (t.abstract) continue;
    if (family.empty() || t.family == family || t.builder == family) out.push_back(&t);
    names.insert(t.family);
    names.insert(t.builder);
  }
  if (out.empty() && !family.empty())
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("--family '{}' is neither a model family nor a builder; give "
                                  "one of: {}",
                                  family, fmt::join(names, ", ")));
  return out;
}

}  // namespace ipfs_accel::cli
