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
                                bool full_first) {
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
    sliding[l] = full_first ? l % full_every != 0 : (l + 1) % full_every != 0;
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

}  // namespace ipfs_accel::models
