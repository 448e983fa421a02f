#pragma once
// A mixture-of-experts MLP as Hugging Face's *SparseMoeBlock modules compute it, written as a
// dense ONNX subgraph: a router (a linear layer, softmax or sigmoid scores, top-k selection, the
// top-k weights renormalised and scaled as the config says), every expert evaluated on every
// token, and the experts' outputs summed with the routing weights, which are zero outside each
// token's top k. The result equals HF's sparse dispatch exactly; the cost grows with the number of
// experts, which is fine at the tiny sizes we validate and benchmark, and honest at any size.
//
// Weight names are HF 5.x's (relative to the block's prefix, e.g. "layers.3.mlp."):
//   router:   `<router>.weight` [experts, hidden] (+ `<router>.bias` [experts] where it has one)
//   experts:  `<experts><gate_up>` [experts, 2 * intermediate, hidden] (gate rows first, then up)
//             and `<experts><down>` [experts, hidden, intermediate]
//   shared:   `<shared>.gate_proj|up_proj|down_proj.weight` (a gated MLP), or with
//             `shared_gate_up` one [2 * shared_intermediate, hidden] linear, gate rows first
//             (GraniteMoeShared's shared_mlp.input_linear / output_linear), and, where present,
//             `<shared_gate>.weight` [1, hidden] whose sigmoid scales it (Qwen2-MoE).

#include <cstdint>
#include <string>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct MoeSpec {
  int64_t hidden = 0, experts = 0, top_k = 0, intermediate = 0;
  std::string act = "silu";
  // How the router turns logits into the k weights:
  //   softmax:        softmax over all experts, the k largest kept (Mixtral, Qwen-MoE, OLMoE)
  //   topk_softmax:   the k largest logits, softmax over those k (GraniteMoE, GPT-OSS)
  //   sigmoid:        sigmoid of each logit, the k largest kept (DeepSeek-V3, GLM-4.5, MiniMax-M2)
  //   sparsemixer:    PhiMoE's two rounds of argmax and a softmax over the logits within
  //                   2 * jitter_eps of the best (k = 2), as in eval mode
  std::string scoring = "softmax";
  double jitter_eps = 0.01;     // sparsemixer's router_jitter_noise
  bool norm_topk = false;       // divide the k weights by their sum
  double norm_add = 0.0;        // ... plus this (DeepSeek-V3's 1e-20)
  double norm_min = 0.0;        // ... clamped below at this (ERNIE's moe_norm_min)
  double routed_scaling = 1.0;  // the k weights times this (routed_scaling_factor)
  bool router_bias = false;     // the router linear has a bias (GPT-OSS)
  // A per-expert bias added to the scores for choosing only (the weights stay unbiased):
  // "" none, else its name under the block prefix ("gate.e_score_correction_bias").
  std::string selection_bias;
  bool selection_bias_counted = false;  // an nn.Parameter (ERNIE) rather than a buffer
  bool selection_bias_2d = false;       // stored as [1, experts] (ERNIE)
  // Group-limited choice (DeepSeek-V3 n_group / topk_group): the experts split into `groups`,
  // each scored by its two best, and only the best `groups_kept` groups compete. 1/1: off.
  int64_t groups = 1, groups_kept = 1;
  std::string router = "gate";  // the router linear's name under the block prefix
  std::string experts_prefix = "experts.";
  std::string gate_up = "gate_up_proj", down = "down_proj";
  // "gate_up": the shapes above. "gpt_oss": gate_up [experts, hidden, 2 * intermediate] with
  // gate and up interleaved, down [experts, intermediate, hidden], both with `<name>_bias`, and
  // GPT-OSS's clamped gate (alpha 1.702, limit 7) in place of the activation. "in_out": the
  // "gate_up" matrices stored [experts, in, out] (Aria's fc1 [experts, hidden, 2 * intermediate],
  // fc2 [experts, intermediate, hidden]), no biases. "numbered"
  // (Switch Transformers): one module per expert, `<experts_prefix>expert_<e>.<gate_up>.weight`
  // [intermediate, hidden] and `.<down>.weight` [hidden, intermediate], act(up) then down.
  std::string experts_layout = "gate_up";
  int64_t shared_intermediate = 0;  // 0: no shared expert
  std::string shared = "shared_experts";
  // The shared expert's names under `shared`: "" for separate gate_proj and up_proj, else one
  // linear of [gate | up] rows (GraniteMoeShared's "input_linear"); then `shared_down`.
  std::string shared_gate_up, shared_down = "down_proj";
  std::string shared_gate;  // "" none, else a [1, hidden] linear whose sigmoid scales
  // How the shared expert joins the routed ones: "sum" (default), or "average" (Cohere2-MoE's
  // shared_expert_combination_strategy: (routed + shared) / 2).
  std::string shared_combine = "sum";
};

// Reads the "moe" piece: an object whose values are literals or "$key" references (see
// docs/templates.md). Throws core::Error(kCorrupt) naming the key for a missing or bad value,
// kUnsupported for a scoring it does not know.
MoeSpec ReadMoeSpec(const HfConfig& config, const nlohmann::json& piece, int64_t hidden,
                    const std::string& act);

// Whether layer `layer` has the MoE block (else the dense MLP): the piece's "layer_types"
// (GLM's mlp_layer_types, "sparse" or "dense" per layer) when the config has them, else its
// "first_dense" (first_k_dense_replace), "last_sparse" (ERNIE's moe_layer_end_index; -1: the
// last layer), "every" (decoder_sparse_step: layers with (l + 1) % every == 0) and
// "dense_layers" (mlp_only_layers); with "offset" (Jamba's expert_layer_offset) "every" picks the
// layers with layer % every == offset instead. All absent: every layer.
bool MoeLayer(const HfConfig& config, const nlohmann::json& piece, int64_t layer);

// The block on x [batch, sequence, hidden]; returns [batch, sequence, hidden]. Weight names are
// `prefix` + the names above.
std::string MoeMlp(GraphBuilder& g, const MoeSpec& s, const std::string& x,
                   const std::string& prefix);

}  // namespace ipfs_accel::models
