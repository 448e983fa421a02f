#pragma once
// The inference endpoints: POST /api/infer/{model} (JSON or the binary tensor envelope in and
// out, text through the model's tokenizer.json), POST /api/models (register a model, bearer
// token), GET /api/pool (the resource pool's snapshot) and GET /metrics (Prometheus text).
// Requests run through serving::ResourcePool; its refusals map to 503 with Retry-After (queue
// full, stopping, memory held by busy sessions) and 408 (deadline).

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "ipfs_accel/server/route.h"
#include "ipfs_accel/serving/model_registry.h"
#include "ipfs_accel/serving/resource_pool.h"
#include "ipfs_accel/serving/tokenizer.h"

namespace ipfs_accel::server {

// What a request may name when a model is registered without a name: a folder's or file's
// last path component without ".onnx" ("/m/hf-tiny/bert" -> "bert", "x/model.onnx" ->
// "model"); a catalog name or template spec as it is.
std::string DefaultModelName(const std::string& spec);

// The models a server offers and their tokenizers. Thread-safe.
class ServedModels {
 public:
  // `registry` and `pool` must outlive this.
  ServedModels(serving::ModelRegistry& registry, serving::ResourcePool& pool)
      : registry_(registry), pool_(pool) {}

  // Registers `source` (an empty name: DefaultModelName(spec)) with the tokenizer.json beside
  // it, when there is one (in a folder spec; beside an .onnx file). Throws what
  // ModelRegistry::Register and Tokenizer::FromFile throw.
  serving::ModelSource Add(serving::ModelSource source);
  // Null when the model has none.
  std::shared_ptr<const serving::Tokenizer> TokenizerOf(const std::string& name) const;

  serving::ModelRegistry& registry() { return registry_; }
  serving::ResourcePool& pool() { return pool_; }

 private:
  serving::ModelRegistry& registry_;
  serving::ResourcePool& pool_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const serving::Tokenizer>> tokenizers_;
};

struct ServerCounters;  // http_server.h

// POST /api/infer/{model}, POST /api/models, GET /api/pool, GET /metrics (with the HTTP server's
// counters after the pool's when `http` is given; it must outlive the table).
void AddInferenceRoutes(RouteTable& table, ServedModels& models,
                        const ServerCounters* http = nullptr);

}  // namespace ipfs_accel::server
