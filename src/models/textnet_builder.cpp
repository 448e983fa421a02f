#include "textnet_builder.h"

#include <algorithm>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "resnet_builder.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

struct Kernel {
  int64_t h = 3, w = 3;
};

struct TextNetShape {
  int64_t channels = 3, stem_out = 64, stem_kernel = 3, stem_stride = 2;
  int64_t height = 640, width = 640;
  std::string stem_act = "relu";  // "" for none (stem_act_func null)
  std::vector<std::vector<Kernel>> kernels;
  std::vector<std::vector<int64_t>> strides;
  std::vector<int64_t> hidden = {64, 64, 128, 256, 512};
  double eps = 1e-5;
};

[[noreturn]] void Corrupt(const HfConfig& c, const std::string& what) {
  throw Error(ErrorKind::kCorrupt, fmt::format("'{}': {}", c.origin(), what));
}

void ReadStages(const HfConfig& c, TextNetShape& s) {
  const nlohmann::json k =
      c.json().value("conv_layer_kernel_sizes",
                     nlohmann::json::parse("[[[3,3],[3,3],[3,3]],[[3,3],[1,3],[3,3],[3,1]],"
                                           "[[3,3],[3,3],[3,1],[1,3]],[[3,3],[3,1],[1,3],[3,3]]]"));
  const nlohmann::json st = c.json().value(
      "conv_layer_strides", nlohmann::json::parse("[[1,2,1],[2,1,1,1],[2,1,1,1],[2,1,1,1]]"));
  try {
    for (const auto& stage : k) {
      s.kernels.emplace_back();
      for (const auto& kk : stage)
        s.kernels.back().push_back({kk.at(0).get<int64_t>(), kk.at(1).get<int64_t>()});
    }
    s.strides = st.get<std::vector<std::vector<int64_t>>>();
  } catch (const nlohmann::json::exception&) {
    Corrupt(
        c, "conv_layer_kernel_sizes / conv_layer_strides must be lists of [h, w] / ints per stage");
  }
  bool fits = s.kernels.size() == s.strides.size() && s.hidden.size() == s.kernels.size() + 1 &&
              s.stem_out == s.hidden[0];
  for (size_t i = 0; fits && i < s.kernels.size(); ++i)
    fits = s.kernels[i].size() == s.strides[i].size() && !s.kernels[i].empty();
  if (!fits)
    Corrupt(c,
            "each stage needs as many kernels as strides, hidden_sizes one more entry than the "
            "stages, and stem_out_channels equal to hidden_sizes[0]");
}

TextNetShape ReadTextNetShape(const HfConfig& c) {
  TextNetShape s;
  s.channels = c.Int("stem_num_channels", s.channels);
  s.stem_out = c.Int("stem_out_channels", s.stem_out);
  s.stem_kernel = c.Int("stem_kernel_size", s.stem_kernel);
  s.stem_stride = c.Int("stem_stride", s.stem_stride);
  s.stem_act = c.Has("stem_act_func") && c.json()["stem_act_func"].is_null()
                   ? ""
                   : c.String("stem_act_func", s.stem_act);
  s.hidden = ConfigIntList(c, "hidden_sizes", s.hidden);
  s.eps = c.Double("batch_norm_eps", s.eps);
  const std::vector<int64_t> image = ConfigIntList(c, "image_size", {640, 640});
  s.height = image[0];
  s.width = image.size() > 1 ? image[1] : image[0];
  ReadStages(c, s);
  return s;
}

// A bias-free kh x kw convolution, padded (k - 1) / 2 on each axis.
std::string TextNetConv(GraphBuilder& g, const std::string& x, const std::string& name, int64_t in,
                        int64_t out, Kernel k, int64_t stride) {
  const std::string w = g.Weight(name + ".weight", {out, in, k.h, k.w}, WeightInit::kNormal);
  const int64_t ph = (k.h - 1) / 2, pw = (k.w - 1) / 2;
  return g.Node("Conv", {x, w},
                {{"kernel_shape", std::vector<int64_t>{k.h, k.w}},
                 {"strides", std::vector<int64_t>{stride, stride}},
                 {"pads", std::vector<int64_t>{ph, pw, ph, pw}}});
}

// TextNetRepConvLayer under `p`.
std::string RepConv(GraphBuilder& g, const TextNetShape& s, const std::string& x,
                    const std::string& p, int64_t in, int64_t out, Kernel k, int64_t stride) {
  std::string y = g.BatchNorm(TextNetConv(g, x, p + "main_conv", in, out, k, stride),
                              p + "main_batch_norm", out, s.eps);
  if (k.w != 1)
    y = g.Node("Add",
               {y, g.BatchNorm(TextNetConv(g, x, p + "vertical_conv", in, out, {k.h, 1}, stride),
                               p + "vertical_batch_norm", out, s.eps)});
  if (k.h != 1)
    y = g.Node("Add",
               {y, g.BatchNorm(TextNetConv(g, x, p + "horizontal_conv", in, out, {1, k.w}, stride),
                               p + "horizontal_batch_norm", out, s.eps)});
  if (in == out && stride == 1)
    y = g.Node("Add", {y, g.BatchNorm(x, p + "rbr_identity", in, s.eps)});
  return g.Node("Relu", {y});
}

// Side after a convolution of `kernel` (padded (kernel - 1) / 2 each side) and `stride`.
int64_t ConvSide(int64_t side, int64_t kernel, int64_t stride) {
  return (side + 2 * ((kernel - 1) / 2) - kernel) / stride + 1;
}

// AdaptiveAvgPool2d((2, 2)) on a static h x w map: cell i covers [floor(i n / 2), ceil((i + 1) n /
// 2)).
std::string AdaptivePool2x2(GraphBuilder& g, const std::string& x, int64_t h, int64_t w) {
  std::vector<std::string> rows;
  for (int64_t i = 0; i < 2; ++i) {
    std::vector<std::string> cells;
    for (int64_t j = 0; j < 2; ++j) {
      const std::string cell =
          g.Node("Slice", {x, g.ConstInt64({i * h / 2, j * w / 2}),
                           g.ConstInt64({((i + 1) * h + 1) / 2, ((j + 1) * w + 1) / 2}),
                           g.ConstInt64({2, 3})});
      cells.push_back(g.Node("ReduceMean", {cell},
                             {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", int64_t{1}}}));
    }
    rows.push_back(g.Node("Concat", cells, {{"axis", int64_t{3}}}));
  }
  return g.Node("Concat", rows, {{"axis", int64_t{2}}});
}

}  // namespace

void BuildTextNet(const HfConfig& config, const nlohmann::json& pieces, GraphBuilder& g) {
  if (!pieces.is_object() || !pieces.empty())
    Corrupt(config, fmt::format("the textnet builder takes no pieces, not {}", pieces.dump()));
  const TextNetShape s = ReadTextNetShape(config);
  g.Input("pixel_values", onnx::TensorProto::FLOAT, {"batch", s.channels, s.height, s.width});
  const int64_t sk = s.stem_kernel, pad = sk / 2;
  std::string x =
      g.Node("Conv",
             {"pixel_values",
              g.Weight("stem.conv.weight", {s.stem_out, s.channels, sk, sk}, WeightInit::kNormal)},
             {{"kernel_shape", std::vector<int64_t>{sk, sk}},
              {"strides", std::vector<int64_t>{s.stem_stride, s.stem_stride}},
              {"pads", std::vector<int64_t>{pad, pad, pad, pad}}});
  x = g.BatchNorm(x, "stem.batch_norm", s.stem_out, s.eps);
  if (!s.stem_act.empty()) x = Activation(g, x, s.stem_act);
  int64_t h = (s.height + 2 * pad - sk) / s.stem_stride + 1;
  int64_t w = (s.width + 2 * pad - sk) / s.stem_stride + 1;
  for (size_t i = 0; i < s.kernels.size(); ++i)
    for (size_t j = 0; j < s.kernels[i].size(); ++j) {
      const int64_t in = j == 0 ? s.hidden[i] : s.hidden[i + 1], stride = s.strides[i][j];
      const Kernel k = s.kernels[i][j];
      x = RepConv(g, s, x, fmt::format("encoder.stages.{}.stage.{}.", i, j), in, s.hidden[i + 1], k,
                  stride);
      h = ConvSide(h, k.h, stride);
      w = ConvSide(w, k.w, stride);
    }
  const int64_t c = s.hidden.back();
  g.Node("Identity", {x}, {}, "last_hidden_state");
  g.Node("Identity", {AdaptivePool2x2(g, x, h, w)}, {}, "pooler_output");
  g.Output("last_hidden_state", onnx::TensorProto::FLOAT, {"batch", c, h, w});
  g.Output("pooler_output", onnx::TensorProto::FLOAT, {"batch", c, 2, 2});
}

}  // namespace ipfs_accel::models
