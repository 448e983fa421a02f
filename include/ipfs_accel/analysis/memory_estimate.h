#pragma once
// How much memory one configuration of a model needs, estimated from its graph before it
// runs, so a sweep can skip what cannot fit. An estimate, never a measurement: it is not
// stored as one. What it counts:
//   weights     every initializer (and Constant-node value) at its dtype, external data
//               included: exact;
//   inputs      the given input shapes at the graph inputs' dtypes: exact;
//   activations the peak, over the nodes in graph order, of the summed sizes of the
//               intermediate tensors live at once (from the node that makes one to the last
//               node that reads it; graph outputs stay live to the end), sized by ONNX shape
//               inference at the given shapes. A lower bound for a runtime without in-place
//               reuse: it leaves out the runtime's arena slack, thread pools, its own copy of
//               the graph and kernels' scratch (except the attention probabilities of
//               com.microsoft Attention/MultiHeadAttention, counted at their node).
// Tensors shape inference cannot size are not guessed: they are counted in unknown_tensors.

#include <cstdint>
#include <map>
#include <string>

#include "ipfs_accel/core/tensor.h"
#include "ipfs_accel/models/model.h"

namespace ipfs_accel::analysis {

struct MemoryEstimate {
  int64_t weights_bytes = 0;
  int64_t inputs_bytes = 0;
  // The past_key_values.* inputs plus the present.* outputs (docs/design.md "Decoder I/O"):
  // a breakdown, already inside inputs_bytes and activation_peak_bytes.
  int64_t kv_cache_bytes = 0;
  int64_t activation_peak_bytes = 0;
  int64_t total_bytes = 0;  // weights + inputs + activation peak
  // Every intermediate tensor summed, none freed: what a training step keeps for its backward
  // pass if it saves every forward value (an upper bound; without activation checkpointing).
  int64_t intermediates_bytes = 0;
  // Node outputs whose size shape inference left unknown (symbolic or missing dims, no
  // type): left out of activation_peak_bytes, which then understates.
  int unknown_tensors = 0;
  // Graph-valued attributes (If/Loop/Scan bodies) whose own tensors were not walked.
  int subgraphs_ignored = 0;
  std::string peak_node;  // the node (name, else op type and index) at which the peak falls
  std::string method;     // one line saying what the figure is, for display
};

// The estimate for `model` run with these shapes, one per graph input (as
// harness::ResolveShapes gives them). Reads the graph without its weight data. Throws
// core::Error: kInvalidArgument when a graph input has no shape, a shape names no graph input,
// or a shape contradicts the graph's rank or fixed dimensions; kNotFound/kCorrupt when the
// model's .onnx file cannot be read.
MemoryEstimate EstimateMemory(const models::Model& model,
                              const std::map<std::string, core::Shape>& input_shapes);

// "512 B", "12.0 KiB", "3.4 MiB", "1.25 GiB": binary units, for display.
std::string DescribeBytes(int64_t bytes);

}  // namespace ipfs_accel::analysis
