// Gradients of operators that move or select elements without changing them: the gradient goes
// back to where each element came from, summed where one element was used several times.

#include <algorithm>
#include <cstring>
#include <numeric>

#include "gradient_rules_internal.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

std::vector<std::string> Only0(GradCall& c, std::string g) {
  std::vector<std::string> out(c.node.input_size());
  out[0] = std::move(g);
  return out;
}

std::vector<std::string> TransposeGrad(GradCall& c) {
  bool found = false;
  const std::vector<int64_t> perm = AttrInts(c.node, "perm", &found);
  if (!found) return Only0(c, c.e.Node("Transpose", {c.dy[0]}));  // reversal is its own inverse
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  return Only0(c, c.e.Node("Transpose", {c.dy[0]}, {{"perm", inverse}}));
}

// Reshape, Squeeze, Unsqueeze, Flatten: the same elements in another shape.
std::vector<std::string> ReshapeGrad(GradCall& c) {
  return Only0(c, c.e.Node("Reshape", {c.dy[0], c.e.Node("Shape", {c.node.input(0)})}));
}

// The flat position in `data` of each element `select(index grid)` picks: the same selection
// applied to a grid of positions.
std::string Positions(GradCall& c, const std::string& data) {
  const std::string size = c.e.Node("Size", {data});
  return c.e.Node("Reshape", {c.e.Node("Range", {c.e.Scalar(0, onnx::TensorProto::INT64), size,
                                                 c.e.Scalar(1, onnx::TensorProto::INT64)}),
                              c.e.Node("Shape", {data})});
}

// dy scatter-added into zeros of data's shape at flat `positions` (one per element of dy).
std::string ScatterBack(GradCall& c, const std::string& data, const std::string& positions) {
  const std::string minus1 = c.e.Ints({-1});
  const std::string zeros = c.e.Node("Reshape", {c.e.Fill(data), minus1});
  const std::string summed = c.e.Node(
      "ScatterElements",
      {zeros, c.e.Node("Reshape", {positions, minus1}), c.e.Node("Reshape", {c.dy[0], minus1})},
      {{"axis", int64_t{0}}, {"reduction", std::string("add")}});
  return c.e.Node("Reshape", {summed, c.e.Node("Shape", {data})});
}

// Gather along axis 0 (embedding lookups) scatter-adds rows; other axes go through positions.
std::vector<std::string> GatherGrad(GradCall& c) {
  const std::string& data = c.node.input(0);
  const std::string& indices = c.node.input(1);
  const int64_t axis = AttrInt(c.node, "axis", 0);
  if (axis != 0) {
    const std::string positions =
        c.e.Node("Gather", {Positions(c, data), indices}, {{"axis", axis}});
    return Only0(c, ScatterBack(c, data, positions));
  }
  const std::string rows = c.e.Node("Unsqueeze", {indices, c.e.Ints({-1})});
  return Only0(c, c.e.Node("ScatterND", {c.e.Fill(data), rows, c.dy[0]},
                           {{"reduction", std::string("add")}}));
}

std::vector<std::string> GatherElementsGrad(GradCall& c) {
  const int64_t axis = AttrInt(c.node, "axis", 0);
  return Only0(c, c.e.Node("ScatterElements", {c.e.Fill(c.node.input(0)), c.node.input(1), c.dy[0]},
                           {{"axis", axis}, {"reduction", std::string("add")}}));
}

// Slice (any starts, ends, axes, steps): the positions the same slice picks from a grid.
std::vector<std::string> SliceGrad(GradCall& c) {
  std::vector<std::string> inputs(c.node.input().begin(), c.node.input().end());
  inputs[0] = Positions(c, c.node.input(0));
  return Only0(c, ScatterBack(c, c.node.input(0), c.e.Node("Slice", inputs)));
}

// Compress: the positions the same selection picks from a grid.
std::vector<std::string> CompressGrad(GradCall& c) {
  std::vector<std::string> inputs(c.node.input().begin(), c.node.input().end());
  inputs[0] = Positions(c, c.node.input(0));
  std::vector<Attr> attrs;
  bool has_axis = false;
  for (const auto& a : c.node.attribute()) has_axis = has_axis || a.name() == "axis";
  if (has_axis) attrs.push_back({"axis", AttrInt(c.node, "axis", 0)});
  return Only0(c, ScatterBack(c, c.node.input(0), c.e.Node("Compress", inputs, attrs)));
}

// TopK: each selected value's gradient back at its index (the Indices output).
std::vector<std::string> TopKGrad(GradCall& c) {
  const int64_t axis = AttrInt(c.node, "axis", -1);
  return Only0(c,
               c.e.Node("ScatterElements", {c.e.Fill(c.node.input(0)), c.node.output(1), c.dy[0]},
                        {{"axis", axis}, {"reduction", std::string("add")}}));
}

// Concat: dy split back into pieces of each input's size along the axis.
std::vector<std::string> ConcatGrad(GradCall& c) {
  const int64_t axis = AttrInt(c.node, "axis", 0);
  std::vector<std::string> sizes;
  for (const auto& in : c.node.input())
    sizes.push_back(c.e.Node("Gather", {c.e.Node("Shape", {in}), c.e.Ints({axis})}));
  const std::string split = c.e.Node("Concat", sizes, {{"axis", int64_t{0}}});
  const std::vector<std::string> parts =
      c.e.NodeN("Split", {c.dy[0], split}, c.node.input_size(), {{"axis", axis}});
  std::vector<std::string> out(c.node.input_size());
  for (int i = 0; i < c.node.input_size(); ++i)
    if (c.want[i]) out[i] = parts[i];
  return out;
}

// Split: the outputs' gradients (zeros where none reached) concatenated.
std::vector<std::string> SplitGrad(GradCall& c) {
  std::vector<std::string> parts;
  for (int i = 0; i < c.node.output_size(); ++i)
    parts.push_back(c.dy[i].empty() ? c.e.Fill(c.node.output(i)) : c.dy[i]);
  return Only0(c, c.e.Node("Concat", parts, {{"axis", AttrInt(c.node, "axis", 0)}}));
}

// Scatter with reduction "none" (no index repeated): the scattered positions of data are
// overwritten, so their gradient is zero; the updates' gradient is dy read back at them.
// `gather` reads dy at the indices (GatherElements or GatherND).
std::vector<std::string> ScatterGrad(GradCall& c, const char* gather,
                                     const std::vector<Attr>& attrs) {
  const std::string reduction = AttrString(c.node, "reduction", "none");
  if (reduction != "none" && reduction != "add")
    throw core::Error(core::ErrorKind::kUnsupported,
                      "no gradient for " + c.node.op_type() + " with reduction " + reduction);
  const std::string& indices = c.node.input(1);
  std::vector<std::string> out(3);
  if (c.want[0])
    out[0] = reduction == "add"
                 ? c.dy[0]
                 : c.e.Node(c.node.op_type(), {c.dy[0], indices, c.e.Fill(c.node.input(2))}, attrs);
  if (c.want[2]) out[2] = c.e.Node(gather, {c.dy[0], indices}, attrs);
  return out;
}

std::vector<std::string> ScatterElementsGrad(GradCall& c) {
  return ScatterGrad(c, "GatherElements", {{"axis", AttrInt(c.node, "axis", 0)}});
}

std::vector<std::string> ScatterNDGrad(GradCall& c) { return ScatterGrad(c, "GatherND", {}); }

// GatherND's indices with `batch` leading batch axes made whole tuples: each tuple prefixed by
// the position of its batch (what batch_dims 0 means by them), so ScatterND can take them.
std::string WithBatchCoordinates(GradCall& c, const std::string& indices, int64_t batch) {
  const int64_t rank = c.e.Info(indices, "GatherND", true).rank();
  const std::string shape = c.e.Node("Shape", {indices});
  const std::string grid = c.e.Node(
      "Concat", {c.e.Node("Slice", {shape, c.e.Ints({0}), c.e.Ints({rank - 1})}), c.e.Ints({1})},
      {{"axis", int64_t{0}}});
  std::vector<std::string> parts;
  for (int64_t j = 0; j < batch; ++j) {
    const std::string size = c.e.Node(
        "Squeeze", {c.e.Node("Slice", {shape, c.e.Ints({j}), c.e.Ints({j + 1})}), c.e.Ints({0})});
    const std::string range = c.e.Node("Range", {c.e.Scalar(0, onnx::TensorProto::INT64), size,
                                                 c.e.Scalar(1, onnx::TensorProto::INT64)});
    std::vector<int64_t> dims(rank, 1);
    dims[j] = -1;
    parts.push_back(c.e.Node("Expand", {c.e.Node("Reshape", {range, c.e.Ints(dims)}), grid}));
  }
  parts.push_back(indices);
  return c.e.Node("Concat", parts, {{"axis", int64_t{-1}}});
}

std::vector<std::string> GatherNDGrad(GradCall& c) {
  const int64_t batch = AttrInt(c.node, "batch_dims", 0);
  const std::string indices =
      batch == 0 ? c.node.input(1) : WithBatchCoordinates(c, c.node.input(1), batch);
  return Only0(c, c.e.Node("ScatterND", {c.e.Fill(c.node.input(0)), indices, c.dy[0]},
                           {{"reduction", std::string("add")}}));
}

// The pads of a Pad node when they are an initializer; empty otherwise.
std::vector<int64_t> PadStaticValues(GradCall& c) {
  for (const auto& t : c.e.graph()->initializer())
    if (t.name() == c.node.input(1) && t.data_type() == onnx::TensorProto::INT64) {
      if (t.has_raw_data()) {
        std::vector<int64_t> v(t.raw_data().size() / sizeof(int64_t));
        std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(int64_t));
        return v;
      }
      return {t.int64_data().begin(), t.int64_data().end()};
    }
  return {};
}

// Pad in constant mode: dy cut back to x's extent (non-negative pads; a negative one crops).
std::vector<std::string> PadGrad(GradCall& c) {
  const std::vector<int64_t> pads = PadStaticValues(c);
  const bool negative = std::any_of(pads.begin(), pads.end(), [](int64_t p) { return p < 0; });
  if (AttrString(c.node, "mode", "constant") != "constant" || negative ||
      (c.node.input_size() > 2 && c.want[2]) ||
      (c.node.input_size() > 3 && !c.node.input(3).empty()))
    throw core::Error(core::ErrorKind::kUnsupported,
                      "no gradient for Pad '" + c.node.name() +
                          "' other than constant mode with non-negative pads over every axis");
  const std::string& x = c.node.input(0);
  const int64_t rank = c.e.Info(x, "Pad", true).rank();
  const std::string begin = c.e.Node("Slice", {c.node.input(1), c.e.Ints({0}), c.e.Ints({rank})});
  const std::string end = c.e.Node("Add", {begin, c.e.Node("Shape", {x})});
  return Only0(c, c.e.Node("Slice", {c.dy[0], begin, end}));
}

// Tile: dy as [repeats0, x0, repeats1, x1, ...], summed over the repeats.
std::vector<std::string> TileGrad(GradCall& c) {
  const std::string& x = c.node.input(0);
  const int64_t rank = c.e.Info(x, "Tile", true).rank();
  const auto column = [&](const std::string& v) {
    return c.e.Node("Unsqueeze", {v, c.e.Ints({1})});
  };
  const std::string pairs = c.e.Node(
      "Reshape", {c.e.Node("Concat", {column(c.node.input(1)), column(c.e.Node("Shape", {x}))},
                           {{"axis", int64_t{1}}}),
                  c.e.Ints({-1})});
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < rank; ++i) axes.push_back(2 * i);
  return Only0(c, c.e.Node("ReduceSum", {c.e.Node("Reshape", {c.dy[0], pairs}), c.e.Ints(axes)},
                           {{"keepdims", int64_t{0}}}));
}

// Resize along axis `axis` alone as a matrix [n, m] (input position i's weight in output j): the
// same Resize applied to the identity of size n, one axis at a time. Every mode ONNX has
// (nearest, linear, cubic) interpolates axis by axis, so the axes' matrices compose.
std::string ResizeAxisMatrix(GradCall& c, int64_t axis, int32_t elem) {
  const std::string& x = c.node.input(0);
  const auto at = [&](const std::string& t) {
    return c.e.Node("Slice", {t, c.e.Ints({axis}), c.e.Ints({axis + 1})});
  };
  const std::string n = at(c.e.Node("Shape", {x}));
  const std::string square = c.e.Node("Concat", {n, n}, {{"axis", int64_t{0}}});
  const std::string eye = c.e.Node("EyeLike", {c.e.Node("Expand", {c.e.Scalar(0, elem), square})});
  std::vector<Attr> attrs;
  for (const char* name : {"mode", "coordinate_transformation_mode", "nearest_mode"}) {
    const std::string v = AttrString(c.node, name, "");
    if (!v.empty()) attrs.push_back({name, v});
  }
  attrs.push_back({"cubic_coeff_a", AttrFloat(c.node, "cubic_coeff_a", -0.75f)});
  attrs.push_back({"exclude_outside", AttrInt(c.node, "exclude_outside", 0)});
  const bool sizes = c.node.input_size() > 3 && !c.node.input(3).empty();
  if (sizes)
    return c.e.Node(
        "Resize",
        {eye, "", "", c.e.Node("Concat", {n, at(c.node.input(3))}, {{"axis", int64_t{0}}})}, attrs);
  const std::string one =
      c.e.Node("Reshape", {c.e.Scalar(1, onnx::TensorProto::FLOAT), c.e.Ints({1})});
  return c.e.Node("Resize",
                  {eye, "", c.e.Node("Concat", {one, at(c.node.input(2))}, {{"axis", int64_t{0}}})},
                  attrs);
}

// Resize is linear in x: dy contracted with each axis's matrix (y = x M along the axis).
std::vector<std::string> ResizeGrad(GradCall& c) {
  const std::string& x = c.node.input(0);
  const auto& xi = c.e.Info(x, "Resize", true);
  if (AttrString(c.node, "coordinate_transformation_mode", "half_pixel") == "tf_crop_and_resize")
    throw core::Error(core::ErrorKind::kUnsupported,
                      "no gradient for Resize '" + c.node.name() + "' with tf_crop_and_resize");
  const int64_t rank = xi.rank();
  std::string g = c.dy[0];
  for (int64_t axis = 0; axis < rank; ++axis) {
    const std::string back = c.e.Node("Transpose", {ResizeAxisMatrix(c, axis, xi.elem)},
                                      {{"perm", std::vector<int64_t>{1, 0}}});
    if (axis == rank - 1) {
      g = c.e.Node("MatMul", {g, back});
      continue;
    }
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::swap(perm[axis], perm[rank - 1]);
    const std::string moved = c.e.Node("Transpose", {g}, {{"perm", perm}});
    g = c.e.Node("Transpose", {c.e.Node("MatMul", {moved, back})}, {{"perm", perm}});
  }
  return Only0(c, g);
}

}  // namespace

void AddLayoutRules(std::map<std::string, GradRule>& t) {
  t["Transpose"] = TransposeGrad;
  t["Reshape"] = ReshapeGrad;
  t["Squeeze"] = ReshapeGrad;
  t["Unsqueeze"] = ReshapeGrad;
  t["Flatten"] = ReshapeGrad;
  t["Gather"] = GatherGrad;
  t["GatherElements"] = GatherElementsGrad;
  t["Slice"] = SliceGrad;
  t["Concat"] = ConcatGrad;
  t["Split"] = SplitGrad;
  t["ScatterElements"] = ScatterElementsGrad;
  t["ScatterND"] = ScatterNDGrad;
  t["GatherND"] = GatherNDGrad;
  t["Pad"] = PadGrad;
  t["Tile"] = TileGrad;
  t["Resize"] = ResizeGrad;
  t["Compress"] = CompressGrad;
  t["TopK"] = TopKGrad;
}

}  // namespace ipfs_accel::models
