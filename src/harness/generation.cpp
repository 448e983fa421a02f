#include "ipfs_accel/harness/generation.h"

#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/memory.h"
#include "ipfs_accel/runtime/backend.h"
#include "ipfs_accel/runtime/onnxruntime_backend.h"

namespace ipfs_accel::harness {

using core::Error;
using core::ErrorKind;

namespace {

using Clock = std::chrono::steady_clock;
double GenerationMsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

constexpr const char* kPastPrefix = "past_key_values.";
constexpr const char* kPresentPrefix = "present.";

// (present output, past input) pairs: present.X feeds past_key_values.X.
std::vector<std::pair<std::string, std::string>> CachePairs(const runtime::Session& session) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& out : session.outputs()) {
    if (out.name.rfind(kPresentPrefix, 0) != 0) continue;
    const std::string past = kPastPrefix + out.name.substr(std::strlen(kPresentPrefix));
    for (const auto& in : session.inputs())
      if (in.name == past) pairs.emplace_back(out.name, past);
  }
  return pairs;
}

bool HasInput(const runtime::Session& s, const std::string& name) {
  for (const auto& in : s.inputs())
    if (in.name == name) return true;
  return false;
}

// Greedy choice per batch row from the last position's logits.
std::vector<int64_t> ArgmaxLastPosition(const runtime::Session::TensorView& logits) {
  if (logits.dtype != core::DType::kFloat32 || logits.shape.size() != 3)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("logits are {} of rank {}; generation needs float32 [batch, "
                            "sequence, vocab]",
                            core::DTypeName(logits.dtype), logits.shape.size()));
  const int64_t batch = logits.shape[0], seq = logits.shape[1], vocab = logits.shape[2];
  const float* data = static_cast<const float*>(logits.data);
  std::vector<int64_t> next(static_cast<size_t>(batch));
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = data + (b * seq + seq - 1) * vocab;
    int64_t best = 0;
    for (int64_t v = 1; v < vocab; ++v)
      if (row[v] > row[best]) best = v;
    next[static_cast<size_t>(b)] = best;
  }
  return next;
}

core::Tensor Ones(int64_t batch, int64_t length) {
  core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, {batch, length});
  for (auto& x : t.values<int64_t>()) x = 1;
  return t;
}

core::Tensor Column(const std::vector<int64_t>& tokens) {
  core::Tensor t =
      core::Tensor::Zeros(core::DType::kInt64, {static_cast<int64_t>(tokens.size()), 1});
  std::memcpy(t.bytes.data(), tokens.data(), t.bytes.size());
  return t;
}

// The given prompt in every row of the batch: [batch, prompt_len].
core::Tensor PromptRows(const GenerationConfig& config) {
  if (static_cast<int64_t>(config.prompt_ids.size()) != config.prompt_len)
    throw Error(ErrorKind::kInternal, fmt::format("a prompt of {} ids given for prompt_len {}",
                                                  config.prompt_ids.size(), config.prompt_len));
  core::Tensor t = core::Tensor::Zeros(core::DType::kInt64, {config.batch_size, config.prompt_len});
  auto* out = reinterpret_cast<int64_t*>(t.bytes.data());
  for (int64_t b = 0; b < config.batch_size; ++b)
    std::memcpy(out + b * config.prompt_len, config.prompt_ids.data(),
                config.prompt_ids.size() * sizeof(int64_t));
  return t;
}

// The cache pairs; throws kUnsupported for a graph without the convention.
std::vector<std::pair<std::string, std::string>> RequireKvCache(const runtime::Session& session,
                                                                const models::Model& model) {
  auto pairs = CachePairs(session);
  if (pairs.empty() || !HasInput(session, "input_ids") || !HasInput(session, "attention_mask"))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("model '{}' has no KV cache (inputs input_ids, attention_mask, "
                            "past_key_values.*; outputs logits, present.*); --scenario generate "
                            "needs a decoder built with one",
                            model.info.name));
  return pairs;
}

}  // namespace

void CheckGeneration(const models::Model& model, const GenerationConfig& config) {
  if (config.new_tokens < 2 || config.prompt_len < 1 || config.batch_size < 1 ||
      config.repetitions < 1 || config.warmup < 0)
    throw Error(ErrorKind::kInvalidArgument,
                "generation needs --prompt-len >= 1, --new-tokens >= 2, a positive batch and "
                "at least one repetition");
  const int64_t max_positions = model.dim_roles.max_sequence;
  if (max_positions > 0 && config.prompt_len + config.new_tokens > max_positions)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("prompt {} + {} new tokens exceed model '{}''s {} positions",
                            config.prompt_len, config.new_tokens, model.info.name, max_positions));
  runtime::SessionOptions probe;  // the graph's inputs are the same on every platform
  probe.graph_optimization_level = 0;
  probe.intra_op_threads = 1;
  RequireKvCache(*runtime::OpenOnnxRuntimeSession(model, probe), model);
}

GenerationResult RunGeneration(const models::Model& model, const GenerationConfig& config,
                               const ProgressFn& progress) {
  if (config.new_tokens < 2 || config.prompt_len < 1 || config.batch_size < 1 ||
      config.repetitions < 1 || config.warmup < 0)
    throw Error(ErrorKind::kInvalidArgument,
                "generation sizes must be positive (see CheckGeneration)");
  ResetPeakRss();
  GenerationResult r;
  auto t0 = Clock::now();
  auto session = runtime::OpenSession(model, config.session);
  r.load_ms = GenerationMsSince(t0);
  r.execution_provider = session->execution_provider();
  r.session_options_json = session->options_json();

  const auto pairs = RequireKvCache(*session, model);

  ShapeRequest prompt_shape{.batch_size = config.batch_size, .seq_len = config.prompt_len};
  const auto shapes = ResolveShapes(session->inputs(), model.dim_roles, prompt_shape);
  auto prompt = GenerateInputs(session->inputs(), shapes, model.input_hints, config.seed);
  if (!config.prompt_ids.empty()) prompt["input_ids"] = PromptRows(config);

  for (int rep = 0; rep < config.warmup + config.repetitions; ++rep) {
    const bool measured = rep >= config.warmup;
    session->Bind(prompt);
    t0 = Clock::now();
    session->RunBoundKeepOutputs();
    std::vector<int64_t> next = ArgmaxLastPosition(session->KeptOutputView("logits"));
    const double prefill = GenerationMsSince(t0);
    if (rep == 0) r.first_prefill_ms = prefill;
    std::vector<int64_t> tokens = {next[0]};
    for (int64_t step = 1; step < config.new_tokens; ++step) {
      t0 = Clock::now();
      session->SetBoundInput("input_ids", Column(next));
      session->SetBoundInput("attention_mask", Ones(config.batch_size, config.prompt_len + step));
      for (const auto& [present, past] : pairs) session->MoveOutputToInput(present, past);
      session->RunBoundKeepOutputs();
      next = ArgmaxLastPosition(session->KeptOutputView("logits"));
      const double ms = GenerationMsSince(t0);
      tokens.push_back(next[0]);
      if (measured) r.token_ms.push_back(ms);
      if (progress) progress(static_cast<int>(step), 0.0);
    }
    if (measured) {
      r.prefill_ms.push_back(prefill);
      r.tokens = std::move(tokens);
    }
  }
  r.prefill = Summarize(r.prefill_ms);
  r.decode = Summarize(r.token_ms);
  r.decode_tokens_per_s = r.decode.mean > 0 ? config.batch_size * 1000.0 / r.decode.mean : 0;
  r.prefill_tokens_per_s =
      r.prefill.mean > 0 ? config.batch_size * config.prompt_len * 1000.0 / r.prefill.mean : 0;
  r.peak_rss_bytes = PeakRssBytes();
  return r;
}

}  // namespace ipfs_accel::harness
