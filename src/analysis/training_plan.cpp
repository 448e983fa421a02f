#include "ipfs_accel/analysis/training_plan.h"

#include <fmt/format.h>

#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {

namespace {

struct Option {
  Sharding sharding;
  bool checkpointing;
};

constexpr Option kPreference[] = {
    {Sharding::kReplicated, false},     {Sharding::kOptimizerStates, false},
    {Sharding::kGradients, false},      {Sharding::kReplicated, true},
    {Sharding::kOptimizerStates, true}, {Sharding::kGradients, true},
    {Sharding::kParameters, false},     {Sharding::kParameters, true},
};

TrainingMemory MemoryAt(const TrainingPlanRequest& r, const Option& o, int64_t micro) {
  const int64_t per_sample =
      o.checkpointing ? r.sample_checkpointed_bytes : r.sample_activation_bytes;
  return PlanTrainingMemory({.parameters = r.parameters,
                             .buffer_bytes = r.buffer_bytes,
                             .precision = r.precision,
                             .optimizer = r.optimizer,
                             .sharding = o.sharding,
                             .workers = r.gpus,
                             .activation_bytes = micro * per_sample});
}

std::string Describe(const Option& o) {
  return fmt::format("{}{}", ShardingName(o.sharding),
                     o.checkpointing ? " with activation checkpointing" : "");
}

}  // namespace

TrainingPlan PlanTraining(const TrainingPlanRequest& r) {
  if (r.gpus < 1 || r.global_batch < 1 || r.global_batch % r.gpus != 0)
    throw core::Error(core::ErrorKind::kInvalidArgument,
                      fmt::format("a global batch of {} over {} GPUs: give a positive multiple "
                                  "of the GPUs",
                                  r.global_batch, r.gpus));
  if (r.max_bytes_per_gpu <= 0)
    throw core::Error(core::ErrorKind::kInvalidArgument, "the memory per GPU must be positive");
  const int64_t per_gpu = r.global_batch / r.gpus;
  TrainingPlan plan;
  for (const Option& o : kPreference) {
    // The largest micro-batch that divides the per-GPU batch and fits.
    for (int64_t micro = per_gpu; micro >= 1; --micro) {
      if (per_gpu % micro != 0) continue;
      const TrainingMemory m = MemoryAt(r, o, micro);
      if (m.total_bytes > r.max_bytes_per_gpu) continue;
      plan = {true, o.sharding, o.checkpointing, micro, per_gpu / micro, m, plan.tried};
      return plan;
    }
    plan.tried.push_back(fmt::format("{}: needs {} bytes per GPU at micro-batch 1", Describe(o),
                                     MemoryAt(r, o, 1).total_bytes));
  }
  return plan;
}

nlohmann::json DeepSpeedConfig(const TrainingPlan& plan, const TrainingPlanRequest& r, bool bf16) {
  const bool mixed = r.precision == TrainingPrecision::kMixed16;
  const int stage = plan.sharding == Sharding::kReplicated        ? 0
                    : plan.sharding == Sharding::kOptimizerStates ? 1
                    : plan.sharding == Sharding::kGradients       ? 2
                                                                  : 3;
  nlohmann::json optimizer =
      r.optimizer == TrainingOptimizer::kAdamW
          ? nlohmann::json{{"type", "AdamW"},
                           {"params", {{"lr", "auto"}, {"weight_decay", "auto"}}}}
          : nlohmann::json{
                {"type", "SGD"},
                {"params",
                 {{"lr", "auto"},
                  {"momentum", r.optimizer == TrainingOptimizer::kSgdMomentum ? 0.9 : 0.0}}}};
  return {{"train_batch_size", r.global_batch},
          {"train_micro_batch_size_per_gpu", plan.micro_batch},
          {"gradient_accumulation_steps", plan.gradient_accumulation},
          {"optimizer", optimizer},
          {"fp16", {{"enabled", mixed && !bf16}}},
          {"bf16", {{"enabled", mixed && bf16}}},
          {"zero_optimization", {{"stage", stage}}},
          {"gradient_clipping", 1.0}};
}

nlohmann::json AccelerateConfig(const TrainingPlan& plan, const TrainingPlanRequest& r, bool bf16,
                                const std::string& deepspeed_config_file) {
  const bool mixed = r.precision == TrainingPrecision::kMixed16;
  nlohmann::json j = {{"compute_environment", "LOCAL_MACHINE"},
                      {"mixed_precision", mixed ? (bf16 ? "bf16" : "fp16") : "no"},
                      {"num_machines", 1},
                      {"num_processes", r.gpus},
                      {"machine_rank", 0},
                      {"gpu_ids", "all"}};
  if (plan.sharding == Sharding::kReplicated) {
    j["distributed_type"] = r.gpus > 1 ? "MULTI_GPU" : "NO";
  } else if (plan.sharding == Sharding::kParameters) {
    j["distributed_type"] = "FSDP";
    j["fsdp_config"] = {{"fsdp_sharding_strategy", "FULL_SHARD"},
                        {"fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP"},
                        {"fsdp_backward_prefetch", "BACKWARD_PRE"},
                        {"fsdp_state_dict_type", "SHARDED_STATE_DICT"},
                        {"fsdp_offload_params", false},
                        {"fsdp_activation_checkpointing", plan.checkpointing},
                        {"fsdp_use_orig_params", true}};
  } else {
    j["distributed_type"] = "DEEPSPEED";
    j["deepspeed_config"] = {{"deepspeed_config_file", deepspeed_config_file},
                             {"zero3_init_flag", false}};
    j.erase("mixed_precision");  // the DeepSpeed file's fp16/bf16 sections say it
  }
  return j;
}

}  // namespace ipfs_accel::analysis
