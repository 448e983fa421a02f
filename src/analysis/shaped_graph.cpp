#include "shaped_graph.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/wire_format_lite.h>
#include <onnx/defs/schema.h>
#include <onnx/defs/shape_inference.h>
#include <onnx/shape_inference/implementation.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

using core::Error;
using core::ErrorKind;

namespace {

namespace pbio = google::protobuf::io;
using WireFormat = google::protobuf::internal::WireFormatLite;

// ---- Reading the graph without its weight data -------------------------------------------
//
// A graph's weights are nearly all of its bytes (500 MB for OPT-125m); parsing them only to
// drop them would double the process's memory just before the run the estimate is for. The
// serialized model is copied field by field instead, leaving out the data of every tensor over
// kKeptTensorBytes. Small tensors keep theirs: shape inference reads the values of shape-like
// initializers (Reshape targets, Slice bounds).

constexpr uint32_t kKeptTensorBytes = 4096;

enum class Message { kModel, kGraph, kNode, kAttribute, kTensor, kOther };

// The message kind of a length-delimited field of `parent` that may hold tensors.
Message ChildMessage(Message parent, int field) {
  switch (parent) {
    case Message::kModel:
      return field == onnx::ModelProto::kGraphFieldNumber ? Message::kGraph : Message::kOther;
    case Message::kGraph:
      if (field == onnx::GraphProto::kNodeFieldNumber) return Message::kNode;
      if (field == onnx::GraphProto::kInitializerFieldNumber) return Message::kTensor;
      return Message::kOther;
    case Message::kNode:
      return field == onnx::NodeProto::kAttributeFieldNumber ? Message::kAttribute
                                                             : Message::kOther;
    case Message::kAttribute:
      if (field == onnx::AttributeProto::kTFieldNumber ||
          field == onnx::AttributeProto::kTensorsFieldNumber)
        return Message::kTensor;
      if (field == onnx::AttributeProto::kGFieldNumber ||
          field == onnx::AttributeProto::kGraphsFieldNumber)
        return Message::kGraph;
      return Message::kOther;
    default:
      return Message::kOther;
  }
}

bool IsTensorDataField(int field) {
  return field == onnx::TensorProto::kFloatDataFieldNumber ||
         field == onnx::TensorProto::kInt32DataFieldNumber ||
         field == onnx::TensorProto::kStringDataFieldNumber ||
         field == onnx::TensorProto::kInt64DataFieldNumber ||
         field == onnx::TensorProto::kRawDataFieldNumber ||
         field == onnx::TensorProto::kDoubleDataFieldNumber ||
         field == onnx::TensorProto::kUint64DataFieldNumber;
}

// Copies the rest of one `kind` message from `in` (up to its limit) to `out`.
bool CopyWithoutWeightData(pbio::CodedInputStream& in, Message kind, std::string* out) {
  pbio::StringOutputStream sink(out);
  pbio::CodedOutputStream writer(&sink);
  for (;;) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage();
    const int field = WireFormat::GetTagFieldNumber(tag);
    if (kind == Message::kTensor && IsTensorDataField(field)) {
      if (!WireFormat::SkipField(&in, tag)) return false;
      continue;
    }
    const Message child = ChildMessage(kind, field);
    if (WireFormat::GetTagWireType(tag) != WireFormat::WIRETYPE_LENGTH_DELIMITED ||
        child == Message::kOther) {
      if (!WireFormat::SkipField(&in, tag, &writer)) return false;  // copies the field
      continue;
    }
    uint32_t length = 0;
    if (!in.ReadVarint32(&length)) return false;
    std::string copy;
    if (child == Message::kTensor && length <= kKeptTensorBytes) {
      if (!in.ReadString(&copy, static_cast<int>(length))) return false;
    } else {
      const auto limit = in.PushLimit(static_cast<int>(length));
      if (!CopyWithoutWeightData(in, child, &copy)) return false;
      in.PopLimit(limit);
    }
    writer.WriteTag(tag);
    writer.WriteVarint32(static_cast<uint32_t>(copy.size()));
    writer.WriteString(copy);
  }
}

onnx::ModelProto ReadGraphWithoutWeightData(const models::Model& model) {
  std::string stripped;
  bool ok = false;
  if (!model.onnx_bytes.empty()) {
    pbio::ArrayInputStream bytes(model.onnx_bytes.data(),
                                 static_cast<int>(model.onnx_bytes.size()));
    pbio::CodedInputStream in(&bytes);
    ok = CopyWithoutWeightData(in, Message::kModel, &stripped);
  } else {
    const int fd = ::open(model.onnx_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw Error(ErrorKind::kNotFound,
                  fmt::format("cannot open ONNX file '{}' to estimate its memory; check the path",
                              model.onnx_path));
    {
      pbio::FileInputStream file(fd);
      pbio::CodedInputStream in(&file);
      ok = CopyWithoutWeightData(in, Message::kModel, &stripped);
    }
    ::close(fd);
  }
  onnx::ModelProto proto;
  if (!ok || !proto.ParseFromString(stripped) || !proto.has_graph())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("the graph of '{}' is not a valid ONNX model (protobuf parse failed or "
                            "no graph); re-export it",
                            model.info.name));
  return proto;
}

// ---- Shapes of ONNX Runtime's contrib operators ------------------------------------------
//
// ONNX has no schemas for com.microsoft operators, so inference would stop at the first one
// and leave everything after it unknown. These give the output shapes ONNX Runtime documents
// for the contrib operators the builders emit (and common ones in exported models); they are
// offered through a registry of their own so ONNX's global one is left as it is.

using onnx::InferenceContext;
using onnx::TensorShapeProto;

void SameAsFirstInput(InferenceContext& ctx) {
  if (ctx.getNumOutputs() == 0) return;
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (onnx::hasInputShape(ctx, 0)) onnx::propagateShapeFromInputToOutput(ctx, 0, 0);
}

// (Skip)(Simplified)LayerNormalization: output, mean, inv_std_var, input+skip(+bias).
void SkipNormShapes(InferenceContext& ctx) {
  SameAsFirstInput(ctx);
  if (!onnx::hasInputShape(ctx, 0)) return;
  const TensorShapeProto& x = onnx::getInputShape(ctx, 0);
  for (size_t i = 1; i < std::min<size_t>(ctx.getNumOutputs(), 3); ++i) {
    onnx::updateOutputElemType(ctx, i, onnx::TensorProto::FLOAT);
    TensorShapeProto stats = x;
    if (stats.dim_size() > 0) stats.mutable_dim(stats.dim_size() - 1)->set_dim_value(1);
    onnx::updateOutputShape(ctx, i, stats);
  }
  if (ctx.getNumOutputs() > 3) {
    onnx::propagateElemTypeFromInputToOutput(ctx, 0, 3);
    onnx::propagateShapeFromInputToOutput(ctx, 0, 3);
  }
}

// MatMulNBits: A [..., K] x B (quantized [N, K]) -> [..., N].
void MatMulNBitsShapes(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (!onnx::hasInputShape(ctx, 0)) return;
  TensorShapeProto y = onnx::getInputShape(ctx, 0);
  if (y.dim_size() == 0) return;
  y.mutable_dim(y.dim_size() - 1)->set_dim_value(onnx::getAttribute(ctx, "N", 0));
  onnx::updateOutputShape(ctx, 0, y);
}

// Attention: input [B, S, hidden], weights [hidden, q + k + v hidden] -> [B, S, v hidden].
void AttentionShapes(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (!onnx::hasInputShape(ctx, 0) || !onnx::hasInputShape(ctx, 1)) return;
  const TensorShapeProto& x = onnx::getInputShape(ctx, 0);
  const TensorShapeProto& w = onnx::getInputShape(ctx, 1);
  if (x.dim_size() != 3 || w.dim_size() != 2) return;
  std::vector<int64_t> sizes;
  int64_t v_hidden = 0;
  if (onnx::getRepeatedAttribute(ctx, "qkv_hidden_sizes", sizes) && sizes.size() == 3)
    v_hidden = sizes[2];
  else if (w.dim(1).has_dim_value())
    v_hidden = w.dim(1).dim_value() / 3;
  if (v_hidden <= 0) return;
  TensorShapeProto y = x;
  y.mutable_dim(2)->set_dim_value(v_hidden);
  onnx::updateOutputShape(ctx, 0, y);
}

// MultiHeadAttention: query [B, S, D]; value [B, T, Dv] or [B, heads, T, head_dim] -> [B, S, Dv].
void MultiHeadAttentionShapes(InferenceContext& ctx) {
  onnx::propagateElemTypeFromInputToOutput(ctx, 0, 0);
  if (!onnx::hasInputShape(ctx, 0) || ctx.getNumInputs() < 3 || !onnx::hasInputShape(ctx, 2))
    return;
  const TensorShapeProto& q = onnx::getInputShape(ctx, 0);
  const TensorShapeProto& v = onnx::getInputShape(ctx, 2);
  if (q.dim_size() != 3) return;
  TensorShapeProto y = q;
  if (v.dim_size() == 3) {
    *y.mutable_dim(2) = v.dim(2);
  } else if (v.dim_size() == 4 && v.dim(1).has_dim_value() && v.dim(3).has_dim_value()) {
    y.mutable_dim(2)->set_dim_value(v.dim(1).dim_value() * v.dim(3).dim_value());
  } else {
    return;
  }
  onnx::updateOutputShape(ctx, 0, y);
}

class EstimateSchemaRegistry final : public onnx::ISchemaRegistry {
 public:
  EstimateSchemaRegistry() {
    const std::pair<const char*, onnx::InferenceFunction> rules[] = {
        {"MatMulNBits", MatMulNBitsShapes},
        {"Attention", AttentionShapes},
        {"MultiHeadAttention", MultiHeadAttentionShapes},
        {"SkipLayerNormalization", SkipNormShapes},
        {"SkipSimplifiedLayerNormalization", SkipNormShapes},
        {"SimplifiedLayerNormalization", SkipNormShapes},
        {"RotaryEmbedding", SameAsFirstInput},
        {"BiasGelu", SameAsFirstInput},
        {"FastGelu", SameAsFirstInput},
        {"Gelu", SameAsFirstInput},
        {"QuickGelu", SameAsFirstInput},
    };
    for (const auto& [name, rule] : rules) {
      onnx::OpSchema schema;
      schema.SetName(name)
          .SetDomain(kContribDomain)
          .SinceVersion(1)
          .TypeAndShapeInferenceFunction(rule);
      contrib_.emplace(name, std::move(schema));
    }
  }

  const onnx::OpSchema* GetSchema(const std::string& key, const int max_inclusive_version,
                                  const std::string& domain) const override {
    if (domain == kContribDomain) {
      const auto it = contrib_.find(key);
      return it == contrib_.end() ? nullptr : &it->second;
    }
    return onnx::OpSchemaRegistry::Instance()->GetSchema(key, max_inclusive_version, domain);
  }

 private:
  std::map<std::string, onnx::OpSchema> contrib_;
};

// ---- Inputs -------------------------------------------------------------------------------

// Gives every graph input its concrete shape and adds their bytes (and the KV cache's).
void SetInputShapes(onnx::GraphProto& graph, const std::set<std::string>& initializers,
                    const std::map<std::string, core::Shape>& input_shapes,
                    const std::string& model_name, ShapedGraph& shaped) {
  std::set<std::string> unused;
  for (const auto& [name, shape] : input_shapes) unused.insert(name);
  for (auto& input : *graph.mutable_input()) {
    if (initializers.count(input.name())) continue;  // IR < 4 lists initializers as inputs
    const auto given = input_shapes.find(input.name());
    if (given == input_shapes.end())
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("no shape for input '{}' of '{}'; give every graph input a shape "
                              "(harness::ResolveShapes resolves them)",
                              input.name(), model_name));
    unused.erase(input.name());
    const core::Shape& shape = given->second;
    auto* tensor = input.mutable_type()->mutable_tensor_type();
    if (tensor->has_shape()) {
      const auto& declared = tensor->shape();
      bool fits = declared.dim_size() == static_cast<int>(shape.size());
      for (int i = 0; fits && i < declared.dim_size(); ++i)
        fits = !declared.dim(i).has_dim_value() || declared.dim(i).dim_value() == shape[i];
      if (!fits)
        throw Error(ErrorKind::kInvalidArgument,
                    fmt::format("shape {} for input '{}' of '{}' contradicts the graph's rank or "
                                "fixed dimensions; resolve shapes with harness::ResolveShapes",
                                core::ShapeToString(shape), input.name(), model_name));
    }
    if (std::any_of(shape.begin(), shape.end(), [](int64_t d) { return d < 0; }))
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("shape {} for input '{}' of '{}' has a negative dimension",
                              core::ShapeToString(shape), input.name(), model_name));
    auto* dims = tensor->mutable_shape();
    dims->clear_dim();
    for (const int64_t d : shape) dims->add_dim()->set_dim_value(d);
    const int64_t bytes = BytesOf(tensor->elem_type(), shape);
    if (bytes == kUnknown) continue;  // a string input: its size is its contents'
    shaped.inputs_bytes = SaturatingAdd(shaped.inputs_bytes, bytes);
    if (IsKvCacheName(input.name()))
      shaped.kv_input_bytes = SaturatingAdd(shaped.kv_input_bytes, bytes);
  }
  if (!unused.empty())
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("'{}' is given a shape but is not an input of '{}'; check the name",
                            *unused.begin(), model_name));
}

// ---- Inference ----------------------------------------------------------------------------

// Shape values ONNX's data propagation worked out (Shape -> Slice -> Concat chains) reach
// only the operators that read them symbolically; others (Slice's bounds, for one) read
// initializers' values only. A node output whose value is known in full is therefore made an
// initializer that its readers take instead, and inference runs again, until no new value is
// found. Returns how many node inputs were rewired.
int FoldKnownShapeValues(onnx::GraphProto& graph,
                         const std::unordered_map<std::string, onnx::TensorShapeProto>& values,
                         const std::unordered_map<std::string, const onnx::TypeProto*>& types) {
  std::unordered_set<std::string> read;
  for (const auto& node : graph.node())
    for (const auto& input : node.input()) read.insert(input);
  std::unordered_map<std::string, std::string> folded;  // tensor -> its initializer
  for (const auto& [name, value] : values) {
    if (!read.count(name)) continue;     // folded in an earlier pass, or nothing reads it
    const auto type = types.find(name);  // node outputs only: initializers are not in it
    if (type == types.end() || !type->second->has_tensor_type()) continue;
    const auto& tensor = type->second->tensor_type();
    const int32_t elem = tensor.elem_type();
    if ((elem != onnx::TensorProto::INT64 && elem != onnx::TensorProto::INT32) ||
        !tensor.has_shape() || tensor.shape().dim_size() > 1)
      continue;
    if (tensor.shape().dim_size() == 1 && tensor.shape().dim(0).dim_value() != value.dim_size())
      continue;
    if (tensor.shape().dim_size() == 0 && value.dim_size() != 1) continue;
    if (!std::all_of(value.dim().begin(), value.dim().end(),
                     [](const auto& d) { return d.has_dim_value(); }))
      continue;
    onnx::TensorProto* init = graph.add_initializer();
    init->set_name("memory_estimate.value." + name);
    init->set_data_type(elem);
    if (tensor.shape().dim_size() == 1) init->add_dims(value.dim_size());
    for (const auto& d : value.dim()) {
      if (elem == onnx::TensorProto::INT64)
        init->add_int64_data(d.dim_value());
      else
        init->add_int32_data(static_cast<int32_t>(d.dim_value()));
    }
    folded[name] = init->name();
  }
  int rewired = 0;
  for (auto& node : *graph.mutable_node())
    for (auto& input : *node.mutable_input()) {
      const auto it = folded.find(input);
      if (it == folded.end()) continue;
      input = it->second;
      ++rewired;
    }
  return rewired;
}

// Runs ONNX shape inference on `proto`, whose inputs have their concrete shapes; returns ""
// or why it failed (then node outputs stay unknown).
std::string InferAtGivenShapes(onnx::ModelProto& proto) {
  static const EstimateSchemaRegistry registry;
  constexpr int kMaxPasses = 8;
  onnx::GraphProto& graph = *proto.mutable_graph();
  try {
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      // Only what inference finds at these shapes counts: the builders' symbolic value_info
      // and the outputs' declared symbolic shapes would conflict with it or stand in for it.
      graph.clear_value_info();
      for (auto& output : *graph.mutable_output())
        if (output.type().has_tensor_type())
          output.mutable_type()->mutable_tensor_type()->clear_shape();
      std::unordered_map<std::string, onnx::TensorShapeProto> values;
      onnx::shape_inference::InferShapes(proto, &registry,
                                         onnx::ShapeInferenceOptions(false, 0, true), &values);
      std::unordered_map<std::string, const onnx::TypeProto*> types;
      for (const auto& v : graph.value_info()) types[v.name()] = &v.type();
      if (FoldKnownShapeValues(graph, values, types) == 0) break;
    }
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---- Sizes --------------------------------------------------------------------------------

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  return __builtin_add_overflow(a, b, &sum) ? std::numeric_limits<int64_t>::max() : sum;
}

int64_t SaturatingMul(int64_t a, int64_t b) {
  int64_t product = 0;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<int64_t>::max() : product;
}

// Bytes per element of an ONNX element type; kUnknown for strings and undefined.
int64_t ElementBytes(int32_t type) {
  switch (type) {
    case onnx::TensorProto::BOOL:
    case onnx::TensorProto::INT8:
    case onnx::TensorProto::UINT8:
      return 1;
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16:
    case onnx::TensorProto::INT16:
    case onnx::TensorProto::UINT16:
      return 2;
    case onnx::TensorProto::FLOAT:
    case onnx::TensorProto::INT32:
    case onnx::TensorProto::UINT32:
      return 4;
    case onnx::TensorProto::DOUBLE:
    case onnx::TensorProto::INT64:
    case onnx::TensorProto::UINT64:
    case onnx::TensorProto::COMPLEX64:
      return 8;
    case onnx::TensorProto::COMPLEX128:
      return 16;
    default:
      return kUnknown;
  }
}

int64_t BytesOf(int32_t type, const core::Shape& shape) {
  int64_t bytes = ElementBytes(type);
  if (bytes == kUnknown) return kUnknown;
  for (const int64_t d : shape) bytes = SaturatingMul(bytes, d);
  return bytes;
}

int64_t TensorBytes(const onnx::TensorProto& t) {
  return BytesOf(t.data_type(), core::Shape(t.dims().begin(), t.dims().end()));
}

// kUnknown unless the type is a tensor whose every dimension has a value.
int64_t TypeBytes(const onnx::TypeProto* type) {
  if (type == nullptr || !type->has_tensor_type() || !type->tensor_type().has_shape())
    return kUnknown;
  core::Shape shape;
  for (const auto& d : type->tensor_type().shape().dim()) {
    if (!d.has_dim_value() || d.dim_value() < 0) return kUnknown;
    shape.push_back(d.dim_value());
  }
  return BytesOf(type->tensor_type().elem_type(), shape);
}

bool IsKvCacheName(const std::string& name) {
  return name.rfind("past_key_values.", 0) == 0 || name.rfind("present.", 0) == 0;
}

const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& attr : node.attribute())
    if (attr.name() == name) return &attr;
  return nullptr;
}

core::Shape KnownDims(const onnx::TypeProto* type) {
  core::Shape dims;
  if (type == nullptr || !type->has_tensor_type()) return dims;
  for (const auto& d : type->tensor_type().shape().dim())
    dims.push_back(d.has_dim_value() ? d.dim_value() : kUnknown);
  return dims;
}

bool IsFoldedByTheRuntime(const onnx::NodeProto& node,
                          const std::unordered_set<std::string>& constants) {
  if (node.domain().empty() && node.op_type() == "Constant") return true;
  static const std::unordered_set<std::string> kNondeterministic = {
      "RandomNormal",      "RandomUniform", "RandomNormalLike",
      "RandomUniformLike", "Multinomial",   "Bernoulli"};
  if (kNondeterministic.count(node.op_type())) return false;
  for (const auto& attr : node.attribute())
    if (attr.has_g() || attr.graphs_size() > 0) return false;
  bool reads_any = false;
  for (const auto& input : node.input()) {
    if (input.empty()) continue;
    if (!constants.count(input)) return false;
    reads_any = true;
  }
  return reads_any;
}

ShapedGraph::ShapedGraph(const models::Model& model,
                         const std::map<std::string, core::Shape>& input_shapes)
    : proto_(ReadGraphWithoutWeightData(model)) {
  onnx::GraphProto& graph = *proto_.mutable_graph();
  for (const auto& t : graph.initializer()) {
    initializers_.insert(t.name());
    const int64_t bytes = TensorBytes(t);
    if (bytes != kUnknown) weights_bytes = SaturatingAdd(weights_bytes, bytes);
  }
  for (const auto& s : graph.sparse_initializer()) {
    initializers_.insert(s.values().name());
    const int64_t bytes =  // ONNX Runtime makes sparse initializers dense when it loads them
        BytesOf(s.values().data_type(), core::Shape(s.dims().begin(), s.dims().end()));
    if (bytes != kUnknown) weights_bytes = SaturatingAdd(weights_bytes, bytes);
  }
  SetInputShapes(graph, initializers_, input_shapes, model.info.name, *this);
  inference_failure = InferAtGivenShapes(proto_);
  AddTypes(graph);
}

void ShapedGraph::AddTypes(const onnx::GraphProto& graph) {
  for (const auto& t : graph.initializer()) {
    auto* tensor = initializer_types_[t.name()].mutable_tensor_type();
    tensor->set_elem_type(t.data_type());
    auto* shape = tensor->mutable_shape();
    for (const int64_t d : t.dims()) shape->add_dim()->set_dim_value(d);
    types_[t.name()] = &initializer_types_[t.name()];
  }
  for (const auto& v : graph.input()) types_[v.name()] = &v.type();
  for (const auto& v : graph.value_info()) types_[v.name()] = &v.type();
  for (const auto& v : graph.output()) types_[v.name()] = &v.type();
  for (const auto& node : graph.node())
    for (const auto& attr : node.attribute()) {
      if (attr.has_g()) AddTypes(attr.g());
      for (const auto& g : attr.graphs()) AddTypes(g);
    }
}

const onnx::TypeProto* ShapedGraph::TypeOf(const std::string& name) const {
  const auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second;
}

int64_t ShapedGraph::BytesOfTensor(const std::string& name) const {
  return TypeBytes(TypeOf(name));
}

}  // namespace ipfs_accel::analysis
