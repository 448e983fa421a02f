#include "hgnet_v2_builder.h"

#include <vector>

#include <fmt/format.h>

#include "conv2d.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct HgStage {
  int64_t in = 0, mid = 0, out = 0, blocks = 1, layers = 6, kernel = 3;
  bool downsample = false, light = false;
};

struct HgNetV2Shape {
  std::vector<int64_t> stem = {3, 32, 48};
  std::vector<HgStage> stages;
  int64_t channels = 3;
  std::string act = "relu";
  bool lab = false;
};

std::vector<bool> BoolList(const HfConfig& c, const std::string& key, std::vector<bool> fallback) {
  if (!c.Has(key)) return fallback;
  try {
    return c.json()[key].get<std::vector<bool>>();
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': '{}' must be a list of booleans", c.origin(), key));
  }
}

HgNetV2Shape ReadHgNetV2Shape(const HfConfig& c) {
  HgNetV2Shape s;
  s.channels = c.Int("num_channels", s.channels);
  s.act = c.String("hidden_act", s.act);
  s.lab = c.Bool("use_learnable_affine_block", false);
  s.stem = ConfigIntList(c, "stem_channels", s.stem);
  const auto in = ConfigIntList(c, "stage_in_channels", {48, 128, 512, 1024});
  const auto mid = ConfigIntList(c, "stage_mid_channels", {48, 96, 192, 384});
  const auto out = ConfigIntList(c, "stage_out_channels", {128, 512, 1024, 2048});
  const auto blocks = ConfigIntList(c, "stage_num_blocks", {1, 1, 3, 1});
  const auto layers = ConfigIntList(c, "stage_numb_of_layers", {6, 6, 6, 6});
  const auto kernels = ConfigIntList(c, "stage_kernel_size", {3, 3, 5, 5});
  const auto down = BoolList(c, "stage_downsample", {false, true, true, true});
  const auto light = BoolList(c, "stage_light_block", {false, false, true, true});
  const size_t n = in.size();
  if (mid.size() != n || out.size() != n || blocks.size() != n || layers.size() != n ||
      kernels.size() != n || down.size() != n || light.size() != n || s.stem.size() != 3 ||
      s.stem[0] != s.channels)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the stage lists must have one entry per stage and "
                            "stem_channels three, the first num_channels",
                            c.origin()));
  for (size_t i = 0; i < n; ++i)
    s.stages.push_back(
        {in[i], mid[i], out[i], blocks[i], layers[i], kernels[i], down[i], light[i]});
  return s;
}

// A side after a k x k conv with stride and padding (k - 1) / 2; symbolic sides keep `name`.
Dim HgNetSide(const Dim& d, int64_t k, int64_t stride, const std::string& name) {
  if (stride == 1 && k % 2 == 1) return d;
  if (const auto* n = std::get_if<int64_t>(&d)) return (*n + 2 * ((k - 1) / 2) - k) / stride + 1;
  return name;
}

std::string ZeroPadBottomRight(GraphBuilder& g, const std::string& x) {
  return g.Node("Pad", {x, g.ConstInt64({0, 0, 0, 0, 0, 0, 1, 1})});
}

// HGNetV2Embeddings under embedder.
std::string Stem(GraphBuilder& g, const HgNetV2Shape& s, const std::string& x) {
  const int64_t c1 = s.stem[1];
  auto layer = [&](const std::string& in, const std::string& name, int64_t a, int64_t b, int64_t k,
                   int64_t stride) {
    return HgNetV2ConvLayer(g, in, "embedder." + name, a, b, k, stride, 1, s.act, s.lab);
  };
  const std::string e = ZeroPadBottomRight(g, layer(x, "stem1", s.channels, c1, 3, 2));
  const std::string branch = layer(ZeroPadBottomRight(g, layer(e, "stem2a", c1, c1 / 2, 2, 1)),
                                   "stem2b", c1 / 2, c1, 2, 1);
  const std::string pooled = g.Node(
      "MaxPool", {e},
      {{"kernel_shape", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{1, 1}}});
  const std::string cat = g.Node("Concat", {pooled, branch}, {{"axis", int64_t{1}}});
  return layer(layer(cat, "stem3", 2 * c1, c1, 3, 2), "stem4", c1, s.stem[2], 1, 1);
}

// HGNetV2BasicLayer under `p`.
std::string Block(GraphBuilder& g, const HgNetV2Shape& s, const HgStage& st, const std::string& x,
                  const std::string& p, int64_t in, bool residual) {
  std::vector<std::string> outputs = {x};
  std::string h = x;
  for (int64_t i = 0; i < st.layers; ++i) {
    const int64_t layer_in = i == 0 ? in : st.mid;
    const std::string lp = fmt::format("{}layers.{}", p, i);
    if (st.light) {
      h = HgNetV2ConvLayer(g, h, lp + ".conv1", layer_in, st.mid, 1, 1, 1, "", s.lab);
      h = HgNetV2ConvLayer(g, h, lp + ".conv2", st.mid, st.mid, st.kernel, 1, st.mid, "relu",
                           s.lab);
    } else {
      h = HgNetV2ConvLayer(g, h, lp, layer_in, st.mid, st.kernel, 1, 1, "relu", s.lab);
    }
    outputs.push_back(h);
  }
  h = g.Node("Concat", outputs, {{"axis", int64_t{1}}});
  const int64_t total = in + st.layers * st.mid;
  h = HgNetV2ConvLayer(g, h, p + "aggregation.0", total, st.out / 2, 1, 1, 1, "relu", s.lab);
  h = HgNetV2ConvLayer(g, h, p + "aggregation.1", st.out / 2, st.out, 1, 1, 1, "relu", s.lab);
  return residual ? g.Node("Add", {h, x}) : h;
}

}  // namespace

std::string HgNetV2ConvLayer(GraphBuilder& g, const std::string& x, const std::string& prefix,
                             int64_t in, int64_t out, int64_t kernel, int64_t stride,
                             int64_t groups, const std::string& act, bool lab) {
  const int64_t pad = (kernel - 1) / 2;
  std::string y = ConvNormAct(g, x, prefix,
                              Conv2dSpec{.in = in,
                                         .out = out,
                                         .kernel = kernel,
                                         .stride = stride,
                                         .pads = {pad, pad, pad, pad},
                                         .groups = groups},
                              1e-5, act);
  if (!lab || act.empty()) return y;
  return LearnableAffine(g, y, prefix + ".lab");
}

void BuildHgNetV2(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': the hgnet_v2 builder takes no pieces, not {}", config.origin(),
                            pieces.dump()));
  const HgNetV2Shape s = ReadHgNetV2Shape(config);
  const auto [height, width] = ImageDims(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, height, width});
  std::vector<FeatureMap> states = {
      {Stem(g, s, "pixel_values"), s.stem[2],
       HgNetSide(HgNetSide(height, 3, 2, "stem_height"), 3, 2, "stem_height"),
       HgNetSide(HgNetSide(width, 3, 2, "stem_width"), 3, 2, "stem_width")}};
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const HgStage& st = s.stages[i];
    const std::string p = fmt::format("encoder.stages.{}.", i);
    FeatureMap m = states.back();
    const std::string hn = fmt::format("stage{}_height", i + 1);
    const std::string wn = fmt::format("stage{}_width", i + 1);
    if (st.downsample) {
      m.x = HgNetV2ConvLayer(g, m.x, p + "downsample", st.in, st.in, 3, 2, st.in, "", false);
      m.height = HgNetSide(m.height, 3, 2, hn);
      m.width = HgNetSide(m.width, 3, 2, wn);
    }
    for (int64_t b = 0; b < st.blocks; ++b)
      m.x = Block(g, s, st, m.x, fmt::format("{}blocks.{}.", p, b), b == 0 ? st.in : st.out, b > 0);
    m.channels = st.out;
    m.height = HgNetSide(m.height, st.kernel, 1, hn);
    m.width = HgNetSide(m.width, st.kernel, 1, wn);
    states.push_back(m);
  }
  // stage_names follow `depths` (stem, stage1..stageN), the hidden states the stages: the two
  // agree in HF's configs.
  BackboneOutputs(g, config, states);
}

}  // namespace ipfs_accel::models
