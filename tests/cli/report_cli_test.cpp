// `report`, `matrix`, `compare` and `runs` end to end on what they read: models of one name
// told apart, generate results in their own columns, runs named by prefix and latest~N.

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "support/stored_runs.h"

namespace ipfs_accel {
namespace report_cli_test {

// The catalog's bert-tiny (seeded weights) and a folder named bert-tiny (the fixture's own
// weights) are two models in every report, each with its label.
TEST_F(CliTest, ReportsTellTwoModelsOfOneNameApart) {
  const fs::path folder = dir_ / "bert-tiny";
  fs::copy(kBertFixture, folder);
  for (const std::string& model : {std::string("bert-tiny"), folder.string()})
    ASSERT_EQ(Run("benchmark -m " + model +
                  " --seq-lens 8 --iterations 3 --min-time 0 --warmup 1 --db " + db_)
                  .status,
              0);
  Result r = Run("report --run all --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 2u) << r.out;
  std::set<std::string> labels;
  for (const auto& row : rows) labels.insert(row["model"].get<std::string>());
  ASSERT_EQ(labels.size(), 2u) << r.out;
  EXPECT_EQ(labels.count("bert-tiny (seed 42)"), 1u) << r.out;
  EXPECT_EQ(std::count_if(labels.begin(), labels.end(),
                          [](const std::string& l) { return l.rfind("bert-tiny @", 0) == 0; }),
            1);

  r = Run("report hardware --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 2u) << r.out;

  r = Run("matrix --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto matrix = nlohmann::json::parse(r.out);
  bool text_row = false;
  for (const auto& row : matrix["rows"])
    if (row["label"] == "text") {
      text_row = true;
      EXPECT_EQ(row["models"].size(), 2u) << row.dump();
    }
  EXPECT_TRUE(text_row);

  const fs::path html = dir_ / "report.html";
  ASSERT_EQ(Run("report --run all --format html -o " + html.string() + " --db " + db_).status, 0);
  const std::string page = ReadFile(html);
  EXPECT_NE(page.find("bert-tiny (seed 42)"), std::string::npos);
  EXPECT_NE(page.find(folder.string()), std::string::npos);  // the folder's path
}

// A generate run's report shows prompt, new tokens, TTFT, decode p50/p90 and tokens/s, and
// nothing under the single-stream columns.
TEST_F(CliTest, ReportShowsGenerateResultsInTheirOwnColumns) {
  const std::string gpt2 = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/gpt2";
  ASSERT_EQ(Run("benchmark -m " + gpt2 +
                " --scenario generate --prompt-len 4 --new-tokens 4 --iterations 3 --min-time 0 "
                "--db " +
                db_)
                .status,
            0);
  Result r = Run("report --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto row = nlohmann::json::parse(r.out).at(0);
  EXPECT_TRUE(row["p50_ms"].is_null()) << row.dump();
  EXPECT_TRUE(row["seq_len"].is_null()) << row.dump();
  EXPECT_TRUE(row["items_per_s"].is_null()) << row.dump();
  EXPECT_EQ(row["prompt"], 4);
  EXPECT_EQ(row["new_tokens"], 4);
  EXPECT_GT(row["ttft_ms"].get<double>(), 0);
  EXPECT_GT(row["decode_p50_ms"].get<double>(), 0);
  EXPECT_GT(row["tokens_per_s"].get<double>(), 0);
  r = Run("report --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("## Scenario generate"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| ttft_ms |"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("| p50_ms |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("from the mean, not the median"), std::string::npos) << r.out;
}

class RunRefsCli : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    auto store = store::ResultStore::Open(db_);
    const char* ids[] = {"aaaa1111-0000-4000-8000-000000000001",
                         "aaaa2222-0000-4000-8000-000000000002",
                         "bbbb3333-0000-4000-8000-000000000003"};
    for (int i = 0; i < 3; ++i)
      store->WriteRun(testing::StoredRunWithSamples(
          ids[i], "2026-11-2" + std::to_string(i) + "T10:00:00Z", "c0ffee00000" + std::to_string(i),
          "main", {1.0 + i, 1.1 + i, 1.2 + i}));
  }
};

TEST_F(RunRefsCli, RunsListShowsShortIdsNewestFirst) {
  Result r = Run("runs list --json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto runs = nlohmann::json::parse(r.out);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0]["id"], "bbbb3333");
  EXPECT_EQ(runs[0]["started_at"], "2026-11-22 10:00:00Z");
  EXPECT_EQ(runs[0]["models"], "bert-tiny (seed 0)");
  EXPECT_EQ(runs[0]["platforms"], "cpu");
  EXPECT_EQ(runs[0]["commit"], "c0ffee000002");
  EXPECT_EQ(runs[0]["state"], "complete");
  EXPECT_EQ(runs[2]["run_id"], "aaaa1111-0000-4000-8000-000000000001");
  r = Run("runs list --limit 1 --format csv --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  r = Run("runs list --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("aaaa2222  2026-11-21 10:00:00Z"), std::string::npos) << r.out;
}

TEST_F(RunRefsCli, EveryCommandThatNamesARunTakesAPrefixAndLatestTildeN) {
  Result r = Run("report --run aaaa2 --format csv --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("aaaa2222-0000"), std::string::npos) << r.out;
  r = Run("report --run latest~2 --format csv --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("aaaa1111-0000"), std::string::npos) << r.out;
  r = Run("compare --baseline latest~1 --contender latest --db " + db_);
  EXPECT_NE(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("(run bbbb3333-0000"), std::string::npos) << r.err;
  r = Run("compare --baseline aaaa1 --contender bbbb --db " + db_);
  EXPECT_NE(r.status, 2) << r.err;
  const fs::path exported = dir_ / "run.json";
  r = Run("db export --format run-json --run latest~1 --output " + exported.string() + " --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(ReadFile(exported).find("aaaa2222-0000"), std::string::npos);
}

TEST_F(RunRefsCli, BadRunRefsAreOneLineErrors) {
  const struct {
    std::string ref;
    int status;
    std::string says;
  } cases[] = {{"aaaa", 2, "ambiguous"},
               {"latest~3", 2, "latest to latest~2"},
               {"latest~x", 2, "whole number"},
               {"cccc", 3, "runs list"},
               {"ab", 2, "at least 4"}};
  for (const auto& c : cases) {
    const Result r = Run("report --run " + c.ref + " --db " + db_);
    EXPECT_EQ(r.status, c.status) << c.ref << ": " << r.err;
    ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
    EXPECT_NE(r.ErrorLines()[0].find(c.says), std::string::npos) << r.err;
  }
  const Result r = Run("compare --baseline aaaa --contender latest --db " + db_);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("aaaa1111-0000-4000-8000-000000000001"), std::string::npos) << r.err;
}

}  // namespace report_cli_test
}  // namespace ipfs_accel
