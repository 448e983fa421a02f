#pragma once
// A file or folder removed, with everything in it, when this goes out of scope, however the
// scope is left: a temporary download, a scratch folder, a worker's job folder. Removal errors
// are ignored (this is cleanup, and the scope may be ending in an error already).

#include <filesystem>
#include <system_error>
#include <utility>

namespace ipfs_accel::core {

class RemovedAtExit {
 public:
  explicit RemovedAtExit(std::filesystem::path path) : path_(std::move(path)) {}
  ~RemovedAtExit() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  RemovedAtExit(const RemovedAtExit&) = delete;
  RemovedAtExit& operator=(const RemovedAtExit&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace ipfs_accel::core
