#pragma once
// Writes the nodes of a gradient graph into an existing onnx::GraphProto: unique tensor names
// that cannot collide with the forward graph's, constants in the element type of the tensors
// they meet (float or double), and the one helper every broadcasting rule needs: summing a
// gradient back to the shape of the operand it flows to.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "graph_builder.h"

namespace ipfs_accel::models {

// One dimension as shape inference knows it: a value, a symbolic name, or neither.
struct DimInfo {
  int64_t value = -1;
  std::string param;
  bool Known() const { return value >= 0 || !param.empty(); }
  bool operator==(const DimInfo& o) const {
    return Known() && value == o.value && param == o.param;
  }
};

// A tensor's element type and, where known, its dimensions.
struct TensorInfo {
  int32_t elem = onnx::TensorProto::UNDEFINED;
  bool rank_known = false;
  std::vector<DimInfo> dims;
  int64_t rank() const { return static_cast<int64_t>(dims.size()); }
};

bool IsFloatType(int32_t elem);

// The types of every tensor of `model`'s graph, from its inputs, outputs, initializers and
// ONNX shape inference (run on a copy). Tensors inference cannot type are absent.
std::map<std::string, TensorInfo> InferTensorInfo(const onnx::ModelProto& model);

class GradEmitter {
 public:
  GradEmitter(onnx::GraphProto* graph, std::map<std::string, TensorInfo> info);

  // Adds a node; returns its first output's name (`num_outputs` > 1: NodeN).
  std::string Node(const std::string& op, const std::vector<std::string>& inputs,
                   const std::vector<Attr>& attrs = {});
  std::vector<std::string> NodeN(const std::string& op, const std::vector<std::string>& inputs,
                                 int num_outputs, const std::vector<Attr>& attrs = {});
  // A scalar constant of element type `elem` (FLOAT, DOUBLE, ...).
  std::string Scalar(double value, int32_t elem);
  std::string Ints(const std::vector<int64_t>& values);  // 1-D int64 constant
  // Zeros (or `value`) of the runtime shape of forward tensor `like`, in its element type.
  std::string Fill(const std::string& like, double value = 0.0);
  // An Identity node whose output is `name` (a graph output's fixed name).
  void Alias(const std::string& tensor, const std::string& name);
  // A fresh name for a tensor the caller adds itself.
  std::string Fresh(const std::string& base);

  // Forward tensor `name`'s info; throws core::Error(kUnsupported) naming `op` when shape
  // inference did not type it, or (need_rank) did not give its rank.
  const TensorInfo& Info(const std::string& name, const std::string& op,
                         bool need_rank = false) const;
  bool Has(const std::string& name) const { return info_.count(name) > 0; }
  int32_t Elem(const std::string& name, const std::string& op) const { return Info(name, op).elem; }

  // `grad`, of dimensions `grad_dims` (broadcast result), summed over the axes along which
  // forward tensor `x` was broadcast and reshaped to x's shape. Static where shape inference
  // settles the axes, computed at run time otherwise.
  std::string SumTo(const std::string& grad, const std::vector<DimInfo>& grad_dims,
                    const std::string& x, const std::string& op);

  onnx::GraphProto* graph() { return graph_; }

 private:
  std::string DynamicSumTo(const std::string& grad, int64_t grad_rank, const std::string& x,
                           int64_t x_rank);
  onnx::GraphProto* graph_;
  std::map<std::string, TensorInfo> info_;
  std::set<std::string> taken_;
  int64_t counter_ = 0;
};

}  // namespace ipfs_accel::models
