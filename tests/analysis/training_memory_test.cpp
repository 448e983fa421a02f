// The training-memory planner against the worked examples of the two references the issue
// names: the ZeRO paper's 7.5B-parameter model on 64 GPUs (section 3.1, figure 1) and
// accelerate's `estimate-memory` for bert-base-cased.

#include "ipfs_accel/analysis/training_memory.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ipfs_accel/core/error.h"

namespace ipfs_accel::analysis {
namespace training_memory_test {

constexpr int64_t kZeroExampleParameters = 7'500'000'000;

// ZeRO reports decimal gigabytes to one decimal.
double Gb(int64_t bytes) { return std::round(static_cast<double>(bytes) / 1e8) / 10.0; }

int64_t ZeroExample(Sharding sharding) {
  return PlanTrainingMemory({.parameters = kZeroExampleParameters,
                             .precision = TrainingPrecision::kMixed16,
                             .optimizer = TrainingOptimizer::kAdamW,
                             .sharding = sharding,
                             .workers = 64})
      .total_bytes;
}

TEST(TrainingMemory, ReproducesTheZeroPapersSevenPointFiveBillionParameterExample) {
  EXPECT_DOUBLE_EQ(Gb(ZeroExample(Sharding::kReplicated)), 120.0);
  EXPECT_DOUBLE_EQ(Gb(ZeroExample(Sharding::kOptimizerStates)), 31.4);
  EXPECT_DOUBLE_EQ(Gb(ZeroExample(Sharding::kGradients)), 16.6);
  EXPECT_DOUBLE_EQ(Gb(ZeroExample(Sharding::kParameters)), 1.9);
}

TEST(TrainingMemory, MixedPrecisionAdamKeepsTwelveBytesOfOptimizerStatePerParameter) {
  EXPECT_EQ(OptimizerBytesPerParameter(TrainingOptimizer::kAdamW, TrainingPrecision::kMixed16), 12);
  EXPECT_EQ(OptimizerBytesPerParameter(TrainingOptimizer::kAdamW, TrainingPrecision::kFp32), 8);
  EXPECT_EQ(OptimizerBytesPerParameter(TrainingOptimizer::kSgdMomentum, TrainingPrecision::kFp32),
            4);
  EXPECT_EQ(OptimizerBytesPerParameter(TrainingOptimizer::kSgd, TrainingPrecision::kFp32), 0);
}

// accelerate's figures for bert-base-cased (AutoModel: BertModel, 108,310,272 parameters,
// plus BertEmbeddings' position_ids and token_type_ids buffers, 512 int64 each, which
// accelerate's module sizes include): total 413.18 MB fp32, 206.59 MB fp16, and training
// with Adam at fp32 1.61 GB, in accelerate's binary units rounded to two decimals.
constexpr int64_t kBertBaseCasedParameters = 108'310'272;
constexpr int64_t kBertBaseCasedBuffers = 2 * 512 * 8;

double Rounded(double v) { return std::round(v * 100.0) / 100.0; }

TEST(TrainingMemory, ReproducesAcceleratesEstimateForBertBaseCased) {
  const int64_t fp32_bytes = 4 * kBertBaseCasedParameters + kBertBaseCasedBuffers;
  EXPECT_DOUBLE_EQ(Rounded(fp32_bytes / 1048576.0), 413.18);
  EXPECT_DOUBLE_EQ(Rounded(fp32_bytes / 2 / 1048576.0), 206.59);
  // Training with Adam at fp32: parameters, gradients and two states, i.e. four model sizes
  // (accelerate counts the buffers in every one of them; here they are counted once).
  const TrainingMemory m = PlanTrainingMemory({.parameters = kBertBaseCasedParameters,
                                               .buffer_bytes = kBertBaseCasedBuffers,
                                               .precision = TrainingPrecision::kFp32,
                                               .optimizer = TrainingOptimizer::kAdamW});
  EXPECT_EQ(m.parameter_bytes + m.gradient_bytes + m.optimizer_bytes,
            16 * kBertBaseCasedParameters);
  EXPECT_DOUBLE_EQ(Rounded(m.total_bytes / 1073741824.0), 1.61);
}

TEST(TrainingMemory, ShardsRoundUpSoNoWorkerIsGivenLessThanItsShare) {
  const TrainingMemory m = PlanTrainingMemory({.parameters = 10,
                                               .precision = TrainingPrecision::kFp32,
                                               .optimizer = TrainingOptimizer::kSgd,
                                               .sharding = Sharding::kParameters,
                                               .workers = 3});
  EXPECT_EQ(m.parameter_bytes, 14);  // 40 B over 3 workers
  EXPECT_EQ(m.gradient_bytes, 14);
  EXPECT_EQ(m.optimizer_bytes, 0);
}

TEST(TrainingMemory, ActivationsAndBuffersAreAddedUnsharded) {
  const TrainingMemory m = PlanTrainingMemory({.parameters = 0,
                                               .buffer_bytes = 7,
                                               .sharding = Sharding::kParameters,
                                               .workers = 8,
                                               .activation_bytes = 1000});
  EXPECT_EQ(m.total_bytes, 1007);
}

TEST(TrainingMemory, RefusesZeroWorkersAndUnknownNamesWithTheAcceptedSpellings) {
  EXPECT_THROW(PlanTrainingMemory({.parameters = 1, .workers = 0}), core::Error);
  try {
    ParseSharding("zero4");
    FAIL();
  } catch (const core::Error& e) {
    EXPECT_NE(std::string(e.what()).find("zero3"), std::string::npos);
  }
  EXPECT_EQ(ParseSharding("fsdp"), Sharding::kParameters);
  EXPECT_EQ(ParseSharding("fsdp-grad-op"), Sharding::kGradients);
  EXPECT_EQ(ParseTrainingOptimizer("adam"), TrainingOptimizer::kAdamW);
  EXPECT_EQ(ParseTrainingPrecision("bf16"), TrainingPrecision::kMixed16);
}

}  // namespace training_memory_test
}  // namespace ipfs_accel::analysis
