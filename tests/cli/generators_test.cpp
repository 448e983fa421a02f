// The system's generators: spec files that `benchmark --spec` and `verify --spec` run (what a
// command line would say, as JSON), `generate` writing them per model type, template models
// (template:NAME) and `benchmark --all-models`.

#include <algorithm>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "ipfs_accel/store/records.h"

namespace ipfs_accel {
namespace generators_test {

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

TEST_F(GeneratorsTest, TemplateModelsAreNamedWhereverAModelIs) {
  const Result run = Run("run --json -m template:mistral --ids input_ids=1,2,3");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(json::parse(run.out).at("architecture"), "mistral");
  EXPECT_EQ(Run("export -m template:vit -o " + (dir_ / "vit.onnx").string()).status, 0);
  EXPECT_TRUE(fs::exists(dir_ / "vit.onnx"));
  ASSERT_EQ(Run("benchmark -m template:gpt2 --seq-len 8 --iterations 2 --warmup 0 --min-time 0 "
                "--db " +
                db_)
                .status,
            0);
  EXPECT_EQ(Column("SELECT name || ' ' || source || ' ' || architecture FROM models"),
            std::vector<std::string>{"template:gpt2 template gpt2"});
  const Result typo = Run("run -m template:mistrall");
  EXPECT_EQ(typo.status, 3) << typo.err;
  EXPECT_NE(typo.err.find("did you mean template:mistral"), std::string::npos) << typo.err;
  EXPECT_NE(Run("benchmark --help").out.find("template:NAME"), std::string::npos);
}

TEST_F(GeneratorsTest, GenerateWritesSpecsPerModelTypeThatBenchmarkAndVerifyRun) {
  const fs::path out = dir_ / "specs";
  const Result r = Run("generate --family vit --hardware cpu --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.err;
  const json bench = json::parse(ReadFile(out / "vit.benchmark.json"));
  EXPECT_EQ(bench.at("command"), "benchmark");
  EXPECT_EQ(bench.at("options").at("model"), "template:vit");
  EXPECT_EQ(bench.at("options").at("hardware"), json({"cpu"}));
  EXPECT_EQ(bench.at("about").at("model_type"), "vit");
  const json verify = json::parse(ReadFile(out / "vit.verify.json"));
  EXPECT_EQ(verify.at("command"), "verify");
  const Result b =
      Run("benchmark --spec " + (out / "vit.benchmark.json").string() + " --db " + db_);
  ASSERT_EQ(b.status, 0) << b.err;
  EXPECT_EQ(Column("SELECT DISTINCT iterations::VARCHAR FROM performance_results"),
            std::vector<std::string>{"10"});
  const Result v = Run("verify --spec " + (out / "vit.verify.json").string());
  EXPECT_EQ(v.status, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("structural check"), std::string::npos) << v.out;
  // A legacy family holds several model types: a spec pair each.
  const Result family = Run("generate --family vision --hardware cpu --out " + out.string());
  ASSERT_EQ(family.status, 0) << family.err;
  for (const char* type : {"vit", "deit", "resnet"})
    EXPECT_TRUE(fs::exists(out / (std::string(type) + ".verify.json"))) << type;
  EXPECT_EQ(Run("generate --family nonsense --out " + out.string()).status, 2);
}

TEST_F(GeneratorsTest, GenerateChoosesDetectedPlatformsLessThoseStoredAsFailedForTheModelType) {
  const fs::path out = dir_ / "specs";
  ASSERT_EQ(Run("generate -m llama --out " + out.string()).status, 0);
  const json detected = json::parse(ReadFile(out / "llama.benchmark.json"));
  EXPECT_EQ(detected.at("options").at("hardware").at(0), "cpu");  // always here
  // The stored compatibility data says llama failed on the CPU.
  {
    store::RunResults::Entry e;
    e.model = {.name = "template:llama",
               .architecture = "llama",
               .modality = "text",
               .source = "template",
               .source_path = "",
               .parameters = 1,
               .content_hash = "seed:42"};
    e.hardware.platform = "cpu";
    e.hardware.device_name = "Test CPU";
    e.hardware.hostname = "host";
    e.compatibility.push_back({.execution_provider = "",
                               .status = "failed",
                               .error_class = "runtime",
                               .error_message = "broken here",
                               .max_abs_error = std::nullopt,
                               .precision = "fp32",
                               .graph_variant = "plain"});
    store::RunResults run;
    run.run.run_id = "11112222-aaaa-bbbb-cccc-000000000000";
    run.run.started_at = run.run.finished_at = "2026-12-06T10:00:00Z";
    run.run.tool_version = "0.1.0";
    run.run.command_line = "test";
    run.run.hostname = "host";
    run.run.os = "linux";
    run.entries.push_back(e);
    store::ResultStore::Open(db_)->WriteRun(run);
  }
  ASSERT_EQ(Run("generate -m llama --hardware cpu --db " + db_ + " --out " + out.string()).status,
            0);
  const json filtered = json::parse(ReadFile(out / "llama.benchmark.json"));
  EXPECT_EQ(filtered.at("options").at("hardware"), json::array());
  EXPECT_NE(
      filtered.at("about").at("hardware_left_out").at("cpu").get<std::string>().find("broken here"),
      std::string::npos);
  // Other model types are not affected.
  ASSERT_EQ(Run("generate -m mistral --hardware cpu --db " + db_ + " --out " + out.string()).status,
            0);
  EXPECT_EQ(json::parse(ReadFile(out / "mistral.benchmark.json")).at("options").at("hardware"),
            json({"cpu"}));
}

TEST_F(GeneratorsTest, BenchmarkAllModelsStoresEveryTemplateInOneRunAndFailuresAsFailed) {
  // One more template that cannot be built (hidden size 30 for 4 heads) beside the real ones.
  const fs::path extra = dir_ / "templates";
  fs::create_directories(extra);
  std::ofstream(extra / "vit_broken.json") << json{
      {"model_type", "vit_broken"},
      {"inherits", "vit"},
      {"version", 1},
      {"history", {{{"version", 1}, {"reason", "test"}}}},
      {"tiny", {{"hidden_size", 30}}}}.dump();
  env_ = "IPFS_ACCEL_TEMPLATE_PATH=" + extra.string() + " ";
  const Result r = Run("benchmark --all-models --family vit --hardware cpu --db " + db_);
  EXPECT_EQ(r.status, 1) << r.err;  // one model type failed
  EXPECT_NE(r.err.find("template:vit_broken: failed"), std::string::npos) << r.err;
  // Every template of the vit builder (ViT, DINOv2, BEiT, ...) and the broken one.
  const std::vector<std::string> rows = Column(
      "SELECT m.name || ' ' || c.status FROM compatibility_results c JOIN models m "
      "USING (model_id) ORDER BY 1");
  const std::string summary = fmt::format("all models: {} of {} model types succeeded, 1 failed",
                                          rows.size() - 1, rows.size());
  EXPECT_NE(r.out.find(summary), std::string::npos) << r.out;
  EXPECT_EQ(Count("runs"), 1);
  EXPECT_EQ(Column("SELECT state FROM runs"), std::vector<std::string>{"complete"});
  EXPECT_THAT(rows, ::testing::Contains("template:vit ok"));
  EXPECT_THAT(rows, ::testing::Contains("template:vit_broken failed"));
  EXPECT_EQ(std::count_if(rows.begin(), rows.end(),
                          [](const std::string& row) { return row.ends_with(" failed"); }),
            1);
}

}  // namespace generators_test
}  // namespace ipfs_accel
