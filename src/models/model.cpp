#include "ipfs_accel/models/model.h"

#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "architectures.h"
#include "content_hash.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/models/catalog.h"
#include "onnx_file.h"
#include "weights.h"

namespace ipfs_accel::models {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

namespace {

// Builds `arch` into a checked, shape-inferred, serialized model.
std::string BuildChecked(const Architecture& arch, const HfConfig& config, WeightProvider& weights,
                         const std::string& graph_name, bool fused) {
  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("ipfs-accelerate");
  auto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpsetVersion);
  auto* graph = proto.mutable_graph();
  graph->set_name(graph_name);
  GraphBuilder builder(graph, &weights, fused);
  arch.build(config, builder);
  for (const auto& domain : builder.domains()) {
    auto* import = proto.add_opset_import();
    import->set_domain(domain);
    import->set_version(1);
  }
  try {
    onnx::checker::check_model(proto);
    // ONNX has no schemas for contrib ops: infer strictly only where every op is standard.
    const int error_mode = builder.domains().empty() ? 1 : 0;
    onnx::shape_inference::InferShapes(proto, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, error_mode, false));
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kInternal, fmt::format("the {} graph built from '{}' fails ONNX "
                                                  "checks: {}",
                                                  arch.model_type, config.origin(), e.what()));
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes))
    throw Error(ErrorKind::kInternal,
                fmt::format("the {} graph is too large to serialize (over 2 GB)", arch.model_type));
  return bytes;
}

Model FromCatalog(const CatalogEntry& entry, const LoadOptions& options) {
  const Architecture& arch = FindArchitecture(entry.architecture, entry.config.origin());
  SeededRandomWeights weights(options.seed, entry.config.Double("initializer_range", 0.02));
  Model m;
  m.onnx_bytes = BuildChecked(arch, entry.config, weights, entry.name, options.fused);
  m.fused = options.fused;
  m.info = {entry.name,
            entry.architecture,
            arch.modality,
            "catalog",
            "",
            weights.parameter_count(),
            fmt::format("seed:{}", options.seed)};
  m.input_hints = arch.input_hints(entry.config);
  m.dim_roles = arch.dim_roles(entry.config);
  return m;
}

}  // namespace

Model LoadHfFolder(const std::string& dir, const LoadOptions& options) {
  const HfConfig config = HfConfig::Load(dir);
  const Architecture& arch = FindArchitecture(config.ModelType(), config.origin());
  SafetensorsWeights weights(dir, arch.checkpoint_prefixes);
  Model m;
  const std::string name = fs::path(dir).lexically_normal().filename().string().empty()
                               ? fs::path(dir).lexically_normal().parent_path().filename().string()
                               : fs::path(dir).lexically_normal().filename().string();
  m.onnx_bytes = BuildChecked(arch, config, weights, name, options.fused);
  m.fused = options.fused;
  m.info = {name,
            config.ModelType(),
            arch.modality,
            "hf-folder",
            fs::absolute(dir).string(),
            weights.parameter_count(),
            Sha256OfFiles(weights.files())};
  m.input_hints = arch.input_hints(config);
  m.dim_roles = arch.dim_roles(config);
  return m;
}

int64_t CountParameters(const std::string& spec) {
  std::error_code ec;
  const bool folder = fs::is_directory(spec, ec);
  std::optional<CatalogEntry> entry;
  if (!folder) {
    entry = FindInCatalog(spec);
    if (!entry)
      throw Error(ErrorKind::kNotFound,
                  fmt::format("'{}' is neither a Hugging Face folder nor a catalog name", spec));
  }
  const HfConfig config = folder ? HfConfig::Load(spec) : entry->config;
  const Architecture& arch = FindArchitecture(config.ModelType(), config.origin());
  ShapeOnlyWeights weights;
  onnx::GraphProto graph;
  GraphBuilder builder(&graph, &weights);
  arch.build(config, builder);
  return weights.parameter_count();
}

Model LoadModel(const std::string& spec, const LoadOptions& options) {
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return LoadHfFolder(spec, options);
  if (fs::is_regular_file(spec, ec)) {
    if (fs::path(spec).extension() == ".onnx") return LoadOnnxFile(spec);
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}' is a file but not an .onnx model; pass an .onnx file, a Hugging "
                            "Face folder, or a catalog name",
                            spec));
  }
  if (auto entry = FindInCatalog(spec)) return FromCatalog(*entry, options);
  std::vector<std::string> names;
  for (const auto& e : Catalog()) names.push_back(e.name);
  throw Error(ErrorKind::kNotFound,
              fmt::format("model '{}' is neither a file, a folder, nor a catalog name (catalog: "
                          "{}); check the path",
                          spec, fmt::join(names, ", ")));
}

}  // namespace ipfs_accel::models
