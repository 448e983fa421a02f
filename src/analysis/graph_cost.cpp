#include "ipfs_accel/analysis/graph_cost.h"

#include <unordered_set>

#include "shaped_graph.h"

namespace ipfs_accel::analysis {

namespace {

const std::unordered_set<std::string>& Views() {
  static const std::unordered_set<std::string> kViews = {
      "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Shape", "Identity", "Size"};
  return kViews;
}

double Elements(const core::Shape& dims) {
  double n = 1;
  for (const int64_t d : dims) n *= static_cast<double>(d);
  return n;
}

bool Known(const core::Shape& dims) {
  for (const int64_t d : dims)
    if (d < 0) return false;
  return true;
}

// FLOPs of one node from its input and output dimensions (all known); the class is given.
double NodeFlops(const onnx::NodeProto& node, const std::string& cls,
                 const std::vector<core::Shape>& in, const std::vector<core::Shape>& out) {
  const double out_elements = out.empty() ? 0 : Elements(out[0]);
  const std::string& op = node.op_type();
  if (cls == "matmul") {
    if (op == "MatMulNBits") {
      const auto* k = FindAttribute(node, "K");
      return 2 * out_elements * (k ? static_cast<double>(k->i()) : 0);
    }
    if (in.empty() || in[0].empty()) return 0;
    const bool trans_a =
        op == "Gemm" && FindAttribute(node, "transA") && FindAttribute(node, "transA")->i() != 0;
    const core::Shape& a = in[0];
    const double k = static_cast<double>(trans_a ? a[0] : a.back());
    return 2 * out_elements * k + (op == "Gemm" && in.size() > 2 ? out_elements : 0);
  }
  if (cls == "conv") {
    if (in.size() < 2 || in[1].size() < 2) return 0;
    const core::Shape& w =
        in[1];  // [C_out, C_in/group, k...] (ConvTranspose: [C_in, C_out/group, k...])
    double kernel = 1;
    for (size_t i = 2; i < w.size(); ++i) kernel *= static_cast<double>(w[i]);
    if (op == "ConvTranspose") return 2 * Elements(in[0]) * static_cast<double>(w[1]) * kernel;
    return 2 * out_elements * static_cast<double>(w[1]) * kernel;
  }
  if (cls == "attention") {
    // query [B, S, D]; keys T from the key input (or S for packed QKV / self-attention).
    const auto* heads_attr = FindAttribute(node, "num_heads");
    if (in.empty() || in[0].size() != 3 || heads_attr == nullptr) return 0;
    const double b = static_cast<double>(in[0][0]), s = static_cast<double>(in[0][1]);
    double flops = 0, t = s, d = static_cast<double>(in[0][2]);
    if (op == "Attention" && in.size() > 1 && in[1].size() == 2) {
      flops += 2 * b * s * static_cast<double>(in[1][0]) * static_cast<double>(in[1][1]);
      d = static_cast<double>(in[1][1]) / 3;
    } else if (in.size() > 1 && in[1].size() == 3) {
      t = static_cast<double>(in[1][1]);
    } else if (in.size() > 1 && in[1].size() == 4) {
      t = static_cast<double>(in[1][2]);
    }
    return flops + 2 * 2 * b * s * t * d;  // Q·Kᵀ and P·V over every head
  }
  if (cls == "normalization" || cls == "softmax") return 5 * out_elements;
  if (cls == "reduction") return in.empty() ? 0 : Elements(in[0]);
  if (cls == "elementwise") return out_elements;
  return 0;
}

}  // namespace

std::string OperatorClass(const std::string& op_type, const std::string& domain) {
  static const std::unordered_set<std::string> kMatMul = {"MatMul", "Gemm", "MatMulNBits",
                                                          "MatMulInteger", "QLinearMatMul"};
  static const std::unordered_set<std::string> kConv = {"Conv", "ConvTranspose", "QLinearConv"};
  static const std::unordered_set<std::string> kAttention = {"Attention", "MultiHeadAttention",
                                                             "GroupQueryAttention"};
  static const std::unordered_set<std::string> kNorm = {"LayerNormalization",
                                                        "SkipLayerNormalization",
                                                        "SimplifiedLayerNormalization",
                                                        "SkipSimplifiedLayerNormalization",
                                                        "RMSNormalization",
                                                        "GroupNormalization",
                                                        "BatchNormalization",
                                                        "InstanceNormalization",
                                                        "LpNormalization"};
  static const std::unordered_set<std::string> kSoftmax = {"Softmax", "LogSoftmax"};
  static const std::unordered_set<std::string> kReduce = {"ReduceMean",
                                                          "ReduceSum",
                                                          "ReduceMax",
                                                          "ReduceMin",
                                                          "ReduceProd",
                                                          "ReduceL2",
                                                          "ReduceL1",
                                                          "ReduceLogSumExp",
                                                          "ReduceSumSquare",
                                                          "ArgMax",
                                                          "ArgMin",
                                                          "GlobalAveragePool",
                                                          "GlobalMaxPool",
                                                          "AveragePool",
                                                          "MaxPool",
                                                          "CumSum",
                                                          "TopK"};
  static const std::unordered_set<std::string> kMovement = {
      "Reshape",      "Squeeze", "Unsqueeze",       "Flatten",         "Shape",
      "Identity",     "Size",    "Transpose",       "Gather",          "GatherElements",
      "GatherND",     "Concat",  "Slice",           "Split",           "Expand",
      "Tile",         "Pad",     "ScatterND",       "ScatterElements", "DepthToSpace",
      "SpaceToDepth", "Resize",  "ConstantOfShape", "Range",           "NonZero",
      "Trilu",        "EyeLike"};
  (void)domain;  // the contrib operators' names do not clash with ONNX's
  if (kMatMul.count(op_type)) return "matmul";
  if (kConv.count(op_type)) return "conv";
  if (kAttention.count(op_type)) return "attention";
  if (kNorm.count(op_type)) return "normalization";
  if (kSoftmax.count(op_type)) return "softmax";
  if (kReduce.count(op_type)) return "reduction";
  if (kMovement.count(op_type)) return "data_movement";
  if (op_type == "If" || op_type == "Loop" || op_type == "Scan" || op_type == "Einsum")
    return "other";
  return "elementwise";
}

GraphCost EstimateCost(const models::Model& model,
                       const std::map<std::string, core::Shape>& input_shapes) {
  return EstimateCostOf(ShapedGraph(model, input_shapes));
}

CostAndMemory EstimateCostAndMemory(const models::Model& model,
                                    const std::map<std::string, core::Shape>& input_shapes) {
  const ShapedGraph shaped(model, input_shapes);
  return {EstimateCostOf(shaped), EstimateMemoryOf(shaped)};
}

namespace {

// A Scan's body; nullptr for any other node.
const onnx::GraphProto* ScanBody(const onnx::NodeProto& node) {
  if (node.op_type() != "Scan") return nullptr;
  const auto* body = FindAttribute(node, "body");
  return body && body->has_g() ? &body->g() : nullptr;
}

// A Scan's iterations: its first scan input's length along that input's scan axis (-1 unknown).
int64_t ScanIterations(const ShapedGraph& shaped, const onnx::NodeProto& node) {
  const auto* scan_inputs = FindAttribute(node, "num_scan_inputs");
  if (scan_inputs == nullptr || scan_inputs->i() < 1 || scan_inputs->i() > node.input_size())
    return -1;
  const std::string& first = node.input(node.input_size() - static_cast<int>(scan_inputs->i()));
  const core::Shape dims = KnownDims(shaped.TypeOf(first));
  const auto* axes = FindAttribute(node, "scan_input_axes");
  int64_t axis = axes && axes->ints_size() > 0 ? axes->ints(0) : 0;
  if (axis < 0) axis += static_cast<int64_t>(dims.size());
  if (axis < 0 || axis >= static_cast<int64_t>(dims.size())) return -1;
  return dims[static_cast<size_t>(axis)];
}

// Adds the cost of `nodes`, each run `times` times (a Scan's body once per iteration; its
// inner names are typed by ShapedGraph like the outer ones). `constants` are the names the
// runtime folds.
void AddNodesCost(const ShapedGraph& shaped,
                  const google::protobuf::RepeatedPtrField<onnx::NodeProto>& nodes, int64_t times,
                  std::unordered_set<std::string> constants, GraphCost& cost) {
  for (const onnx::NodeProto& node : nodes) {
    if (IsFoldedByTheRuntime(node, constants)) {
      for (const auto& name : node.output()) constants.insert(name);
      continue;
    }
    if (const onnx::GraphProto* body = ScanBody(node)) {
      const int64_t iterations = ScanIterations(shaped, node);
      if (iterations < 0) {
        ++cost.unknown_nodes;
        continue;
      }
      auto inner = constants;
      for (const auto& t : body->initializer()) inner.insert(t.name());
      AddNodesCost(shaped, body->node(), times * iterations, std::move(inner), cost);
      cost.by_class["other"].nodes += times;
      continue;
    }
    bool known = true;
    for (const auto& attr : node.attribute()) known &= !(attr.has_g() || attr.graphs_size() > 0);
    std::vector<core::Shape> in, out;
    double bytes = 0;
    const auto add = [&](const std::string& name, std::vector<core::Shape>& dims) {
      if (name.empty()) {
        dims.emplace_back();
        return;
      }
      const onnx::TypeProto* type = shaped.TypeOf(name);
      dims.push_back(KnownDims(type));
      const int64_t b = TypeBytes(type);
      if (b == kUnknown || !Known(dims.back()))
        known = false;
      else
        bytes += static_cast<double>(b);
    };
    for (const auto& name : node.input()) add(name, in);
    for (const auto& name : node.output()) add(name, out);
    if (!known) {
      ++cost.unknown_nodes;
      continue;
    }
    const std::string cls = OperatorClass(node.op_type(), node.domain());
    OperatorCost& c = cost.by_class[cls];
    const double flops = NodeFlops(node, cls, in, out) * static_cast<double>(times);
    if (Views().count(node.op_type())) bytes = 0;
    bytes *= static_cast<double>(times);
    c.nodes += times;
    c.flops += flops;
    c.bytes += bytes;
    cost.flops += flops;
    cost.bytes += bytes;
  }
}

}  // namespace

GraphCost EstimateCostOf(const ShapedGraph& shaped) {
  GraphCost cost;
  cost.weights_bytes = shaped.weights_bytes;
  cost.kv_cache_bytes = shaped.kv_input_bytes;
  AddNodesCost(shaped, shaped.graph().node(), 1,
               {shaped.initializers().begin(), shaped.initializers().end()}, cost);
  return cost;
}

}  // namespace ipfs_accel::analysis
