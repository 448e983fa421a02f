#include "ipfs_accel/core/file_access.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::core {

namespace {

const char* KindOfNonRegular(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

[[noreturn]] void ThrowFor(const std::string& path, int err, const char* step) {
  switch (err) {
    case ENOENT: {
      struct stat link {};
      if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
        throw Error(
            ErrorKind::kNotFound,
            fmt::format("'{}' is a symbolic link to nothing (its target does not exist)", path));
      throw Error(ErrorKind::kNotFound, fmt::format("no such file '{}'", path));
    }
    case ENOTDIR:
      throw Error(ErrorKind::kNotFound,
                  fmt::format("no such file '{}' (a part of the path is not a folder)", path));
    case ELOOP:
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("'{}' is a symbolic link loop (too many levels of links)", path));
    case ENAMETOOLONG:
      throw Error(ErrorKind::kInvalidArgument, fmt::format("the path '{}' is too long", path));
    case EACCES:
    case EPERM:
      throw Error(ErrorKind::kIo, fmt::format("cannot read '{}': permission denied", path));
    default:
      throw Error(ErrorKind::kIo,
                  fmt::format("cannot {} '{}': {}", step, path, std::strerror(err)));
  }
}

void RequireRegular(const std::string& path, mode_t mode) {
  if (!S_ISREG(mode))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is {}, not a file", path, KindOfNonRegular(mode)));
}

}  // namespace

int OpenRegularFile(const std::string& path) {
  if (path.empty()) throw Error(ErrorKind::kInvalidArgument, "an empty path names no file");
  struct stat st {};
  // Checked before open: opening a FIFO blocks, opening a device can act on it.
  if (::stat(path.c_str(), &st) != 0) ThrowFor(path, errno, "stat");
  RequireRegular(path, st.st_mode);
  // O_NONBLOCK: should the path be swapped for a FIFO after the check, open still returns.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) ThrowFor(path, errno, "open");
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    ThrowFor(path, err, "stat");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    RequireRegular(path, st.st_mode);
  }
  return fd;
}

std::string ReadRegularFile(const std::string& path, uint64_t max_bytes) {
  const int fd = OpenRegularFile(path);
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is {} bytes, more than the {} this file may have", path,
                            st.st_size, max_bytes));
  }
  std::string bytes;
  bytes.resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      ThrowFor(path, err, "read");
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  bytes.resize(done);
  return bytes;
}

}  // namespace ipfs_accel::core
