#pragma once
// Where a graph builder gets its weights: a checkpoint (safetensors, sharded or
// not) or seeded random values at the same shapes. Builders ask by the Hugging
// Face parameter name and the shape the config implies; a checkpoint whose shape
// differs is an error, never silently reshaped.

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/safetensors.h"

namespace ipfs_accel::models {

// How HF initialises a parameter; used only for seeded random weights.
enum class WeightInit { kNormal, kOnes, kZeros };

class WeightProvider {
 public:
  virtual ~WeightProvider() = default;
  // Returns the float32 weight `name` of `shape`. Throws core::Error(kCorrupt) when a
  // checkpoint lacks it or has another shape.
  core::Tensor Get(const std::string& name, const core::Shape& shape, WeightInit init);
  // Parameters handed out so far, each distinct name counted once (tied weights once).
  int64_t parameter_count() const { return parameter_count_; }
  // Counts a parameter whose values the builder computes rather than reads (a frozen
  // sinusoidal table, GraphBuilder::FrozenParameter), once per name like Get().
  void Count(const std::string& name, const core::Shape& shape);
  // A buffer (BatchNorm running statistics, a frozen BatchNorm's affine terms): read like a
  // weight but not counted, as HF counts only nn.Parameters.
  core::Tensor GetBuffer(const std::string& name, const core::Shape& shape, WeightInit init) {
    return Fetch(name, shape, init);
  }

 protected:
  virtual core::Tensor Fetch(const std::string& name, const core::Shape& shape,
                             WeightInit init) = 0;

 private:
  std::set<std::string> seen_;
  int64_t parameter_count_ = 0;
};

// The shard files a model.safetensors.index.json names (its weight_map's values), unchecked
// as paths: ResolveInModelFolder checks each. Throws core::Error(kCorrupt) naming
// `index_path` for a missing or empty weight_map and for a value that is not a file name.
std::set<std::string> ShardNames(const nlohmann::json& index, const std::string& index_path);

// Weights from the safetensors files of a HF folder. `prefixes` are tried in turn
// before the bare name (e.g. "bert." for a BertForMaskedLM checkpoint); then, for a name that
// starts with one of `optional_prefixes`, the name without it (a standalone CLIPTextModel saved
// without "text_model.", as transformers loads it too).
class SafetensorsWeights : public WeightProvider {
 public:
  // Opens DIR/model.safetensors, or the shards listed in DIR/model.safetensors.index.json.
  // Throws core::Error(kNotFound/kCorrupt).
  SafetensorsWeights(const std::string& dir, std::vector<std::string> prefixes,
                     std::vector<std::string> optional_prefixes = {});
  // The weight files opened, for content hashing.
  std::vector<std::string> files() const;

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape, WeightInit init) override;

 private:
  // The names `name` may have in the checkpoint, in the order they are tried.
  std::vector<std::string> CandidateNames(const std::string& name) const;

  std::string dir_;
  std::vector<std::string> prefixes_, optional_prefixes_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
};

// Seeded random weights: normal-like values with the config's initializer_range for
// kNormal (HF's init), ones/zeros for LayerNorm and biases. The same seed and name
// give the same values on every machine.
class SeededRandomWeights : public WeightProvider {
 public:
  SeededRandomWeights(uint64_t seed, double stddev) : seed_(seed), stddev_(stddev) {}

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape, WeightInit init) override;

 private:
  uint64_t seed_;
  double stddev_;
};

// Weights with shapes but no data: builds a graph's structure to count its
// parameters at sizes too large to materialise (a 7B model). Such a graph cannot run.
class ShapeOnlyWeights : public WeightProvider {
 protected:
  core::Tensor Fetch(const std::string&, const core::Shape& shape, WeightInit) override {
    return core::Tensor{core::DType::kFloat32, shape, {}};
  }
};

}  // namespace ipfs_accel::models
