#include "vlm_connectors.h"

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

using core::Error;
using core::ErrorKind;

std::string PixelShuffle(GraphBuilder& g, const std::string& x, int64_t side, int64_t channels,
                         int64_t r) {
  if (r < 1 || side % r != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("pixel shuffle by {} of a {}x{} patch grid: the grid must be a "
                            "multiple of the factor",
                            r, side, side));
  const std::vector<int64_t> swap = {0, 2, 1, 3};
  std::string y = g.Node("Reshape", {x, g.ConstInt64({-1, side, side / r, channels * r})});
  y = g.Node("Transpose", {y}, {{"perm", swap}});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, side / r, side / r, channels * r * r})});
  y = g.Node("Transpose", {y}, {{"perm", swap}});
  return g.Node("Reshape", {y, g.ConstInt64({-1, (side / r) * (side / r), channels * r * r})});
}

std::string AvgPoolTokens(GraphBuilder& g, const std::string& x, int64_t side, int64_t channels,
                          int64_t kernel) {
  if (kernel < 1 || kernel > side)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("average pooling of a {}x{} patch grid by a kernel of {}: HF's "
                            "AvgPool2d needs 1 <= kernel <= grid",
                            side, side, kernel));
  std::string y = g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
  y = g.Node("Reshape", {y, g.ConstInt64({-1, channels, side, side})});
  y = g.Node("AveragePool", {y},
             {{"kernel_shape", std::vector<int64_t>{kernel, kernel}},
              {"strides", std::vector<int64_t>{kernel, kernel}}});
  const int64_t out = side / kernel;
  y = g.Node("Reshape", {y, g.ConstInt64({-1, channels, out * out})});
  return g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

}  // namespace ipfs_accel::models
