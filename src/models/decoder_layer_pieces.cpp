#include "decoder_layer_pieces.h"

#include <cmath>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

std::string SoftCap(GraphBuilder& g, const std::string& x, float cap) {
  const std::string c = g.ConstFloat(cap);
  return g.Node("Mul", {g.Node("Tanh", {g.Node("Div", {x, c})}), c});
}

std::string Llama4QueryScale(GraphBuilder& g, const std::string& positions, double beta,
                             double original_max) {
  const std::string pos = g.Node("Cast", {positions}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string blocks =
      g.Node("Floor", {g.Node("Div", {pos, g.ConstFloat(static_cast<float>(original_max))})});
  const std::string log = g.Node("Log", {g.Node("Add", {blocks, g.ConstFloat(1.0f)})});
  const std::string scale =
      g.Node("Add", {g.Node("Mul", {log, g.ConstFloat(static_cast<float>(beta))}),
                     g.ConstFloat(1.0f)});  // [1, S]
  return g.Node("Unsqueeze", {scale, g.ConstInt64({1, 3})});
}

std::vector<bool> SlidingLayers(const HfConfig& c, int64_t layers, int64_t full_every,
                                bool full_first, bool from_last) {
  std::vector<bool> sliding(layers, false);
  if (c.Has("layer_types")) {
    const auto& types = c.json()["layer_types"];
    if (!types.is_array() || static_cast<int64_t>(types.size()) != layers)
      throw Error(
          ErrorKind::kCorrupt,
          fmt::format("'{}': layer_types must list one type per layer ({})", c.origin(), layers));
    for (int64_t l = 0; l < layers; ++l) {
      const std::string type = types[l].is_string() ? types[l].get<std::string>() : "";
      if (type != "full_attention" && type != "sliding_attention")
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': layer type '{}' is not supported by the decoder builder; "
                                "export the model to .onnx and pass that file instead",
                                c.origin(), type));
      sliding[l] = type == "sliding_attention";
    }
    return sliding;
  }
  if (full_every <= 0) return sliding;
  for (int64_t l = 0; l < layers; ++l)
    sliding[l] = from_last    ? (layers - 1 - l) % full_every != 0
                 : full_first ? l % full_every != 0
                              : (l + 1) % full_every != 0;
  return sliding;
}

std::vector<bool> NoRopeLayers(const HfConfig& c, int64_t layers) {
  std::vector<bool> rope(layers, true);
  if (c.Has("no_rope_layers")) {
    const auto& flags = c.json()["no_rope_layers"];
    if (!flags.is_array() || static_cast<int64_t>(flags.size()) < layers)
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': no_rope_layers must have an entry per layer ({})", c.origin(),
                              layers));
    for (int64_t l = 0; l < layers; ++l)
      rope[l] = !flags[l].is_number() || flags[l].get<double>() != 0;
    return rope;
  }
  const int64_t interval = c.Int("no_rope_layer_interval", 4);
  for (int64_t l = 0; l < layers; ++l) rope[l] = interval <= 0 || (l + 1) % interval != 0;
  return rope;
}

std::string RmsScale(GraphBuilder& g, const std::string& prefix, int64_t size, bool plus_one) {
  const std::string w =
      g.Weight(prefix + ".weight", {size}, plus_one ? WeightInit::kZeros : WeightInit::kOnes);
  return plus_one ? g.Node("Add", {w, g.ConstFloat(1.0f)}) : w;
}

std::string RmsNormalized(GraphBuilder& g, const std::string& x, double eps) {
  const std::string mean_square = g.Node("ReduceMean", {g.Node("Mul", {x, x})},
                                         {{"axes", std::vector<int64_t>{-1}}, {"keepdims", 1}});
  const std::string inv_rms = g.Node(
      "Reciprocal",
      {g.Node("Sqrt", {g.Node("Add", {mean_square, g.ConstFloat(static_cast<float>(eps))})})});
  return g.Node("Mul", {x, inv_rms});
}

std::string RmsNorm(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t size,
                    double eps, bool plus_one) {
  const std::string scale = RmsScale(g, prefix, size, plus_one);
  return g.Node("Mul", {RmsNormalized(g, x, eps), scale});
}

std::string TiedLmHead(GraphBuilder& g, const std::string& x, const std::string& table, int64_t in,
                       int64_t vocab) {
  // Gemm reads the [vocab, in] table transposed in place: no second copy of it at run time.
  const std::string rows = g.Node("Reshape", {x, g.ConstInt64({-1, in})});
  const std::string y = g.Node("Gemm", {rows, table}, {{"transB", int64_t{1}}});
  const std::string batch_and_sequence =
      g.Node("Slice", {g.Node("Shape", {x}), g.ConstInt64({0}), g.ConstInt64({2})});
  return g.Node("Reshape", {y, g.Node("Concat", {batch_and_sequence, g.ConstInt64({vocab})},
                                      {{"axis", int64_t{0}}})});
}

}  // namespace ipfs_accel::models
