#include "ipfs_accel/analysis/memory_estimate.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "shaped_graph.h"

namespace ipfs_accel::analysis {

namespace {

// Names a subgraph reads from the scopes around it (If/Loop bodies read outer tensors).
void CollectSubgraphReads(const onnx::GraphProto& g, std::vector<std::string>& names) {
  for (const auto& node : g.node()) {
    for (const auto& in : node.input()) names.push_back(in);
    for (const auto& attr : node.attribute()) {
      if (attr.has_g()) CollectSubgraphReads(attr.g(), names);
      for (const auto& sub : attr.graphs()) CollectSubgraphReads(sub, names);
    }
  }
}

// ONNX Runtime's attention kernels hold the probabilities [B, heads, S, T] while they run (and
// Attention its Q, K, V [B, S, q + k + v hidden]): scratch that no graph tensor shows.
int64_t AttentionScratchBytes(const onnx::NodeProto& node, const ShapedGraph& shaped) {
  if (node.domain() != kContribDomain ||
      (node.op_type() != "Attention" && node.op_type() != "MultiHeadAttention") ||
      node.input_size() < 3)
    return 0;
  const auto type_of = [&](int i) { return shaped.TypeOf(node.input(i)); };
  const onnx::AttributeProto* heads_attr = FindAttribute(node, "num_heads");
  const core::Shape x = KnownDims(type_of(0));
  if (heads_attr == nullptr || x.size() != 3 || x[0] < 0 || x[1] < 0) return 0;
  const int64_t element = ElementBytes(type_of(0)->tensor_type().elem_type());
  if (element == kUnknown) return 0;
  const int64_t batch = x[0], sequence = x[1], heads = heads_attr->i();
  if (node.op_type() == "Attention") {
    const core::Shape w = KnownDims(type_of(1));
    if (w.size() != 2 || w[1] < 0) return 0;
    const int64_t probs =
        SaturatingMul(SaturatingMul(SaturatingMul(batch, heads), sequence), sequence);
    return SaturatingMul(element,
                         SaturatingAdd(probs, SaturatingMul(SaturatingMul(batch, sequence), w[1])));
  }
  const core::Shape k = KnownDims(type_of(1));
  const int64_t keys = k.size() == 4 ? k[2] : k.size() == 3 ? k[1] : kUnknown;
  if (keys < 0) return 0;
  return SaturatingMul(element,
                       SaturatingMul(SaturatingMul(SaturatingMul(batch, heads), sequence), keys));
}

std::string NodeLabel(const onnx::NodeProto& node, int index) {
  return node.name().empty() ? fmt::format("{}#{}", node.op_type(), index) : node.name();
}

}  // namespace

MemoryEstimate EstimateMemory(const models::Model& model,
                              const std::map<std::string, core::Shape>& input_shapes) {
  return EstimateMemoryOf(ShapedGraph(model, input_shapes));
}

MemoryEstimate EstimateMemoryOf(const ShapedGraph& shaped) {
  MemoryEstimate estimate;
  const onnx::GraphProto& graph = shaped.graph();
  estimate.weights_bytes = shaped.weights_bytes;
  estimate.inputs_bytes = shaped.inputs_bytes;
  estimate.kv_cache_bytes = shaped.kv_input_bytes;
  const auto bytes_of = [&](const std::string& name) { return shaped.BytesOfTensor(name); };

  const int node_count = graph.node_size();
  std::unordered_map<std::string, int> last_read;
  for (int i = 0; i < node_count; ++i) {
    const onnx::NodeProto& node = graph.node(i);
    std::vector<std::string> reads(node.input().begin(), node.input().end());
    for (const auto& attr : node.attribute()) {
      const int bodies = (attr.has_g() ? 1 : 0) + attr.graphs_size();
      estimate.subgraphs_ignored += bodies;
      if (attr.has_g()) CollectSubgraphReads(attr.g(), reads);
      for (const auto& sub : attr.graphs()) CollectSubgraphReads(sub, reads);
    }
    for (const auto& name : reads) last_read[name] = i;
  }
  for (const auto& output : graph.output()) last_read[output.name()] = node_count;

  // Which tensors to free after each node: those it makes that nothing reads later, too.
  std::vector<std::vector<std::pair<std::string, int64_t>>> frees(node_count);
  std::unordered_set<std::string> constants(shaped.initializers().begin(),
                                            shaped.initializers().end());
  int64_t live = 0;
  for (int i = 0; i < node_count; ++i) {
    const onnx::NodeProto& node = graph.node(i);
    if (IsFoldedByTheRuntime(node, constants)) {
      for (const auto& name : node.output()) {
        constants.insert(name);
        if (node.op_type() != "Constant") continue;
        // A Constant's value is a weight: ONNX Runtime makes it an initializer.
        const int64_t bytes = bytes_of(name);
        if (bytes == kUnknown)
          ++estimate.unknown_tensors;
        else
          estimate.weights_bytes = SaturatingAdd(estimate.weights_bytes, bytes);
      }
      continue;
    }
    for (const auto& name : node.output()) {
      if (name.empty()) continue;  // an optional output left out
      const int64_t bytes = bytes_of(name);
      if (bytes == kUnknown) {
        ++estimate.unknown_tensors;
        continue;
      }
      if (IsKvCacheName(name))
        estimate.kv_cache_bytes = SaturatingAdd(estimate.kv_cache_bytes, bytes);
      live = SaturatingAdd(live, bytes);
      estimate.intermediates_bytes = SaturatingAdd(estimate.intermediates_bytes, bytes);
      const auto read = last_read.find(name);
      const int until = read == last_read.end() ? i : std::max(read->second, i);
      if (until < node_count) frees[until].emplace_back(name, bytes);
    }
    const int64_t at_node = SaturatingAdd(live, AttentionScratchBytes(node, shaped));
    if (at_node > estimate.activation_peak_bytes) {
      estimate.activation_peak_bytes = at_node;
      estimate.peak_node = NodeLabel(node, i);
    }
    for (const auto& [name, bytes] : frees[i]) live -= bytes;
  }

  estimate.total_bytes = SaturatingAdd(SaturatingAdd(estimate.weights_bytes, estimate.inputs_bytes),
                                       estimate.activation_peak_bytes);
  estimate.method =
      "estimate: weights + inputs + peak of live intermediates (ONNX shape inference, no reuse)";
  if (!shaped.inference_failure.empty())
    estimate.method += "; shape inference failed, activations unknown: " + shaped.inference_failure;
  return estimate;
}

std::string DescribeBytes(int64_t bytes) {
  constexpr int64_t kKiB = 1024, kMiB = kKiB << 10, kGiB = kMiB << 10;
  const double b = static_cast<double>(bytes);
  if (bytes >= kGiB) return fmt::format("{:.2f} GiB", b / kGiB);
  if (bytes >= kMiB) return fmt::format("{:.1f} MiB", b / kMiB);
  if (bytes >= kKiB) return fmt::format("{:.1f} KiB", b / kKiB);
  return fmt::format("{} B", bytes);
}

}  // namespace ipfs_accel::analysis
