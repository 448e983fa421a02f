#include "ipfs_accel/models/safetensors.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

namespace {

constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the format's own limit

[[noreturn]] void Corrupt(const std::string& path, const std::string& what) {
  throw Error(
      ErrorKind::kCorrupt,
      fmt::format("safetensors file '{}' is corrupt: {}; re-download or re-export it", path, what));
}

}  // namespace

std::unique_ptr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  try {
    file->map_ = std::make_unique<core::MappedFile>(path);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("safetensors file: {}", e.what()));
  }
  const std::byte* map = file->map_->data();
  const uint64_t size = file->map_->size();
  if (size < 8)
    Corrupt(path, fmt::format("only {} bytes, shorter than the 8-byte header length", size));

  uint64_t header_len = 0;
  std::memcpy(&header_len, map, 8);  // little-endian on every platform we build for
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    Corrupt(path,
            fmt::format("header length {} does not fit in the file of {} bytes", header_len, size));
  file->data_start_ = 8 + header_len;
  const uint64_t data_size = size - file->data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(map + 8),
                                   reinterpret_cast<const char*>(map + 8 + header_len));
  } catch (const nlohmann::json::exception& e) {
    Corrupt(path, fmt::format("header is not valid JSON ({})", e.what()));
  }
  if (!header.is_object()) Corrupt(path, "header is not a JSON object");

  try {
    for (const auto& [name, value] : header.items()) {
      if (name == "__metadata__") {
        for (const auto& [k, v] : value.items())
          if (v.is_string()) file->metadata_[k] = v.get<std::string>();
        continue;
      }
      TensorEntry entry;
      try {
        entry.dtype = core::DTypeFromSafetensors(value.at("dtype").get<std::string>());
      } catch (const Error& e) {
        throw Error(e.kind(),
                    fmt::format("safetensors file '{}', tensor '{}': {}", path, name, e.what()));
      }
      entry.shape = value.at("shape").get<core::Shape>();
      const auto offsets = value.at("data_offsets").get<std::vector<uint64_t>>();
      if (offsets.size() != 2)
        Corrupt(path, fmt::format("tensor '{}' has malformed offsets", name));
      entry.begin = offsets[0];
      entry.end = offsets[1];
      for (int64_t d : entry.shape)
        if (d < 0) Corrupt(path, fmt::format("tensor '{}' has a negative dimension", name));
      const uint64_t expected =
          static_cast<uint64_t>(core::ElementCount(entry.shape)) * core::DTypeSize(entry.dtype);
      if (entry.end < entry.begin || entry.end - entry.begin != expected)
        Corrupt(path, fmt::format("tensor '{}' spans {} bytes but shape {} of {} needs {}", name,
                                  entry.end - entry.begin, core::ShapeToString(entry.shape),
                                  core::DTypeName(entry.dtype), expected));
      if (entry.end > data_size)
        Corrupt(path, fmt::format("tensor '{}' ends at byte {} but the data section has only {} "
                                  "(file truncated?)",
                                  name, entry.end, data_size));
      file->entries_.emplace(name, std::move(entry));
    }
  } catch (const nlohmann::json::exception& e) {
    Corrupt(path, fmt::format("header entry malformed ({})", e.what()));
  }
  return file;
}

core::Tensor SafetensorsFile::Read(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw Error(ErrorKind::kNotFound,
                fmt::format("tensor '{}' is not in safetensors file '{}'", name, path_));
  core::Tensor t;
  t.dtype = it->second.dtype;
  t.shape = it->second.shape;
  const std::byte* begin = map_->data() + data_start_ + it->second.begin;
  t.bytes.assign(begin, begin + (it->second.end - it->second.begin));
  return t;
}

void WriteSafetensors(const std::string& path, const std::map<std::string, core::Tensor>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header[name] = {{"dtype", core::DTypeToSafetensors(t.dtype)},
                    {"shape", t.shape},
                    {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // align the data section
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t len = text.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
  if (!out.flush())
    throw Error(ErrorKind::kIo, fmt::format("cannot write safetensors file '{}'", path));
}

}  // namespace ipfs_accel::models
