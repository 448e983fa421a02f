// `memory`: the estimate part by part, the training plan's sharded model states, and the
// measured peak set beside the estimate once a benchmark stored one.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace memory_cli_test {

constexpr int64_t kBertTinyParameters = 4'385'920;  // google/bert_uncased_L-2_H-128_A-2

int64_t SumOfParts(const nlohmann::json& j) {
  int64_t sum = 0;
  for (const auto& [name, bytes] : j["parts"].items()) sum += bytes.get<int64_t>();
  return sum;
}

TEST_F(CliTest, MemoryPrintsPartsThatSumToTheTotalBesideTheMeasuredPeak) {
  SeedDatabase();  // bert-tiny, batch 1, seq 16, on this CPU
  const Result r = Run("memory --model bert-tiny --seq-len 16 --json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["origin"], "estimate");
  EXPECT_EQ(j["total_bytes"].get<int64_t>(), SumOfParts(j));
  EXPECT_GE(j["parts"]["weights"].get<int64_t>(), 4 * kBertTinyParameters);
  ASSERT_EQ(j["measured"].size(), 1u);
  EXPECT_EQ(j["measured"][0]["platform"], "cpu");
  const int64_t peak = j["measured"][0]["peak_rss_bytes"].get<int64_t>();
  EXPECT_GT(peak, 0);
  const double error = j["measured"][0]["estimate_error_pct"].get<double>();
  EXPECT_NEAR(error, 100.0 * (j["total_bytes"].get<double>() - peak) / peak, 1e-6);
}

TEST_F(CliTest, MemorySaysWhatWouldMeasureAConfigurationNobodyMeasured) {
  const Result r = Run("memory --model bert-tiny --seq-len 16 --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("nothing measured"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("benchmark --model bert-tiny --batch-size 1 --seq-len 16"),
            std::string::npos)
      << r.out;
}

TEST_F(CliTest, MemoryInTrainingModeShardsModelStatesOverTheGpusAsZeroThreeDoes) {
  const Result r =
      Run("memory --model bert-tiny --seq-len 16 --mode training --sharding zero3 --gpus 4 --json "
          "--db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  const auto& parts = j["parts"];
  EXPECT_EQ(parts["parameters"].get<int64_t>(), kBertTinyParameters);  // 4 B x P / 4 workers
  EXPECT_EQ(parts["gradients"].get<int64_t>(), kBertTinyParameters);
  EXPECT_EQ(parts["optimizer states"].get<int64_t>(), 2 * kBertTinyParameters);  // AdamW: 8 B
  EXPECT_GT(parts["activations (every forward intermediate kept)"].get<int64_t>(), 0);
  EXPECT_EQ(j["total_bytes"].get<int64_t>(), SumOfParts(j));
}

TEST_F(CliTest, MemoryRefusesAnUnknownModeInOneLine) {
  const Result r = Run("memory --model bert-tiny --mode serving --db " + db_);
  ExpectCleanFailureOnFreshDb(r, 2, "--mode 'serving'");
  EXPECT_FALSE(fs::exists(db_));
}

TEST_F(CliTest, TrainConfigWritesDeepSpeedAndAccelerateConfigsThatAgreeOnTheBatch) {
  const fs::path out = dir_ / "train";
  const Result r =
      Run("train-config --model bert-tiny --gpus 2 --max-memory-gb 1 --global-batch 8 "
          "--seq-len 16 --json -o " +
          out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const auto plan = nlohmann::json::parse(r.out);
  EXPECT_EQ(plan["origin"], "estimate");
  const auto ds = nlohmann::json::parse(ReadFile(out / "ds_config.json"));
  // DeepSpeed's rule: train_batch_size = micro-batch x accumulation x GPUs.
  EXPECT_EQ(ds["train_batch_size"], 8);
  EXPECT_EQ(ds["train_micro_batch_size_per_gpu"].get<int>() *
                ds["gradient_accumulation_steps"].get<int>() * 2,
            8);
  const auto acc = nlohmann::json::parse(ReadFile(out / "accelerate_config.json"));
  EXPECT_EQ(acc["num_processes"], 2);
  EXPECT_EQ(plan["micro_batch"], ds["train_micro_batch_size_per_gpu"]);
}

TEST_F(CliTest, TrainConfigSaysWhenNothingFitsInOneLine) {
  const Result r = Run("train-config --model bert-tiny --gpus 2 --max-memory-gb 0.00001");
  ExpectCleanFailureOnFreshDb(r, 5, "does not fit");
}

}  // namespace memory_cli_test
}  // namespace ipfs_accel
