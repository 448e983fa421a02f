#pragma once
// What one run of a graph computes and moves, by operator class, worked out from ONNX shape
// inference at a configuration's shapes: the features of the roofline baseline and of the
// learned performance predictor (issue 17). Exact counts of the graph as built, not of the
// kernels a runtime picks. Conventions:
//   flops  a multiply-add is 2 FLOPs (MatMul [M,K]x[K,N]: 2·M·N·K; Conv: 2 · output elements ·
//          input channels per group · kernel elements; ConvTranspose the same over its input);
//          the com.microsoft attention operators count their projections (Attention) and both
//          batched products (Q·Kᵀ and P·V); elementwise operators 1 per output element;
//          normalisations and Softmax 5 per element; reductions 1 per input element;
//          data movement 0.
//   bytes  every tensor a node reads (weights included) plus every tensor it writes, at their
//          dtypes; views that move no data (Reshape, Squeeze, Unsqueeze, Flatten, Shape,
//          Identity) count 0.
// Nodes ONNX Runtime folds when it loads the graph (constants, weight-only subgraphs) count
// nothing. A Scan counts its body once per iteration (its first scan input's length), in the
// body nodes' own classes, and itself as one "other" node; `nodes` counts nodes run. A node
// whose tensors shape inference could not size, or with another subgraph (If, Loop), is
// counted in unknown_nodes and left out of flops and bytes.

#include <cstdint>
#include <map>
#include <string>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::analysis {

struct OperatorCost {
  int64_t nodes = 0;
  double flops = 0;
  double bytes = 0;
};

struct GraphCost {
  // By class: "matmul", "conv", "attention", "normalization", "softmax", "elementwise",
  // "reduction", "data_movement", "other".
  std::map<std::string, OperatorCost> by_class;
  double flops = 0;  // the sum over classes
  double bytes = 0;
  int64_t weights_bytes = 0;   // initializers at their dtype
  int64_t kv_cache_bytes = 0;  // past_key_values.* inputs
  int unknown_nodes = 0;
};

// The cost of `model` run with these shapes, one per graph input (as harness::ResolveShapes
// gives them). Throws like EstimateMemory.
GraphCost EstimateCost(const models::Model& model,
                       const std::map<std::string, core::Shape>& input_shapes);

// Both the cost and the memory estimate (memory_estimate.h) from one reading of the graph and
// one shape inference. Throws like EstimateMemory.
struct CostAndMemory {
  GraphCost cost;
  MemoryEstimate memory;
};
CostAndMemory EstimateCostAndMemory(const models::Model& model,
                                    const std::map<std::string, core::Shape>& input_shapes);

// The class an operator (op type, domain) is counted under.
std::string OperatorClass(const std::string& op_type, const std::string& domain);

}  // namespace ipfs_accel::analysis
