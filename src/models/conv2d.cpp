#include "conv2d.h"

namespace ipfs_accel::models {

std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& prefix,
                   const Conv2dSpec& s) {
  std::vector<std::string> inputs = {
      x, g.Weight(prefix + ".weight", {s.out, s.in / s.groups, s.kernel, s.kernel},
                  WeightInit::kNormal)};
  if (s.bias) inputs.push_back(g.Weight(prefix + ".bias", {s.out}, WeightInit::kZeros));
  return g.Node("Conv", inputs,
                {{"kernel_shape", std::vector<int64_t>{s.kernel, s.kernel}},
                 {"strides", std::vector<int64_t>{s.stride, s.stride}},
                 {"pads", s.pads},
                 {"group", s.groups}});
}

std::string Conv2d(GraphBuilder& g, const std::string& x, const std::string& prefix, int64_t in,
                   int64_t out, int64_t kernel, int64_t stride, int64_t pad, int64_t groups) {
  return Conv2d(g, x, prefix,
                Conv2dSpec{.in = in,
                           .out = out,
                           .kernel = kernel,
                           .stride = stride,
                           .pads = {pad, pad, pad, pad},
                           .groups = groups});
}

}  // namespace ipfs_accel::models
