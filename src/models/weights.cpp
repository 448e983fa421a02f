#include "weights.h"

#include <cmath>
#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/float16.h"
#include "ipfs_accel/core/json.h"
#include "model_folder.h"

namespace ipfs_accel::models {

using core::DType;
using core::Error;
using core::ErrorKind;
using core::Tensor;

Tensor WeightProvider::Get(const std::string& name, const core::Shape& shape, WeightInit init) {
  static_cast<void>(core::ElementCount(shape));  // checks the shape before Fetch
  Tensor t = Fetch(name, shape, init);
  Count(name, shape);
  return t;
}

void WeightProvider::Count(const std::string& name, const core::Shape& shape) {
  const int64_t elements = core::ElementCount(shape);
  if (seen_.insert(name).second &&
      __builtin_add_overflow(parameter_count_, elements, &parameter_count_))
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("the config asks for more parameters than 64 bits count (at weight "
                            "'{}' of shape {})",
                            name, core::ShapeToString(shape)));
}

std::set<std::string> ShardNames(const nlohmann::json& index, const std::string& index_path) {
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}' has no weight_map object (tensor name -> shard file)", index_path));
  std::set<std::string> shards;
  for (const auto& [name, file] : index["weight_map"].items()) {
    if (!file.is_string())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': weight_map maps '{}' to a {}, not a shard file name",
                              index_path, name, file.type_name()));
    shards.insert(file.get<std::string>());
  }
  if (shards.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' has an empty weight_map: it names no shard", index_path));
  return shards;
}

SafetensorsWeights::SafetensorsWeights(const std::string& dir, std::vector<std::string> prefixes,
                                       std::vector<std::string> optional_prefixes)
    : dir_(dir), prefixes_(std::move(prefixes)), optional_prefixes_(std::move(optional_prefixes)) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  if (fs::exists(fs::symlink_status(single, ec))) {
    files_.push_back(
        SafetensorsFile::Open(ResolveInModelFolder(dir, "model.safetensors", "the model folder")));
    return;
  }
  if (!fs::exists(fs::symlink_status(index, ec)))
    throw Error(ErrorKind::kNotFound,
                fmt::format("no model.safetensors (or model.safetensors.index.json) in '{}'; "
                            "save the model with safe_serialization=True",
                            dir));
  const nlohmann::json json = core::ReadJsonFile(
      ResolveInModelFolder(dir, "model.safetensors.index.json", "the model folder"));
  for (const auto& shard : ShardNames(json, index.string()))
    files_.push_back(SafetensorsFile::Open(ResolveInModelFolder(dir, shard, index.string())));
}

std::vector<std::string> SafetensorsWeights::files() const {
  std::vector<std::string> out;
  for (const auto& f : files_) out.push_back(f->path());
  return out;
}

namespace {
Tensor ToFloat32(Tensor t) {
  if (t.dtype == DType::kFloat32) return t;
  if (t.dtype != DType::kFloat16 && t.dtype != DType::kBFloat16 && t.dtype != DType::kFloat64)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("weights of type {} are not supported", core::DTypeName(t.dtype)));
  const std::vector<double> values = t.ToDoubles();
  Tensor out = Tensor::Zeros(DType::kFloat32, t.shape);
  auto dst = out.values<float>();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<float>(values[i]);
  return out;
}
}  // namespace

std::vector<std::string> SafetensorsWeights::CandidateNames(const std::string& name) const {
  std::vector<std::string> candidates;
  for (const auto& p : prefixes_) candidates.push_back(p + name);
  candidates.push_back(name);
  for (const auto& p : optional_prefixes_)
    if (name.rfind(p, 0) == 0) candidates.push_back(name.substr(p.size()));
  return candidates;
}

Tensor SafetensorsWeights::Fetch(const std::string& name, const core::Shape& shape, WeightInit) {
  for (const auto& candidate : CandidateNames(name)) {
    for (const auto& file : files_) {
      if (!file->Has(candidate)) continue;
      const auto& entry = file->entries().at(candidate);
      if (entry.shape != shape)
        throw Error(ErrorKind::kCorrupt,
                    fmt::format("weight '{}' in '{}' has shape {}, but config.json implies {}; the "
                                "checkpoint and its config do not match",
                                candidate, file->path(), core::ShapeToString(entry.shape),
                                core::ShapeToString(shape)));
      return ToFloat32(file->Read(candidate));
    }
  }
  throw Error(ErrorKind::kCorrupt,
              fmt::format("the checkpoint in '{}' lacks weight '{}' that its config.json needs",
                          dir_, name));
}

namespace {
// splitmix64: a fast, well-mixed generator; seeds differ per weight name.
struct SplitMix64 {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};
uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}
}  // namespace

Tensor SeededRandomWeights::Fetch(const std::string& name, const core::Shape& shape,
                                  WeightInit init) {
  Tensor t = Tensor::Zeros(DType::kFloat32, shape);
  auto v = t.values<float>();
  if (init == WeightInit::kOnes) {
    std::fill(v.begin(), v.end(), 1.0f);
  } else if (init == WeightInit::kNormal) {
    // Sum of two uniforms (triangular): cheap, bounded, and with the requested stddev.
    SplitMix64 rng{seed_ ^ Fnv1a(name)};
    const double scale = stddev_ * std::sqrt(6.0);  // var of (u1+u2-1) is 1/6
    for (auto& x : v) {
      const double u1 = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
      const double u2 = static_cast<double>(rng.Next() >> 11) * 0x1.0p-53;
      x = static_cast<float>((u1 + u2 - 1.0) * scale);
    }
  }
  return t;
}

}  // namespace ipfs_accel::models
