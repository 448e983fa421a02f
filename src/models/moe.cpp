#include "moe.h"

#include <limits>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "ipfs_accel/core/error.h"
#include "piece_object.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;
using nlohmann::json;

void CheckSpec(const HfConfig& c, const MoeSpec& s) {
  if (s.scoring != "softmax" && s.scoring != "topk_softmax" && s.scoring != "sigmoid" &&
      s.scoring != "sparsemixer")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': mixture-of-experts scoring '{}' is not supported (softmax, "
                            "topk_softmax, sigmoid, sparsemixer)",
                            c.origin(), s.scoring));
  if (s.experts_layout != "gate_up" && s.experts_layout != "gpt_oss" &&
      s.experts_layout != "in_out" && s.experts_layout != "numbered")
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': experts layout '{}' is not gate_up, in_out, gpt_oss or numbered",
                            c.origin(), s.experts_layout));
  if (s.shared_combine != "sum" && s.shared_combine != "average")
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': shared experts combined by '{}', not sum or average", c.origin(),
                            s.shared_combine));
  if (s.scoring == "sparsemixer" && s.top_k != 2)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("'{}': PhiMoE's sparsemixer routes to exactly 2 experts, not {}",
                            c.origin(), s.top_k));
  if (s.experts < 1 || s.top_k < 1 || s.top_k > s.experts || s.intermediate < 1)
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': a mixture of experts needs 1 <= experts per token ({}) <= "
                            "experts ({}) and a positive expert size ({})",
                            c.origin(), s.top_k, s.experts, s.intermediate));
  const bool grouped = s.groups > 1;
  if (grouped && (s.experts % s.groups != 0 || s.groups_kept < 1 || s.groups_kept > s.groups ||
                  s.experts / s.groups < 2 || s.top_k > s.groups_kept * (s.experts / s.groups)))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': {} experts cannot be split into {} groups of which {} are "
                            "kept for {} experts per token",
                            c.origin(), s.experts, s.groups, s.groups_kept, s.top_k));
}

std::string ScalarAxisSum(GraphBuilder& g, const std::string& x, int64_t axis, bool keepdims) {
  return g.Node("ReduceSum", {x, g.ConstInt64({axis})}, {{"keepdims", int64_t{keepdims}}});
}

// float32 zeros of x's shape.
std::string Zeros(GraphBuilder& g, const std::string& x) {
  return g.Node("ConstantOfShape", {g.Node("Shape", {x})});
}

std::vector<std::string> TopK(GraphBuilder& g, const std::string& x, int64_t k) {
  return g.NodeN("TopK", {x, g.ConstInt64({k})}, 2, {{"axis", int64_t{-1}}});
}

// DeepSeek-V3's group-limited choice: scores outside the best groups become -inf.
std::string KeepBestGroups(GraphBuilder& g, const MoeSpec& s, const std::string& choice) {
  const int64_t per_group = s.experts / s.groups;
  const std::string grouped = g.Node("Reshape", {choice, g.ConstInt64({-1, s.groups, per_group})});
  const std::string group_scores = ScalarAxisSum(g, TopK(g, grouped, 2)[0], -1, false);  // [N, G]
  const std::string kept = TopK(g, group_scores, s.groups_kept)[1];
  const std::string kept_values = g.Node("Expand", {g.ConstFloat(1.0f), g.Node("Shape", {kept})});
  const std::string group_mask = g.Node(
      "ScatterElements", {Zeros(g, group_scores), kept, kept_values}, {{"axis", int64_t{-1}}});
  const std::string expert_mask =
      g.Node("Reshape", {g.Node("Expand", {g.Node("Unsqueeze", {group_mask, g.ConstInt64({-1})}),
                                           g.ConstInt64({1, 1, per_group})}),
                         g.Node("Shape", {choice})});
  const std::string allowed = g.Node("Greater", {expert_mask, g.ConstFloat(0.5f)});
  return g.Node("Where", {allowed, choice, g.ConstFloat(-std::numeric_limits<float>::infinity())});
}

// A token's chosen experts and their weights, each [N, k].
struct Choice {
  std::string indices, weights;
};

// GraniteMoE, GPT-OSS: the k largest logits, softmax over those k.
Choice TopKSoftmax(GraphBuilder& g, const MoeSpec& s, const std::string& logits) {
  const auto top = TopK(g, logits, s.top_k);
  return {top[1], g.Node("Softmax", {top[0]}, {{"axis", int64_t{-1}}})};
}

// Softmax or sigmoid scores over all experts; the k best of them (after any selection bias and
// group limit) keep their unbiased scores.
Choice ScoresTopK(GraphBuilder& g, const MoeSpec& s, const std::string& logits,
                  const std::string& prefix) {
  const std::string scores = s.scoring == "sigmoid"
                                 ? g.Node("Sigmoid", {logits})
                                 : g.Node("Softmax", {logits}, {{"axis", int64_t{-1}}});
  std::string choice = scores;
  if (!s.selection_bias.empty()) {
    const std::string name = prefix + s.selection_bias;
    const core::Shape shape =
        s.selection_bias_2d ? core::Shape{1, s.experts} : core::Shape{s.experts};
    const std::string bias = s.selection_bias_counted ? g.Weight(name, shape, WeightInit::kZeros)
                                                      : g.Buffer(name, shape, WeightInit::kZeros);
    choice = g.Node("Add", {choice, g.Node("Reshape", {bias, g.ConstInt64({s.experts})})});
  }
  if (s.groups > 1) choice = KeepBestGroups(g, s, choice);
  const std::string indices = TopK(g, choice, s.top_k)[1];
  return {indices, g.Node("GatherElements", {scores, indices}, {{"axis", int64_t{-1}}})};
}

// One round of PhiMoE's sparsemixer at inference: the best of `candidates` (the logits with
// earlier picks at -inf), weighted by a softmax over the candidates within 2 * jitter_eps
// (relative) of it.
Choice SparseMixerRound(GraphBuilder& g, const MoeSpec& s, const std::string& logits,
                        const std::string& candidates) {
  const std::vector<Attr> last = {{"axis", int64_t{-1}}, {"keepdims", int64_t{1}}};
  const std::string best = g.Node("ReduceMax", {candidates},
                                  {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  const std::string picked = g.Node("ArgMax", {candidates}, last);
  const std::string factor = g.Node("Max", {g.Node("Abs", {logits}), best});
  const std::string far = g.Node("Greater", {g.Node("Div", {g.Node("Sub", {best, logits}), factor}),
                                             g.ConstFloat(static_cast<float>(2.0 * s.jitter_eps))});
  const std::string gates = g.Node(
      "Softmax",
      {g.Node("Where", {far, g.ConstFloat(-std::numeric_limits<float>::infinity()), candidates})},
      {{"axis", int64_t{-1}}});
  return {picked, g.Node("GatherElements", {gates, picked}, {{"axis", int64_t{-1}}})};
}

// PhiMoE's sparsemixer (top 2) as it runs in eval mode.
Choice SparseMixer(GraphBuilder& g, const MoeSpec& s, const std::string& logits) {
  const Choice first = SparseMixerRound(g, s, logits, logits);
  const std::string minus_inf = g.Node(
      "Expand",
      {g.ConstFloat(-std::numeric_limits<float>::infinity()), g.Node("Shape", {first.indices})});
  const std::string rest =
      g.Node("ScatterElements", {logits, first.indices, minus_inf}, {{"axis", int64_t{-1}}});
  const Choice second = SparseMixerRound(g, s, logits, rest);
  const std::vector<Attr> last = {{"axis", int64_t{-1}}};
  return {g.Node("Concat", {first.indices, second.indices}, last),
          g.Node("Concat", {first.weights, second.weights}, last)};
}

// The k weights renormalised and scaled as the config says.
std::string NormaliseWeights(GraphBuilder& g, const MoeSpec& s, std::string weights) {
  if (s.norm_topk) {
    std::string sum = ScalarAxisSum(g, weights, -1, true);
    if (s.norm_add != 0.0) sum = g.Node("Add", {sum, g.ConstFloat(static_cast<float>(s.norm_add))});
    if (s.norm_min != 0.0) sum = g.Node("Max", {sum, g.ConstFloat(static_cast<float>(s.norm_min))});
    weights = g.Node("Div", {weights, sum});
  }
  if (s.routed_scaling != 1.0)
    weights = g.Node("Mul", {weights, g.ConstFloat(static_cast<float>(s.routed_scaling))});
  return weights;
}

// The routing weights [N, experts]: each token's k weights at its experts, zero elsewhere.
std::string RoutingWeights(GraphBuilder& g, const MoeSpec& s, const std::string& rows,
                           const std::string& prefix) {
  const std::string logits = g.Linear(rows, prefix + s.router, s.hidden, s.experts, s.router_bias);
  Choice c;
  if (s.scoring == "topk_softmax")
    c = TopKSoftmax(g, s, logits);
  else if (s.scoring == "sparsemixer")
    c = SparseMixer(g, s, logits);
  else
    c = ScoresTopK(g, s, logits, prefix);
  return g.Node("ScatterElements", {Zeros(g, logits), c.indices, NormaliseWeights(g, s, c.weights)},
                {{"axis", int64_t{-1}}});
}

// Every expert on every row: [N, hidden] -> [experts, N, hidden]. Layout "gate_up" stores
// nn.Linear's [experts, out, in] (transposed here); "in_out" stores [experts, in, out] (Aria's
// grouped GEMMs, fc1 [activated | multiplier] and fc2).
std::string AllExperts(GraphBuilder& g, const MoeSpec& s, const std::string& rows,
                       const std::string& prefix) {
  const std::string p = prefix + s.experts_prefix;
  const bool in_out = s.experts_layout == "in_out";
  const std::vector<int64_t> swap_last = {0, 2, 1};
  const int64_t I = s.intermediate, H = s.hidden;
  std::string gate_up_w = g.Weight(p + s.gate_up,
                                   in_out ? std::vector<int64_t>{s.experts, H, 2 * I}
                                          : std::vector<int64_t>{s.experts, 2 * I, H},
                                   WeightInit::kNormal);
  std::string down_w = g.Weight(
      p + s.down,
      in_out ? std::vector<int64_t>{s.experts, I, H} : std::vector<int64_t>{s.experts, H, I},
      WeightInit::kNormal);
  if (!in_out) gate_up_w = g.Node("Transpose", {gate_up_w}, {{"perm", swap_last}});
  const std::string gate_up = g.Node("MatMul", {rows, gate_up_w});
  const auto halves = g.NodeN("Split", {gate_up, g.ConstInt64({I, I})}, 2, {{"axis", int64_t{-1}}});
  const std::string mid = g.Node("Mul", {Activation(g, halves[0], s.act), halves[1]});
  if (!in_out) down_w = g.Node("Transpose", {down_w}, {{"perm", swap_last}});
  return g.Node("MatMul", {mid, down_w});
}

// Switch Transformers' experts, one module each: `<experts>expert_<e>.<gate_up>` [intermediate,
// hidden] and `.<down>` [hidden, intermediate], act(up) then down, no gate and no biases.
std::string NumberedExperts(GraphBuilder& g, const MoeSpec& s, const std::string& rows,
                            const std::string& prefix) {
  std::vector<std::string> outs;
  for (int64_t e = 0; e < s.experts; ++e) {
    const std::string p = fmt::format("{}{}expert_{}.", prefix, s.experts_prefix, e);
    const std::string up =
        Activation(g, g.Linear(rows, p + s.gate_up, s.hidden, s.intermediate, false), s.act);
    outs.push_back(g.Node("Unsqueeze", {g.Linear(up, p + s.down, s.intermediate, s.hidden, false),
                                        g.ConstInt64({0})}));
  }
  return g.Node("Concat", outs, {{"axis", int64_t{0}}});
}

// x [experts, N, out] plus the per-expert bias `name` [experts, out].
std::string ExpertBias(GraphBuilder& g, const MoeSpec& s, const std::string& x,
                       const std::string& name, int64_t out) {
  const std::string b = g.Weight(name, {s.experts, out}, WeightInit::kZeros);
  return g.Node("Add", {x, g.Node("Unsqueeze", {b, g.ConstInt64({1})})});
}

// GPT-OSS's experts: [in, out] weights with biases, gate and up interleaved (even and odd
// columns), and its clamped gate: (clamp(up, -7, 7) + 1) * g * sigmoid(1.702 g) with
// g = min(gate, 7).
std::string GptOssExperts(GraphBuilder& g, const MoeSpec& s, const std::string& rows,
                          const std::string& prefix) {
  const std::string p = prefix + s.experts_prefix;
  const std::string gate_up_w =
      g.Weight(p + s.gate_up, {s.experts, s.hidden, 2 * s.intermediate}, WeightInit::kNormal);
  const std::string gate_up = ExpertBias(g, s, g.Node("MatMul", {rows, gate_up_w}),
                                         p + s.gate_up + "_bias", 2 * s.intermediate);
  const auto pairs = g.NodeN(
      "Split", {g.Node("Reshape", {gate_up, g.ConstInt64({s.experts, -1, s.intermediate, 2})})}, 2,
      {{"axis", int64_t{-1}}});
  const std::string limit = g.ConstFloat(7.0f);
  const std::string gate =
      g.Node("Min", {g.Node("Squeeze", {pairs[0], g.ConstInt64({-1})}), limit});
  const std::string up = g.Node(
      "Clip", {g.Node("Squeeze", {pairs[1], g.ConstInt64({-1})}), g.ConstFloat(-7.0f), limit});
  const std::string glu =
      g.Node("Mul", {gate, g.Node("Sigmoid", {g.Node("Mul", {gate, g.ConstFloat(1.702f)})})});
  const std::string mid = g.Node("Mul", {g.Node("Add", {up, g.ConstFloat(1.0f)}), glu});
  const std::string down_w =
      g.Weight(p + s.down, {s.experts, s.intermediate, s.hidden}, WeightInit::kNormal);
  return ExpertBias(g, s, g.Node("MatMul", {mid, down_w}), p + s.down + "_bias", s.hidden);
}

std::string SharedExpert(GraphBuilder& g, const MoeSpec& s, const std::string& rows,
                         const std::string& prefix) {
  const std::string p = prefix + s.shared;
  const int64_t si = s.shared_intermediate;
  std::string gate, up;
  if (s.shared_gate_up.empty()) {
    gate = g.Linear(rows, p + ".gate_proj", s.hidden, si, false);
    up = g.Linear(rows, p + ".up_proj", s.hidden, si, false);
  } else {
    const auto halves =
        g.NodeN("Split",
                {g.Linear(rows, p + "." + s.shared_gate_up, s.hidden, 2 * si, false),
                 g.ConstInt64({si, si})},
                2, {{"axis", int64_t{-1}}});
    gate = halves[0];
    up = halves[1];
  }
  std::string out = g.Linear(g.Node("Mul", {Activation(g, gate, s.act), up}),
                             p + "." + s.shared_down, si, s.hidden, false);
  if (!s.shared_gate.empty())
    out = g.Node(
        "Mul",
        {g.Node("Sigmoid", {g.Linear(rows, prefix + s.shared_gate, s.hidden, 1, false)}), out});
  return out;
}

}  // namespace

MoeSpec ReadMoeSpec(const HfConfig& c, const json& piece, int64_t hidden, const std::string& act) {
  MoeSpec s;
  s.hidden = hidden;
  s.act = act;
  s.experts = ObjectPieceInt(c, piece, "experts", 0);
  s.top_k = ObjectPieceInt(c, piece, "top_k", 0);
  s.intermediate = ObjectPieceInt(c, piece, "intermediate", 0);
  s.scoring = ObjectPieceString(c, piece, "scoring", s.scoring);
  s.norm_topk = ObjectPieceBool(c, piece, "norm_topk", s.norm_topk);
  s.norm_add = ObjectPieceDouble(c, piece, "norm_add", s.norm_add);
  s.norm_min = ObjectPieceDouble(c, piece, "norm_min", s.norm_min);
  s.routed_scaling = ObjectPieceDouble(c, piece, "routed_scaling", s.routed_scaling);
  s.jitter_eps = ObjectPieceDouble(c, piece, "jitter_eps", s.jitter_eps);
  s.router_bias = ObjectPieceBool(c, piece, "router_bias", s.router_bias);
  s.selection_bias = ObjectPieceString(c, piece, "selection_bias", s.selection_bias);
  s.selection_bias_counted = ObjectPieceBool(c, piece, "selection_bias_counted", false);
  s.selection_bias_2d = ObjectPieceBool(c, piece, "selection_bias_2d", false);
  s.groups = ObjectPieceInt(c, piece, "groups", 1, 1);
  s.groups_kept = ObjectPieceInt(c, piece, "groups_kept", 1, 1);
  s.router = ObjectPieceString(c, piece, "router", s.router);
  s.experts_prefix = ObjectPieceString(c, piece, "experts_prefix", s.experts_prefix);
  s.gate_up = ObjectPieceString(c, piece, "gate_up", s.gate_up);
  s.experts_layout = ObjectPieceString(c, piece, "experts_layout", s.experts_layout);
  s.down = ObjectPieceString(c, piece, "down", s.down);
  // shared_intermediate, or the expert size times shared_count (DeepSeek's n_shared_experts).
  const int64_t shared_count = ObjectPieceInt(c, piece, "shared_count", 0);
  s.shared_intermediate =
      ObjectPieceInt(c, piece, "shared_intermediate", shared_count * s.intermediate);
  s.shared = ObjectPieceString(c, piece, "shared", s.shared);
  s.shared_gate = ObjectPieceString(c, piece, "shared_gate", s.shared_gate);
  s.shared_gate_up = ObjectPieceString(c, piece, "shared_gate_up", s.shared_gate_up);
  s.shared_down = ObjectPieceString(c, piece, "shared_down", s.shared_down);
  s.shared_combine = ObjectPieceString(c, piece, "shared_combine", s.shared_combine);
  CheckSpec(c, s);
  return s;
}

bool MoeLayer(const HfConfig& c, const json& piece, int64_t layer) {
  const json types = ObjectPiece(c, piece, "layer_types");
  if (types.is_array()) {
    if (layer >= static_cast<int64_t>(types.size()) || !types[layer].is_string())
      throw Error(ErrorKind::kCorrupt,
                  fmt::format("'{}': the MLP layer types {} name no type for layer {}", c.origin(),
                              types.dump(), layer));
    return types[layer].get<std::string>() == "sparse";
  }
  if (layer < ObjectPieceInt(c, piece, "first_dense", 0)) return false;
  // ERNIE's moe_layer_end_index, whose -1 HF reads as the last layer.
  const int64_t last = ObjectPieceInt(c, piece, "last_sparse", -1, -1);
  if (last >= 0 && layer > last) return false;
  const json dense = ObjectPiece(c, piece, "dense_layers");
  if (dense.is_array())
    for (const json& d : dense)
      if (d.is_number_integer() && d.get<int64_t>() == layer) return false;
  const int64_t every = ObjectPieceInt(c, piece, "every", 1, 1);
  // Jamba's expert_layer_offset: layers l with l % every == offset; absent: the last of each run.
  return layer % every == ObjectPieceInt(c, piece, "offset", every - 1);
}

std::string MoeMlp(GraphBuilder& g, const MoeSpec& s, const std::string& x,
                   const std::string& prefix) {
  const std::string rows = g.Node("Reshape", {x, g.ConstInt64({-1, s.hidden})});  // [N, hidden]
  const std::string weights = RoutingWeights(g, s, rows, prefix);                 // [N, experts]
  std::string per_expert;  // [experts, N, hidden]
  if (s.experts_layout == "gpt_oss")
    per_expert = GptOssExperts(g, s, rows, prefix);
  else if (s.experts_layout == "numbered")
    per_expert = NumberedExperts(g, s, rows, prefix);
  else
    per_expert = AllExperts(g, s, rows, prefix);
  const std::string expert_weights =
      g.Node("Unsqueeze", {g.Node("Transpose", {weights}, {{"perm", std::vector<int64_t>{1, 0}}}),
                           g.ConstInt64({-1})});  // [experts, N, 1]
  std::string out = ScalarAxisSum(g, g.Node("Mul", {per_expert, expert_weights}), 0, false);
  if (s.shared_intermediate > 0) out = g.Node("Add", {out, SharedExpert(g, s, rows, prefix)});
  if (s.shared_intermediate > 0 && s.shared_combine == "average")
    out = g.Node("Mul", {out, g.ConstFloat(0.5f)});
  return g.Node("Reshape", {out, g.Node("Shape", {x})});
}

}  // namespace ipfs_accel::models
