#include "disentangled_attention.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

// pos_att_type as HF reads it: a list, or the legacy "c2p|p2c" string split on '|'.
std::vector<std::string> PositionAttentionTypes(const HfConfig& c) {
  const nlohmann::json value =
      c.json().contains("pos_att_type") ? c.json()["pos_att_type"] : nlohmann::json();
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    s.erase(0, s.find_first_not_of(" \t"));
    s.erase(s.find_last_not_of(" \t") + 1);
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char ch) { return std::tolower(ch); });
    out.push_back(s);
  };
  if (value.is_string()) {
    std::string rest = value.get<std::string>();
    for (size_t at; !rest.empty(); rest = at == std::string::npos ? "" : rest.substr(at + 1)) {
      at = rest.find('|');
      add(rest.substr(0, at));
    }
  } else if (value.is_array()) {
    for (const nlohmann::json& v : value) add(v.is_string() ? v.get<std::string>() : v.dump());
  } else if (!value.is_null()) {
    throw Error(ErrorKind::kCorrupt, fmt::format("'{}': pos_att_type is {}; it must be a list or "
                                                 "a '|'-separated string",
                                                 c.origin(), value.dump()));
  }
  return out;
}

struct Linear {
  std::string weight, bias;  // weight [in, out]; bias "" for none
};

Linear FetchLinear(GraphBuilder& g, const std::string& name, int64_t in, int64_t out, bool bias) {
  return {g.Weight(name + ".weight", {out, in}, WeightInit::kNormal, true),
          bias ? g.Weight(name + ".bias", {out}, WeightInit::kZeros) : ""};
}

std::string Apply(GraphBuilder& g, const std::string& x, const Linear& l) {
  const std::string y = g.Node("MatMul", {x, l.weight});
  return l.bias.empty() ? y : g.Node("Add", {y, l.bias});
}

// [batch, S, heads x d] -> [batch, heads, S, d]
std::string Heads(GraphBuilder& g, const DisentangledSpec& s, const std::string& y) {
  return Transpose(g, g.Node("Reshape", {y, g.ConstInt64({0, 0, s.heads, s.head_dim})}),
                   {0, 2, 1, 3});
}

// The table [2 span, hidden] projected to [heads, d, 2 span], for q [b, h, S, d] @ it.
std::string TableHeads(GraphBuilder& g, const DisentangledSpec& s, const std::string& table,
                       const Linear& l) {
  const std::string y =
      g.Node("Reshape", {Apply(g, table, l), g.ConstInt64({-1, s.heads, s.head_dim})});
  return Transpose(g, y, {1, 2, 0});
}

// HF's make_log_bucket_position on int64 relative positions, as float32 arithmetic.
std::string LogBuckets(GraphBuilder& g, const std::string& rel, int64_t buckets,
                       int64_t max_position) {
  const int64_t mid = buckets / 2;
  const float mid_f = static_cast<float>(mid);
  const std::string r = g.Node("Cast", {rel}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string inner = g.Node("And", {g.Node("Less", {r, g.ConstFloat(mid_f)}),
                                           g.Node("Greater", {r, g.ConstFloat(-mid_f)})});
  const std::string abs =
      g.Node("Where", {inner, g.ConstFloat(static_cast<float>(mid - 1)), g.Node("Abs", {r})});
  const float log_range = std::log(
      static_cast<float>(static_cast<double>(max_position - 1) / static_cast<double>(mid)));
  const std::string scaled =
      g.Node("Mul", {g.Node("Div", {g.Node("Log", {g.Node("Div", {abs, g.ConstFloat(mid_f)})}),
                                    g.ConstFloat(log_range)}),
                     g.ConstFloat(static_cast<float>(mid - 1))});
  const std::string log_pos = g.Node("Add", {g.Node("Ceil", {scaled}), g.ConstFloat(mid_f)});
  const std::string bucket = g.Node("Where", {g.Node("LessOrEqual", {abs, g.ConstFloat(mid_f)}), r,
                                              g.Node("Mul", {log_pos, g.Node("Sign", {r})})});
  return g.Node("Cast", {bucket}, {{"to", int64_t{onnx::TensorProto::INT64}}});
}

// clamp(x, 0, high) on int64, as [1, 1, S, S].
std::string ClampedIndex(GraphBuilder& g, const std::string& x, int64_t high) {
  const std::string clamped =
      g.Node("Min", {g.Node("Max", {x, g.ConstInt64({0})}), g.ConstInt64({high})});
  return g.Node("Unsqueeze", {clamped, g.ConstInt64({0, 1})});
}

// scores [b, h, S, 2 span] gathered at index [1, 1, S, S] along the last axis.
std::string GatherPositions(GraphBuilder& g, const std::string& scores, const std::string& index,
                            const std::string& like) {
  const std::string expanded = g.Node("Expand", {index, g.Node("Shape", {like})});
  return g.Node("GatherElements", {scores, expanded}, {{"axis", int64_t{3}}});
}

}  // namespace

DisentangledSpec ReadDisentangledSpec(const HfConfig& c, bool fused_in_proj) {
  DisentangledSpec s;
  s.hidden = c.Int("hidden_size", 768);
  s.heads = c.Int("num_attention_heads", 12);
  if (s.heads <= 0 || s.hidden <= 0 || s.hidden % s.heads != 0)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': hidden_size {} is not a multiple of num_attention_heads {}",
                            c.origin(), s.hidden, s.heads));
  s.head_dim = s.hidden / s.heads;
  if (c.Has("attention_head_size") && c.Int("attention_head_size") != s.head_dim)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': attention_head_size {} other than hidden_size / "
                            "num_attention_heads ({}) is not supported",
                            c.origin(), c.Int("attention_head_size"), s.head_dim));
  s.fused_in_proj = fused_in_proj;
  for (const std::string& type : PositionAttentionTypes(c)) {
    bool& flag = type == "c2p" ? s.c2p : s.p2c;
    if ((type != "c2p" && type != "p2c") || flag)
      throw Error(ErrorKind::kUnsupported,
                  fmt::format("'{}': pos_att_type '{}' is not supported (only c2p and p2c, once "
                              "each)",
                              c.origin(), type));
    flag = true;
  }
  s.relative = c.Bool("relative_attention", false);
  s.max_relative = c.Id("max_relative_positions", -1);  // below 1: off
  if (s.max_relative < 1) s.max_relative = c.Int("max_position_embeddings", 512);
  s.span = s.max_relative;
  if (!fused_in_proj) {
    s.buckets = std::max<int64_t>(c.Id("position_buckets", -1), 0);
    if (s.buckets > 0) s.span = s.buckets;
    s.share_att_key = c.Bool("share_att_key", false);
    s.norm_table = c.String("norm_rel_ebd", "none").find("layer_norm") != std::string::npos;
  }
  if (s.relative && (s.span <= 0 || s.span > HfConfig::kMaxSize / 2 ||
                     (s.buckets > 0 && (s.buckets < 2 || s.max_relative < 2))))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': relative positions need a positive span, not position_buckets "
                            "{} with max_relative_positions {}",
                            c.origin(), s.buckets, s.max_relative));
  return s;
}

DisentangledPositions DisentangledRelativePositions(GraphBuilder& g, const DisentangledSpec& s,
                                                    const std::string& x,
                                                    const std::string& table_name,
                                                    const std::string& norm_prefix, double eps) {
  if (!s.relative) return {};
  DisentangledPositions p;
  p.table = g.Weight(table_name, {2 * s.span, s.hidden}, WeightInit::kNormal);
  if (s.norm_table) p.table = g.LayerNorm(p.table, norm_prefix, s.hidden, eps);
  const std::string length = g.Node(
      "Squeeze",
      {g.Node("Shape", {x}, {{"start", int64_t{1}}, {"end", int64_t{2}}}), g.ConstInt64({0})});
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0}), g.ConstInt64({0})});
  const std::string one = g.Node("Squeeze", {g.ConstInt64({1}), g.ConstInt64({0})});
  const std::string ids = g.Node("Range", {zero, length, one});
  std::string rel = g.Node("Sub", {g.Node("Unsqueeze", {ids, g.ConstInt64({1})}),
                                   g.Node("Unsqueeze", {ids, g.ConstInt64({0})})});  // [S, S]
  if (s.buckets > 0) rel = LogBuckets(g, rel, s.buckets, s.max_relative);
  const std::string span = g.ConstInt64({s.span});
  p.c2p_index = ClampedIndex(g, g.Node("Add", {rel, span}), 2 * s.span - 1);
  // p2c: HF gathers k_x . pq at clamp(span - r(x, y)) and transposes the result
  p.p2c_index = ClampedIndex(g, g.Node("Sub", {span, rel}), 2 * s.span - 1);
  return p;
}

std::string DisentangledSelfAttention(GraphBuilder& g, const DisentangledSpec& s,
                                      const std::string& prefix, const std::string& x,
                                      const DisentangledPositions& p, const std::string& mask,
                                      const std::string& kept) {
  WeightScope scope(g, prefix);
  const int64_t width = s.heads * s.head_dim;
  std::string q, k, v;
  Linear query, key;
  if (s.fused_in_proj) {
    // in_proj's rows are per head [q | k | v]: [b, S, h, 3d] split on the last axis
    const std::string in =
        g.Weight("in_proj.weight", {3 * width, s.hidden}, WeightInit::kNormal, true);
    const std::string y = g.Node(
        "Reshape", {g.Node("MatMul", {x, in}), g.ConstInt64({0, 0, s.heads, 3 * s.head_dim})});
    const std::vector<std::string> qkv =
        g.NodeN("Split",
                {Transpose(g, y, {0, 2, 1, 3}), g.ConstInt64({s.head_dim, s.head_dim, s.head_dim})},
                3, {{"axis", int64_t{-1}}});
    auto bias = [&](const char* name) {
      return g.Node("Reshape", {g.Weight(name, {width}, WeightInit::kZeros),
                                g.ConstInt64({1, s.heads, 1, s.head_dim})});
    };
    q = g.Node("Add", {qkv[0], bias("q_bias")});
    k = qkv[1];
    v = g.Node("Add", {qkv[2], bias("v_bias")});
  } else {
    query = FetchLinear(g, "query_proj", s.hidden, width, true);
    key = FetchLinear(g, "key_proj", s.hidden, width, true);
    q = Heads(g, s, Apply(g, x, query));
    k = Heads(g, s, Apply(g, x, key));
    v = Heads(g, s, Apply(g, x, FetchLinear(g, "value_proj", s.hidden, width, true)));
  }
  std::string scores = g.Node("MatMul", {q, Transpose(g, k, {0, 1, 3, 2})});  // [b, h, S, S]
  if (s.relative && s.c2p) {
    const Linear pk = s.share_att_key   ? key
                      : s.fused_in_proj ? FetchLinear(g, "pos_proj", s.hidden, width, false)
                                        : FetchLinear(g, "pos_key_proj", s.hidden, width, true);
    const std::string c2p = g.Node("MatMul", {q, TableHeads(g, s, p.table, pk)});
    scores = g.Node("Add", {scores, GatherPositions(g, c2p, p.c2p_index, scores)});
  }
  if (s.relative && s.p2c) {
    const Linear pq = s.share_att_key
                          ? query
                          : FetchLinear(g, s.fused_in_proj ? "pos_q_proj" : "pos_query_proj",
                                        s.hidden, width, true);
    const std::string p2c = g.Node("MatMul", {k, TableHeads(g, s, p.table, pq)});
    scores = g.Node(
        "Add", {scores, Transpose(g, GatherPositions(g, p2c, p.p2c_index, scores), {0, 1, 3, 2})});
  }
  const int64_t factor = 1 + (s.c2p ? 1 : 0) + (s.p2c ? 1 : 0);
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim * factor));
  scores = g.Node("Mul", {scores, g.ConstFloat(scale)});
  if (!mask.empty()) scores = g.Node("Add", {scores, mask});
  std::string probs = g.Node("Softmax", {scores}, {{"axis", int64_t{-1}}});
  if (!kept.empty()) probs = g.Node("Mul", {probs, kept});
  const std::string ctx = Transpose(g, g.Node("MatMul", {probs, v}), {0, 2, 1, 3});
  return g.Node("Reshape", {ctx, g.ConstInt64({0, 0, width})});
}

std::string DisentangledPairMask(GraphBuilder& g, const std::string& attention_mask) {
  const std::string m =
      g.Node("Cast", {attention_mask}, {{"to", int64_t{onnx::TensorProto::FLOAT}}});
  const std::string pair = g.Node("Mul", {g.Node("Unsqueeze", {m, g.ConstInt64({1, 3})}),
                                          g.Node("Unsqueeze", {m, g.ConstInt64({1, 2})})});
  return g.Node("Mul", {g.Node("Sub", {g.ConstFloat(1.0f), pair}),
                        g.ConstFloat(std::numeric_limits<float>::lowest())});
}

}  // namespace ipfs_accel::models
