#pragma once
// State-space language models (MambaForCausalLM, FalconMambaForCausalLM, Mamba2ForCausalLM) and
// their hybrids with attention, experts or short convolutions (Bamba, Jamba, GraniteMoeHybrid,
// LFM2) as one ONNX graph of the whole sequence (ssm.h and moe.h have the pieces):
//   inputs  input_ids int64 [batch, sequence]
//           attention_mask int64 [batch, sequence] (1 = a real token; the mixers zero padding
//           states as HF's do)
//   outputs logits float32 [batch, sequence, vocab]
// The recurrence starts from zero states: the graph takes no cache_params and returns none (no
// conv state, no SSM state), so each call is a prefill of the whole sequence.
//
// Weight names are MambaModel's under the template's prefix ("backbone."): embeddings,
// layers.N.norm, layers.N.mixer.*, norm_f; the LM head "lm_head.weight" (tried bare), or the
// embedding table when tie_word_embeddings.

#include "graph_builder.h"
#include "ipfs_accel/models/hf_config.h"

namespace ipfs_accel::models {

// `config` is resolved by its template; its piece `mixer` is "mamba" (Mamba-1, FalconMamba with
// `bcdt_rms_eps`), "mamba2" or "short_conv" (docs/templates.md, "Mamba pieces"). Throws
// core::Error: kCorrupt (inconsistent sizes), kUnsupported (another mixer).
void BuildMamba(const HfConfig& config, GraphBuilder& g);

}  // namespace ipfs_accel::models
