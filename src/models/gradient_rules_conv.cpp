// Gradients of Conv and the pooling operators. The input gradient of a convolution is the
// transposed convolution of dy with the same weights; its weight gradient is a convolution of
// the input with dy, batch and channels swapped (so the batch is summed by the convolution),
// forward strides becoming dilations and dilations strides.

#include <algorithm>

#include <fmt/format.h>

#include "gradient_rules_internal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// A window operator's geometry over `nd` spatial axes, attributes read with ONNX defaults.
struct ConvGeometry {
  std::vector<int64_t> kernel, strides, pads, dilations;
  int64_t group = 1;
  int64_t nd() const { return static_cast<int64_t>(kernel.size()); }
  int64_t Span(int64_t i) const { return dilations[i] * (kernel[i] - 1) + 1; }
};

ConvGeometry ReadConvGeometry(const onnx::NodeProto& n, std::vector<int64_t> kernel) {
  const std::string auto_pad = AttrString(n, "auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "VALID")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("no gradient for {} '{}' with auto_pad {}; give explicit pads",
                            n.op_type(), n.name(), auto_pad));
  ConvGeometry geo;
  geo.kernel = std::move(kernel);
  const size_t nd = geo.kernel.size();
  geo.strides = AttrInts(n, "strides");
  geo.pads = AttrInts(n, "pads");
  geo.dilations = AttrInts(n, "dilations");
  if (geo.strides.empty()) geo.strides.assign(nd, 1);
  if (geo.pads.empty() || auto_pad == "VALID") geo.pads.assign(2 * nd, 0);
  if (geo.dilations.empty()) geo.dilations.assign(nd, 1);
  geo.group = AttrInt(n, "group", 1);
  return geo;
}

std::vector<int64_t> ConvSpatialAxes(int64_t nd) {
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < nd; ++i) axes.push_back(2 + i);
  return axes;
}

// The gradient of conv(x, w) with respect to x [n, c, spatial] given dy: ConvTranspose with the
// output padding that restores the positions the last window never reached when x's spatial
// sizes are known; else the full transposed output padded and cut to x's size at run time.
std::string ConvInputGrad(GradEmitter& e, const std::string& dy, const std::string& w,
                          const std::string& x, const ConvGeometry& geo, const std::string& op) {
  const TensorInfo& xi = e.Info(x, op, true);
  const int64_t nd = geo.nd();
  std::vector<int64_t> extra(nd);
  bool known = xi.rank() == nd + 2;
  for (int64_t i = 0; known && i < nd; ++i) {
    const int64_t size = xi.dims[2 + i].value;
    const int64_t reach = size + geo.pads[i] + geo.pads[nd + i] - geo.Span(i);
    known = size >= 0 && reach >= 0;
    if (known) extra[i] = reach % geo.strides[i];
  }
  const std::vector<Attr> common = {{"kernel_shape", geo.kernel},
                                    {"strides", geo.strides},
                                    {"dilations", geo.dilations},
                                    {"group", geo.group}};
  if (known) {
    std::vector<Attr> attrs = common;
    attrs.push_back({"pads", geo.pads});
    attrs.push_back({"output_padding", extra});
    return e.Node("ConvTranspose", {dy, w}, attrs);
  }
  std::string full = e.Node("ConvTranspose", {dy, w}, common);
  std::vector<int64_t> tail(2 * (nd + 2), 0), starts(nd);
  for (int64_t i = 0; i < nd; ++i) {
    tail[nd + 2 + 2 + i] = geo.strides[i] - 1;
    starts[i] = geo.pads[i];
  }
  full = e.Node("Pad", {full, e.Ints(tail)});
  const std::string sizes = e.Node("Slice", {e.Node("Shape", {x}), e.Ints({2}), e.Ints({2 + nd})});
  const std::string begin = e.Ints(starts);
  return e.Node("Slice", {full, begin, e.Node("Add", {begin, sizes}), e.Ints(ConvSpatialAxes(nd))});
}

// t [n, g * k, spatial] as [k, g * n, spatial]: each group's channels become the batch of a
// convolution whose group j sees group j's n images as its input channels.
std::string ConvGroupsToBatch(GradEmitter& e, const std::string& t, int64_t g, int64_t k,
                              int64_t nd) {
  std::vector<int64_t> perm = {1, 0};
  if (g == 1) {
    for (int64_t i = 0; i < nd; ++i) perm.push_back(2 + i);
    return e.Node("Transpose", {t}, {{"perm", perm}});
  }
  const std::string spatial =
      e.Node("Slice", {e.Node("Shape", {t}), e.Ints({2}), e.Ints({2 + nd})});
  const std::string split = e.Node(
      "Reshape", {t, e.Node("Concat", {e.Ints({0, g, k}), spatial}, {{"axis", int64_t{0}}})});
  perm = {2, 1, 0};
  for (int64_t i = 0; i < nd; ++i) perm.push_back(3 + i);
  const std::string moved = e.Node("Transpose", {split}, {{"perm", perm}});
  return e.Node("Reshape",
                {moved, e.Node("Concat", {e.Ints({k, -1}), spatial}, {{"axis", int64_t{0}}})});
}

// dw [m, c / g, kernel] = sum over the batch and output positions of dy times the input window.
std::string ConvWeightGrad(GradEmitter& e, const std::string& dy, const std::string& x,
                           const ConvGeometry& geo, int64_t group_inputs) {
  const int64_t nd = geo.nd(), g = geo.group;
  const std::string xs = ConvGroupsToBatch(e, x, g, group_inputs, nd);  // [c/g, g n, spatial]
  // dy [n, m, out] as weights [m, n, out]: filter m of group j over group j's n images.
  std::vector<int64_t> perm = {1, 0};
  for (int64_t i = 0; i < nd; ++i) perm.push_back(2 + i);
  const std::string ws = e.Node("Transpose", {dy}, {{"perm", perm}});
  const std::string full = e.Node(
      "Conv", {xs, ws},
      {{"strides", geo.dilations}, {"dilations", geo.strides}, {"pads", geo.pads}, {"group", g}});
  const std::string cut = e.Node("Slice", {full, e.Ints(std::vector<int64_t>(nd, 0)),
                                           e.Ints(geo.kernel), e.Ints(ConvSpatialAxes(nd))});
  return e.Node("Transpose", {cut}, {{"perm", perm}});  // [m, c/g, kernel]
}

std::vector<std::string> ConvGrad(GradCall& c) {
  const auto& w = c.e.Info(c.node.input(1), "Conv", true);
  std::vector<int64_t> kernel;
  for (size_t i = 2; i < w.dims.size(); ++i) kernel.push_back(w.dims[i].value);
  if (w.rank() < 3 || w.dims[0].value < 0 || w.dims[1].value < 0 ||
      std::find(kernel.begin(), kernel.end(), -1) != kernel.end())
    throw Error(
        ErrorKind::kUnsupported,
        fmt::format("no gradient for Conv '{}': its weight's shape is not known", c.node.name()));
  const ConvGeometry geo = ReadConvGeometry(c.node, kernel);
  std::vector<std::string> out(c.node.input_size());
  if (c.want[0])
    out[0] = ConvInputGrad(c.e, c.dy[0], c.node.input(1), c.node.input(0), geo, "Conv");
  if (c.want[1]) out[1] = ConvWeightGrad(c.e, c.dy[0], c.node.input(0), geo, w.dims[1].value);
  if (c.node.input_size() > 2 && c.want[2]) {
    std::vector<int64_t> axes = {0};
    for (int64_t i = 0; i < geo.nd(); ++i) axes.push_back(2 + i);
    out[2] = c.e.Node("ReduceSum", {c.dy[0], c.e.Ints(axes)}, {{"keepdims", int64_t{0}}});
  }
  return out;
}

// t [n, c, spatial] as [n c, 1, spatial]: each channel pooled alone, as a one-filter Conv.
std::string ChannelsToPoolBatch(GradEmitter& e, const std::string& t, int64_t nd) {
  const std::string spatial =
      e.Node("Slice", {e.Node("Shape", {t}), e.Ints({2}), e.Ints({2 + nd})});
  return e.Node("Reshape",
                {t, e.Node("Concat", {e.Ints({-1, 1}), spatial}, {{"axis", int64_t{0}}})});
}

// AveragePool: the window sum's transpose of dy over each window's divisor (the kernel size,
// or with count_include_pad 0 the number of real elements in it).
std::vector<std::string> AveragePoolGrad(GradCall& c) {
  const std::string& x = c.node.input(0);
  const int32_t elem = c.e.Elem(x, "AveragePool");
  const ConvGeometry geo = ReadConvGeometry(c.node, AttrInts(c.node, "kernel_shape"));
  if (AttrInt(c.node, "ceil_mode", 0) != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("no gradient for AveragePool '{}' with ceil_mode 1", c.node.name()));
  const int64_t nd = geo.nd();
  int64_t count = 1;
  for (int64_t k : geo.kernel) count *= k;
  std::string dy = c.e.Node("Div", {c.dy[0], c.e.Scalar(static_cast<double>(count), elem)});
  bool padded = false;
  for (int64_t p : geo.pads) padded = padded || p != 0;
  if (padded && AttrInt(c.node, "count_include_pad", 0) == 0) {
    // The share of real elements in each window: the padded average of ones.
    std::vector<Attr> attrs = {{"kernel_shape", geo.kernel},
                               {"strides", geo.strides},
                               {"pads", geo.pads},
                               {"count_include_pad", int64_t{1}}};
    dy = c.e.Node("Div", {dy, c.e.Node("AveragePool", {c.e.Fill(x, 1.0)}, attrs)});
  }
  std::vector<int64_t> ones_shape = {1, 1};
  ones_shape.insert(ones_shape.end(), geo.kernel.begin(), geo.kernel.end());
  const std::string ones = c.e.Node("Expand", {c.e.Scalar(1.0, elem), c.e.Ints(ones_shape)});
  ConvGeometry single = geo;
  single.group = 1;
  const std::string dx =
      ConvInputGrad(c.e, ChannelsToPoolBatch(c.e, dy, nd), ones, x, single, "AveragePool");
  return {c.e.Node("Reshape", {dx, c.e.Node("Shape", {x})})};
}

// MaxPool: dy added at the argmax of each window (the operator run again for its indices).
std::vector<std::string> MaxPoolGrad(GradCall& c) {
  if (AttrInt(c.node, "storage_order", 0) != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("no gradient for MaxPool '{}' with storage_order 1", c.node.name()));
  std::vector<Attr> attrs;
  for (const char* name : {"kernel_shape", "strides", "pads", "dilations"}) {
    bool found = false;
    auto v = AttrInts(c.node, name, &found);
    if (found) attrs.push_back({name, v});
  }
  attrs.push_back({"ceil_mode", AttrInt(c.node, "ceil_mode", 0)});
  ReadConvGeometry(c.node, AttrInts(c.node, "kernel_shape"));  // refuses auto_pad SAME
  const std::string& x = c.node.input(0);
  const auto pooled = c.e.NodeN("MaxPool", {x}, 2, attrs);
  const std::string flat = c.e.Ints({-1});
  const std::string summed =
      c.e.Node("ScatterElements",
               {c.e.Node("Reshape", {c.e.Fill(x), flat}), c.e.Node("Reshape", {pooled[1], flat}),
                c.e.Node("Reshape", {c.dy[0], flat})},
               {{"axis", int64_t{0}}, {"reduction", std::string("add")}});
  return {c.e.Node("Reshape", {summed, c.e.Node("Shape", {x})})};
}

// GlobalAveragePool: dy spread evenly over each channel's positions.
std::vector<std::string> GlobalAveragePoolGrad(GradCall& c) {
  const std::string& x = c.node.input(0);
  const int32_t elem = c.e.Elem(x, "GlobalAveragePool");
  const auto size = [&](const std::string& t) {
    return c.e.Node("Cast", {c.e.Node("Size", {t})}, {{"to", int64_t{elem}}});
  };
  const std::string count = c.e.Node("Div", {size(x), size(c.node.output(0))});
  return {c.e.Node("Div", {c.e.Node("Expand", {c.dy[0], c.e.Node("Shape", {x})}), count})};
}

}  // namespace

void AddConvRules(std::map<std::string, GradRule>& t) {
  t["Conv"] = ConvGrad;
  t["AveragePool"] = AveragePoolGrad;
  t["MaxPool"] = MaxPoolGrad;
  t["GlobalAveragePool"] = GlobalAveragePoolGrad;
}

}  // namespace ipfs_accel::models
