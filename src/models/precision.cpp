#include "ipfs_accel/models/precision.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "ipfs_accel/core/error.h"
#include "precision_rewrite.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

Precision ParsePrecision(const std::string& name) {
  if (name == "fp32") return Precision::kFp32;
  if (name == "int8") return Precision::kInt8;
  if (name == "int4") return Precision::kInt4;
  if (name == "fp16") return Precision::kFp16;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("unknown precision '{}'; use fp32, fp16, int8 or int4", name));
}

const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kFp32:
      return "fp32";
    case Precision::kFp16:
      return "fp16";
    case Precision::kInt8:
      return "int8";
    case Precision::kInt4:
      return "int4";
  }
  return "?";
}

namespace {

constexpr int64_t kInt4BlockSize = 32;
constexpr const char* kMsDomain = "com.microsoft";

// A MatMul weight: [K, N] float32 from an initializer.
struct Weight {
  int64_t k = 0, n = 0;
  std::vector<float> values;  // row-major [K, N]
};

bool ReadWeight(const onnx::TensorProto& t, Weight* w) {
  if (t.data_type() != onnx::TensorProto::FLOAT || t.dims_size() != 2) return false;
  w->k = t.dims(0);
  w->n = t.dims(1);
  const size_t count = static_cast<size_t>(w->k * w->n);
  w->values.resize(count);
  if (t.has_raw_data() && t.raw_data().size() == count * 4) {
    std::memcpy(w->values.data(), t.raw_data().data(), count * 4);
    return true;
  }
  if (static_cast<size_t>(t.float_data_size()) == count) {
    std::copy(t.float_data().begin(), t.float_data().end(), w->values.begin());
    return true;
  }
  return false;  // external data or empty (shape-only): leave the MatMul alone
}

onnx::TensorProto MakeTensor(const std::string& name, onnx::TensorProto::DataType type,
                             const std::vector<int64_t>& dims, const void* data, size_t bytes) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(data, bytes);
  return t;
}

void AddNode(onnx::GraphProto* g, const std::string& op, const std::vector<std::string>& in,
             const std::vector<std::string>& out, const std::string& domain = "") {
  auto* n = g->add_node();
  n->set_op_type(op);
  n->set_name(out.front() + "/node");
  if (!domain.empty()) n->set_domain(domain);
  for (const auto& i : in) n->add_input(i);
  for (const auto& o : out) n->add_output(o);
}

void SetIntAttr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// int8: y = (MatMulInteger(q(x), Wq, zp(x), 0) as float) * (x_scale * w_scale[n]).
void QuantizeInt8(onnx::GraphProto* g, const onnx::NodeProto& mm, const Weight& w,
                  const std::string& prefix, std::vector<onnx::NodeProto>* out) {
  std::vector<int8_t> q(w.values.size());
  std::vector<float> scale(static_cast<size_t>(w.n));
  for (int64_t c = 0; c < w.n; ++c) {
    float absmax = 0;
    for (int64_t r = 0; r < w.k; ++r) absmax = std::max(absmax, std::fabs(w.values[r * w.n + c]));
    scale[c] = absmax > 0 ? absmax / 127.0f : 1.0f;
    for (int64_t r = 0; r < w.k; ++r)
      q[r * w.n + c] = static_cast<int8_t>(
          std::clamp(std::lround(w.values[r * w.n + c] / scale[c]), -127L, 127L));
  }
  const std::vector<int8_t> zero(static_cast<size_t>(w.n), 0);
  *g->add_initializer() =
      MakeTensor(prefix + "_w_int8", onnx::TensorProto::INT8, {w.k, w.n}, q.data(), q.size());
  *g->add_initializer() = MakeTensor(prefix + "_w_scale", onnx::TensorProto::FLOAT, {w.n},
                                     scale.data(), scale.size() * 4);
  *g->add_initializer() =
      MakeTensor(prefix + "_w_zero", onnx::TensorProto::INT8, {w.n}, zero.data(), zero.size());
  onnx::GraphProto nodes;
  AddNode(&nodes, "DynamicQuantizeLinear", {mm.input(0)},
          {prefix + "_xq", prefix + "_xscale", prefix + "_xzero"});
  AddNode(&nodes, "MatMulInteger",
          {prefix + "_xq", prefix + "_w_int8", prefix + "_xzero", prefix + "_w_zero"},
          {prefix + "_acc"});
  AddNode(&nodes, "Cast", {prefix + "_acc"}, {prefix + "_accf"});
  SetIntAttr(nodes.mutable_node(2), "to", onnx::TensorProto::FLOAT);
  AddNode(&nodes, "Mul", {prefix + "_xscale", prefix + "_w_scale"}, {prefix + "_scale"});
  AddNode(&nodes, "Mul", {prefix + "_accf", prefix + "_scale"}, {mm.output(0)});
  for (const auto& n : nodes.node()) out->push_back(n);
}

// int4: MatMulNBits with B [N, K/32, 16] (two 4-bit values a byte, low nibble first)
// and scales [N, K/32]; q = round(w / scale) + 8 with scale = absmax / 7 per block.
void QuantizeInt4(onnx::GraphProto* g, const onnx::NodeProto& mm, const Weight& w,
                  const std::string& prefix, std::vector<onnx::NodeProto>* out) {
  const int64_t blocks = (w.k + kInt4BlockSize - 1) / kInt4BlockSize;
  const int64_t blob = kInt4BlockSize / 2;
  std::vector<uint8_t> packed(static_cast<size_t>(w.n * blocks * blob), 0);
  std::vector<float> scales(static_cast<size_t>(w.n * blocks));
  for (int64_t c = 0; c < w.n; ++c) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t k0 = b * kInt4BlockSize, k1 = std::min(w.k, k0 + kInt4BlockSize);
      float absmax = 0;
      for (int64_t k = k0; k < k1; ++k) absmax = std::max(absmax, std::fabs(w.values[k * w.n + c]));
      const float scale = absmax > 0 ? absmax / 7.0f : 1.0f;
      scales[c * blocks + b] = scale;
      for (int64_t k = k0; k < k1; ++k) {
        const long q = std::clamp(std::lround(w.values[k * w.n + c] / scale) + 8, 0L, 15L);
        uint8_t& byte = packed[(c * blocks + b) * blob + (k - k0) / 2];
        byte |= static_cast<uint8_t>(((k - k0) % 2 == 0) ? q : (q << 4));
      }
      // Padding past K keeps the zero point (8), which dequantizes to 0.
      for (int64_t k = k1; k < k0 + kInt4BlockSize; ++k) {
        uint8_t& byte = packed[(c * blocks + b) * blob + (k - k0) / 2];
        byte |= static_cast<uint8_t>(((k - k0) % 2 == 0) ? 8 : (8 << 4));
      }
    }
  }
  *g->add_initializer() = MakeTensor(prefix + "_w_int4", onnx::TensorProto::UINT8,
                                     {w.n, blocks, blob}, packed.data(), packed.size());
  *g->add_initializer() = MakeTensor(prefix + "_w_scales", onnx::TensorProto::FLOAT, {w.n, blocks},
                                     scales.data(), scales.size() * 4);
  onnx::GraphProto nodes;
  AddNode(&nodes, "MatMulNBits", {mm.input(0), prefix + "_w_int4", prefix + "_w_scales"},
          {mm.output(0)}, kMsDomain);
  auto* n = nodes.mutable_node(0);
  SetIntAttr(n, "K", w.k);
  SetIntAttr(n, "N", w.n);
  SetIntAttr(n, "bits", 4);
  SetIntAttr(n, "block_size", kInt4BlockSize);
  // accuracy_level 4: activations may be quantized to int8 per block inside the kernel, as
  // ONNX Runtime GenAI's CPU int4 models do; the measured error is stored with the results.
  SetIntAttr(n, "accuracy_level", 4);
  out->push_back(*n);
}

}  // namespace

void RewritePrecision(onnx::ModelProto& proto, Precision precision, const std::string& name) {
  if (precision == Precision::kFp32) return;
  if (precision == Precision::kFp16) {
    RewriteToFp16(proto);
    return;
  }
  auto* g = proto.mutable_graph();
  std::map<std::string, int> init_index;
  for (int i = 0; i < g->initializer_size(); ++i) init_index[g->initializer(i).name()] = i;
  std::map<std::string, int> uses;
  for (const auto& n : g->node())
    for (const auto& in : n.input()) ++uses[in];

  std::vector<onnx::NodeProto> nodes;
  std::vector<std::string> replaced;
  int rewritten = 0;
  for (const auto& n : g->node()) {
    Weight w;
    auto it = n.op_type() == "MatMul" && n.input_size() == 2 ? init_index.find(n.input(1))
                                                             : init_index.end();
    if (it == init_index.end() || !ReadWeight(g->initializer(it->second), &w) ||
        (precision == Precision::kInt4 && w.k < 16)) {
      nodes.push_back(n);
      continue;
    }
    const std::string prefix = fmt::format("q{}_{}", rewritten++, PrecisionName(precision));
    if (precision == Precision::kInt8)
      QuantizeInt8(g, n, w, prefix, &nodes);
    else
      QuantizeInt4(g, n, w, prefix, &nodes);
    if (--uses[n.input(1)] == 0) replaced.push_back(n.input(1));
  }
  g->clear_node();
  for (auto& n : nodes) *g->add_node() = std::move(n);
  // Drop the fp32 weights nothing reads any more.
  auto* inits = g->mutable_initializer();
  inits->erase(std::remove_if(inits->begin(), inits->end(),
                              [&](const onnx::TensorProto& t) {
                                return std::find(replaced.begin(), replaced.end(), t.name()) !=
                                       replaced.end();
                              }),
               inits->end());
  const bool has_ms_domain = std::any_of(proto.opset_import().begin(), proto.opset_import().end(),
                                         [](const auto& o) { return o.domain() == kMsDomain; });
  if (precision == Precision::kInt4 && !has_ms_domain) {
    auto* opset = proto.add_opset_import();
    opset->set_domain(kMsDomain);
    opset->set_version(1);
  }
  // The checker knows no com.microsoft schemas; check graphs of standard ops only.
  if (precision == Precision::kInt8 && !has_ms_domain) {
    try {
      onnx::checker::check_model(proto);
    } catch (const std::exception& e) {
      throw Error(ErrorKind::kInternal,
                  fmt::format("the int8 graph of '{}' fails ONNX checks: {}", name, e.what()));
    }
  }
}

Model ConvertPrecision(const Model& model, Precision precision) {
  if (precision == Precision::kFp32) return model;
  if (model.onnx_bytes.empty())
    throw Error(ErrorKind::kUnsupported,
                fmt::format("precision {} of '{}' must be made while its graph is built "
                            "(LoadOptions::precision); an .onnx file is used as it is, so "
                            "quantize it with ONNX Runtime's tools instead",
                            PrecisionName(precision), model.info.name));
  onnx::ModelProto proto;
  if (!proto.ParseFromString(model.onnx_bytes))
    throw Error(ErrorKind::kInternal, "cannot parse the model's own graph");
  RewritePrecision(proto, precision, model.info.name);
  Model out = model;  // same model: the precision is stored beside its results
  proto.SerializeToString(&out.onnx_bytes);
  out.precision = precision;
  return out;
}

int CountQuantizedMatMuls(const Model& model) {
  onnx::ModelProto proto;
  if (model.onnx_bytes.empty() || !proto.ParseFromString(model.onnx_bytes)) return 0;
  int count = 0;
  for (const auto& n : proto.graph().node())
    count += n.op_type() == "MatMulInteger" || n.op_type() == "MatMulNBits";
  return count;
}

}  // namespace ipfs_accel::models
