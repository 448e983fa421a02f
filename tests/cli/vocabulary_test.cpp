// One vocabulary across commands: the same names for the same options (-m/--model,
// -o/--output, -t/--threads, --db, --format with its --json alias), formats checked while the
// command line is parsed, singular aliases of list options, options that would do nothing
// refused; text tables that fit the terminal; close names offered for an unknown model.

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace vocabulary_test {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// The width of the widest line, in code points, of those that do not hold `unbreakable` (a
// path longer than the width stays whole).
size_t WidestLine(const std::string& text, const std::string& unbreakable = "\n") {
  size_t widest = 0;
  for (const auto& line : Lines(text)) {
    if (line.find(unbreakable) != std::string::npos) continue;
    size_t width = 0;
    for (char c : line) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    widest = std::max(widest, width);
  }
  return widest;
}

// The names of the option a --help line describes ("-m,--model,--model-dir").
std::vector<std::string> OptionNames(const std::string& line) {
  std::vector<std::string> names;
  std::istringstream in(line.substr(2, line.find(' ', 2) - 2));
  for (std::string name; std::getline(in, name, ',');) names.push_back(name);
  return names;
}

class VocabularyTest : public CliTest {
 protected:
  // Every command and subcommand, as the top-level and `db` help list them.
  std::vector<std::string> Commands() {
    std::vector<std::string> out;
    for (const std::string parent : {"", "db"}) {
      const Result r = Run(parent + " --help");
      bool listing = false;
      for (const auto& line : Lines(r.out)) {
        if (line == "Subcommands:") listing = true;
        if (!listing || line.size() < 3 || line.rfind("  ", 0) != 0 || line[2] == ' ') continue;
        const std::string name = line.substr(2, line.find(' ', 2) - 2);
        if (name != "db") out.push_back(parent.empty() ? name : parent + " " + name);
      }
    }
    return out;
  }
};

TEST_F(VocabularyTest, SharedOptionsReadTheSameInEveryCommandsHelp) {
  env_ = "COLUMNS=1000 ";
  const auto commands = Commands();
  ASSERT_GE(commands.size(), 15u);
  std::map<std::string, std::set<std::string>> lines;  // --db, --json, ... -> distinct lines
  for (const auto& command : commands) {
    const Result r = Run(command + " --help");
    ASSERT_EQ(r.status, 0) << command;
    for (const auto& line : Lines(r.out)) {
      if (line.rfind("  -", 0) != 0) continue;
      const auto names = OptionNames(line);
      const auto has = [&](const char* n) {
        return std::find(names.begin(), names.end(), n) != names.end();
      };
      const std::map<std::string, std::string> spelled = {{"--model", "  -m,--model"},
                                                          {"--output", "  -o,--output"},
                                                          {"--threads", "  -t,--threads"}};
      for (const auto& [flag, start] : spelled) {
        if (has(flag.c_str())) {
          EXPECT_EQ(line.rfind(start, 0), 0u) << command << ": " << line;
        }
      }
      for (const char* flag : {"--db", "--lock-wait", "--json"})
        if (names == std::vector<std::string>{flag}) lines[flag].insert(line);
    }
    if (r.out.find("  --format") == std::string::npos) continue;
    EXPECT_NE(r.out.find("output format: "), std::string::npos) << command;
    if (r.out.find("json") != std::string::npos) {
      EXPECT_NE(r.out.find("  --json"), std::string::npos) << command << " has no --json";
    }
  }
  for (const auto& [flag, distinct] : lines) EXPECT_EQ(distinct.size(), 1u) << flag;
}

TEST_F(VocabularyTest, VerifyTakesTheModelAsMinusMAndKeepsModelDir) {
  EXPECT_EQ(Run("verify -m " + kBertFixture).status, 0);
  EXPECT_EQ(Run("verify --model " + kBertFixture + " --json").status, 0);
  EXPECT_EQ(Run("verify --model-dir " + kBertFixture).status, 0);
}

TEST_F(VocabularyTest, DbExportTakesMinusOAndJson) {
  SeedDatabase();
  const std::string out = (dir_ / "runs.json").string();
  const Result r = Run("db export --db " + db_ + " --table runs --json -o " + out);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(out));
  EXPECT_EQ(Run("db export --db " + db_ + " --table runs -o " + out + "2").status, 2);
}

TEST_F(VocabularyTest, ModelsTakesJsonWithParametersSizesAndAliasesAsAList) {
  const Result r = Run("models --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto models = nlohmann::json::parse(r.out);
  std::vector<std::string> bert;
  for (const auto& m : models) {
    ASSERT_TRUE(m["aliases"].is_array()) << m;
    if (m["architecture"] == "bert") bert.push_back(m["name"]);
    if (m["name"] == "bert-tiny") {
      EXPECT_EQ(m["parameters"], 4385920);
      EXPECT_EQ(m["fp32_size"], "16.7 MiB");
    }
  }
  // By family, then size: bert-tiny (4M) first, bert-large (335M) last.
  ASSERT_GE(bert.size(), 3u);
  EXPECT_EQ(bert.front(), "bert-tiny");
  EXPECT_EQ(bert.back(), "bert-large-uncased");
  EXPECT_NE(Run("models").out.find("4.4M"), std::string::npos);
}

TEST_F(VocabularyTest, MatrixHasATableFormat) {
  SeedDatabase();
  const Result r = Run("matrix --format table --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("row ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("CPU"), std::string::npos);
}

TEST_F(VocabularyTest, FormatsAreCheckedWhileParsingAndJsonIsTheirAlias) {
  for (const std::string command :
       {"report --format xml", "db query --format bogus SELECT 1",
        "compare --baseline a "
        "--contender b --format html",
        "models --format html", "detect --format csv", "benchmark -m bert-tiny --format html"}) {
    const Result r = Run(command + " --db " + db_);
    EXPECT_EQ(r.status, 2) << command;
    EXPECT_EQ(r.ErrorLines().size(), 1u) << r.err;
    EXPECT_NE(r.err.find("--format"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(db_));
  EXPECT_EQ(Run("detect --json --format table").status, 2);
  EXPECT_TRUE(nlohmann::json::accept(Run("detect --format json").out));
}

TEST_F(VocabularyTest, BatchSizeIsAnAliasOfBatchSizes) {
  const Result r =
      Run("benchmark -m bert-tiny --batch-size 2 --seq-len 8 --iterations 2 "
          "--min-time 0 --warmup 0 --json --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["results"][0]["batch"], 2);
}

TEST_F(VocabularyTest, OptionsThatWouldDoNothingAreRefusedWithTheReason) {
  const std::map<std::string, std::string> refused = {
      {"--prompt-len 8", "generate"},
      {"--new-tokens 8", "generate"},
      {"--target-qps 10", "server"},
      {"--config-timeout 5", "--isolate"},
      {"--scenario generate --seq-lens 8", "--prompt-len"}};
  for (const auto& [options, reason] : refused) {
    const Result r = Run("benchmark -m bert-tiny " + options + " --db " + db_);
    EXPECT_EQ(r.status, 2) << options;
    ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
    EXPECT_NE(r.ErrorLines()[0].find(reason), std::string::npos) << r.ErrorLines()[0];
  }
  EXPECT_FALSE(fs::exists(db_));
}

TEST_F(VocabularyTest, BenchmarkTablesFitEightyColumnsAndCsvKeepsEveryColumn) {
  env_ = "COLUMNS=80 ";
  const std::string gpt2 = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/gpt2";
  for (const std::string& model : {std::string("bert-tiny"), gpt2}) {
    const std::string args =
        "benchmark -m " + model + " --seq-len 8 --iterations 3 --min-time 0 --warmup 0 --db " + db_;
    Result r = Run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_LE(WidestLine(r.out, db_), 80u) << r.out;
    EXPECT_EQ(r.out.find("NULL"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("mean_ms"), std::string::npos) << r.out;
    r = Run(args + " --format csv");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(Lines(r.out)[0],
              "hardware,variant,settings,batch,shapes,load_ms,first_ms,p50_ms,mean_ms,p90_ms,"
              "noisy,p90_es_ms,p99_ms,items_per_s,peak_rss_mb,gpu_proc_mb,gpu_used_mb");
  }
  env_ = "COLUMNS=200 ";
  const Result gpt2_table = Run("benchmark -m " + gpt2 +
                                " --seq-len 8 --iterations 2 --min-time 0 --warmup 0 --db " + db_);
  EXPECT_NE(gpt2_table.out.find("1x8 attention_mask,input_ids (+4 past_key_values)"),
            std::string::npos)
      << gpt2_table.out;
}

TEST_F(VocabularyTest, ReportAndCompareTablesFitEightyColumns) {
  SeedDatabase();
  SeedDatabase();
  env_ = "COLUMNS=80 ";
  Result r = Run("report performance --format table --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LE(WidestLine(r.out), 80u) << r.out;
  EXPECT_NE(r.out.find("bert-tiny"), std::string::npos) << r.out;
  const std::string runs =
      Run("db query --format csv --db " + db_ + " \"SELECT run_id FROM runs ORDER BY started_at\"")
          .out;
  const auto ids = Lines(runs);
  ASSERT_EQ(ids.size(), 3u) << runs;
  r = Run("compare --baseline " + ids[1] + " --contender " + ids[2] + " --db " + db_);
  ASSERT_LE(r.status, 1) << r.err;
  EXPECT_LE(WidestLine(r.out), 80u) << r.out;
  EXPECT_NE(r.out.find("verdict"), std::string::npos) << r.out;
  env_ = "COLUMNS=1000 ";
  r = Run("compare --baseline " + ids[1] + " --contender " + ids[2] + " --db " + db_);
  EXPECT_NE(r.out.find("u_test_p"), std::string::npos) << r.out;
}

TEST_F(VocabularyTest, GenerateShowsTheDecodeMeanAndSaysTokensPerSecondComeFromIt) {
  env_ = "COLUMNS=200 ";
  const std::string gpt2 = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/gpt2";
  const Result r = Run("benchmark -m " + gpt2 +
                       " --scenario generate --prompt-len 8 --new-tokens 4 --warmup 0 --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("decode_p50_ms  decode_mean_ms"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decode_tok_s is batch x 1000 / decode_mean_ms"), std::string::npos)
      << r.out;
}

TEST_F(VocabularyTest, AnUnknownModelNameSuggestsTheClosestNames) {
  const Result r = Run("benchmark -m bert-tny --db " + db_);
  EXPECT_EQ(r.status, 3);
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.err.find("did you mean bert-tiny"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wav2vec2-base"), std::string::npos) << r.err;
}

TEST_F(VocabularyTest, DbQueryTakesSqlAsAnArgumentKeepsColumnOrderAndWritesNestedValuesAsJson) {
  SeedDatabase();
  Result r = Run("db query --db " + db_ +
                 " --format json \"SELECT 2 AS zeta, 1 AS alpha, {'x': 1, 'y': [1, 2]} AS s, "
                 "[3, 4] AS l, MAP {'k': 'v'} AS m, NULL AS n;\"");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = nlohmann::ordered_json::parse(r.out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].dump(),
            R"({"zeta":2,"alpha":1,"s":{"x":1,"y":[1,2]},"l":[3,4],"m":{"k":"v"},"n":null})");
  r = Run("db query --db " + db_ + " --json \"SELECT samples_ms FROM performance_results\"");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(nlohmann::json::parse(r.out)[0]["samples_ms"].is_array()) << r.out;
  r = Run("db query --db " + db_ + " --sql \"SELECT 1 AS one\" --format csv");
  EXPECT_EQ(r.out, "one\n1\n");
  EXPECT_EQ(Run("db query --db " + db_ + " --format csv").status, 2);
}

}  // namespace vocabulary_test
}  // namespace ipfs_accel
