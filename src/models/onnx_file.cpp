#include "onnx_file.h"

#include <climits>
#include <filesystem>
#include <set>
#include <string_view>

#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include "content_hash.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/core/mapped_file.h"

namespace ipfs_accel::models {

namespace fs = std::filesystem;
using core::Error;
using core::ErrorKind;

namespace {

bool IsIntegerType(int32_t t) {
  return t == onnx::TensorProto::INT64 || t == onnx::TensorProto::INT32 ||
         t == onnx::TensorProto::INT16 || t == onnx::TensorProto::INT8 ||
         t == onnx::TensorProto::UINT8;
}

// An integer input used as Gather indices into an initializer must stay below
// that table's first dimension; that is the only bound the graph itself states.
std::map<std::string, InputHint> HintsFromGraph(const onnx::GraphProto& graph) {
  std::map<std::string, const onnx::TensorProto*> inits;
  for (const auto& t : graph.initializer()) inits[t.name()] = &t;
  std::map<std::string, InputHint> hints;
  for (const auto& input : graph.input()) {
    if (inits.count(input.name())) continue;  // IR < 4 lists initializers as inputs
    const auto& type = input.type();
    if (!type.has_tensor_type() || !IsIntegerType(type.tensor_type().elem_type())) continue;
    std::string lower = input.name();
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.find("mask") != std::string::npos) {
      hints[input.name()] = {InputHint::Kind::kOnes, 0, 0};
      continue;
    }
    int64_t bound = 0;
    for (const auto& node : graph.node()) {
      if (node.op_type() != "Gather" || node.input_size() < 2 || node.input(1) != input.name())
        continue;
      auto it = inits.find(node.input(0));
      if (it == inits.end() || it->second->dims_size() == 0) continue;
      const int64_t rows = it->second->dims(0);
      bound = bound == 0 ? rows : std::min(bound, rows);
    }
    hints[input.name()] = bound > 0 ? InputHint{InputHint::Kind::kIndexRange, 0, bound}
                                    : InputHint{InputHint::Kind::kZeros, 0, 0};
  }
  return hints;
}

// Elements of an initializer (core::ElementCount's checks), its error naming the file and it.
int64_t ElementsOf(const onnx::TensorProto& t, const std::string& path) {
  try {
    return core::ElementCount(core::Shape(t.dims().begin(), t.dims().end()));
  } catch (const Error& e) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': initializer '{}': {}; re-export it", path, t.name(), e.what()));
  }
}

// Elements of a floating-point tensor of rank >= 1: a weight. Scalars are constants (scales,
// epsilons), and integer tensors shapes or indices, not weights.
int64_t WeightElements(const onnx::TensorProto& t, const std::string& path) {
  if (t.dims_size() == 0) return 0;
  const int32_t type = t.data_type();
  if (type != onnx::TensorProto::FLOAT && type != onnx::TensorProto::FLOAT16 &&
      type != onnx::TensorProto::BFLOAT16 && type != onnx::TensorProto::DOUBLE)
    return 0;
  return ElementsOf(t, path);
}

// The weights an exporter kept as initializers, and those it folded into Constant nodes
// (torch.onnx with do_constant_folding off, some converters): HF's parameter count.
std::vector<const onnx::TensorProto*> WeightTensors(const onnx::GraphProto& graph) {
  std::vector<const onnx::TensorProto*> out;
  for (const auto& t : graph.initializer()) out.push_back(&t);
  for (const auto& node : graph.node())
    if (node.op_type() == "Constant" && node.domain().empty())
      for (const auto& attr : node.attribute())
        if (attr.name() == "value" && attr.has_t()) out.push_back(&attr.t());
  return out;
}

int64_t ParameterCount(const onnx::GraphProto& graph, const std::string& path) {
  int64_t params = 0;
  for (const onnx::TensorProto* t : WeightTensors(graph))
    if (__builtin_add_overflow(params, WeightElements(*t, path), &params))
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': its weights hold more elements than 64 bits count", path));
  return params;
}

}  // namespace

Model DescribeOnnx(std::string_view bytes, const std::string& path) {
  onnx::ModelProto proto;
  if (bytes.size() > static_cast<size_t>(INT_MAX))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}' is {} bytes; an ONNX file over 2 GB keeps its weights as "
                            "external data, which is read by the runtime",
                            path, bytes.size()));
  if (!proto.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) || !proto.has_graph())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}' is not a valid ONNX model (protobuf parse failed or no graph); "
                            "re-export it",
                            path));
  Model m;
  m.onnx_path = fs::absolute(path).string();
  const int64_t params = ParameterCount(proto.graph(), path);
  // "model.onnx" says nothing; its folder usually names the model.
  const fs::path abs = fs::absolute(path);
  const std::string name = abs.stem() == "model" && abs.has_parent_path()
                               ? abs.parent_path().filename().string()
                               : abs.filename().string();
  m.info = {name, "onnx", "unknown", "onnx-file", m.onnx_path, params, ""};
  m.input_hints = HintsFromGraph(proto.graph());
  return m;
}

Model LoadOnnxFile(const std::string& path) {
  Model m;
  {
    const core::MappedFile file(path);
    m = DescribeOnnx(file.text(), path);
  }
  m.info.content_hash = Sha256OfFiles({path});
  return m;
}

}  // namespace ipfs_accel::models
