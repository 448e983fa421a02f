#include "ipfs_accel/models/safetensors.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/json.h"

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

namespace {

// A header's non-negative integer (a dimension or an offset); JSON's 2.5 and -1 are not.
uint64_t HeaderCount(const nlohmann::json& v, const std::string& path, const std::string& what) {
  if (!v.is_number_unsigned())
    Corrupt(path, fmt::format("{} is {}, not a non-negative integer", what, core::JsonExcerpt(v)));
  return v.get<uint64_t>();
}

TensorEntry ParseEntry(const std::string& name, const nlohmann::json& value,
                       const std::string& path) {
  if (!value.is_object() || !value.contains("dtype") || !value.contains("shape") ||
      !value.contains("data_offsets"))
    Corrupt(path,
            fmt::format("tensor '{}' is malformed: it lacks dtype, shape or data_offsets", name));
  const nlohmann::json& dtype = value["dtype"];
  if (!dtype.is_string())
    Corrupt(path,
            fmt::format("tensor '{}' has dtype {}, not a name", name, core::JsonExcerpt(dtype)));
  TensorEntry entry;
  try {
    entry.dtype = core::DTypeFromSafetensors(dtype.get<std::string>());
  } catch (const Error& e) {
    throw Error(e.kind(),
                fmt::format("safetensors file '{}', tensor '{}': {}", path, name, e.what()));
  }
  const nlohmann::json& shape = value["shape"];
  const nlohmann::json& offsets = value["data_offsets"];
  if (!shape.is_array())
    Corrupt(path, fmt::format("tensor '{}' has a shape that is no list", name));
  if (!offsets.is_array() || offsets.size() != 2)
    Corrupt(path, fmt::format("tensor '{}' has data_offsets that are not [begin, end]", name));
  // The byte count, with every product checked: a shape of huge dimensions overflows 64 bits.
  uint64_t bytes = core::DTypeSize(entry.dtype);
  bool overflow = false;
  for (const auto& d : shape) {
    const uint64_t dim = HeaderCount(d, path, fmt::format("a dimension of tensor '{}'", name));
    if (dim > static_cast<uint64_t>(INT64_MAX)) overflow = true;
    entry.shape.push_back(static_cast<int64_t>(dim));
    overflow = overflow || __builtin_mul_overflow(bytes, dim, &bytes);
  }
  if (overflow)
    Corrupt(path, fmt::format("tensor '{}' has shape {} whose size overflows 64 bits", name,
                              core::JsonExcerpt(shape)));
  entry.begin = HeaderCount(offsets[0], path, fmt::format("the begin offset of tensor '{}'", name));
  entry.end = HeaderCount(offsets[1], path, fmt::format("the end offset of tensor '{}'", name));
  if (entry.end < entry.begin)
    Corrupt(path, fmt::format("tensor '{}' ends at byte {}, before it begins at byte {}", name,
                              entry.end, entry.begin));
  if (entry.end - entry.begin != bytes)
    Corrupt(path, fmt::format("tensor '{}' spans {} bytes but shape {} of {} needs {}", name,
                              entry.end - entry.begin, core::ShapeToString(entry.shape),
                              core::DTypeName(entry.dtype), bytes));
  return entry;
}

// As the format's reference implementation requires: the tensors, in the order of their
// offsets, tile the data section from its first byte to its last, with no gap and no overlap.
void CheckLayout(const std::map<std::string, TensorEntry>& entries, uint64_t data_size,
                 const std::string& path) {
  std::vector<std::pair<const std::string*, const TensorEntry*>> order;
  for (const auto& [name, entry] : entries) order.emplace_back(&name, &entry);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second->begin, a.second->end) < std::tie(b.second->begin, b.second->end);
  });
  uint64_t next = 0;
  const std::string* last = nullptr;
  for (const auto& [name, entry] : order) {
    if (entry->begin != next)
      Corrupt(path, fmt::format("tensor '{}' begins at byte {} of the data section where {} "
                                "(overlapping or with a gap before it)",
                                *name, entry->begin,
                                next == 0 ? "the first tensor must begin at 0"
                                          : fmt::format("the one before it ends at {}", next)));
    next = entry->end;
    last = name;
  }
  if (next > data_size)
    Corrupt(path, fmt::format("tensor '{}' ends at byte {} but the data section has only {} "
                              "(file truncated?)",
                              *last, next, data_size));
  if (next < data_size)
    Corrupt(path, fmt::format("its tensors end at byte {} of a data section of {} bytes "
                              "(bytes that belong to no tensor)",
                              next, data_size));
}

}  // namespace

SafetensorsLayout ParseSafetensors(std::span<const std::byte> file, const std::string& path) {
  const uint64_t size = file.size();
  if (size < 8)
    Corrupt(path, fmt::format("only {} bytes, shorter than the 8-byte header length", size));
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian on every platform we build for
  if (header_len > kMaxHeaderBytes || header_len > size - 8)
    Corrupt(path,
            fmt::format("header length {} does not fit in the file of {} bytes", header_len, size));
  const std::string_view text(reinterpret_cast<const char*>(file.data()) + 8, header_len);
  if (text.empty() || text.front() != '{')
    Corrupt(path, "header is not a JSON object (it does not begin with '{')");
  nlohmann::json header;
  try {
    header = core::ParseJson(text, path + " header");
  } catch (const Error& e) {
    Corrupt(path, e.what());
  }
  if (!header.is_object()) Corrupt(path, "header is not a JSON object");

  SafetensorsLayout layout;
  layout.data_start = 8 + header_len;
  for (const auto& [name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) Corrupt(path, "__metadata__ is not an object of strings");
      for (const auto& [k, v] : value.items()) {
        if (!v.is_string())
          Corrupt(path,
                  fmt::format("__metadata__ '{}' is {}, not a string", k, core::JsonExcerpt(v)));
        layout.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    layout.entries.emplace(name, ParseEntry(name, value, path));
  }
  CheckLayout(layout.entries, size - layout.data_start, path);
  return layout;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  try {
    file->map_ = std::make_unique<core::MappedFile>(path);
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("safetensors file: {}", e.what()));
  }
  SafetensorsLayout layout = ParseSafetensors({file->map_->data(), file->map_->size()}, path);
  file->data_start_ = layout.data_start;
  file->entries_ = std::move(layout.entries);
  file->metadata_ = std::move(layout.metadata);
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
