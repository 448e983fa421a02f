#pragma once
// The models a server offers, by the name requests use. Each names a model as the models layer
// takes it (models/model.h): a catalog name ("bert-tiny"), a Hugging Face folder, an .onnx
// file, "template:NAME", or any of these with ":component". Registering checks that the spec
// names something (its config or file is found) without building the graph; the resource pool
// builds it when a request first needs it. Thread-safe.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ipfs_accel::serving {

struct ModelSource {
  std::string name;    // what requests name; empty: the spec itself
  std::string spec;    // what models::LoadModel takes
  uint64_t seed = 42;  // random weights of catalog names and templates
};

class ModelRegistry {
 public:
  // Adds or replaces `source` and returns it with its name filled in. Throws core::Error:
  // kInvalidArgument (an empty spec, or a name with '/' or whitespace, which a URL path cannot
  // carry as one segment), and what models::LoadModel throws for a spec that names nothing
  // (kNotFound, kCorrupt).
  ModelSource Register(ModelSource source);
  // Whether it was there.
  bool Unregister(const std::string& name);
  std::optional<ModelSource> Find(const std::string& name) const;
  // Throws core::Error(kNotFound) naming the registered models (and the closest to `name`).
  ModelSource Get(const std::string& name) const;
  std::vector<ModelSource> List() const;  // by name

 private:
  mutable std::mutex mutex_;
  std::map<std::string, ModelSource> sources_;
};

}  // namespace ipfs_accel::serving
