#pragma once
// The memory one data-parallel worker needs to train a model: its model states by the
// accounting of ZeRO (Rajbhandari et al., SC 2020, section 3.1 and figure 1), plus the
// activations and buffers the caller supplies. An estimate, never a measurement.
//
// Model states for Ψ trainable parameters:
//   fp32 training        parameters 4Ψ, gradients 4Ψ, optimizer K·Ψ (Adam/AdamW: K = 8,
//                        momentum and variance; SGD with momentum: K = 4; plain SGD: K = 0);
//   mixed 16-bit         parameters 2Ψ, gradients 2Ψ, optimizer K·Ψ where K adds the fp32
//                        master copy of the parameters (Adam/AdamW: K = 12, SGD with momentum:
//                        K = 8, plain SGD: K = 4).
// Sharding over N workers divides a state by N from the stage that partitions it on:
//   replicated (DDP)                          nothing;
//   optimizer states (ZeRO-1)                 optimizer;
//   + gradients (ZeRO-2, FSDP SHARD_GRAD_OP)  optimizer and gradients;
//   + parameters (ZeRO-3, FSDP FULL_SHARD)    all three.
// Buffers (non-trainable tensors such as BERT's position_ids) are replicated at their own size.
// Byte counts are rounded up to whole bytes per worker.

#include <cstdint>
#include <string>
#include <string_view>

#include "ipfs_accel/analysis/memory_estimate.h"

namespace ipfs_accel::analysis {

enum class TrainingPrecision { kFp32, kMixed16 };
enum class TrainingOptimizer { kAdamW, kSgdMomentum, kSgd };
enum class Sharding { kReplicated, kOptimizerStates, kGradients, kParameters };

struct TrainingSetup {
  int64_t parameters = 0;    // trainable parameters, Ψ
  int64_t buffer_bytes = 0;  // non-trainable tensors at their own dtype
  TrainingPrecision precision = TrainingPrecision::kFp32;
  TrainingOptimizer optimizer = TrainingOptimizer::kAdamW;
  Sharding sharding = Sharding::kReplicated;
  int workers = 1;               // N: data-parallel workers the states are sharded over
  int64_t activation_bytes = 0;  // per worker and micro-batch, the caller's figure
};

struct TrainingMemory {
  int64_t parameter_bytes = 0;
  int64_t gradient_bytes = 0;
  int64_t optimizer_bytes = 0;
  int64_t buffer_bytes = 0;
  int64_t activation_bytes = 0;
  int64_t total_bytes = 0;  // the sum of the five above
  std::string method;       // one line: what the figure is, for display
};

// K above: the optimizer's bytes per trainable parameter.
int OptimizerBytesPerParameter(TrainingOptimizer optimizer, TrainingPrecision precision);

// Per-worker memory of `setup`. Throws core::Error kInvalidArgument for a negative count or
// fewer than one worker.
TrainingMemory PlanTrainingMemory(const TrainingSetup& setup);

// `setup` with its buffers and activations taken from the fp32 inference estimate `e` of a
// model of `setup.parameters` parameters: buffers are the initializers beyond the parameters,
// activations every forward intermediate kept for the backward pass (no checkpointing; half
// width in mixed precision) plus the inputs.
TrainingSetup WithEstimatedActivations(TrainingSetup setup, const MemoryEstimate& e);

// Names as the command line spells them: "fp32" / "mixed" (also "fp16", "bf16"); "adamw"
// (also "adam"), "sgd-momentum", "sgd"; "ddp", "zero1", "zero2", "zero3", "fsdp" (ZeRO-3),
// "fsdp-grad-op" (ZeRO-2). Throw core::Error kInvalidArgument naming the accepted spellings.
TrainingPrecision ParseTrainingPrecision(std::string_view name);
TrainingOptimizer ParseTrainingOptimizer(std::string_view name);
Sharding ParseSharding(std::string_view name);
std::string_view ShardingName(Sharding sharding);  // "ddp", "zero1", "zero2", "zero3"

}  // namespace ipfs_accel::analysis
