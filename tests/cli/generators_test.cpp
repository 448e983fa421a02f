// The system's generators: spec files that `benchmark --spec` and `verify --spec` run (what a
// command line would say, as JSON), `generate` writing them per model type, template models
// (template:NAME) and `benchmark --all-models`.

#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace {

using nlohmann::json;

class GeneratorsTest : public CliTest {
 protected:
  std::string WriteSpec(const std::string& name, const json& spec) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << spec.dump(2);
    return path.string();
  }
  std::vector<std::string> Column(const std::string& sql) {
    auto store = store::ResultStore::Open(db_, {.read_only = true});
    std::vector<std::string> out;
    for (const auto& row : store->Query(sql).rows) out.push_back(row.at(0).value_or("NULL"));
    return out;
  }
};

TEST_F(GeneratorsTest, BenchmarkSpecRunsAsItsOptionsWouldWithTypedOptionsWinning) {
  const std::string spec = WriteSpec("bench.json", {{"command", "benchmark"},
                                                    {"options",
                                                     {{"model", "bert-tiny"},
                                                      {"seq-lens", {16}},
                                                      {"batch-sizes", {1, 2}},
                                                      {"iterations", 3},
                                                      {"warmup", 0},
                                                      {"min-time", 0}}},
                                                    {"about", {{"model_type", "bert"}}}});
  ASSERT_EQ(Run("benchmark --spec " + spec + " --db " + db_).status, 0);
  EXPECT_EQ(Column("SELECT batch_size::VARCHAR FROM performance_results ORDER BY 1"),
            (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(Column("SELECT DISTINCT iterations::VARCHAR FROM performance_results"),
            std::vector<std::string>{"3"});
  // An option typed beside the spec replaces the spec's.
  ASSERT_EQ(Run("benchmark --spec " + spec + " --batch-sizes 4 --db " + db_).status, 0);
  EXPECT_EQ(Column("SELECT batch_size::VARCHAR FROM performance_results ORDER BY 1"),
            (std::vector<std::string>{"1", "2", "4"}));
}

TEST_F(GeneratorsTest, SpecsOfAnotherCommandOrWithUnknownOptionsAreUsageErrors) {
  const std::string unknown = WriteSpec(
      "unknown.json",
      {{"command", "benchmark"}, {"options", {{"model", "bert-tiny"}, {"colour", "blue"}}}});
  Result r = Run("benchmark --spec " + unknown + " --db " + db_);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("'colour'"), std::string::npos) << r.err;
  const std::string verify =
      WriteSpec("verify.json", {{"command", "verify"}, {"options", {{"model", kBertFixture}}}});
  r = Run("benchmark --spec " + verify + " --db " + db_);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("is not a benchmark spec"), std::string::npos) << r.err;
  const std::string bad_value = WriteSpec(
      "bad.json",
      {{"command", "benchmark"}, {"options", {{"model", "bert-tiny"}, {"iterations", 0}}}});
  EXPECT_EQ(Run("benchmark --spec " + bad_value + " --db " + db_).status, 2);
  EXPECT_FALSE(fs::exists(db_));  // nothing was run or stored
}

TEST_F(GeneratorsTest, VerifySpecComparesWithTheFixturesReference) {
  const std::string spec = WriteSpec(
      "verify.json",
      {{"command", "verify"}, {"options", {{"model", kBertFixture}, {"tolerance", 1e-4}}}});
  const Result r = Run("verify --spec " + spec);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos) << r.out;
  // A tolerance nothing meets fails the same spec's check.
  const Result strict = Run("verify --spec " + spec + " --tolerance 1e-12");
  EXPECT_EQ(strict.status, 1) << strict.out;
}

}  // namespace
}  // namespace ipfs_accel
