#pragma once
// Rotary position embeddings (RoPE) as Hugging Face computes them: inverse
// frequencies from the config's rope parameters (default, linear, llama3, yarn),
// cos/sin computed in the graph from integer positions in float32 (as HF does at
// run time, so no max_positions-sized table is stored), and the rotate-half
// application to the first rotary_dim features of each head.

#include <cstdint>
#include <string>
#include <vector>

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

struct RopeSpec {
  int64_t rotary_dim = 0;       // features rotated per head (head_dim * partial_rotary_factor)
  std::vector<float> inv_freq;  // rotary_dim / 2 inverse frequencies
  float attention_scaling = 1;  // multiplies cos and sin (yarn's mscale)
  // GPT-J, CodeGen, Cohere: each frequency rotates a pair of adjacent features (2i, 2i + 1)
  // instead of features i and i + rotary_dim / 2 (rotate-half).
  bool interleaved = false;
  // NanoChat's rotate_half is cat(x2, -x1), the usual one negated: the same as negating sin.
  bool negate_sin = false;
};

// Where a family keeps the rope keys that predate transformers 5's `rope_parameters`.
struct RopeKeys {
  std::string theta = "rope_theta";                             // gpt_neox: "rotary_emb_base"
  std::string partial_rotary_factor = "partial_rotary_factor";  // gpt_neox: "rotary_pct"
  double default_theta = 10000.0;
  double default_partial_rotary_factor = 1.0;
  // GPT-J, CodeGen: a key that gives the rotated features per head as a count
  // ("rotary_dim"); when the config has it, it wins over the factor.
  std::string rotary_dim = {};
};

// Reads `rope_parameters` (transformers 5) or the legacy top-level keys and
// `rope_scaling`. Throws core::Error(kUnsupported) for rope types other than default,
// linear, llama3 and yarn (dynamic NTK depends on the run's length), kCorrupt for
// missing or malformed parameters.
RopeSpec ReadRope(const HfConfig& config, int64_t head_dim, int64_t max_positions,
                  const RopeKeys& keys = {});

// cos and sin of positions * inv_freq, each [P, 1, S, rotary_dim] for int64 positions
// [P, S] (P is 1 or the batch), ready to broadcast over [batch, heads, S, head_dim].
struct RopeTables {
  std::string cos, sin;
  bool interleaved = false;  // RopeSpec::interleaved: each frequency repeated for its pair
};
// `inv_freq_name` names the frequencies' initializer: a graph with two rope specs (ModernBERT's
// global and local layers) needs two names.
RopeTables RopeCosSin(GraphBuilder& g, const RopeSpec& spec, const std::string& positions,
                      const std::string& inv_freq_name = "rope.inv_freq");

// [..., half] -> [..., 2 * half] with each value twice in a row (torch.repeat_interleave): the
// interleaved rope's angles from its frequencies.
std::string RepeatEachPair(GraphBuilder& g, const std::string& x);

// The default rope's inverse frequencies 1 / base^(i / dim), i = 0, 2, ..., in float32 as torch
// evaluates them.
std::vector<float> RopeInvFreq(double base, int64_t dim);

// x [batch, heads, S, head_dim] with its first rotary_dim features rotated
// (x * cos + rotate_half(x) * sin, or rotate_every_two for interleaved tables); the rest
// pass through.
std::string ApplyRope(GraphBuilder& g, const std::string& x, const RopeTables& tables,
                      int64_t rotary_dim, int64_t head_dim);

}  // namespace ipfs_accel::models
