#pragma once
// State-space pieces of the Mamba family (docs/templates.md, "Mamba pieces"), as Hugging Face's
// slow torch paths define them (modeling_mamba.py MambaMixer.slow_forward, modeling_mamba2.py
// Mamba2Mixer.torch_forward): the selective scan as an ONNX Scan over the sequence, the causal
// depthwise conv1d, Mamba-2's gated RMSNorm, and the two mixers built from them. They compute a
// whole sequence from a zero state: no conv or SSM state comes in or goes out.

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// The recurrence h_t = decay_t * h_{t-1} + u_t * b_t, y_t = h_t c_t (a matrix product: c_t is a
// column [..., state, 1], so y_t sums h_t over the state against c_t), from h_{-1} = 0, as one
// ONNX Scan. Every input is float32 [batch, sequence, ...] with the sequence at axis 1; per step
// decay_t, u_t and b_t broadcast to the state's shape, which is that of u_t * b_t (its last axis
// the state size), and c_t's leading axes broadcast with the state's. Returns y float32
// [batch, sequence, ...the state's shape without its last axis]. Mamba-1: decay exp(dt A)
// [b, S, D, N], u = dt x [b, S, D, 1], b [b, S, 1, N], c [b, S, N, 1]; Mamba-2 the per-head
// scalar decay [b, S, G, H/G, 1, 1], u [b, S, G, H/G, P, 1], b [b, S, G, 1, 1, N],
// c [b, S, G, 1, N, 1].
std::string SelectiveScan(GraphBuilder& g, const std::string& decay, const std::string& u,
                          const std::string& b, const std::string& c);

// nn.Conv1d(channels, channels, kernel, groups=channels, padding=kernel - 1) cut to the input's
// length, i.e. causal: out[t, ch] = bias[ch] + sum_k w[ch, 0, k] x[t - kernel + 1 + k, ch] (zero
// before the start). x and the result are [batch, sequence, channels]; weights `prefix`.weight
// [channels, 1, kernel] and, with `bias`, `prefix`.bias [channels].
std::string CausalConv1d(GraphBuilder& g, const std::string& x, const std::string& prefix,
                         int64_t channels, int64_t kernel, bool bias);

// MambaRMSNormGated: x * silu(gate), RMS-normalised over each of `groups` equal parts of the last
// axis (1: the whole axis, Mamba-2), times `prefix`.weight [size].
std::string GatedRmsNorm(GraphBuilder& g, const std::string& x, const std::string& gate,
                         const std::string& prefix, int64_t size, int64_t groups, double eps);

// Mamba-1's mixer (MambaMixer; FalconMamba's with `bcdt_rms_eps` > 0: B, C and the time step
// RMS-normalised without weights; Jamba's with `bcdt_weights` too: with the weights
// dt_layernorm, b_layernorm and c_layernorm). Weights under the mixer's prefix: in_proj, conv1d,
// x_proj, dt_proj, A_log [intermediate, state], D [intermediate], out_proj.
struct MambaSpec {
  int64_t hidden = 0, intermediate = 0, state = 0, conv_kernel = 0, dt_rank = 0;
  bool bias = false, conv_bias = true;
  std::string act = "silu";
  double bcdt_rms_eps = 0;    // 0: none (Mamba); FalconMamba's mixer_rms_eps
  bool bcdt_weights = false;  // Jamba: the three norms have weights
};
// From the template's piece `mamba` (members intermediate, expand, state, conv_kernel,
// time_step_rank, bias, conv_bias: literals or "$key"), by default MambaConfig's keys:
// intermediate_size (null: expand x hidden), state_size, conv_kernel, time_step_rank ("auto":
// ceil(hidden / 16)), use_bias, use_conv_bias; hidden_act, and the pieces `bcdt_rms_eps`,
// `bcdt_rms_weights`. Throws core::Error(kCorrupt) for an inconsistent config.
MambaSpec ReadMambaSpec(const HfConfig& c);

// Mamba-2's mixer (Mamba2Mixer): in_proj to [gate | x B C | dt], conv1d over x B C, the per-head
// scalar-A scan with n_groups B and C shared by heads / groups heads each, D, the gated RMSNorm
// `norm`, out_proj; dt_bias, A_log and D [heads].
struct Mamba2Spec {
  int64_t hidden = 0, intermediate = 0, heads = 0, head_dim = 0, groups = 0, state = 0;
  int64_t conv_kernel = 0, norm_groups = 1;
  bool bias = false, conv_bias = true;
  std::string act = "silu";
  double eps = 1e-5;
  double dt_min = 0, dt_max = 0;  // time_step_limit; dt_max 0: no upper clamp (HF's inf)
  int64_t conv_dim() const { return intermediate + 2 * groups * state; }
};
// From the template's piece `mamba2`, an object of literals or "$key" references: heads,
// head_dim ("auto": intermediate / heads), groups, state, conv_kernel, expand, bias, conv_bias,
// eps, norm_groups (the gated RMSNorm's), time_step_limit ([min, max], max null for HF's inf);
// hidden_size and hidden_act from the config. Throws core::Error(kCorrupt) when heads x head_dim
// is not expand x hidden_size, or the groups do not divide the heads / the intermediate size.
Mamba2Spec ReadMamba2Spec(const HfConfig& c);

// LFM2's gated short convolution (Lfm2ShortConv.slow_forward): in_proj to [B | C | x] (3 x
// hidden), B * x through a causal depthwise conv1d of `kernel` (conv_L_cache), times C, out_proj;
// in_proj, conv and out_proj with biases when `bias` (conv_bias). Weights under `prefix`
// ("layers.0.conv."): in_proj, conv, out_proj.
struct ShortConvSpec {
  int64_t hidden = 0, kernel = 3;
  bool bias = false;
};

// The mixers on x [batch, sequence, hidden] (the block's normed input); `mask` is the float32
// attention mask [batch, sequence, 1]. Weights under `prefix` ("layers.3.mixer."). Mamba-1
// multiplies its conv input and output by the mask; Mamba-2 (apply_mask_to_padding_states) only
// when batch and sequence both exceed 1.
std::string MambaMixer(GraphBuilder& g, const MambaSpec& s, const std::string& x,
                       const std::string& mask, const std::string& prefix);
std::string Mamba2Mixer(GraphBuilder& g, const Mamba2Spec& s, const std::string& x,
                        const std::string& mask, const std::string& prefix);
// The short convolution masks its input as Mamba-2 does (apply_mask_to_padding_states).
std::string ShortConvMixer(GraphBuilder& g, const ShortConvSpec& s, const std::string& x,
                           const std::string& mask, const std::string& prefix);

}  // namespace ipfs_accel::models
