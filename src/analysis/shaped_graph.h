#pragma once
// A model's graph read without its weight data, every tensor sized by ONNX shape inference at
// the given input shapes (with output-shape rules for the com.microsoft operators the builders
// emit). What the memory estimate and the cost features walk. Internal to the analysis layer.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::analysis {

inline constexpr int64_t kUnknown = -1;
inline constexpr const char* kContribDomain = "com.microsoft";

class ShapedGraph {
 public:
  // Reads `model`'s graph (tensors over 4 KiB without their data), gives every graph input its
  // shape from `input_shapes` and runs shape inference. Throws core::Error: kInvalidArgument
  // when a graph input has no shape, a shape names no graph input, or a shape contradicts the
  // graph's rank or fixed dimensions; kNotFound/kCorrupt when the .onnx file cannot be read.
  // A failure of inference itself is not thrown: it is kept in inference_failure.
  ShapedGraph(const models::Model& model, const std::map<std::string, core::Shape>& input_shapes);
  ShapedGraph(const ShapedGraph&) = delete;  // types_ points into proto_
  ShapedGraph& operator=(const ShapedGraph&) = delete;

  const onnx::GraphProto& graph() const { return proto_.graph(); }
  const std::set<std::string>& initializers() const { return initializers_; }
  // The type of an initializer, graph input, node output or graph output (inferred at the
  // given shapes), of the graph or of a subgraph of its nodes (ONNX names are unique across
  // them); nullptr if none.
  const onnx::TypeProto* TypeOf(const std::string& name) const;
  // Its bytes, kUnknown unless every dimension is known.
  int64_t BytesOfTensor(const std::string& name) const;

  int64_t weights_bytes = 0;      // initializers at their dtype (sparse ones as ORT densifies them)
  int64_t inputs_bytes = 0;       // the graph inputs at the given shapes
  int64_t kv_input_bytes = 0;     // the past_key_values.* part of inputs_bytes
  std::string inference_failure;  // "" or why shape inference stopped

 private:
  // Types of `graph`'s names and, recursively, of its nodes' subgraphs'.
  void AddTypes(const onnx::GraphProto& graph);

  onnx::ModelProto proto_;
  std::set<std::string> initializers_;
  std::unordered_map<std::string, onnx::TypeProto> initializer_types_;
  std::unordered_map<std::string, const onnx::TypeProto*> types_;
};

// Overflow saturates at INT64_MAX: a size that large is "too big" either way.
int64_t SaturatingAdd(int64_t a, int64_t b);
int64_t SaturatingMul(int64_t a, int64_t b);
// Bytes per element of an ONNX element type; kUnknown for strings and undefined.
int64_t ElementBytes(int32_t type);
int64_t BytesOf(int32_t type, const core::Shape& shape);
int64_t TensorBytes(const onnx::TensorProto& t);
// kUnknown unless the type is a tensor whose every dimension has a value.
int64_t TypeBytes(const onnx::TypeProto* type);
bool IsKvCacheName(const std::string& name);
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const std::string& name);
// The dimensions of a tensor type, kUnknown where a dimension has no value.
core::Shape KnownDims(const onnx::TypeProto* type);
// Constant nodes, and nodes that read only weights (the fused encoder's merged QKV weight, a
// weight's Cast): ONNX Runtime folds them into initializers when it loads the graph, so they
// cost no time and hold no activation memory while it runs. `constants` holds the
// initializers and the outputs of nodes folded so far.
bool IsFoldedByTheRuntime(const onnx::NodeProto& node,
                          const std::unordered_set<std::string>& constants);

// The walks of memory_estimate.h and graph_cost.h over a graph already shaped, so a caller
// that wants both reads and infers the graph once.
struct MemoryEstimate;
struct GraphCost;
MemoryEstimate EstimateMemoryOf(const ShapedGraph& shaped);
GraphCost EstimateCostOf(const ShapedGraph& shaped);

}  // namespace ipfs_accel::analysis
