// The training plan against the ZeRO paper's worked example (7.5B parameters, 64 GPUs: 120 GB
// replicated, 31.4 GB with optimizer states partitioned, 16.6 GB adding gradients, 1.9 GB adding
// parameters), DeepSpeed's batch rule, and the keys accelerate's FSDP config template documents.

#include "ipfs_accel/analysis/training_plan.h"

#include <gtest/gtest.h>

#include <set>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {
namespace training_plan_test {

TrainingPlanRequest ZeroExample(double gb_per_gpu) {
  return {.parameters = 7'500'000'000,
          .precision = TrainingPrecision::kMixed16,
          .optimizer = TrainingOptimizer::kAdamW,
          .gpus = 64,
          .max_bytes_per_gpu = static_cast<int64_t>(gb_per_gpu * 1e9),
          .global_batch = 64};
}

TEST(TrainingPlan, PicksTheFirstZeroStageThePapersFiguresFitIn) {
  EXPECT_EQ(PlanTraining(ZeroExample(121)).sharding, Sharding::kReplicated);      // 120 GB
  EXPECT_EQ(PlanTraining(ZeroExample(32)).sharding, Sharding::kOptimizerStates);  // 31.4 GB
  EXPECT_EQ(PlanTraining(ZeroExample(17)).sharding, Sharding::kGradients);        // 16.6 GB
  const TrainingPlan zero3 = PlanTraining(ZeroExample(2));                        // 1.9 GB
  EXPECT_EQ(zero3.sharding, Sharding::kParameters);
  EXPECT_EQ(zero3.tried.size(), 6u);  // DDP, ZeRO-1, ZeRO-2, each without and with checkpointing
  EXPECT_FALSE(PlanTraining(ZeroExample(1)).fits);
}

TEST(TrainingPlan, TakesTheLargestMicroBatchThatFitsAndDividesThePerGpuBatch) {
  TrainingPlanRequest r{.parameters = 1000,
                        .precision = TrainingPrecision::kFp32,
                        .gpus = 8,
                        .max_bytes_per_gpu = 10'000'000'000,
                        .global_batch = 256,
                        .sample_activation_bytes = 1'000'000'000,
                        .sample_checkpointed_bytes = 100'000'000};
  const TrainingPlan p = PlanTraining(r);
  ASSERT_TRUE(p.fits);
  EXPECT_EQ(p.sharding, Sharding::kReplicated);
  EXPECT_FALSE(p.checkpointing);
  EXPECT_EQ(p.micro_batch, 8);  // 9 GB of activations would fit, but 9 does not divide 32
  EXPECT_EQ(p.gradient_accumulation, 4);
  // DeepSpeed: train_batch_size = micro-batch x accumulation x GPUs.
  const auto ds = DeepSpeedConfig(p, r, true);
  EXPECT_EQ(ds["train_batch_size"].get<int64_t>(),
            ds["train_micro_batch_size_per_gpu"].get<int64_t>() *
                ds["gradient_accumulation_steps"].get<int64_t>() * r.gpus);
  EXPECT_EQ(ds["zero_optimization"]["stage"], 0);
  EXPECT_EQ(ds["bf16"]["enabled"], false);  // fp32 training
}

TEST(TrainingPlan, WritesFsdpConfigsWithTheKeysAcceleratesTemplateDocuments) {
  // examples/config_yaml_templates/fsdp.yaml of huggingface/accelerate.
  const std::set<std::string> documented = {
      "fsdp_activation_checkpointing", "fsdp_auto_wrap_policy",
      "fsdp_backward_prefetch",        "fsdp_cpu_ram_efficient_loading",
      "fsdp_forward_prefetch",         "fsdp_offload_params",
      "fsdp_sharding_strategy",        "fsdp_state_dict_type",
      "fsdp_sync_module_states",       "fsdp_use_orig_params"};
  const TrainingPlanRequest r = ZeroExample(2);
  const TrainingPlan p = PlanTraining(r);
  const auto a = AccelerateConfig(p, r, true, "ds_config.json");
  EXPECT_EQ(a["distributed_type"], "FSDP");
  EXPECT_EQ(a["num_processes"], 64);
  EXPECT_EQ(a["mixed_precision"], "bf16");
  EXPECT_EQ(a["fsdp_config"]["fsdp_sharding_strategy"], "FULL_SHARD");
  for (const auto& [key, value] : a["fsdp_config"].items())
    EXPECT_TRUE(documented.count(key)) << key;
  const TrainingPlanRequest r1 = ZeroExample(32);
  const auto d = AccelerateConfig(PlanTraining(r1), r1, true, "ds_config.json");
  EXPECT_EQ(d["distributed_type"], "DEEPSPEED");
  EXPECT_EQ(d["deepspeed_config"]["deepspeed_config_file"], "ds_config.json");
  EXPECT_EQ(DeepSpeedConfig(PlanTraining(r1), r1, true)["zero_optimization"]["stage"], 1);
}

TEST(TrainingPlan, RefusesAGlobalBatchThatIsNotAMultipleOfTheGpus) {
  TrainingPlanRequest r = ZeroExample(32);
  r.global_batch = 100;
  EXPECT_THROW(PlanTraining(r), core::Error);
}

}  // namespace training_plan_test
}  // namespace ipfs_accel::analysis
