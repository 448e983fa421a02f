#include "ipfs_accel/models/model.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include <filesystem>
#include <fstream>
#include <optional>

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/shape_inference/implementation.h>

#include "architectures.h"
#include "content_hash.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/file_access.h"
#include "ipfs_accel/models/catalog.h"
#include "onnx_file.h"
#include "precision_rewrite.h"
#include "weights.h"

namespace ipfs_accel::models {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

namespace {

// Protobuf cannot serialize a message over 2 GB (TinyLlama's 1.1B float32 weights are
// 4.4 GB): such a graph keeps its large initializers in one file beside the model (ONNX
// external data), in a fresh temporary folder that ORT loads by path and that is removed
// when the last copy of the Model goes.
constexpr size_t kInlineLimit = (size_t{1} << 31) - (size_t{64} << 20);

void WriteWithExternalData(onnx::ModelProto& proto, const std::string& graph_name, Model& m) {
  std::string safe = graph_name;
  std::replace_if(
      safe.begin(), safe.end(), [](char c) { return !std::isalnum(c) && c != '-' && c != '.'; },
      '_');
  const fs::path dir =
      fs::temp_directory_path() / fmt::format("ipfs-accelerate-{}-{}", ::getpid(), safe);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec)
    throw Error(ErrorKind::kIo, fmt::format("cannot create '{}' for the weights of a graph over "
                                            "2 GB: {}",
                                            dir.string(), ec.message()));
  m.files_owner = std::shared_ptr<void>(nullptr, [dir](void*) {
    std::error_code ignored;
    fs::remove_all(dir, ignored);
  });
  std::ofstream data(dir / "weights.bin", std::ios::binary);
  uint64_t offset = 0;
  for (auto& t : *proto.mutable_graph()->mutable_initializer()) {
    if (t.raw_data().size() < 4096) continue;
    const std::string& bytes = t.raw_data();
    data.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    t.set_data_location(onnx::TensorProto::EXTERNAL);
    for (const auto& [key, value] : {std::pair<std::string, std::string>{"location", "weights.bin"},
                                     {"offset", std::to_string(offset)},
                                     {"length", std::to_string(bytes.size())}}) {
      auto* entry = t.add_external_data();
      entry->set_key(key);
      entry->set_value(value);
    }
    offset += bytes.size();
    t.clear_raw_data();
  }
  if (!data.flush())
    throw Error(ErrorKind::kIo, fmt::format("cannot write weights to '{}' (disk full?)",
                                            (dir / "weights.bin").string()));
  const fs::path model = dir / "model.onnx";
  std::ofstream out(model, std::ios::binary);
  if (!proto.SerializeToOstream(&out) || !out.flush())
    throw Error(ErrorKind::kIo, fmt::format("cannot write '{}' (disk full?)", model.string()));
  m.onnx_path = model.string();
}

// Builds `arch` into a checked, shape-inferred model: serialized into m.onnx_bytes, or
// written with external data to m.onnx_path when it is over protobuf's 2 GB.
void BuildChecked(const Architecture& arch, const HfConfig& config, WeightProvider& weights,
                  const std::string& graph_name, bool fused, Precision precision, Model& m) {
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
  RewritePrecision(proto, precision, graph_name);
  m.precision = precision;
  if (proto.ByteSizeLong() > kInlineLimit) {
    WriteWithExternalData(proto, graph_name, m);
    return;
  }
  if (!proto.SerializeToString(&m.onnx_bytes))
    throw Error(ErrorKind::kInternal,
                fmt::format("the {} graph could not be serialized", arch.model_type));
}

// The architecture and config to build: the model's own, or one of its components'.
struct BuildTarget {
  const Architecture* arch;
  HfConfig config;
};

BuildTarget ResolveComponent(const HfConfig& config, const std::string& component,
                             const std::string& model_name) {
  const Architecture& arch = FindArchitecture(config.ModelType(), config.origin());
  if (component.empty()) return {&arch, config};
  std::vector<std::string> names;
  for (const Component& c : arch.components) {
    if (c.name == component)
      return {&FindArchitecture(c.model_type, config.origin()), c.config(config)};
    names.push_back(c.name);
  }
  if (names.empty())
    throw Error(ErrorKind::kNotFound,
                fmt::format("model '{}' ({}) has no components that can be built alone; name the "
                            "model without ':{}'",
                            model_name, arch.model_type, component));
  throw Error(ErrorKind::kNotFound,
              fmt::format("model '{}' ({}) has no component '{}'; its components: {}", model_name,
                          arch.model_type, component, fmt::join(names, ", ")));
}

std::string WithComponent(const std::string& name, const std::string& component) {
  return component.empty() ? name : name + ":" + component;
}

// Builds `target` from `weights`; `info` says where it came from (name, architecture, source,
// path, content hash), the rest of the description is the architecture's and the weights'.
Model Build(const BuildTarget& target, WeightProvider& weights, const LoadOptions& options,
            ModelInfo info) {
  const Architecture& arch = *target.arch;
  Model m;
  BuildChecked(arch, target.config, weights, info.name, options.fused, options.precision, m);
  m.fused = options.fused;
  info.modality = arch.modality;
  info.parameters = weights.parameter_count();
  info.family = arch.family;
  info.template_name = arch.model_type;
  info.template_version = arch.template_version;
  // nlohmann's objects keep their keys sorted, so equal configs dump to equal text.
  info.config_hash = Sha256OfText(target.config.json().dump());
  m.info = std::move(info);
  m.input_hints = arch.input_hints(target.config);
  m.dim_roles = arch.dim_roles(target.config);
  return m;
}

std::string Gigabytes(int64_t bytes) { return fmt::format("{:.1f} GB", bytes / 1e9); }

// The model's fp32 weights against options.max_weight_bytes, counted from its structure before
// anything is made or read: a config of absurd sizes, or a model too big for this machine,
// ends here.
void CheckWeightsFit(const HfConfig& config, const std::string& component, const std::string& name,
                     const LoadOptions& options) {
  if (options.max_weight_bytes <= 0) return;
  const int64_t parameters = CountParameters(config, component);
  if (parameters <= options.max_weight_bytes / 4) return;
  throw Error(ErrorKind::kUnsupported,
              fmt::format("model '{}' has {} parameters: its float32 weights need {}, more than "
                          "the {} of memory available here; pick a smaller model or a machine "
                          "with more memory",
                          name, parameters, Gigabytes(parameters * 4),
                          Gigabytes(options.max_weight_bytes)));
}

Model FromCatalog(const CatalogEntry& entry, const LoadOptions& options,
                  const std::string& component) {
  const BuildTarget target = ResolveComponent(entry.config, component, entry.name);
  CheckWeightsFit(entry.config, component, entry.name, options);
  SeededRandomWeights weights(options.seed, entry.config.Double("initializer_range", 0.02));
  return Build(target, weights, options,
               {.name = WithComponent(entry.name, component),
                .architecture = component.empty() ? entry.architecture : target.arch->model_type,
                .source = "catalog",
                .content_hash = fmt::format("seed:{}", options.seed)});
}

Model FromFolder(const std::string& dir, const LoadOptions& options, const std::string& component) {
  const HfConfig config = HfConfig::Load(dir);
  const fs::path normal = fs::path(dir).lexically_normal();
  const std::string folder_name = normal.filename().empty()
                                      ? normal.parent_path().filename().string()
                                      : normal.filename().string();
  const BuildTarget target = ResolveComponent(config, component, folder_name);
  CheckWeightsFit(config, component, folder_name, options);
  SafetensorsWeights weights(dir, target.arch->checkpoint_prefixes, target.arch->optional_prefixes);
  return Build(target, weights, options,
               {.name = WithComponent(folder_name, component),
                .architecture = component.empty() ? config.ModelType() : target.arch->model_type,
                .source = "hf-folder",
                .source_path = fs::absolute(dir).string(),
                .content_hash = Sha256OfFiles(weights.files())});
}

// "clip-vit-base-patch32:vision_model" -> {"clip-vit-base-patch32", "vision_model"}; a spec that
// names something as it is (a path, a catalog name) has no component.
std::pair<std::string, std::string> SplitComponent(const std::string& spec) {
  std::error_code ec;
  const auto colon = spec.rfind(':');
  if (colon == std::string::npos || fs::exists(spec, ec) || FindInCatalog(spec)) return {spec, ""};
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

// The config of a folder or catalog name (no component suffix). Throws kNotFound otherwise.
HfConfig ConfigOfFolderOrCatalog(const std::string& base, const std::string& spec) {
  std::error_code ec;
  if (fs::is_directory(base, ec)) return HfConfig::Load(base);
  if (auto entry = FindInCatalog(base)) return entry->config;
  throw Error(ErrorKind::kNotFound,
              fmt::format("'{}' is neither a Hugging Face folder nor a catalog name{}", spec,
                          DidYouMean(ClosestCatalogNames(base))));
}

}  // namespace

Model LoadConfig(const HfConfig& config, const std::string& name, const LoadOptions& options) {
  const BuildTarget target = ResolveComponent(config, "", name);
  CheckWeightsFit(config, "", name, options);
  SeededRandomWeights weights(options.seed, config.Double("initializer_range", 0.02));
  return Build(target, weights, options,
               {.name = name,
                .architecture = config.ModelType(),
                .source = "template",
                .content_hash = fmt::format("seed:{}", options.seed)});
}

Model LoadHfFolder(const std::string& dir, const LoadOptions& options) {
  return FromFolder(dir, options, "");
}

int64_t CountParameters(const std::string& spec) {
  const auto [base, component] = SplitComponent(spec);
  return CountParameters(ConfigOfFolderOrCatalog(base, spec), component);
}

int64_t CountParameters(const HfConfig& config, const std::string& component) {
  const BuildTarget target = ResolveComponent(config, component, config.origin());
  ShapeOnlyWeights weights;
  onnx::GraphProto graph;
  GraphBuilder builder(&graph, &weights);
  target.arch->build(target.config, builder);
  return weights.parameter_count();
}

std::vector<std::string> ComponentsOf(const std::string& spec) {
  std::error_code ec;
  if (fs::is_regular_file(spec, ec)) return {};
  const HfConfig config = ConfigOfFolderOrCatalog(spec, spec);
  std::vector<std::string> names;
  for (const Component& c : FindArchitecture(config.ModelType(), config.origin()).components)
    names.push_back(c.name);
  return names;
}

Model LoadModel(const std::string& spec, const LoadOptions& options) {
  std::error_code ec;
  if (fs::is_regular_file(spec, ec)) {
    if (fs::path(spec).extension() == ".onnx") {
      if (options.fused || options.precision != Precision::kFp32)
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}' is an .onnx file, used as it is: its fused or quantized "
                                "variants are not made here; export or quantize it with ONNX "
                                "Runtime's tools and pass that file",
                                spec));
      return LoadOnnxFile(spec);
    }
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}' is a file but not an .onnx model; pass an .onnx file, a Hugging "
                            "Face folder, or a catalog name",
                            spec));
  }
  const auto [base, component] = SplitComponent(spec);
  if (fs::is_directory(base, ec)) return FromFolder(base, options, component);
  if (auto entry = FindInCatalog(base)) return FromCatalog(*entry, options, component);
  // Something is there but is neither a file nor a folder (a FIFO, a device, a link loop):
  // say what it is rather than that it does not exist.
  if (fs::symlink_status(spec, ec).type() != fs::file_type::not_found) {
    const int fd = core::OpenRegularFile(spec);  // throws, naming what it is
    ::close(fd);
  }
  throw Error(ErrorKind::kNotFound,
              fmt::format("model '{}' is neither a file, a folder, nor a catalog name{} "
                          "(`ipfs-accelerate models` lists the catalog; check the path)",
                          spec, DidYouMean(ClosestCatalogNames(base))));
}

}  // namespace ipfs_accel::models
