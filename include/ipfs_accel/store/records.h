#pragma once
// Plain records the result store writes and reads. They mirror the schema (see
// src/store/migrations.cpp); the store knows nothing of how they were measured.

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace ipfs_accel::store {

// One invocation of the tool that produced results.
struct RunRecord {
  std::string run_id;        // UUID v4 text, made by the caller (NewRunId())
  std::string started_at;    // ISO-8601 UTC, "2026-11-26T15:04:05Z"
  std::string finished_at;   // ISO-8601 UTC
  std::string tool_version;  // "0.1.0"
  std::string git_commit;    // of the tool's source
  std::string command_line;  // as typed, arguments joined with spaces
  std::string hostname;
  std::string os;
  uint64_t seed = 0;                 // seed of generated inputs and random weights
  std::string metadata_json = "{}";  // anything else worth keeping (JSON object text)
  std::optional<std::string> branch = std::nullopt;  // of the source, where known
  // "measured": by this tool; "imported": read from a result file (imported_from says which).
  std::string origin = "measured";
  std::optional<std::string> imported_from = std::nullopt;
  // "running" (stored as it goes; a run whose process died stays so), "interrupted" (stopped
  // by a signal, with what it finished), or "complete"; unset is "complete" (exports written
  // before schema v7 have no state).
  std::optional<std::string> state = std::nullopt;
};

// A hardware platform on a host: the CPU, one GPU, one browser backend.
struct HardwarePlatformRecord {
  std::string
      platform;  // "cpu", "cuda", "rocm", "mps", "openvino", "qnn", "webgpu", "webnn", "wasm"
  std::string device_name;  // "AMD EPYC 7B13", "NVIDIA H100 80GB HBM3"
  std::string hostname;
  std::string details_json = "{}";  // ISA features, cores, memory, driver, ... (JSON object)
};

struct ModelRecord {
  std::string name;          // "bert-base-uncased", "bert-tiny", or the folder/file name
  std::string architecture;  // "bert" (HF model_type), "onnx" for a plain graph
  std::string modality;      // "text", "vision", "audio", "multimodal", "unknown"
  std::string source;        // "catalog", "hf-folder", "onnx-file"
  std::string source_path;   // folder or file; empty for catalog models
  int64_t parameters = 0;
  std::string content_hash;  // sha256 of the weights / .onnx bytes; for seeded random: "seed:<n>"
  std::optional<std::string> family = std::nullopt;  // "embedding", "text_generation", ...
  // sha256 of the config the graph was built from ("sha256:<hex>" of the parsed config.json, or
  // the catalog's config, serialised with sorted keys); unset for an .onnx file and in rows
  // stored before schema v8. Part of the model's identity: same weights, another config is
  // another model.
  std::optional<std::string> config_hash = std::nullopt;
  // The IPFS CID of the bytes the model was built from (schema v11): its folder as a UnixFS
  // directory, or its file, as `ipfs add --cid-version 1` computes them ("bafy..."); unset for
  // seeded random weights and rows stored before v11. Not part of the identity (the weights'
  // hash and config are): a stored model without one gains it from the next run that has it.
  std::optional<std::string> content_cid = std::nullopt;
};

// One measured configuration (model x platform x shape x settings).
struct PerformanceRecord {
  std::string execution_provider;  // "CPUExecutionProvider"
  std::string provider_options_json = "{}";
  std::string session_options_json = "{}";  // threads, graph optimisation level, ...
  std::string runtime_version;              // ORT version
  std::string precision = "fp32";
  std::string graph_variant = "plain";  // "plain" ONNX, or "fused" (ONNX Runtime contrib ops)
  int64_t batch_size = 1;
  int64_t seq_len = 0;                   // 0 where the model has no sequence axis
  std::string input_shapes_json = "{}";  // {"input_ids":[1,128],...}
  // Intra-op threads the session used: the number asked for, or the runtime's default resolved
  // (session_options_json's threads_source says which); 0 where unknown (imported rows).
  int threads = 0;
  int warmup_iterations = 0;
  int iterations = 0;  // timed iterations actually run
  // The measured values: a measured run sets every one; a value the source did not have (an
  // imported file's) is unset and stored as NULL, never as 0.
  std::optional<double> load_ms;  // session creation
  std::optional<double> first_inference_ms;
  std::optional<double> latency_mean_ms, latency_stdev_ms;
  std::optional<double> latency_min_ms, latency_max_ms;
  std::optional<double> latency_p50_ms, latency_p90_ms, latency_p95_ms, latency_p99_ms;
  std::optional<double> throughput_items_per_s;  // batch_size / mean latency
  std::optional<int64_t> peak_rss_bytes;
  // GPU platforms: device memory after the timed runs, this process's and the whole GPU's
  // (NVML); unset elsewhere or where the driver cannot tell.
  std::optional<int64_t> device_memory_process_bytes;
  std::optional<int64_t> device_memory_gpu_used_bytes;
  std::vector<double> samples_ms;  // every timed latency, in order
  // "single-stream": the latencies are whole runs. "generate": they are per decoded token,
  // throughput is tokens/s, and the three fields below are set. "training": see below.
  std::string scenario = "single-stream";
  std::optional<int64_t> prompt_len;
  std::optional<int64_t> new_tokens;
  std::optional<double> time_to_first_token_ms;
  std::optional<int> graph_optimization_level;  // 0, 1, 2, 99 as ONNX Runtime numbers them
  // The tail percentile the scenario is judged by (90 single-stream, 99 server): LoadGen's
  // early-stopping estimate (unset when too few queries ran) at tail_confidence, and a
  // two-sided order-statistic interval at tail_ci_level.
  std::optional<double> tail_percentile;
  std::optional<double> tail_early_stopping_ms;
  std::optional<double> tail_confidence;
  std::optional<double> tail_ci_low_ms, tail_ci_high_ms, tail_ci_level;
  // "server": the Poisson arrival rate asked for, the rate achieved, and the p99 bound of a
  // peak-QPS search (unset for a plain server run).
  std::optional<double> target_qps, achieved_qps, latency_bound_ms;
  // The estimate made before the run (weights + activations + KV cache); an estimate, kept
  // so its error against peak_rss_bytes can be measured.
  std::optional<int64_t> memory_estimate_bytes;
  // The architecture template the graph was built from and its version (schema v9), so a
  // figure traces to the exact structure; unset for an .onnx file and imported results.
  std::optional<std::string> template_name;
  std::optional<int64_t> template_version;
  // CIDv1 raw ("bafkrei...") of the ONNX bytes the runtime was given (schema v11): two results
  // with one graph CID measured the same graph, byte for byte. Unset for imported results.
  std::optional<std::string> graph_cid;
  // "training" (schema v12): the optimizer ("adamw", "sgd-momentum"), the loss
  // ("cross-entropy", "mse"), the micro-batches per optimizer step (latencies are whole
  // optimizer steps, throughput samples/s), and the loss on the fixed batch at the first step
  // and after loss_steps optimizer steps. Unset in other scenarios.
  std::optional<std::string> training_optimizer, training_loss;
  std::optional<int64_t> grad_accum_steps;
  std::optional<double> loss_first, loss_last;
  std::optional<int64_t> loss_steps;
};

// `R` is T or const T.
template <typename R, typename T>
concept RecordOf = std::same_as<std::remove_const_t<R>, T>;

// Every field of a PerformanceRecord once, in the order of the performance_results columns they
// fill (same names): f(name, member). For the store's writer and the JSON forms, so a field added
// here reaches all of them. The overloads below do the same for the other records.
template <RecordOf<PerformanceRecord> Record, typename F>
void ForEachField(Record& r, F&& f) {
  f("execution_provider", r.execution_provider);
  f("provider_options_json", r.provider_options_json);
  f("session_options_json", r.session_options_json);
  f("runtime_version", r.runtime_version);
  f("precision", r.precision);
  f("graph_variant", r.graph_variant);
  f("batch_size", r.batch_size);
  f("seq_len", r.seq_len);
  f("input_shapes_json", r.input_shapes_json);
  f("threads", r.threads);
  f("warmup_iterations", r.warmup_iterations);
  f("iterations", r.iterations);
  f("load_ms", r.load_ms);
  f("first_inference_ms", r.first_inference_ms);
  f("latency_mean_ms", r.latency_mean_ms);
  f("latency_stdev_ms", r.latency_stdev_ms);
  f("latency_min_ms", r.latency_min_ms);
  f("latency_max_ms", r.latency_max_ms);
  f("latency_p50_ms", r.latency_p50_ms);
  f("latency_p90_ms", r.latency_p90_ms);
  f("latency_p95_ms", r.latency_p95_ms);
  f("latency_p99_ms", r.latency_p99_ms);
  f("throughput_items_per_s", r.throughput_items_per_s);
  f("peak_rss_bytes", r.peak_rss_bytes);
  f("samples_ms", r.samples_ms);
  f("scenario", r.scenario);
  f("prompt_len", r.prompt_len);
  f("new_tokens", r.new_tokens);
  f("time_to_first_token_ms", r.time_to_first_token_ms);
  f("device_memory_process_bytes", r.device_memory_process_bytes);
  f("device_memory_gpu_used_bytes", r.device_memory_gpu_used_bytes);
  f("graph_optimization_level", r.graph_optimization_level);
  f("tail_percentile", r.tail_percentile);
  f("tail_early_stopping_ms", r.tail_early_stopping_ms);
  f("tail_confidence", r.tail_confidence);
  f("tail_ci_low_ms", r.tail_ci_low_ms);
  f("tail_ci_high_ms", r.tail_ci_high_ms);
  f("tail_ci_level", r.tail_ci_level);
  f("target_qps", r.target_qps);
  f("achieved_qps", r.achieved_qps);
  f("latency_bound_ms", r.latency_bound_ms);
  f("memory_estimate_bytes", r.memory_estimate_bytes);
  f("template_name", r.template_name);
  f("template_version", r.template_version);
  f("graph_cid", r.graph_cid);
  f("training_optimizer", r.training_optimizer);
  f("training_loss", r.training_loss);
  f("grad_accum_steps", r.grad_accum_steps);
  f("loss_first", r.loss_first);
  f("loss_last", r.loss_last);
  f("loss_steps", r.loss_steps);
}

// A model x platform attempt: worked, failed (with the error), or unavailable here.
struct CompatibilityRecord {
  std::string execution_provider;
  std::string status;                   // "ok", "failed", "unavailable", "skipped"
  std::string error_class;              // ErrorKindName or empty
  std::string error_message;            // the one-line error or empty
  std::optional<double> max_abs_error;  // vs the CPU fp32 reference, when compared
  std::string precision = "fp32";
  std::string graph_variant = "plain";
  // Language models: share of positions whose top-1 token equals the fp32 reference's.
  std::optional<double> top1_agreement = std::nullopt;
  // The configuration the result belongs to (unset: the model x platform as a whole).
  std::optional<std::string> scenario = std::nullopt;
  std::optional<int64_t> batch_size = std::nullopt;
  std::optional<int64_t> seq_len = std::nullopt;
  std::optional<std::string> configuration_json = std::nullopt;  // JSON object text
};

template <RecordOf<CompatibilityRecord> Record, typename F>
void ForEachField(Record& r, F&& f) {
  f("execution_provider", r.execution_provider);
  f("status", r.status);
  f("error_class", r.error_class);
  f("error_message", r.error_message);
  f("max_abs_error", r.max_abs_error);
  f("precision", r.precision);
  f("graph_variant", r.graph_variant);
  f("top1_agreement", r.top1_agreement);
  f("scenario", r.scenario);
  f("batch_size", r.batch_size);
  f("seq_len", r.seq_len);
  f("configuration_json", r.configuration_json);
}

template <RecordOf<RunRecord> Record, typename F>
void ForEachField(Record& r, F&& f) {
  f("run_id", r.run_id);
  f("started_at", r.started_at);
  f("finished_at", r.finished_at);
  f("tool_version", r.tool_version);
  f("git_commit", r.git_commit);
  f("command_line", r.command_line);
  f("hostname", r.hostname);
  f("os", r.os);
  f("seed", r.seed);
  f("metadata_json", r.metadata_json);
  f("branch", r.branch);
  f("origin", r.origin);
  f("imported_from", r.imported_from);
  f("state", r.state);
}

template <RecordOf<ModelRecord> Record, typename F>
void ForEachField(Record& r, F&& f) {
  f("name", r.name);
  f("architecture", r.architecture);
  f("modality", r.modality);
  f("source", r.source);
  f("source_path", r.source_path);
  f("parameters", r.parameters);
  f("content_hash", r.content_hash);
  f("family", r.family);
  f("config_hash", r.config_hash);
  f("content_cid", r.content_cid);
}

template <RecordOf<HardwarePlatformRecord> Record, typename F>
void ForEachField(Record& r, F&& f) {
  f("platform", r.platform);
  f("device_name", r.device_name);
  f("hostname", r.hostname);
  f("details_json", r.details_json);
}

// Everything one run produced, written in one transaction.
struct RunResults {
  RunRecord run;
  struct Entry {
    ModelRecord model;
    HardwarePlatformRecord hardware;
    std::vector<PerformanceRecord> performance;
    std::vector<CompatibilityRecord> compatibility;
  };
  std::vector<Entry> entries;
};

// A UUID v4 from a random device.
std::string NewRunId();
// Now, as ISO-8601 UTC with seconds.
std::string UtcNow();
// strftime's format of every timestamp shown to a user (reports, matrix, compare, runs):
// ISO-8601 UTC with a space, "2026-12-06 19:57:36Z". store::DisplayTimestampSql applies it.
inline constexpr const char* kDisplayTimestampFormat = "%Y-%m-%d %H:%M:%SZ";

}  // namespace ipfs_accel::store
