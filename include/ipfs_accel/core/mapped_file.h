#pragma once
// A file's bytes mapped read-only into memory: read as if in a buffer, paged in by the kernel as
// they are touched and dropped under memory pressure, never copied into this process's heap
// (a gigabyte result file costs no gigabyte of RAM to parse).

#include <cstddef>
#include <string>
#include <string_view>

namespace ipfs_accel::core {

class MappedFile {
 public:
  // Throws OpenRegularFile's errors (kNotFound, kInvalidArgument for what is not a regular
  // file, kIo), and kIo when the file cannot be mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // The whole file (empty for an empty file); valid while this object lives.
  std::string_view text() const { return {data_, size_}; }
  const std::byte* data() const { return reinterpret_cast<const std::byte*>(data_); }
  size_t size() const { return size_; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ipfs_accel::core
