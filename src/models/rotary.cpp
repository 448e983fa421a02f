#include "rotary.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

// transformers 5 reads `rope_scaling` first when a config has both (it is the legacy
// spelling of the same dictionary); an empty or null one means "no scaling".
json RopeParameters(const HfConfig& c) {
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!c.Has(key)) continue;
    const json& p = c.json()[key];
    if (!p.is_object())
      throw Error(ErrorKind::kCorrupt, fmt::format("'{}': '{}' is not an object", c.origin(), key));
    if (p.empty()) continue;
    for (const char* layer_type : {"full_attention", "sliding_attention"})
      if (p.contains(layer_type) && p[layer_type].is_object())
        throw Error(ErrorKind::kUnsupported,
                    fmt::format("'{}': rope parameters per layer type ('{}' in '{}') are not "
                                "supported by this decoder builder",
                                c.origin(), layer_type, key));
    return p;
  }
  return json::object();
}

double Number(const HfConfig& c, const json& p, const std::string& key) {
  if (!p.contains(key) || p[key].is_null())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': rope parameters lack '{}'", c.origin(), key));
  if (!p[key].is_number())
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': rope parameter '{}' is not a number", c.origin(), key));
  return p[key].get<double>();
}

double NumberOr(const HfConfig& c, const json& p, const std::string& key, double fallback) {
  return p.contains(key) && !p[key].is_null() ? Number(c, p, key) : fallback;
}

// base ** (i / dim) for i = 0, 2, ..., in float32 as torch evaluates it.
std::vector<float> DefaultInvFreq(double base, int64_t dim) {
  std::vector<float> inv;
  for (int64_t i = 0; i < dim; i += 2) {
    const float exponent = static_cast<float>(i) / static_cast<float>(dim);
    const float power =
        static_cast<float>(std::pow(static_cast<double>(static_cast<float>(base)), exponent));
    inv.push_back(1.0f / power);
  }
  return inv;
}

// Pretraining context length for llama3/yarn: a top-level key wins (Phi-3 style
// configs), then the rope parameters, then max_position_embeddings.
double OriginalMaxPositions(const HfConfig& c, const json& p, int64_t max_positions) {
  if (c.Has("original_max_position_embeddings"))
    return c.Double("original_max_position_embeddings", 0);
  return NumberOr(c, p, "original_max_position_embeddings", static_cast<double>(max_positions));
}

void Llama3Scaling(const HfConfig& c, const json& p, int64_t max_positions,
                   std::vector<float>& inv) {
  const float factor = static_cast<float>(Number(c, p, "factor"));
  const float low = static_cast<float>(Number(c, p, "low_freq_factor"));
  const float high = static_cast<float>(Number(c, p, "high_freq_factor"));
  const double old_context = OriginalMaxPositions(c, p, max_positions);
  const double low_wavelen = old_context / low;
  const double high_wavelen = old_context / high;
  for (float& f : inv) {
    const float wavelen = static_cast<float>(2 * std::numbers::pi / f);
    const float scaled = wavelen > low_wavelen ? f / factor : f;
    const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
    if (!medium) {
      f = scaled;
      continue;
    }
    const float smooth = static_cast<float>((old_context / wavelen - low) / (high - low));
    f = (1 - smooth) * scaled / factor + smooth * scaled;
  }
}

float YarnMscale(double scale, double mscale) {
  return scale <= 1 ? 1.0f : static_cast<float>(0.1 * mscale * std::log(scale) + 1.0);
}

void YarnScaling(const HfConfig& c, const json& p, double base, int64_t dim, int64_t max_positions,
                 RopeSpec& spec) {
  const double original = OriginalMaxPositions(c, p, max_positions);
  const double factor = NumberOr(c, p, "factor", static_cast<double>(max_positions) / original);
  const double mscale = NumberOr(c, p, "mscale", 0);
  const double mscale_all_dim = NumberOr(c, p, "mscale_all_dim", 0);
  if (p.contains("attention_factor") && !p["attention_factor"].is_null())
    spec.attention_scaling = static_cast<float>(Number(c, p, "attention_factor"));
  else if (mscale != 0 && mscale_all_dim != 0)
    spec.attention_scaling = YarnMscale(factor, mscale) / YarnMscale(factor, mscale_all_dim);
  else
    spec.attention_scaling = YarnMscale(factor, 1);
  // `x or default` in HF: 0 and null both mean the default.
  double beta_fast = NumberOr(c, p, "beta_fast", 0), beta_slow = NumberOr(c, p, "beta_slow", 0);
  if (beta_fast == 0) beta_fast = 32;
  if (beta_slow == 0) beta_slow = 1;
  const bool truncate = !p.contains("truncate") || p["truncate"].is_null() ||
                        (p["truncate"].is_boolean() && p["truncate"].get<bool>());
  auto correction_dim = [&](double rotations) {
    return (dim * std::log(original / (rotations * 2 * std::numbers::pi))) / (2 * std::log(base));
  };
  double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
  if (truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // HF's guard against a zero-width ramp
  const float base_f = static_cast<float>(base), factor_f = static_cast<float>(factor);
  for (size_t i = 0; i < spec.inv_freq.size(); ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    const float pos_freq = static_cast<float>(std::pow(static_cast<double>(base_f), exponent));
    const float extrapolation = 1.0f / pos_freq;
    const float interpolation = 1.0f / (factor_f * pos_freq);
    const float ramp =
        static_cast<float>(std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0));
    const float extrapolation_factor = 1 - ramp;
    spec.inv_freq[i] =
        interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
  }
}

// (x1, x2) -> (-x2, x1) over the two halves of the last axis.
std::string RotateHalf(GraphBuilder& g, const std::string& x, int64_t rotary_dim) {
  const int64_t half = rotary_dim / 2;
  const auto halves = g.NodeN("Split", {x, g.ConstInt64({half, half})}, 2, {{"axis", int64_t{-1}}});
  return g.Node("Concat", {g.Node("Neg", {halves[1]}), halves[0]}, {{"axis", int64_t{-1}}});
}

// x [b, h, S, r]: each pair (x[2i], x[2i + 1]) -> (-x[2i + 1], x[2i]).
std::string RotateEveryTwo(GraphBuilder& g, const std::string& x, int64_t rotary_dim) {
  const std::string pairs = g.Node("Reshape", {x, g.ConstInt64({0, 0, 0, rotary_dim / 2, 2})});
  const auto parts = g.NodeN("Split", {pairs, g.ConstInt64({1, 1})}, 2, {{"axis", int64_t{-1}}});
  const std::string swapped =
      g.Node("Concat", {g.Node("Neg", {parts[1]}), parts[0]}, {{"axis", int64_t{-1}}});
  return g.Node("Reshape", {swapped, g.ConstInt64({0, 0, 0, rotary_dim})});
}

}  // namespace

std::string RepeatEachPair(GraphBuilder& g, const std::string& x) {
  const std::string pairs = g.Node("Unsqueeze", {x, g.ConstInt64({-1})});
  const std::string both = g.Node("Concat", {pairs, pairs}, {{"axis", int64_t{-1}}});
  const std::string leading =
      g.Node("Slice", {g.Node("Shape", {x}), g.ConstInt64({0}), g.ConstInt64({-1})});
  return g.Node("Reshape",
                {both, g.Node("Concat", {leading, g.ConstInt64({-1})}, {{"axis", int64_t{0}}})});
}

RopeSpec ReadRope(const HfConfig& c, int64_t head_dim, int64_t max_positions,
                  const RopeKeys& keys) {
  const json p = RopeParameters(c);
  const double base = NumberOr(c, p, "rope_theta", c.Double(keys.theta, keys.default_theta));
  double partial =
      NumberOr(c, p, "partial_rotary_factor",
               c.Double(keys.partial_rotary_factor, keys.default_partial_rotary_factor));
  if (!keys.rotary_dim.empty() && c.Has(keys.rotary_dim))
    partial = static_cast<double>(c.Int(keys.rotary_dim)) / static_cast<double>(head_dim);
  std::string type = "default";
  for (const char* key : {"rope_type", "type"}) {
    if (p.contains(key) && p[key].is_string()) {
      type = p[key].get<std::string>();
      break;
    }
  }
  RopeSpec spec;
  spec.rotary_dim = static_cast<int64_t>(static_cast<double>(head_dim) * partial);
  if (spec.rotary_dim <= 0 || spec.rotary_dim > head_dim || spec.rotary_dim % 2 != 0)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': a rotary dimension of {} (head_dim {} x partial_rotary_factor "
                            "{}) is not supported; it must be even and at most head_dim",
                            c.origin(), spec.rotary_dim, head_dim, partial));
  spec.inv_freq = DefaultInvFreq(base, spec.rotary_dim);
  if (type == "default") return spec;
  if (type == "linear") {
    const float factor = static_cast<float>(Number(c, p, "factor"));
    for (float& f : spec.inv_freq) f /= factor;
    return spec;
  }
  if (type == "llama3") {
    Llama3Scaling(c, p, max_positions, spec.inv_freq);
    return spec;
  }
  if (type == "yarn") {
    YarnScaling(c, p, base, spec.rotary_dim, max_positions, spec);
    return spec;
  }
  if (type == "dynamic")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': rope_type 'dynamic' (dynamic NTK scaling) is not supported: its "
                            "frequencies change with each run's length; remove rope scaling or "
                            "use 'linear', 'llama3' or 'yarn'",
                            c.origin()));
  throw Error(ErrorKind::kUnsupported,
              fmt::format("'{}': rope_type '{}' is not supported (supported: default, linear, "
                          "llama3, yarn)",
                          c.origin(), type));
}

std::vector<float> RopeInvFreq(double base, int64_t dim) { return DefaultInvFreq(base, dim); }

RopeTables RopeCosSin(GraphBuilder& g, const RopeSpec& spec, const std::string& positions,
                      const std::string& inv_freq_name) {
  core::Tensor inv =
      core::Tensor::Zeros(core::DType::kFloat32, {static_cast<int64_t>(spec.inv_freq.size())});
  std::copy(spec.inv_freq.begin(), spec.inv_freq.end(), inv.values<float>().begin());
  const std::string inv_freq = g.Initializer(inv_freq_name, inv);
  const std::string pos = g.Node("Cast", {positions}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  // [P, S, 1] * [half] -> [P, S, half]: the same float32 products HF's matmul makes.
  const std::string freqs =
      g.Node("Mul", {g.Node("Unsqueeze", {pos, g.ConstInt64({-1})}), inv_freq});
  const std::string emb = spec.interleaved
                              ? RepeatEachPair(g, freqs)
                              : g.Node("Concat", {freqs, freqs}, {{"axis", int64_t{-1}}});
  std::string cos = g.Node("Cos", {emb}), sin = g.Node("Sin", {emb});
  if (spec.attention_scaling != 1.0f) {
    const std::string scale = g.ConstFloat(spec.attention_scaling);
    cos = g.Node("Mul", {cos, scale});
    sin = g.Node("Mul", {sin, scale});
  }
  if (spec.negate_sin) sin = g.Node("Neg", {sin});
  const std::string heads_axis = g.ConstInt64({1});
  return {g.Node("Unsqueeze", {cos, heads_axis}), g.Node("Unsqueeze", {sin, heads_axis}),
          spec.interleaved};
}

std::string ApplyRope(GraphBuilder& g, const std::string& x, const RopeTables& tables,
                      int64_t rotary_dim, int64_t head_dim) {
  std::string rot = x, pass;
  if (rotary_dim < head_dim) {
    const auto parts = g.NodeN("Split", {x, g.ConstInt64({rotary_dim, head_dim - rotary_dim})}, 2,
                               {{"axis", int64_t{-1}}});
    rot = parts[0];
    pass = parts[1];
  }
  const std::string rotated =
      tables.interleaved ? RotateEveryTwo(g, rot, rotary_dim) : RotateHalf(g, rot, rotary_dim);
  std::string out =
      g.Node("Add", {g.Node("Mul", {rot, tables.cos}), g.Node("Mul", {rotated, tables.sin})});
  if (!pass.empty()) out = g.Node("Concat", {out, pass}, {{"axis", int64_t{-1}}});
  return out;
}

}  // namespace ipfs_accel::models
