#pragma once
// A training step timed as the benchmark times inference (benchmark.h's TimeRuns: warm-up,
// at least `iterations` steps and `min_time_s`, the `max_time_s` cap), on the step graph of
// models/gradient.h: forward + loss + backward + optimizer update as one ONNX graph.
//
// One batch (generated once from the seed) is trained on again and again, so the loss at the
// first step and after the last one shows whether the gradient works: on a fixed batch a
// working optimizer makes it fall.
//
// Gradient accumulation over A micro-batches: the batch has A x b rows, cut into A distinct
// micro-batches of b. One optimizer step is A - 1 runs of a gradients-only graph, each adding
// its gradient to the running sum (carried from run to run without a copy), and one run of the
// step graph, which adds its own and updates with the sum / A: the step on the whole batch.
// Parameters, optimizer states and sums move from one run's outputs to the next run's inputs
// without copies (ONNX Runtime allocates each run's outputs; the last run's are freed as they are
// replaced).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ipfs_accel/harness/benchmark.h"
#include "ipfs_accel/models/gradient.h"
#include "ipfs_accel/models/model.h"
#include "ipfs_accel/runtime/session.h"

namespace ipfs_accel::harness {

struct TrainingConfig {
  // session, shape (the micro-batch), warmup and timing (in optimizer steps), seed (of the
  // batch), given_inputs; early_stopping as the caller wants it.
  BenchmarkConfig bench;
  models::OptimizerKind optimizer = models::OptimizerKind::kAdamW;
  int64_t accumulation_steps = 1;
};

// "adamw", "sgd-momentum", "none"; ParseOptimizer throws kInvalidArgument for another name.
std::string OptimizerName(models::OptimizerKind kind);
models::OptimizerKind ParseOptimizer(const std::string& name);

struct TrainingResult {
  // As inference fills it, per optimizer step: samples_ms are whole optimizer steps (A
  // micro-batches), first_inference_ms is the first (cold) step, load_ms building the graphs
  // and opening their sessions, throughput_items_per_s samples/s (batch x A / step).
  BenchmarkResult timing;
  double tokens_per_s = 0;  // samples/s x sequence length; 0 without a sequence axis
  std::string optimizer;    // OptimizerName
  std::string loss;         // "cross-entropy" or "mse"
  std::string task;         // DefaultTrainingTask's description
  int64_t accumulation_steps = 1;
  int64_t trained_parameters = 0;  // elements of every trained weight
  // The loss on the fixed batch at the first step, and at the last step run (after
  // loss_steps optimizer updates).
  double loss_first = 0, loss_last = 0;
  int64_t loss_steps = 0;
};

// Builds the step graphs of `forward` (DefaultTrainingTask), opens their sessions on
// config.bench.session's platform, and times optimizer steps. Throws core::Error: from
// BuildTrainingStep (kUnsupported naming an operator without a gradient rule), from the
// runtime (an unavailable provider, a failing run), kUnsupported for accumulation_steps > 1 on
// a browser platform (two sessions share the parameters in place; a page's tensors cannot be
// shared), kInvalidArgument for shapes that do not fit or accumulation_steps < 1.
TrainingResult RunTrainingBenchmark(const models::Model& forward, const TrainingConfig& config,
                                    const ProgressFn& progress = nullptr);

// Builds the gradients-only graph of `forward`'s task and drops it, so that an operator
// without a gradient rule is reported before a sweep runs or stores anything. Throws as
// BuildTrainingStep does.
void CheckTrainable(const models::Model& forward);

// The runner under RunTrainingBenchmark: the sessions of one training task bound to its
// micro-batches, stepping the optimizer.
class TrainingRunner {
 public:
  // `step` (an optimizer's graph, open in `step_session`) and, with A = micro_batches.size() > 1,
  // `micro`: the gradients-only graph of the same task and A, opened here with `session`. Each
  // micro-batch holds every graph input but the carried state and the sums; the step graph runs
  // the last, the gradients-only graph the others in order. The graphs' `state` is moved into
  // the sessions (weights and optimizer state are not held twice).
  TrainingRunner(models::TrainingGraph& step, models::TrainingGraph* micro,
                 std::unique_ptr<runtime::Session> step_session,
                 const runtime::SessionOptions& session,
                 std::vector<std::map<std::string, core::Tensor>> micro_batches);
  ~TrainingRunner();
  // One optimizer step (A micro-batches); returns its wall time in ms.
  double Step();
  // The mean loss of the last step's micro-batches, before its update: with equal micro-batch
  // sizes, the loss of their whole batch.
  double last_loss() const { return last_loss_; }
  runtime::Session& step_session() { return *step_; }

 private:
  void ResetSums();
  const models::TrainingGraph& graph_;
  std::vector<std::map<std::string, core::Tensor>> batches_;
  std::unique_ptr<runtime::Session> step_, micro_;
  std::map<std::string, core::Tensor> zero_sums_;  // the sums before a step's first micro-batch
  double last_loss_ = 0;
};

}  // namespace ipfs_accel::harness
