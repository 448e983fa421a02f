#include "ipfs_accel/harness/training.h"

#include <chrono>
#include <optional>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/given_inputs.h"
#include "ipfs_accel/harness/input_generator.h"
#include "ipfs_accel/harness/memory.h"
#include "ipfs_accel/runtime/backend.h"

namespace ipfs_accel::harness {

namespace {

using core::Error;
using core::ErrorKind;
using TrainClock = std::chrono::steady_clock;

double TrainingMsSince(TrainClock::time_point t0) {
  return std::chrono::duration<double, std::milli>(TrainClock::now() - t0).count();
}

std::string SumInput(const std::string& parameter) { return "accumulated.grad." + parameter; }

bool IsCarriedOrSum(const models::TrainingGraph& g, const std::string& input) {
  return g.state.count(input) > 0 || input.starts_with("accumulated.grad.");
}

double ScalarOf(const runtime::Session::TensorView& v) {
  if (v.dtype == core::DType::kFloat64) return *static_cast<const double*>(v.data);
  if (v.dtype == core::DType::kFloat32) return *static_cast<const float*>(v.data);
  throw Error(ErrorKind::kInternal, "the training step's loss is not a float scalar");
}

// Cross-entropy labels: uniform over the classes, from the seed (a fixed batch to fit).
void DrawLabels(core::Tensor& labels, int64_t classes, uint64_t seed) {
  if (classes < 0)
    throw Error(ErrorKind::kUnsupported,
                "the class axis cross-entropy labels index is symbolic in this graph; no labels "
                "can be drawn for it");
  std::mt19937_64 rng(seed ^ 0x6c6162656c73ULL);  // "labels"
  std::uniform_int_distribution<int64_t> pick(0, classes - 1);
  for (int64_t& v : labels.values<int64_t>()) v = pick(rng);
}

struct TrainingBatch {
  std::vector<std::map<std::string, core::Tensor>> micro;  // one per micro-batch, in order
  std::map<std::string, core::Shape> shapes;               // of one micro-batch
  EffectiveDims dims{1, 0};
};

// Rows [i * rows, (i + 1) * rows) of `t` along its first axis.
core::Tensor RowsOf(const core::Tensor& t, int64_t i, int64_t rows) {
  core::Tensor out = t;
  out.shape[0] = rows;
  const size_t bytes = t.bytes.size() / static_cast<size_t>(t.shape[0]) * rows;
  out.bytes.assign(t.bytes.begin() + static_cast<ptrdiff_t>(bytes * i),
                   t.bytes.begin() + static_cast<ptrdiff_t>(bytes * (i + 1)));
  return out;
}

// A batch of A x b rows cut into A micro-batches of b rows: accumulating them is one step on
// the whole batch. Tensors without that first axis go to every micro-batch unchanged.
std::vector<std::map<std::string, core::Tensor>> SplitRows(
    const std::map<std::string, core::Tensor>& whole, int64_t parts, int64_t rows) {
  std::vector<std::map<std::string, core::Tensor>> out(static_cast<size_t>(parts));
  for (const auto& [name, t] : whole)
    for (int64_t i = 0; i < parts; ++i)
      out[static_cast<size_t>(i)][name] =
          !t.shape.empty() && t.shape[0] == parts * rows ? RowsOf(t, i, rows) : t;
  return out;
}

// Every input of the step graph that is not carried state: the forward graph's and `labels`,
// for each of `accumulation` micro-batches. They are distinct rows of one seeded batch, except
// with inputs the user gave (one batch, repeated).
TrainingBatch MakeTrainingBatch(const runtime::Session& session, const models::TrainingGraph& step,
                                const models::Model& forward, const BenchmarkConfig& config,
                                int64_t accumulation) {
  std::vector<runtime::TensorSpec> specs;
  for (const auto& spec : session.inputs())
    if (!IsCarriedOrSum(step, spec.name)) specs.push_back(spec);
  TrainingBatch b;
  b.shapes = ResolveShapes(specs, forward.dim_roles, config.shape);
  b.dims = EffectiveBatchAndSequence(specs, forward.dim_roles, b.shapes);
  const bool distinct = accumulation > 1 && config.given_inputs.empty();
  ShapeRequest whole_shape = config.shape;
  if (distinct) {  // a fixed batch axis keeps its size, and that batch is repeated
    whole_shape.batch_size = b.dims.batch_size * accumulation;
    whole_shape.batch_explicit = false;
  }
  const auto whole_shapes = ResolveShapes(specs, forward.dim_roles, whole_shape);
  auto whole = GenerateInputs(specs, whole_shapes, forward.input_hints, config.seed);
  ApplyGivenInputs(GraphInputsOf(config.given_inputs, forward), specs, b.shapes, whole);
  if (step.classes != 0) DrawLabels(whole.at("labels"), step.classes, config.seed);
  b.micro = distinct ? SplitRows(whole, accumulation, b.dims.batch_size)
                     : std::vector(static_cast<size_t>(accumulation), whole);
  return b;
}

int64_t ElementsOf(const models::TrainingGraph& g) {
  int64_t n = 0;
  for (const auto& p : g.parameters) n += g.state.at(p).element_count();
  return n;
}

}  // namespace

std::string OptimizerName(models::OptimizerKind kind) {
  switch (kind) {
    case models::OptimizerKind::kAdamW:
      return "adamw";
    case models::OptimizerKind::kSgdMomentum:
      return "sgd-momentum";
    case models::OptimizerKind::kNone:
      break;
  }
  return "none";
}

models::OptimizerKind ParseOptimizer(const std::string& name) {
  if (name == "adamw") return models::OptimizerKind::kAdamW;
  if (name == "sgd-momentum") return models::OptimizerKind::kSgdMomentum;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("unknown optimizer '{}'; use adamw or sgd-momentum", name));
}

TrainingRunner::TrainingRunner(models::TrainingGraph& step, models::TrainingGraph* micro,
                               std::unique_ptr<runtime::Session> step_session,
                               const runtime::SessionOptions& session,
                               std::vector<std::map<std::string, core::Tensor>> micro_batches)
    : graph_(step), batches_(std::move(micro_batches)), step_(std::move(step_session)) {
  if (batches_.empty() || (batches_.size() > 1) != (micro != nullptr))
    throw Error(ErrorKind::kInternal, "a training runner needs one batch per micro-batch");
  if (micro)
    for (const auto& p : step.parameters)
      zero_sums_[SumInput(p)] = core::Tensor::Zeros(step.state.at(p).dtype, step.state.at(p).shape);
  auto feeds = batches_.back();  // the step graph's own micro-batch is the last
  for (auto& [name, value] : step.state) feeds[name] = std::move(value);
  step.state.clear();
  for (const auto& [name, zeros] : zero_sums_) feeds[name] = zeros;
  step_->BindMoved(std::move(feeds));
  if (!micro) return;
  micro_ = runtime::OpenSession(micro->model, session);
  auto micro_feeds = batches_.front();
  for (auto& [name, value] : micro->state) micro_feeds[name] = std::move(value);
  micro->state.clear();
  for (const auto& [name, zeros] : zero_sums_) micro_feeds[name] = zeros;
  micro_->BindMoved(std::move(micro_feeds));
  // The parameters become views of the step session's: one copy, updated in place of it.
  for (const auto& p : step.parameters) micro_->SetBoundInputView(p, step_->BoundInputView(p));
  ResetSums();
}

TrainingRunner::~TrainingRunner() = default;

void TrainingRunner::ResetSums() {
  for (const auto& [name, zeros] : zero_sums_)
    micro_->SetBoundInputView(name, {zeros.dtype, zeros.shape, zeros.bytes.data()});
}

double TrainingRunner::Step() {
  const auto t0 = TrainClock::now();
  double loss_sum = 0;
  const size_t micro_runs = batches_.size() - 1;
  for (size_t i = 0; i < micro_runs; ++i) {
    if (micro_runs > 1)  // one micro-batch stays bound; more take turns
      for (const auto& [name, tensor] : batches_[i]) micro_->SetBoundInput(name, tensor);
    micro_->RunBoundKeepOutputs();
    loss_sum += ScalarOf(micro_->KeptOutputView("loss"));
    for (const auto& p : graph_.parameters) micro_->MoveOutputToInput("grad." + p, SumInput(p));
  }
  if (micro_)
    for (const auto& p : graph_.parameters)
      step_->SetBoundInputView(SumInput(p), micro_->BoundInputView(SumInput(p)));
  step_->RunBoundKeepOutputs();
  loss_sum += ScalarOf(step_->KeptOutputView("loss"));
  last_loss_ = loss_sum / static_cast<double>(batches_.size());
  for (const auto& [from, to] : graph_.carry) step_->MoveOutputToInput(from, to);
  if (micro_) {
    for (const auto& p : graph_.parameters) micro_->SetBoundInputView(p, step_->BoundInputView(p));
    ResetSums();
  }
  return TrainingMsSince(t0);
}

namespace {

// The step graph, or (micro) the gradients-only graph, of `forward`'s task.
models::TrainingGraph BuildTrainingGraph(const models::Model& forward, const TrainingConfig& c,
                                         bool micro, std::string* task) {
  models::TrainingOptions o = models::DefaultTrainingTask(forward, task);
  o.seed = c.bench.seed;
  o.accumulation_steps = c.accumulation_steps;
  o.optimizer.kind = micro ? models::OptimizerKind::kNone : c.optimizer;
  o.gradient_outputs = micro;  // the step's own gradients stay inside its graph
  // SGD's step is lr x gradient: 1e-3 barely moves a loss in a benchmark's few steps.
  if (c.optimizer == models::OptimizerKind::kSgdMomentum) o.optimizer.lr = 1e-2;
  return models::BuildTrainingStep(forward, o);
}

// The optimizer's settings, into the session options' JSON (what the figures were made with).
std::string WithTrainingOptions(const std::string& options_json, const TrainingResult& r,
                                double lr) {
  nlohmann::json j = nlohmann::json::parse(options_json, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  j["training"] = {{"task", r.task},
                   {"optimizer", r.optimizer},
                   {"lr", lr},
                   {"accumulation_steps", r.accumulation_steps},
                   {"trained_parameters", r.trained_parameters}};
  return j.dump();
}

}  // namespace

void CheckTrainable(const models::Model& forward) {
  std::string task;
  models::TrainingOptions o = models::DefaultTrainingTask(forward, &task);
  o.optimizer.kind = models::OptimizerKind::kNone;
  models::BuildTrainingStep(forward, o);
}

TrainingResult RunTrainingBenchmark(const models::Model& forward, const TrainingConfig& config,
                                    const ProgressFn& progress) {
  CheckTimedRuns(config.bench);
  if (config.accumulation_steps < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("gradient accumulation over {} micro-batches; give 1 or more",
                            config.accumulation_steps));
  if (config.accumulation_steps > 1 && runtime::IsBrowserPlatform(config.bench.session.platform))
    throw Error(ErrorKind::kUnsupported,
                fmt::format("gradient accumulation shares the parameters of two sessions in "
                            "place, which {} cannot (its tensors live in the page); use "
                            "--grad-accum 1 there",
                            config.bench.session.platform));
  TrainingResult r;
  const auto t0 = TrainClock::now();
  models::TrainingGraph step = BuildTrainingGraph(forward, config, false, &r.task);
  std::optional<models::TrainingGraph> micro;
  if (config.accumulation_steps > 1) micro = BuildTrainingGraph(forward, config, true, &r.task);
  ResetPeakRss();  // the graphs are built; the peak is the training's
  auto session = runtime::OpenSession(step.model, config.bench.session);
  TrainingBatch batch =
      MakeTrainingBatch(*session, step, forward, config.bench, config.accumulation_steps);
  const std::string provider = session->execution_provider();
  r.optimizer = OptimizerName(config.optimizer);
  r.loss = step.classes == 0 ? "mse" : "cross-entropy";
  r.accumulation_steps = config.accumulation_steps;
  r.trained_parameters = ElementsOf(step);
  const double lr = step.state.at("optimizer.lr").ToDoubles()[0];
  TrainingRunner runner(step, micro ? &*micro : nullptr, std::move(session), config.bench.session,
                        std::move(batch.micro));
  BenchmarkResult& b = r.timing;
  b.load_ms = TrainingMsSince(t0);
  b.execution_provider = provider;
  b.input_shapes = batch.shapes;
  b.batch_size = batch.dims.batch_size;
  b.seq_len = batch.dims.seq_len;

  b.first_inference_ms = runner.Step();
  r.loss_first = runner.last_loss();
  int64_t steps = 1;
  for (int i = 0; i < config.bench.warmup; ++i, ++steps) runner.Step();
  TimedRuns timed = TimeRuns(
      config.bench, [&] { return ++steps, runner.Step(); }, progress);
  r.loss_last = runner.last_loss();
  r.loss_steps = steps - 1;
  b.samples_ms = std::move(timed.samples_ms);
  b.latency = timed.latency;
  b.tail = timed.tail;
  b.hit_max_time = timed.hit_max_time;
  b.tail_note = std::move(timed.tail_note);
  const double samples = static_cast<double>(b.batch_size * config.accumulation_steps);
  b.throughput_items_per_s = b.latency.mean > 0 ? samples * 1000.0 / b.latency.mean : 0;
  r.tokens_per_s = b.throughput_items_per_s * static_cast<double>(b.seq_len);
  b.peak_rss_bytes = PeakRssBytes();
  b.session_options_json = WithTrainingOptions(runner.step_session().options_json(), r, lr);
  const DeviceMemory m = SampleDeviceMemory(config.bench.session);
  b.device_memory_process_bytes = m.process_bytes;
  b.device_memory_gpu_used_bytes = m.gpu_used_bytes;
  b.device_memory_note = m.note;
  return r;
}

}  // namespace ipfs_accel::harness
