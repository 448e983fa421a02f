// `train-config`: which data-parallel strategy, micro-batch and gradient accumulation train a
// model on N GPUs of a given memory, with the memory figure, and the DeepSpeed and accelerate
// configuration files that set it up (analysis/training_plan.h).

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/atomic_file.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/option_checks.h"
#include "ipfs_accel/analysis/memory_estimate.h"
#include "ipfs_accel/analysis/training_plan.h"
#include "ipfs_accel/core/error.h"
#include "ipfs_accel/harness/benchmark.h"

namespace ipfs_accel::cli {

namespace {

using core::Error;
using core::ErrorKind;
using Json = nlohmann::ordered_json;

struct TrainConfigOptions {
  std::string model;
  int gpus = 1;
  double max_memory_gb = 0;
  int64_t global_batch = 32;
  int64_t seq_len = 128;
  std::string train_precision = "mixed";
  std::string half = "bf16";
  std::string optimizer = "adamw";
  std::string output;
  bool json = false;
};

// The request from the model's fp32 graph at one sample: parameters, buffers, and the
// activations kept without checkpointing (every forward intermediate) and with it (the forward's
// peak live set: one segment recomputed at a time), at half width for mixed precision.
analysis::TrainingPlanRequest Request(const TrainConfigOptions& o, const models::Model& m) {
  const auto shapes = harness::CheckShapes(
      m,
      {{.batch_size = 1, .seq_len = o.seq_len, .batch_explicit = true, .seq_len_explicit = true}});
  const analysis::MemoryEstimate e = analysis::EstimateMemory(m, shapes.at(0));
  const auto precision = analysis::ParseTrainingPrecision(o.train_precision);
  const int64_t width_divisor = precision == analysis::TrainingPrecision::kMixed16 ? 2 : 1;
  return {.parameters = m.info.parameters,
          .buffer_bytes = std::max<int64_t>(0, e.weights_bytes - 4 * m.info.parameters),
          .precision = precision,
          .optimizer = analysis::ParseTrainingOptimizer(o.optimizer),
          .gpus = o.gpus,
          .max_bytes_per_gpu = static_cast<int64_t>(o.max_memory_gb * 1e9),
          .global_batch = o.global_batch,
          .sample_activation_bytes = e.inputs_bytes + e.intermediates_bytes / width_divisor,
          .sample_checkpointed_bytes = e.inputs_bytes + e.activation_peak_bytes / width_divisor};
}

void WriteFiles(const TrainConfigOptions& o, const Json& deepspeed, const Json& accelerate) {
  std::filesystem::create_directories(o.output);
  WriteFileAtomically((std::filesystem::path(o.output) / "ds_config.json").string(),
                      deepspeed.dump(2) + "\n");
  WriteFileAtomically((std::filesystem::path(o.output) / "accelerate_config.json").string(),
                      accelerate.dump(2) + "\n");
  std::cerr << fmt::format(
      "wrote {0}/ds_config.json and {0}/accelerate_config.json (accelerate launch --config_file "
      "{0}/accelerate_config.json train.py)\n",
      o.output);
}

int RunTrainConfig(const TrainConfigOptions& o) {
  if (o.half != "bf16" && o.half != "fp16")
    throw Error(ErrorKind::kInvalidArgument, fmt::format("--half '{}': use bf16 or fp16", o.half));
  const models::Model m = LoadModelHere(o.model);
  const analysis::TrainingPlanRequest r = Request(o, m);
  const analysis::TrainingPlan plan = analysis::PlanTraining(r);
  if (!plan.fits)
    throw Error(ErrorKind::kUnsupported,
                fmt::format("{} does not fit {} GPUs of {} GB even with ZeRO-3 and activation "
                            "checkpointing at micro-batch 1 ({}); add GPUs or memory",
                            m.info.name, o.gpus, o.max_memory_gb, plan.tried.back()));
  const bool bf16 = o.half == "bf16";
  const Json deepspeed = analysis::DeepSpeedConfig(plan, r, bf16);
  const Json accelerate = analysis::AccelerateConfig(plan, r, bf16, "ds_config.json");
  if (!o.output.empty()) WriteFiles(o, deepspeed, accelerate);
  const Json memory = {
      {"parameters", plan.memory.parameter_bytes},       {"gradients", plan.memory.gradient_bytes},
      {"optimizer_states", plan.memory.optimizer_bytes}, {"buffers", plan.memory.buffer_bytes},
      {"activations", plan.memory.activation_bytes},     {"total_bytes", plan.memory.total_bytes}};
  if (o.json) {
    std::cout << Json{{"model", m.info.name},
                      {"origin", "estimate"},
                      {"strategy", analysis::ShardingName(plan.sharding)},
                      {"activation_checkpointing", plan.checkpointing},
                      {"micro_batch", plan.micro_batch},
                      {"gradient_accumulation", plan.gradient_accumulation},
                      {"memory_per_gpu", memory},
                      {"passed_over", plan.tried},
                      {"deepspeed_config", deepspeed},
                      {"accelerate_config", accelerate}}
                     .dump(2)
              << "\n";
    return kExitOk;
  }
  std::cout << fmt::format(
      "{} ({} parameters) on {} GPUs of {} GB, global batch {}, seq {}:\n  {}{}, micro-batch {} "
      "per GPU x {} accumulation steps\n  memory per GPU (estimate): {} = parameters {} + "
      "gradients {} + optimizer {} + activations {}\n",
      m.info.name, m.info.parameters, o.gpus, o.max_memory_gb, o.global_batch, o.seq_len,
      analysis::ShardingName(plan.sharding),
      plan.checkpointing ? " with activation checkpointing" : "", plan.micro_batch,
      plan.gradient_accumulation, analysis::DescribeBytes(plan.memory.total_bytes),
      analysis::DescribeBytes(plan.memory.parameter_bytes),
      analysis::DescribeBytes(plan.memory.gradient_bytes),
      analysis::DescribeBytes(plan.memory.optimizer_bytes),
      analysis::DescribeBytes(plan.memory.activation_bytes));
  for (const auto& t : plan.tried) std::cout << "  passed over: " << t << "\n";
  return kExitOk;
}

}  // namespace

void AddTrainConfigCommand(CLI::App& app, CommandFn* selected) {
  auto* cmd = app.add_subcommand(
      "train-config",
      "Recommend how to train a model on N GPUs of a given memory (DDP, ZeRO-1/2/3 or FSDP, "
      "activation checkpointing, micro-batch, gradient accumulation) from the training-memory "
      "estimate, and write the DeepSpeed and accelerate configuration files (-o DIR).");
  auto o = std::make_shared<TrainConfigOptions>();
  cmd->add_option(kModelOptionName, o->model, "catalog name, template:NAME, or Hugging Face folder")
      ->required();
  cmd->add_option("--gpus", o->gpus, "data-parallel GPUs")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-memory-gb", o->max_memory_gb, "memory per GPU, in GB (10^9 bytes)")
      ->required()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--global-batch", o->global_batch,
                  "samples per optimizer step over every GPU (a multiple of --gpus)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("-s,--seq-len", o->seq_len, "sequence length (text models)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--train-precision", o->train_precision,
                  "fp32, or mixed (16-bit with an fp32 master copy)")
      ->capture_default_str();
  cmd->add_option("--half", o->half, "mixed precision's 16-bit type: bf16 or fp16")
      ->capture_default_str();
  cmd->add_option("--optimizer", o->optimizer, "adamw (adam), sgd-momentum or sgd")
      ->capture_default_str();
  cmd->add_option(kOutputOptionName, o->output,
                  "folder to write ds_config.json and accelerate_config.json into");
  AddFormatOption(cmd, &o->json);
  cmd->callback([selected, o] { *selected = [o] { return RunTrainConfig(*o); }; });
}

}  // namespace ipfs_accel::cli
