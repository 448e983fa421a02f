#include "cli/atomic_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::cli {

void WriteFileAtomically(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path folder = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // mkstemp: a name no other writer (another process, a second call) can share.
  std::string tmp = (folder / fmt::format(".{}.XXXXXX", target.filename().string())).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw core::Error(core::ErrorKind::kIo,
                      fmt::format("cannot write '{}': {}; check the folder exists and is writable",
                                  path, std::strerror(errno)));
  auto fail = [&](const char* what) {
    const int err = errno;
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return core::Error(core::ErrorKind::kIo, fmt::format("cannot {} '{}': {} (disk full or no "
                                                         "permission?)",
                                                         what, path, std::strerror(err)));
  };
  size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      throw fail("write");
    }
    written += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; an output file gets the usual permissions.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0) throw fail("write");
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw fail("move the output to");
}

}  // namespace ipfs_accel::cli
