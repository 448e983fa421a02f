// `predict` and `select` end to end on a measured sweep: the predictor is trained, validated
// and stored beside how the measurements repeat; a measured configuration is labelled measured, an
// unmeasured one predicted with its interval (and stored as a prediction); an empty database is
// refused before any file is made.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace predict_cli_test {

class PredictCliTest : public CliTest {
 protected:
  // 20 configurations each of two architectures, measured here.
  void MeasureSweep() {
    for (const char* model : {"bert-tiny", "template:gpt2"}) {
      const Result r = Run(std::string("benchmark --model ") + model +
                           " --batch-sizes 1,2,4,8 --seq-lens 8,16,24,32,48 --iterations 5 "
                           "--min-time 0 --warmup 1 --db " +
                           db_);
      ASSERT_EQ(r.status, 0) << r.err;
    }
  }
};

TEST_F(PredictCliTest, LabelsMeasuredFiguresMeasuredAndOthersPredictedWithTheirInterval) {
  MeasureSweep();
  // One configuration measured again: the database's repeatability, beside the splits.
  const Result again =
      Run("benchmark --model bert-tiny --batch-sizes 2 --seq-lens 16 --iterations 5 --min-time 0 "
          "--warmup 1 --db " +
          db_);
  ASSERT_EQ(again.status, 0) << again.err;
  const Result evaluated = Run("predict --evaluate --json --db " + db_);
  ASSERT_EQ(evaluated.status, 0) << evaluated.err;
  const auto e = nlohmann::json::parse(evaluated.out);
  EXPECT_EQ(e["training_range"]["rows"], 40);  // the latest of each configuration
  EXPECT_EQ(e["repeatability"]["configurations"], 1);
  EXPECT_GE(e["repeatability"]["mape"].get<double>(), 0.0);
  for (const char* split : {"k_fold", "unseen_batch", "unseen_seq", "unseen_architecture"}) {
    ASSERT_TRUE(e["splits"].contains(split)) << split;
    const auto& s = e["splits"][split];
    EXPECT_GT(s["count"].get<int>(), 0) << split;
    for (const char* f : {"within_10pct", "within_25pct"}) {
      EXPECT_GE(s[f].get<double>(), 0.0);
      EXPECT_LE(s[f].get<double>(), 1.0);
    }
    EXPECT_GE(s["mape"].get<double>(), 0.0);
    EXPECT_LE(std::abs(s["spearman"].get<double>()), 1.0);
  }
  // The peak-memory model, fitted too: each of the two models predicted from the other's peaks.
  EXPECT_EQ(e["peak_memory"]["models"], 2);
  EXPECT_EQ(Count("prediction_models"), 2);
  const Result memory = Run("memory --model bert-tiny -b 3 -s 20 --json --db " + db_);
  ASSERT_EQ(memory.status, 0) << memory.err;
  const auto peaks = nlohmann::json::parse(memory.out)["predicted_peak_rss"];
  ASSERT_EQ(peaks.size(), 1u);
  EXPECT_EQ(peaks[0]["origin"], "predicted");
  EXPECT_GT(peaks[0]["peak_rss_bytes"].get<double>(), 0);

  const Result measured = Run("predict --model bert-tiny -b 2 -s 16 --json --db " + db_);
  ASSERT_EQ(measured.status, 0) << measured.err;
  const auto m = nlohmann::json::parse(measured.out)["figures"];
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["origin"], "measured");
  EXPECT_FALSE(m[0].contains("interval_80pct_ms"));

  const Result predicted = Run("predict --model bert-tiny -b 3 -s 20 --json --db " + db_);
  ASSERT_EQ(predicted.status, 0) << predicted.err;
  const auto p = nlohmann::json::parse(predicted.out)["figures"];
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0]["origin"], "predicted");
  const double value = p[0]["latency_ms"].get<double>();
  EXPECT_LE(p[0]["interval_80pct_ms"][0].get<double>(), value);
  EXPECT_GE(p[0]["interval_80pct_ms"][1].get<double>(), value);
  EXPECT_EQ(p[0]["predictor_id"], e["predictor_id"]);
  EXPECT_EQ(Count("predictions"), 1);

  const Result ranked = Run("select --model bert-tiny -b 3 -s 20 --json --db " + db_);
  ASSERT_EQ(ranked.status, 0) << ranked.err;
  EXPECT_EQ(nlohmann::json::parse(ranked.out)["ranked"][0]["origin"], "predicted");
  const Result analyzed = Run("select --analyze --model bert-tiny --json --db " + db_);
  ASSERT_EQ(analyzed.status, 0) << analyzed.err;
  EXPECT_EQ(nlohmann::json::parse(analyzed.out).size(), 20u);  // 4 batch sizes x 5 lengths
  const Result mapped =
      Run("select --create-map -o " + (dir_ / "map.json").string() + " --db " + db_);
  ASSERT_EQ(mapped.status, 0) << mapped.err;
  const auto map = nlohmann::json::parse(ReadFile(dir_ / "map.json"))["map"];
  ASSERT_TRUE(map.contains("embedding")) << map.dump();
  EXPECT_EQ(map["embedding"]["8"][0]["origin"], "measured");
  EXPECT_EQ(map["text_generation"]["1"][0]["models"], 1);
  const Result none_fit =
      Run("select --model bert-tiny -b 3 -s 20 --max-memory-gb 0.001 --json --db " + db_);
  EXPECT_EQ(none_fit.status, 1);
  EXPECT_EQ(nlohmann::json::parse(none_fit.out)["excluded"].size(), 1u);
}

TEST_F(PredictCliTest, RefusesToPredictFromADatabaseThatDoesNotExist) {
  const Result r = Run("predict --evaluate --db " + db_);
  ExpectCleanFailureOnFreshDb(r, 3, "does not exist");
  EXPECT_FALSE(fs::exists(db_));
}

// --mode training ranks measured training steps (never predicted ones), with the memory the
// optimizer needs; where only inference was measured it names the command that would measure.
TEST_F(PredictCliTest, TrainingSelectionRanksMeasuredStepsAndNamesTheCommandWhereNoneIs) {
  ExpectCleanFailureOnFreshDb(Run("select --model bert-tiny --mode training --db " + db_), 3,
                              "does not exist");
  Result r = Run(
      "benchmark --model bert-tiny --batch-sizes 2 --seq-lens 8 --iterations 3 --min-time 0 --db " +
      db_);
  ASSERT_EQ(r.status, 0) << r.err;
  r = Run("select --model bert-tiny --mode training -b 2 -s 8 --json --db " + db_);
  EXPECT_EQ(r.status, 3) << r.err;
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("--mode training --optimizer adamw --batch-sizes 2 --seq-lens 8"),
            std::string::npos)
      << r.err;

  r =
      Run("benchmark --model bert-tiny --mode training --batch-sizes 2 --seq-lens 8 --iterations 3 "
          "--min-time 0 --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  r = Run("select --model bert-tiny --mode training -b 2 -s 8 --json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["mode"], "training");
  EXPECT_EQ(j["optimizer"], "adamw");
  ASSERT_EQ(j["ranked"].size(), 1u);  // the cpu, measured; nothing predicted
  EXPECT_EQ(j["ranked"][0]["origin"], "measured");
  // The inference figure of the same shapes is another, shorter one.
  const auto inference = nlohmann::json::parse(
      Run("select --model bert-tiny -b 2 -s 8 --json --db " + db_).out)["ranked"][0];
  EXPECT_NE(j["ranked"][0]["run_id"], inference["run_id"]);
  EXPECT_GT(j["ranked"][0]["latency_ms"].get<double>(), inference["latency_ms"].get<double>());
}

}  // namespace predict_cli_test
}  // namespace ipfs_accel
