#pragma once
// Which data-parallel strategy, micro-batch and gradient accumulation train a model within a
// per-GPU memory budget (issue 17's `train-config`), from the training-memory planner
// (training_memory.h), and the configuration files the real tools read: a DeepSpeed config
// (train_batch_size = micro-batch x accumulation x GPUs, as DeepSpeed requires) and an
// accelerate config (JSON, which `accelerate launch --config_file` reads like its YAML).
//
// Preference, cheapest communication and compute first: DDP, ZeRO-1, ZeRO-2 without activation
// checkpointing; then the same with checkpointing (about a third more compute); then ZeRO-3
// (FSDP FULL_SHARD) without, then with it. The first that fits a micro-batch of at least 1 is
// chosen, with the largest micro-batch that divides the per-GPU batch and fits. An estimate:
// activations are the caller's per-sample figures.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ipfs_accel/analysis/training_memory.h"

namespace ipfs_accel::analysis {

struct TrainingPlanRequest {
  int64_t parameters = 0;
  int64_t buffer_bytes = 0;
  TrainingPrecision precision = TrainingPrecision::kMixed16;
  TrainingOptimizer optimizer = TrainingOptimizer::kAdamW;
  int gpus = 1;
  int64_t max_bytes_per_gpu = 0;
  int64_t global_batch = 0;  // samples per optimizer step, over every GPU
  // Activation bytes one sample needs: every forward intermediate kept, and with activation
  // checkpointing.
  int64_t sample_activation_bytes = 0;
  int64_t sample_checkpointed_bytes = 0;
};

struct TrainingPlan {
  bool fits = false;
  Sharding sharding = Sharding::kReplicated;
  bool checkpointing = false;
  int64_t micro_batch = 0;  // per GPU
  int64_t gradient_accumulation = 0;
  TrainingMemory memory;           // per GPU, at that micro-batch
  std::vector<std::string> tried;  // each option passed over, and why
};

// Throws core::Error kInvalidArgument when the global batch is not a positive multiple of the
// GPUs or the budget is not positive.
TrainingPlan PlanTraining(const TrainingPlanRequest& request);

// The DeepSpeed config of a plan that fits (zero_optimization.stage 0-3, fp16/bf16, AdamW or
// SGD through DeepSpeed's optimizer section, the batch keys).
nlohmann::json DeepSpeedConfig(const TrainingPlan& plan, const TrainingPlanRequest& request,
                               bool bf16);
// The accelerate config: distributed_type MULTI_GPU (DDP), DEEPSPEED (ZeRO-1/2, naming
// `deepspeed_config_file`) or FSDP (ZeRO-3 as FULL_SHARD, with fsdp_activation_checkpointing).
nlohmann::json AccelerateConfig(const TrainingPlan& plan, const TrainingPlanRequest& request,
                                bool bf16, const std::string& deepspeed_config_file);

}  // namespace ipfs_accel::analysis
