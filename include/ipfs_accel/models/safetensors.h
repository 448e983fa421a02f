#pragma once
// Reads safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
// little-endian header length, a JSON header naming each tensor's dtype, shape
// and byte range, then the data. The file is memory-mapped; Read() copies one
// tensor out. Every offset is validated on Open(), so a truncated or corrupt file
// fails there with a core::Error(kCorrupt) naming the file, not later.

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ipfs_accel/core/mapped_file.h"
#include "ipfs_accel/core/tensor.h"

namespace ipfs_accel::models {

struct TensorEntry {
  core::DType dtype;
  core::Shape shape;
  uint64_t begin = 0;  // offsets into the data section
  uint64_t end = 0;
};

// A safetensors file's header, validated against its bytes as the format's reference
// implementation does: header length within the file and under 100 MB, a JSON object
// beginning with '{', known dtypes, dimensions and offsets non-negative integers, byte
// counts without overflow, and tensors that tile the data section exactly (in offset order,
// the first at 0, each beginning where the one before ends, the last at the end of the file).
struct SafetensorsLayout {
  size_t data_start = 0;  // file offset of the data section
  std::map<std::string, TensorEntry> entries;
  std::map<std::string, std::string> metadata;
};
// Throws core::Error: kCorrupt naming `path` and what is wrong; kUnsupported for a dtype we
// cannot read.
SafetensorsLayout ParseSafetensors(std::span<const std::byte> file, const std::string& path);

class SafetensorsFile {
 public:
  // Throws core::Error: kNotFound (no file), kInvalidArgument (not a regular file),
  // kCorrupt (ParseSafetensors), kIo.
  static std::unique_ptr<SafetensorsFile> Open(const std::string& path);
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, TensorEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Has(const std::string& name) const { return entries_.count(name) != 0; }

  // Throws core::Error(kNotFound) if the tensor is absent.
  core::Tensor Read(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  std::unique_ptr<core::MappedFile> map_;
  size_t data_start_ = 0;
  std::map<std::string, TensorEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors to a safetensors file (for fixtures made by tests and exports).
void WriteSafetensors(const std::string& path, const std::map<std::string, core::Tensor>& tensors);

}  // namespace ipfs_accel::models
