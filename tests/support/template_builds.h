#pragma once
// Test helpers: architecture templates built without weights, so tests can count their
// parameters, read their weight names and compare with catalog_truth.json.

#include <fstream>
#include <set>
#include <string>

#include <onnx/onnx_pb.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/models/hf_config.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/models/templates.h"
#include "models/architectures.h"
#include "models/graph_builder.h"
#include "models/weights.h"

namespace ipfs_accel::testing {

// catalog_truth.json's `column` ("base_params", "causal_lm_params") for `type`; -1 where the
// file, the type or a number there is missing.
inline int64_t CatalogTruth(const std::string& type, const std::string& column) {
  std::ifstream in(std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-catalog/catalog_truth.json");
  if (!in.good()) return -1;
  const nlohmann::json row = nlohmann::json::parse(in)["models"][type];
  return row.contains(column) && row[column].is_number() ? row[column].get<int64_t>() : -1;
}

// The template's parameter count at HF's default config; -1 without a template.
inline int64_t DefaultCount(const std::string& type) {
  const models::ArchitectureTemplate* t = models::FindTemplate(type);
  return t ? models::CountParameters(models::DefaultConfig(*t)) : -1;
}

// The serialized tiny graph of `type` with `keys` over its tiny config.
inline std::string TinyGraph(const std::string& type,
                             const nlohmann::json& keys = nlohmann::json::object()) {
  nlohmann::json config = models::TinyConfig(*models::FindTemplate(type)).json();
  for (const auto& [k, v] : keys.items()) config[k] = v;
  return models::LoadConfig(models::HfConfig(config, "test:" + type), "template:" + type)
      .onnx_bytes;
}

// Records the names a graph asks for.
class NameRecorder : public models::ShapeOnlyWeights {
 public:
  std::set<std::string> names;

 protected:
  core::Tensor Fetch(const std::string& name, const core::Shape& shape,
                     models::WeightInit init) override {
    names.insert(name);
    return ShapeOnlyWeights::Fetch(name, shape, init);
  }
};

// `overrides` over the template's defaults, as a config.json would give them.
inline models::HfConfig TemplateConfig(const std::string& type, const nlohmann::json& overrides) {
  nlohmann::json config = models::DefaultConfig(*models::FindTemplate(type)).json();
  config.update(overrides);
  return models::ApplyTemplate(*models::FindTemplate(type), models::HfConfig(config, type));
}

// The weight names the registered architecture of `type` asks for at that config.
inline std::set<std::string> TemplateWeightNames(const std::string& type,
                                                 const nlohmann::json& overrides) {
  NameRecorder recorder;
  onnx::GraphProto graph;
  models::GraphBuilder g(&graph, &recorder);
  models::FindArchitecture(type, "test").build(TemplateConfig(type, overrides), g);
  return recorder.names;
}

// A graph built by the registered architecture for `config` (its template applied), with
// shape-only weights, and its parameter count.
struct BuiltGraph {
  onnx::ModelProto proto;
  int64_t parameters = 0;
};

inline BuiltGraph BuildRegistered(const nlohmann::json& config) {
  BuiltGraph b;
  models::ShapeOnlyWeights weights;
  models::GraphBuilder builder(b.proto.mutable_graph(), &weights);
  const models::HfConfig c(config, "test-config");
  models::FindArchitecture(c.ModelType(), c.origin()).build(c, builder);
  b.parameters = weights.parameter_count();
  return b;
}

}  // namespace ipfs_accel::testing
