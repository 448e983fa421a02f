#include "ipfs_accel/analysis/training_memory.h"

#include <algorithm>

#include <fmt/format.h>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

using core::Error;
using core::ErrorKind;

namespace {

// ceil(bytes / workers): a shard is never smaller than its share.
int64_t Shard(int64_t bytes, int workers) { return (bytes + workers - 1) / workers; }

std::string_view PrecisionName(TrainingPrecision p) {
  return p == TrainingPrecision::kFp32 ? "fp32" : "mixed 16-bit";
}

std::string_view OptimizerName(TrainingOptimizer o) {
  switch (o) {
    case TrainingOptimizer::kAdamW:
      return "AdamW";
    case TrainingOptimizer::kSgdMomentum:
      return "SGD with momentum";
    case TrainingOptimizer::kSgd:
      return "SGD";
  }
  return "?";
}

}  // namespace

int OptimizerBytesPerParameter(TrainingOptimizer optimizer, TrainingPrecision precision) {
  const int states = optimizer == TrainingOptimizer::kAdamW         ? 2
                     : optimizer == TrainingOptimizer::kSgdMomentum ? 1
                                                                    : 0;
  const int master_copy = precision == TrainingPrecision::kMixed16 ? 1 : 0;
  return 4 * (states + master_copy);
}

TrainingMemory PlanTrainingMemory(const TrainingSetup& s) {
  if (s.parameters < 0 || s.buffer_bytes < 0 || s.activation_bytes < 0)
    throw Error(ErrorKind::kInvalidArgument,
                "training memory: parameter, buffer and activation sizes must be >= 0");
  if (s.workers < 1)
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("training memory: {} workers; give at least 1", s.workers));
  const int64_t width = s.precision == TrainingPrecision::kFp32 ? 4 : 2;
  const int k = OptimizerBytesPerParameter(s.optimizer, s.precision);
  const int n = s.workers;
  const bool os = s.sharding != Sharding::kReplicated;
  const bool g = s.sharding == Sharding::kGradients || s.sharding == Sharding::kParameters;
  const bool p = s.sharding == Sharding::kParameters;

  TrainingMemory m;
  m.parameter_bytes = p ? Shard(width * s.parameters, n) : width * s.parameters;
  m.gradient_bytes = g ? Shard(width * s.parameters, n) : width * s.parameters;
  m.optimizer_bytes = os ? Shard(k * s.parameters, n) : k * s.parameters;
  m.buffer_bytes = s.buffer_bytes;
  m.activation_bytes = s.activation_bytes;
  m.total_bytes = m.parameter_bytes + m.gradient_bytes + m.optimizer_bytes + m.buffer_bytes +
                  m.activation_bytes;
  m.method = fmt::format(
      "estimate per worker: {} {} ({} B of optimizer state per parameter), {} over {} worker{} "
      "(ZeRO's model-state accounting), activations as given",
      PrecisionName(s.precision), OptimizerName(s.optimizer), k, ShardingName(s.sharding), n,
      n == 1 ? "" : "s");
  return m;
}

TrainingPrecision ParseTrainingPrecision(std::string_view name) {
  if (name == "fp32") return TrainingPrecision::kFp32;
  if (name == "mixed" || name == "fp16" || name == "bf16") return TrainingPrecision::kMixed16;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("training precision '{}': use fp32, mixed, fp16 or bf16", name));
}

TrainingOptimizer ParseTrainingOptimizer(std::string_view name) {
  if (name == "adamw" || name == "adam") return TrainingOptimizer::kAdamW;
  if (name == "sgd-momentum") return TrainingOptimizer::kSgdMomentum;
  if (name == "sgd") return TrainingOptimizer::kSgd;
  throw Error(ErrorKind::kInvalidArgument,
              fmt::format("optimizer '{}': use adamw, adam, sgd-momentum or sgd", name));
}

Sharding ParseSharding(std::string_view name) {
  if (name == "ddp") return Sharding::kReplicated;
  if (name == "zero1") return Sharding::kOptimizerStates;
  if (name == "zero2" || name == "fsdp-grad-op") return Sharding::kGradients;
  if (name == "zero3" || name == "fsdp") return Sharding::kParameters;
  throw Error(
      ErrorKind::kInvalidArgument,
      fmt::format("sharding '{}': use ddp, zero1, zero2, zero3, fsdp or fsdp-grad-op", name));
}

std::string_view ShardingName(Sharding sharding) {
  switch (sharding) {
    case Sharding::kReplicated:
      return "ddp";
    case Sharding::kOptimizerStates:
      return "zero1";
    case Sharding::kGradients:
      return "zero2";
    case Sharding::kParameters:
      return "zero3";
  }
  return "?";
}

TrainingSetup WithEstimatedActivations(TrainingSetup setup, const MemoryEstimate& e) {
  const bool mixed = setup.precision == TrainingPrecision::kMixed16;
  setup.buffer_bytes = std::max<int64_t>(0, e.weights_bytes - 4 * setup.parameters);
  setup.activation_bytes =
      e.inputs_bytes + (mixed ? e.intermediates_bytes / 2 : e.intermediates_bytes);
  return setup;
}

}  // namespace ipfs_accel::analysis
