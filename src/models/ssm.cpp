#include "ssm.h"

#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "activation.h"
#include "decoder_layer_pieces.h"
#include "ipfs_accel/core/error.h"
#include "piece_object.h"

namespace ipfs_accel::models {

namespace {

using core::Error;
using core::ErrorKind;

void AddFloatValue(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
                   const std::string& name) {
  auto* info = list->Add();
  info->set_name(name);
  info->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
}

// One step of SelectiveScan as a Scan body: (h, decay_t, u_t, b_t, c_t) -> (h', y_t). Its names
// start with `scope` (unique in the outer graph); y_t = h' c_t keeps a last axis of 1.
onnx::GraphProto ScanBody(const std::string& scope) {
  onnx::GraphProto body;
  body.set_name(scope);
  GraphBuilder b(&body, nullptr);
  const auto name = [&](const char* n) { return scope + "/" + n; };
  for (const char* in : {"h", "decay", "u", "b", "c"})
    AddFloatValue(body.mutable_input(), name(in));
  const std::string kept = b.Node("Mul", {name("decay"), name("h")}, {}, name("kept"));
  const std::string added = b.Node("Mul", {name("u"), name("b")}, {}, name("added"));
  const std::string h = b.Node("Add", {kept, added}, {}, name("h_next"));
  // A MatMul with the column c_t, not a ReduceSum: shape inference cannot read a reduction's
  // axes from inside the body and would get the rank wrong.
  b.Node("MatMul", {h, name("c")}, {}, name("y"));
  AddFloatValue(body.mutable_output(), h);
  AddFloatValue(body.mutable_output(), name("y"));
  return body;
}

// Slice t = 0 of a [batch, sequence, ...] tensor: [batch, ...].
std::string FirstStep(GraphBuilder& g, const std::string& x) {
  const std::string zero = g.Node("Squeeze", {g.ConstInt64({0})});  // a scalar drops the axis
  return g.Node("Gather", {x, zero}, {{"axis", int64_t{1}}});
}

std::string Softplus(GraphBuilder& g, const std::string& x) { return g.Node("Softplus", {x}); }

// -exp(A_log), HF's A.
std::string NegativeExp(GraphBuilder& g, const std::string& a_log) {
  return g.Node("Neg", {g.Node("Exp", {a_log})});
}

std::vector<std::string> SplitLast(GraphBuilder& g, const std::string& x,
                                   const std::vector<int64_t>& sizes) {
  return g.NodeN("Split", {x, g.ConstInt64(sizes)}, static_cast<int>(sizes.size()),
                 {{"axis", int64_t{-1}}});
}

// apply_mask_to_padding_states: the mask where batch > 1 and sequence > 1, else 1.
std::string Mamba2PaddingMask(GraphBuilder& g, const std::string& mask) {
  const std::string shape = g.Node("Shape", {mask});
  const auto dim_above_one = [&](int64_t axis) {
    const std::string d = g.Node("Gather", {shape, g.ConstInt64({axis})}, {{"axis", int64_t{0}}});
    return g.Node("Greater", {d, g.ConstInt64({1})});
  };
  const std::string both = g.Node("And", {dim_above_one(0), dim_above_one(1)});
  const std::string scalar = g.Node("Squeeze", {both, g.ConstInt64({0})});
  return g.Node("Where", {scalar, mask, g.ConstFloat(1.0f)});
}

// time_step_rank: "auto" (or null) is ceil(hidden / 16).
int64_t TimeStepRank(const HfConfig& c, const nlohmann::json& piece, int64_t hidden) {
  const nlohmann::json rank = ObjectPiece(c, piece, "time_step_rank");
  if (rank.is_null() || (rank.is_string() && rank == "auto")) return (hidden + 15) / 16;
  return ObjectPieceInt(c, piece, "time_step_rank", 0, 1);
}

// MambaConfig's own keys, for the templates that set no `mamba` piece.
nlohmann::json MambaConfigKeys() {
  return {{"intermediate", "$intermediate_size"},
          {"expand", "$expand"},
          {"state", "$state_size"},
          {"conv_kernel", "$conv_kernel"},
          {"time_step_rank", "$time_step_rank"},
          {"bias", "$use_bias"},
          {"conv_bias", "$use_conv_bias"}};
}

// FalconMamba's and Jamba's RMSNorm of the time step, B or C (`name`: dt, b, c).
std::string BcdtNorm(GraphBuilder& g, const MambaSpec& s, const std::string& x,
                     const std::string& prefix, const char* name, int64_t size) {
  if (!s.bcdt_weights) return RmsNormalized(g, x, s.bcdt_rms_eps);
  return RmsNorm(g, x, prefix + name + "_layernorm", size, s.bcdt_rms_eps, false);
}

}  // namespace

std::string SelectiveScan(GraphBuilder& g, const std::string& decay, const std::string& u,
                          const std::string& b, const std::string& c) {
  const std::string initial = g.Node(
      "ConstantOfShape", {g.Node("Shape", {g.Node("Mul", {FirstStep(g, u), FirstStep(g, b)})})});
  const std::string last = g.ConstInt64({-1});
  const onnx::GraphProto body = ScanBody(g.UniqueName("selective_scan"));
  const auto outs = g.NodeWithGraph("Scan", {initial, decay, u, b, c}, 2,
                                    {{"num_scan_inputs", int64_t{4}},
                                     {"scan_input_axes", std::vector<int64_t>{1, 1, 1, 1}},
                                     {"scan_output_axes", std::vector<int64_t>{1}}},
                                    "body", body);
  return g.Node("Squeeze", {outs[1], last});
}

std::string CausalConv1d(GraphBuilder& g, const std::string& x, const std::string& prefix,
                         int64_t channels, int64_t kernel, bool bias) {
  std::vector<std::string> inputs = {
      g.Node("Transpose", {x}, {{"perm", std::vector<int64_t>{0, 2, 1}}}),
      g.Weight(prefix + ".weight", {channels, 1, kernel}, WeightInit::kNormal)};
  if (bias) inputs.push_back(g.Weight(prefix + ".bias", {channels}, WeightInit::kZeros));
  const std::string y = g.Node("Conv", inputs,
                               {{"group", channels},
                                {"kernel_shape", std::vector<int64_t>{kernel}},
                                {"pads", std::vector<int64_t>{kernel - 1, 0}}});
  return g.Node("Transpose", {y}, {{"perm", std::vector<int64_t>{0, 2, 1}}});
}

std::string GatedRmsNorm(GraphBuilder& g, const std::string& x, const std::string& gate,
                         const std::string& prefix, int64_t size, int64_t groups, double eps) {
  std::string y = g.Node("Mul", {x, Activation(g, gate, "silu")});
  if (groups > 1) y = g.Node("Reshape", {y, g.ConstInt64({0, 0, groups, size / groups})});
  y = RmsNormalized(g, y, eps);
  if (groups > 1) y = g.Node("Reshape", {y, g.ConstInt64({0, 0, size})});
  return g.Node("Mul", {y, RmsScale(g, prefix, size, false)});
}

MambaSpec ReadMambaSpec(const HfConfig& c) {
  const nlohmann::json piece = c.HasPiece("mamba") ? c.Piece("mamba") : MambaConfigKeys();
  MambaSpec s;
  s.hidden = c.Int("hidden_size");
  s.intermediate = ObjectPieceInt(c, piece, "intermediate", 0, 0);
  if (s.intermediate == 0) s.intermediate = ObjectPieceInt(c, piece, "expand", 2, 1) * s.hidden;
  s.state = ObjectPieceInt(c, piece, "state", 16, 1);
  s.conv_kernel = ObjectPieceInt(c, piece, "conv_kernel", 4, 1);
  s.dt_rank = TimeStepRank(c, piece, s.hidden);
  s.bias = ObjectPieceBool(c, piece, "bias", false);
  s.conv_bias = ObjectPieceBool(c, piece, "conv_bias", true);
  s.act = c.String("hidden_act", "silu");
  s.bcdt_rms_eps = c.PieceDouble("bcdt_rms_eps", 0);
  s.bcdt_weights = c.PieceBool("bcdt_rms_weights", false);
  if (s.hidden <= 0 || s.dt_rank <= 0 || (s.bcdt_weights && s.bcdt_rms_eps <= 0))
    throw Error(ErrorKind::kCorrupt,
                fmt::format("'{}': Mamba sizes must be positive (and weighted time step, B and C "
                            "norms need their eps)",
                            c.origin()));
  return s;
}

Mamba2Spec ReadMamba2Spec(const HfConfig& c) {
  const nlohmann::json piece = c.Piece("mamba2");
  Mamba2Spec s;
  s.hidden = c.Int("hidden_size");
  s.intermediate = ObjectPieceInt(c, piece, "expand", 2, 1) * s.hidden;
  s.heads = ObjectPieceInt(c, piece, "heads", 0, 1);
  // Bamba's mamba_d_head "auto": the intermediate size over the heads.
  const nlohmann::json head_dim = ObjectPiece(c, piece, "head_dim");
  s.head_dim = head_dim.is_string() && head_dim == "auto"
                   ? s.intermediate / s.heads
                   : ObjectPieceInt(c, piece, "head_dim", 0, 1);
  s.groups = ObjectPieceInt(c, piece, "groups", 1, 1);
  s.state = ObjectPieceInt(c, piece, "state", 0, 1);
  s.conv_kernel = ObjectPieceInt(c, piece, "conv_kernel", 4, 1);
  s.bias = ObjectPieceBool(c, piece, "bias", false);
  s.conv_bias = ObjectPieceBool(c, piece, "conv_bias", true);
  s.eps = ObjectPieceDouble(c, piece, "eps", 1e-5);
  s.norm_groups = ObjectPieceInt(c, piece, "norm_groups", 1, 1);
  s.act = c.String("hidden_act", "silu");
  const nlohmann::json limit = ObjectPiece(c, piece, "time_step_limit");
  if (limit.is_array() && limit.size() == 2) {  // null (HF's inf): no upper clamp
    s.dt_min = limit[0].is_number() ? limit[0].get<double>() : 0.0;
    s.dt_max = limit[1].is_number() ? limit[1].get<double>() : 0.0;
  }
  if (s.heads * s.head_dim != s.intermediate || s.heads % s.groups != 0 ||
      s.intermediate % s.norm_groups != 0)
    throw Error(
        ErrorKind::kCorrupt,
        fmt::format("'{}': Mamba-2 needs heads x head_dim ({} x {}) = expand x hidden_size "
                    "({}), heads a multiple of the groups ({}) and the intermediate size "
                    "a multiple of the norm's groups ({})",
                    c.origin(), s.heads, s.head_dim, s.intermediate, s.groups, s.norm_groups));
  return s;
}

std::string MambaMixer(GraphBuilder& g, const MambaSpec& s, const std::string& x,
                       const std::string& mask, const std::string& prefix) {
  const int64_t I = s.intermediate, N = s.state, R = s.dt_rank;
  const auto proj = SplitLast(g, g.Linear(x, prefix + "in_proj", s.hidden, 2 * I, s.bias), {I, I});
  const std::string masked = g.Node("Mul", {proj[0], mask});
  const std::string conv =
      CausalConv1d(g, masked, prefix + "conv1d", I, s.conv_kernel, s.conv_bias);
  const std::string hs = g.Node("Mul", {Activation(g, conv, s.act), mask});  // [b, S, I]
  auto params = SplitLast(g, g.Linear(hs, prefix + "x_proj", I, R + 2 * N, false), {R, N, N});
  if (s.bcdt_rms_eps > 0) {  // FalconMamba, Jamba: RMSNorms on the time step, B and C
    params[0] = BcdtNorm(g, s, params[0], prefix, "dt", R);
    params[1] = BcdtNorm(g, s, params[1], prefix, "b", N);
    params[2] = BcdtNorm(g, s, params[2], prefix, "c", N);
  }
  const std::string dt = Softplus(g, g.Linear(params[0], prefix + "dt_proj", R, I, true));
  const std::string a = NegativeExp(g, g.Weight(prefix + "A_log", {I, N}, WeightInit::kNormal));
  const std::string last = g.ConstInt64({-1});
  const std::string decay = g.Node("Exp", {g.Node("Mul", {g.Node("Unsqueeze", {dt, last}), a})});
  const std::string u = g.Node("Unsqueeze", {g.Node("Mul", {dt, hs}), last});  // [b, S, I, 1]
  const std::string b = g.Node("Unsqueeze", {params[1], g.ConstInt64({2})});   // [b, S, 1, N]
  const std::string c = g.Node("Unsqueeze", {params[2], last});                // [b, S, N, 1]
  std::string y = SelectiveScan(g, decay, u, b, c);                            // [b, S, I]
  y = g.Node("Add", {y, g.Node("Mul", {hs, g.Weight(prefix + "D", {I}, WeightInit::kOnes)})});
  y = g.Node("Mul", {y, Activation(g, proj[1], s.act)});
  return g.Linear(y, prefix + "out_proj", I, s.hidden, s.bias);
}

std::string Mamba2Mixer(GraphBuilder& g, const Mamba2Spec& s, const std::string& x,
                        const std::string& mask, const std::string& prefix) {
  const int64_t I = s.intermediate, H = s.heads, P = s.head_dim, G = s.groups, N = s.state;
  const std::string pad_mask = Mamba2PaddingMask(g, mask);
  const std::string in = g.Node("Mul", {x, pad_mask});
  const auto proj =
      SplitLast(g, g.Linear(in, prefix + "in_proj", s.hidden, I + s.conv_dim() + H, s.bias),
                {I, s.conv_dim(), H});  // gate, x B C, dt
  const std::string conv =
      CausalConv1d(g, proj[1], prefix + "conv1d", s.conv_dim(), s.conv_kernel, s.conv_bias);
  const std::string xbc = g.Node("Mul", {Activation(g, conv, s.act), pad_mask});
  const auto parts = SplitLast(g, xbc, {I, G * N, G * N});
  std::string dt =
      Softplus(g, g.Node("Add", {proj[2], g.Weight(prefix + "dt_bias", {H}, WeightInit::kZeros)}));
  if (s.dt_min > 0 || s.dt_max > 0) {
    const std::string hi = s.dt_max > 0 ? g.ConstFloat(static_cast<float>(s.dt_max)) : "";
    dt = g.Node("Clip", {dt, g.ConstFloat(static_cast<float>(s.dt_min)), hi});
  }
  const std::string a = NegativeExp(g, g.Weight(prefix + "A_log", {H}, WeightInit::kNormal));
  const std::string by_group = g.ConstInt64({0, 0, G, H / G, 1, 1});
  const std::string decay = g.Node("Reshape", {g.Node("Exp", {g.Node("Mul", {dt, a})}), by_group});
  const std::string heads = g.Node("Reshape", {parts[0], g.ConstInt64({0, 0, H, P})});
  const std::string dt_x = g.Node("Mul", {heads, g.Node("Unsqueeze", {dt, g.ConstInt64({-1})})});
  const std::string u = g.Node("Reshape", {dt_x, g.ConstInt64({0, 0, G, H / G, P, 1})});
  const std::string state_shape = g.ConstInt64({0, 0, G, 1, 1, N});
  const std::string b = g.Node("Reshape", {parts[1], state_shape});
  const std::string c = g.Node("Reshape", {parts[2], g.ConstInt64({0, 0, G, 1, N, 1})});
  std::string y = g.Node("Reshape", {SelectiveScan(g, decay, u, b, c), g.ConstInt64({0, 0, H, P})});
  const std::string d =
      g.Node("Reshape", {g.Weight(prefix + "D", {H}, WeightInit::kOnes), g.ConstInt64({H, 1})});
  y = g.Node("Add", {y, g.Node("Mul", {heads, d})});
  y = g.Node("Reshape", {y, g.ConstInt64({0, 0, I})});
  y = GatedRmsNorm(g, y, proj[0], prefix + "norm", I, s.norm_groups, s.eps);
  return g.Linear(y, prefix + "out_proj", I, s.hidden, s.bias);
}

std::string ShortConvMixer(GraphBuilder& g, const ShortConvSpec& s, const std::string& x,
                           const std::string& mask, const std::string& prefix) {
  const int64_t H = s.hidden;
  const std::string in = g.Node("Mul", {x, Mamba2PaddingMask(g, mask)});
  const auto bcx = SplitLast(g, g.Linear(in, prefix + "in_proj", H, 3 * H, s.bias), {H, H, H});
  const std::string bx = g.Node("Mul", {bcx[0], bcx[2]});
  const std::string conv = CausalConv1d(g, bx, prefix + "conv", H, s.kernel, s.bias);
  return g.Linear(g.Node("Mul", {bcx[1], conv}), prefix + "out_proj", H, H, s.bias);
}

}  // namespace ipfs_accel::models
