#include "ipfs_accel/runtime/tensor_envelope.h"

#include <cstring>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ipfs_accel::runtime {

namespace {

constexpr core::DType kDTypes[] = {
    core::DType::kFloat32, core::DType::kFloat16, core::DType::kBFloat16, core::DType::kFloat64,
    core::DType::kInt64,   core::DType::kInt32,   core::DType::kInt16,    core::DType::kInt8,
    core::DType::kUInt8,   core::DType::kBool};

std::optional<core::DType> DTypeNamed(const std::string& name) {
  for (core::DType d : kDTypes)
    if (name == core::DTypeName(d)) return d;
  return std::nullopt;
}

}  // namespace

std::string EncodeEnvelope(const std::string& header_json,
                           const std::map<std::string, core::Tensor>& tensors) {
  nlohmann::json header = nlohmann::json::parse(header_json);
  header["tensors"] = nlohmann::json::array();
  size_t offset = 0;
  for (const auto& [name, t] : tensors) {
    header["tensors"].push_back({{"name", name},
                                 {"dtype", core::DTypeName(t.dtype)},
                                 {"shape", t.shape},
                                 {"offset", offset},
                                 {"length", t.bytes.size()}});
    offset += t.bytes.size();
  }
  const std::string text = header.dump();
  std::string out(4, '\0');
  const uint32_t n = static_cast<uint32_t>(text.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.reserve(4 + text.size() + offset);
  out += text;
  for (const auto& [name, t] : tensors)
    out.append(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size());
  return out;
}

Envelope DecodeEnvelope(const std::string& body, const std::string& source, core::ErrorKind kind) {
  auto bad = [&](const std::string& why) {
    return core::Error(kind, fmt::format("{} is not a tensor envelope: {}", source, why));
  };
  if (body.size() < 4) throw bad("shorter than its 4-byte header length");
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<uint32_t>(static_cast<unsigned char>(body[i])) << (8 * i);
  if (body.size() - 4 < size_t{n}) throw bad("the header is cut short");
  Envelope e;
  e.header_json = body.substr(4, n);
  const size_t base = 4 + size_t{n}, data = body.size() - base;
  const nlohmann::json header = nlohmann::json::parse(e.header_json, nullptr, false);
  if (!header.is_object()) throw bad("its header is not a JSON object");
  try {
    for (const auto& t : header.value("tensors", nlohmann::json::array())) {
      const std::string name = t.at("name").get<std::string>();
      const std::optional<core::DType> dtype = DTypeNamed(t.at("dtype").get<std::string>());
      if (!dtype) throw bad(fmt::format("tensor '{}' has an unknown dtype", name));
      core::Tensor tensor;
      tensor.dtype = *dtype;
      tensor.shape = t.at("shape").get<core::Shape>();
      const uint64_t offset = t.at("offset").get<uint64_t>();
      const uint64_t length = t.at("length").get<uint64_t>();
      if (offset > data || length > data - offset)
        throw bad(fmt::format("tensor '{}' runs past the end", name));
      int64_t count = 0;
      try {
        count = core::ElementCount(tensor.shape);
      } catch (const core::Error&) {
        throw bad(fmt::format("tensor '{}' has shape {}", name, t.at("shape").dump()));
      }
      if (length != static_cast<uint64_t>(count) * core::DTypeSize(tensor.dtype))
        throw bad(fmt::format("tensor '{}' has {} bytes for shape {}", name, length,
                              core::ShapeToString(tensor.shape)));
      tensor.bytes.resize(length);
      std::memcpy(tensor.bytes.data(), body.data() + base + offset, length);
      if (!e.tensors.emplace(name, std::move(tensor)).second)
        throw bad(fmt::format("tensor '{}' is given twice", name));
    }
  } catch (const nlohmann::json::exception& x) {
    throw bad(x.what());
  }
  return e;
}

}  // namespace ipfs_accel::runtime
