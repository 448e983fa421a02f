#include "longformer_attention.h"

#include <algorithm>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

std::string Float(GraphBuilder& g, const std::string& x) {
  return g.Node("Cast", {x}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
}

std::string IsSet(GraphBuilder& g, const std::string& mask) {
  return g.Node("Not", {g.Node("Equal", {mask, g.ConstInt64({0})})});
}

// 0 where `allowed`, float32's lowest elsewhere (HF's finfo.min).
std::string Additive(GraphBuilder& g, const std::string& allowed) {
  return g.Node("Where",
                {allowed, g.ConstFloat(0.0f), g.ConstFloat(std::numeric_limits<float>::lowest())});
}

}  // namespace

std::vector<int64_t> LongformerAttentionWindows(const HfConfig& c, int64_t layers) {
  const nlohmann::json value = c.json().value("attention_window", nlohmann::json(512));
  std::vector<int64_t> out;
  if (value.is_number_integer()) out.assign(static_cast<size_t>(layers), value.get<int64_t>());
  if (value.is_array())
    for (const nlohmann::json& w : value)
      out.push_back(w.is_number_integer() ? w.get<int64_t>() : 0);
  if (static_cast<int64_t>(out.size()) != layers ||
      std::any_of(out.begin(), out.end(), [](int64_t w) { return w <= 0 || w % 2 != 0; }))
    throw core::Error(core::ErrorKind::kCorrupt,
                      fmt::format("'{}': attention_window must be an even positive size or a list "
                                  "of one per layer ({}), not {}",
                                  c.origin(), layers, value.dump()));
  return out;
}

LongformerMasks LongformerAttentionMasks(GraphBuilder& g, const std::string& attention_mask,
                                         const std::string& global_attention_mask) {
  LongformerMasks m;
  m.attention_mask = attention_mask;
  m.global_attention_mask = global_attention_mask;
  // HF merges the two as attention_mask * (global_attention_mask + 1): a padded token is never
  // global.
  const std::string kept = IsSet(g, attention_mask);
  const std::string global = g.Node("And", {kept, IsSet(g, global_attention_mask)});
  m.global_rows = g.Node("Unsqueeze", {global, g.ConstInt64({1, 3})});
  m.query_kept = g.Node("Unsqueeze", {Float(g, kept), g.ConstInt64({1, 3})});
  m.global_keys = g.Node("Unsqueeze", {Additive(g, kept), g.ConstInt64({1, 2})});
  return m;
}

std::string LongformerWindowMask(GraphBuilder& g, const LongformerMasks& m, int64_t one_sided) {
  const std::string seq_len = g.Node(
      "Squeeze",
      {g.Node("Slice", {g.Node("Shape", {m.attention_mask}), g.ConstInt64({1}), g.ConstInt64({2})}),
       g.ConstInt64({0})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string positions = g.Node("Range", {zero, seq_len, one});
  const std::string distance =
      g.Node("Abs", {g.Node("Sub", {g.Node("Unsqueeze", {positions, g.ConstInt64({0})}),
                                    g.Node("Unsqueeze", {positions, g.ConstInt64({1})})})});
  const std::string near = g.Node("LessOrEqual", {distance, g.ConstInt64({one_sided})});  // [s, s]
  const std::string kept = IsSet(g, m.attention_mask);
  const std::string global = g.Node("And", {kept, IsSet(g, m.global_attention_mask)});
  auto per_key = [&](const std::string& x) {  // [b, s] -> [b, 1, 1, s]
    return g.Node("Unsqueeze", {x, g.ConstInt64({1, 2})});
  };
  const std::string allowed = g.Node("And", {g.Node("Or", {near, per_key(global)}), per_key(kept)});
  return Additive(g, allowed);
}

}  // namespace ipfs_accel::models
