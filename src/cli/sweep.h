#pragma once
// A benchmark sweep as llama-bench makes one: the cross product of every list-valued option
// (platforms x graph x precision x threads x graph optimisation x provider options x batch x
// sequence x target QPS), one Configuration each. A configuration is plain data and round-trips
// through JSON, so an isolated worker process can run exactly what the parent planned.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ipfs_accel/harness/benchmark.h"

namespace ipfs_accel::cli {

// What the user asked for: every list is a sweep axis.
struct SweepRequest {
  std::string model;  // catalog name, HF folder, or .onnx file
  uint64_t seed = 42;
  std::string scenario = "single-stream";  // single-stream, offline, server, generate, training
  std::vector<std::string> platforms{"cpu"};
  std::vector<std::string> graphs{"plain"};  // plain, fused, auto (resolved per platform)
  std::vector<std::string> precisions{"fp32"};
  std::vector<int> threads{0};
  std::vector<int> graph_opt_levels{99};
  std::vector<std::string> ep_options;  // [platform:]key=value; a key given twice is swept
  std::vector<int64_t> batch_sizes{1};
  std::vector<int64_t> seq_lens{128};
  bool batch_explicit = false, seq_len_explicit = false;
  std::map<std::string, std::vector<int64_t>> shape_overrides;
  std::vector<harness::GivenInput> given_inputs;  // --input, --inputs: the same in every point
  // Timing of each configuration.
  int warmup = 5;
  int iterations = 64;
  double min_time_s = 1.0;
  double max_time_s = 0;       // 0: no cap
  bool early_stopping = true;  // extend single-stream runs until the p90 estimate exists
  // server: target arrival rates, or a search for the highest rate whose p99 meets the bound.
  std::vector<double> target_qps;
  double latency_bound_ms = 0;  // > 0: search
  // generate
  int64_t prompt_len = 128;
  int64_t new_tokens = 128;
  int repetitions = 1;
  // --prompt: the text's ids (prompt_len is their count), and the tokenizer.json that made them,
  // which also decodes what was generated.
  std::vector<int64_t> prompt_ids;
  std::string tokenizer;
  // training (--mode training): the optimizer, and micro-batches per optimizer step (an axis)
  std::string optimizer = "adamw";
  std::vector<int64_t> grad_accum{1};
};

// One point of the sweep.
struct Configuration {
  std::string model;
  uint64_t seed = 42;
  std::string scenario;
  std::string platform;
  std::string graph;               // "plain" or "fused"
  std::string precision;           // fp32, fp16, int8, int4
  harness::BenchmarkConfig bench;  // session, shape, warm-up, timing, seed
  double max_time_s = 0;
  bool early_stopping = true;
  double target_qps = 0;                   // server
  double latency_bound_ms = 0;             // server: a peak-QPS search
  int64_t prompt_len = 0, new_tokens = 0;  // generate
  int repetitions = 1;                     // generate
  std::vector<int64_t> prompt_ids;         // generate: --prompt's ids, else generated
  std::string tokenizer;                   // generate: decodes the generated ids (--prompt)
  std::string optimizer;                   // training: adamw, sgd-momentum
  int64_t grad_accum = 1;                  // training: micro-batches per optimizer step

  std::string variant() const { return graph + "/" + precision; }
  // "cpu plain/fp32 batch 8 seq 128 threads 2 opt 99 {device_id=1}"
  std::string Describe() const;
};

// A fused graph asked for where the platform's runtime has no contrib ops: not run, recorded.
struct UnrunnableVariant {
  std::string platform;
  std::string reason;
};

struct SweepPlan {
  std::vector<Configuration> configurations;
  std::vector<UnrunnableVariant> unrunnable;
};

// `platforms` are the available platforms to sweep (the caller has checked them). Throws
// core::Error(kInvalidArgument) for an unknown graph variant, scenario or a malformed
// --ep-option.
SweepPlan PlanSweep(const SweepRequest& request, const std::vector<std::string>& platforms);

// `--ep-option [platform:]key=value` for one platform: every combination of the values given
// (a key given n times gives n combinations); options without a platform apply to every platform
// but cpu. Throws core::Error(kInvalidArgument) for a spec that is not [platform:]key=value.
std::vector<std::map<std::string, std::string>> ProviderOptionSets(
    const std::string& platform, const std::vector<std::string>& specs);

void to_json(nlohmann::json& j, const Configuration& c);
void from_json(const nlohmann::json& j, Configuration& c);

}  // namespace ipfs_accel::cli
