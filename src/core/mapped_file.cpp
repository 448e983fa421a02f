#include "ipfs_accel/core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"

namespace ipfs_accel::core {

MappedFile::MappedFile(const std::string& path) {
  const int fd = OpenRegularFile(path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(ErrorKind::kIo, fmt::format("cannot stat '{}': {}", path, std::strerror(err)));
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) {  // mmap refuses a length of 0
    ::close(fd);
    return;
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file
  if (map == MAP_FAILED)
    throw Error(ErrorKind::kIo, fmt::format("cannot map '{}': {}", path, std::strerror(err)));
  data_ = static_cast<const char*>(map);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<char*>(data_), size_);
}

}  // namespace ipfs_accel::core
