// `benchmark --mode training` end to end: optimizer steps of the hf-tiny BERT stored as scenario
// 'training' with a loss that falls on the fixed batch, and CUDA recorded as unavailable where
// there is no GPU, as inference records it; accumulation checked against its own definition;
// Mamba through its Scan; a graph file refused before anything is stored.

#include <cmath>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace ipfs_accel {
namespace training_cli_test {

std::string TinyTraining() {
  return "benchmark --model " + kBertFixture +
         " --mode training --seq-lens 16 --warmup 1 --iterations 6 --min-time 0 ";
}

TEST_F(CliTest, TinyBertTrainingStoresARowWhoseLossFallsAndRecordsCudaUnavailableHere) {
  const bool gpu = fs::exists("/dev/nvidia0");
  const Result r = Run(TinyTraining() + "--batch-sizes 2 --hardware cpu,cuda --json --db " + db_);
  ASSERT_EQ(r.status, gpu ? 0 : 6) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["scenario"], "training");
  ASSERT_EQ(json["results"].size(), gpu ? 2u : 1u);
  const auto& row = json["results"][0];
  EXPECT_LT(row["loss_last"].get<double>(), row["loss_first"].get<double>());
  EXPECT_EQ(row["optimizer"], "adamw");

  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto perf = store->Query(
      "SELECT scenario, training_optimizer, training_loss, grad_accum_steps, loss_first, "
      "loss_last, loss_steps, iterations, throughput_items_per_s, latency_mean_ms, "
      "peak_rss_bytes, batch_size, seq_len FROM performance_results JOIN hardware_platforms "
      "USING (hardware_id) WHERE platform = 'cpu'");
  ASSERT_EQ(perf.rows.size(), 1u);
  const auto& p = perf.rows[0];
  EXPECT_EQ(*p[0], "training");
  EXPECT_EQ(*p[1], "adamw");
  EXPECT_EQ(*p[2], "cross-entropy");
  EXPECT_EQ(*p[3], "1");
  // An untrained LM head tied to 1000 small random embeddings starts near the uniform
  // distribution's ln 1000.
  EXPECT_NEAR(std::stod(*p[4]), std::log(1000.0), 0.5);
  EXPECT_LT(std::stod(*p[5]), std::stod(*p[4]));
  EXPECT_EQ(std::stoll(*p[6]), 1 + std::stoll(*p[7]));  // the warm-up step and the timed ones
  // samples/s is batch x 1000 / the mean optimizer step.
  EXPECT_NEAR(std::stod(*p[8]), 2 * 1000.0 / std::stod(*p[9]), 1e-6 * std::stod(*p[8]));
  EXPECT_GT(std::stoll(*p[10]), 0);
  EXPECT_EQ(*p[11], "2");
  EXPECT_EQ(*p[12], "16");
  if (gpu) return;
  const auto compat = store->Query(
      "SELECT c.status, c.error_message FROM compatibility_results c JOIN hardware_platforms h "
      "USING (hardware_id) WHERE h.platform = 'cuda'");
  ASSERT_EQ(compat.rows.size(), 1u);
  EXPECT_EQ(*compat.rows[0][0], "unavailable");
  EXPECT_FALSE(compat.rows[0][1]->empty());
}

// Accumulating the gradients of A distinct micro-batches of b rows is one step on their whole
// batch of A x b rows: the loss trajectory of batch 2 x 3 micro-batches is that of batch 6,
// and not that of batch 2 alone (the micro-batches differ).
TEST_F(CliTest, AccumulatingThreeMicroBatchesFollowsTheLossOfTheirWholeBatch) {
  const Result r = Run(TinyTraining() + "--batch-sizes 2,6 --grad-accum 1,3 --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto perf = store->Query(
      "SELECT batch_size, grad_accum_steps, loss_first, loss_last FROM latest_performance "
      "ORDER BY batch_size, grad_accum_steps");
  ASSERT_EQ(perf.rows.size(), 4u);
  const auto loss = [&](size_t row, size_t column) { return std::stod(*perf.rows[row][column]); };
  ASSERT_EQ(*perf.rows[1][0] + "x" + *perf.rows[1][1], "2x3");
  ASSERT_EQ(*perf.rows[2][0] + "x" + *perf.rows[2][1], "6x1");
  EXPECT_NEAR(loss(1, 2), loss(2, 2), 1e-5 * loss(2, 2));
  EXPECT_NEAR(loss(1, 3), loss(2, 3), 1e-4 * loss(2, 3));
  EXPECT_GT(std::abs(loss(0, 2) - loss(1, 2)), 1e-3);  // batch 2 alone is another batch
}

// Mamba's selective scan is an ONNX Scan, differentiated by a second Scan running backwards:
// the tiny Mamba trains and its loss falls on the fixed batch.
TEST_F(CliTest, TrainingTinyMambaThroughItsScanStoresALossThatFalls) {
  const Result r = Run(
      "benchmark --model template:mamba --mode training --seq-lens 8 --batch-sizes 2 --warmup 0 "
      "--iterations 8 --min-time 0 --json --db " +
      db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto row = nlohmann::json::parse(r.out)["results"][0];
  EXPECT_LT(row["loss_last"].get<double>(), row["loss_first"].get<double>());
}

// A training graph is built from a graph this tool builds; an .onnx file is refused before the
// sweep runs or stores anything, in one line saying so.
TEST_F(CliTest, TrainingAGraphFileFailsSayingWhyAndStoresNothing) {
  const Result r =
      Run("benchmark --model /usr/share/libonnx-testdata/data/node/test_add/model.onnx --mode "
          "training --db " +
          db_);
  ExpectCleanFailureOnFreshDb(r, 5, "not from .onnx files");
  EXPECT_FALSE(fs::exists(db_));
}

}  // namespace training_cli_test
}  // namespace ipfs_accel
