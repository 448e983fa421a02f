#include "model_folder.h"

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

namespace {

bool IsWithin(const fs::path& path, const fs::path& root) {
  const auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return r == root.end();
}

}  // namespace

std::string ResolveInModelFolder(const std::string& dir, const std::string& name,
                                 const std::string& source) {
  const fs::path relative(name);
  if (name.empty() || relative.is_absolute())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' names '{}', which is not a file name inside the model folder "
                            "'{}'; a checkpoint's files must be in its folder",
                            source, name, dir));
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec)
    throw Error(ErrorKind::kNotFound,
                fmt::format("cannot resolve the model folder '{}': {}", dir, ec.message()));
  const fs::path joined = root / relative;
  fs::path resolved = fs::weakly_canonical(joined, ec);
  if (ec) {
    if (ec == std::errc::too_many_symbolic_link_levels)
      throw Error(
          ErrorKind::kInvalidArgument,
          fmt::format("'{}' is a symbolic link loop (named by '{}')", joined.string(), source));
    throw Error(ErrorKind::kIo, fmt::format("cannot resolve '{}' (named by '{}'): {}",
                                            joined.string(), source, ec.message()));
  }
  // A hub cache snapshot: <repo>/snapshots/<revision> links its files to <repo>/blobs/.
  const bool snapshot = root.parent_path().filename() == "snapshots";
  if (!IsWithin(resolved, root) &&
      !(snapshot && IsWithin(resolved, root.parent_path().parent_path() / "blobs")))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' names '{}', which resolves to '{}' outside the model folder "
                            "'{}'; refusing to read it (a checkpoint's files must be in its "
                            "folder)",
                            source, name, resolved.string(), root.string()));
  return joined.string();
}

}  // namespace ipfs_accel::models
