#pragma once
// The generate scenario for decoders with a KV cache (what llama-bench calls pp and
// tg): a prompt is prefilled in one run (time to first token), then tokens are
// decoded greedily one at a time, each step feeding the previous step's present.*
// outputs back as past_key_values.* inputs inside the runtime (no host copies).
// The graph convention: inputs input_ids, attention_mask [batch, past + new],
// past_key_values.N.{key,value}; outputs logits, present.N.{key,value}.

#include <cstdint>
#include <string>
#include <vector>

#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/harness/statistics.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct GenerationConfig {
  runtime::SessionOptions session = {};
  int64_t batch_size = 1;
  int64_t prompt_len = 128;
  int64_t new_tokens = 128;  // tokens generated, the prefill's included (as HF's max_new_tokens)
  int warmup = 1;            // whole generations run before the measured ones
  int repetitions = 1;       // measured generations
  uint64_t seed = 42;        // of the prompt
  // The prompt's token ids for every row (a text's encoding), instead of ids generated from
  // `seed`; prompt_len must equal their count.
  std::vector<int64_t> prompt_ids = {};
};

struct GenerationResult {
  std::string execution_provider;
  std::string session_options_json;
  double load_ms = 0;
  double first_prefill_ms = 0;     // the very first prefill on the new session (cold)
  std::vector<double> prefill_ms;  // per repetition: prompt in, first token out (TTFT)
  std::vector<double> token_ms;    // every decode step of every repetition
  LatencyStats prefill, decode;
  double decode_tokens_per_s = 0;   // batch x 1000 / mean decode step
  double prefill_tokens_per_s = 0;  // batch x prompt_len x 1000 / mean prefill
  std::vector<int64_t> tokens;      // the last repetition's tokens, batch row 0
  int64_t peak_rss_bytes = 0;
};

// Checks, without measuring, that `model` can run `config`: the KV-cache convention and
// sizes within the model's positions. Throws as RunGeneration does.
void CheckGeneration(const models::Model& model, const GenerationConfig& config);

// Throws core::Error: kUnsupported for a graph without the KV-cache convention,
// kInvalidArgument for sizes that do not fit (prompt + new tokens past the model's
// positions, new_tokens < 2), and the runtime's errors.
GenerationResult RunGeneration(const models::Model& model, const GenerationConfig& config,
                               const ProgressFn& progress = nullptr);

}  // namespace ipfs_accel::harness
