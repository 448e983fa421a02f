// The server on loopback: every endpoint's answer and its errors, against the fixture database
// (test_server.h) whose contents the expected figures come from.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "ipfs_accel/models/templates.h"
#include "ipfs_accel/store/json_import.h"
#include "test_server.h"

namespace ipfs_accel::testing {
namespace server_test {

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static Answer Get(const std::string& target) {
    return ToAnswer(server_->Client().Get(target.c_str()));
  }
  static int64_t Total(const std::string& target) {
    const Answer a = Get(target);
    EXPECT_EQ(a.status, 200) << target << ": " << a.body.dump();
    return a.body.value("total", int64_t{-1});
  }
  static TestServer* server_;
};
TestServer* ServerTest::server_ = nullptr;

TEST_F(ServerTest, HealthNamesTheDatabaseAndItsSchemaVersion) {
  const Answer a = Get("/api/health");
  ASSERT_EQ(a.status, 200);
  EXPECT_EQ(a.body["status"], "ok");
  EXPECT_EQ(a.body["schema_version"], store::CurrentSchemaVersion());
  EXPECT_EQ(a.body["database"], server_->path());
}

TEST_F(ServerTest, RunsArePagedNewestFirstWithTheirTotalAndFiltered) {
  const Answer all = Get("/api/runs");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.body["total"], 2);
  ASSERT_EQ(all.body["items"].size(), 2u);
  EXPECT_EQ(all.body["items"][0]["run_id"], kRunB);
  EXPECT_EQ(all.body["items"][1]["results"], 3);  // a JSON number
  const Answer second = Get("/api/runs?limit=1&offset=1");
  EXPECT_EQ(second.body["total"], 2);
  ASSERT_EQ(second.body["items"].size(), 1u);
  EXPECT_EQ(second.body["items"][0]["run_id"], kRunA);
  EXPECT_EQ(Total("/api/runs?commit=abc"), 1);
  EXPECT_EQ(Total("/api/runs?branch=main"), 2);
  EXPECT_EQ(Total("/api/runs?from=2026-12-02"), 1);
  EXPECT_EQ(Total("/api/runs?to=2026-12-01"), 1);  // a date alone: the whole day
  EXPECT_EQ(Total("/api/runs?to=2026-12-01T09:00:00Z"), 0);
  EXPECT_EQ(Get("/api/runs?state=finished").status, 400);
  EXPECT_EQ(Get("/api/runs?limit=0").status, 400);
  EXPECT_EQ(Get("/api/runs?from=yesterday").status, 400);
}

TEST_F(ServerTest, ResultsFilterByEveryAxisWithValuesBoundNotQuoted) {
  EXPECT_EQ(Total("/api/results"), 6);
  EXPECT_EQ(Total("/api/results?platform=wasm"), 1);
  EXPECT_EQ(Total("/api/results?hardware=cpu"), 5);
  EXPECT_EQ(Total("/api/results?batch=4"), 2);
  EXPECT_EQ(Total("/api/results?precision=fp16"), 1);
  EXPECT_EQ(Total("/api/results?scenario=single-stream"), 6);
  EXPECT_EQ(Total("/api/results?commit=def5678"), 3);
  EXPECT_EQ(Total("/api/results?run=aaaaaaaa"), 3);
  EXPECT_EQ(Total("/api/results?from=2026-12-02T00:00:00Z"), 3);
  EXPECT_EQ(Total("/api/results?to=2026-12-01"), 3);
  EXPECT_EQ(Total("/api/results?model=bert-tiny&device=Test%20CPU"), 5);
  // The latest result of each configuration: cpu b1, cpu b4, cpu fp16 b1, wasm b1.
  EXPECT_EQ(Total("/api/results?latest=true"), 4);
  EXPECT_EQ(Total("/api/results?model=x%27%20OR%20%271%27%3D%271"), 0);  // x' OR '1'='1
  const Answer page = Get("/api/results?limit=2&offset=5&batch=1");
  EXPECT_EQ(page.body["total"], 4);
  EXPECT_EQ(page.body["items"].size(), 0u);
  const Answer one = Get("/api/results?platform=wasm");
  const auto& row = one.body["items"][0];
  EXPECT_TRUE(row["latency_p50_ms"].is_number_float());
  EXPECT_DOUBLE_EQ(row["latency_p50_ms"].get<double>(), 9.0);
  EXPECT_TRUE(row["batch_size"].is_number_integer());
  EXPECT_EQ(row["started_at"], "2026-12-01T10:00:00Z");
  EXPECT_EQ(row["run_id"], kRunA);
  for (const char* bad : {"batch=0", "batch=two", "scenario=batch", "graph=huge", "latest=1",
                          "limit=10001", "offset=-1", "colour=red"})
    EXPECT_EQ(Get(std::string("/api/results?") + bad).status, 400) << bad;
  const Answer bad = Get("/api/results?batch=two");
  EXPECT_EQ(bad.body["error"].get<std::string>().find('\n'), std::string::npos);
}

TEST_F(ServerTest, ModelsAndHardwareListWhatIsStoredWithResultCounts) {
  const Answer models = Get("/api/models");
  ASSERT_EQ(models.body["total"], 1);
  EXPECT_EQ(models.body["items"][0]["name"], "bert-tiny");
  EXPECT_EQ(models.body["items"][0]["results"], 6);
  EXPECT_EQ(Total("/api/models?modality=vision"), 0);
  const Answer cpu = Get("/api/hardware?platform=cpu");
  ASSERT_EQ(cpu.body["total"], 1);
  EXPECT_EQ(cpu.body["items"][0]["results"], 5);
  EXPECT_TRUE(cpu.body["items"][0]["details"].is_object());
  EXPECT_EQ(Total("/api/hardware"), 2);
}

TEST_F(ServerTest, ReportsOfEveryKindAndTheirErrors) {
  const Answer performance = Get("/api/reports/performance");
  ASSERT_EQ(performance.status, 200) << performance.body.dump();
  EXPECT_EQ(performance.body["table"]["rows"].size(), 3u);  // the latest run's configurations
  for (const char* kind : {"hardware", "trend", "compatibility"})
    EXPECT_EQ(Get(std::string("/api/reports/") + kind).status, 200) << kind;
  EXPECT_EQ(Get("/api/reports/regressions?baseline=abc1234&contender=def5678").status, 200);
  EXPECT_EQ(Get("/api/reports/regressions?baseline=abc1234").status, 400);
  EXPECT_EQ(Get("/api/reports/speed").status, 400);
  EXPECT_EQ(Get("/api/reports/performance?run=ffffffff").status, 404);
}

TEST_F(ServerTest, CompareAnswersAsTheCommandDoes) {
  const Answer a = Get("/api/compare?baseline=abc1234&contender=def5678");
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body["contender_run_id"], kRunB);
  EXPECT_EQ(a.body["baseline"]["kind"], "commit");
  EXPECT_EQ(a.body["table"]["rows"].size(), 4u);  // three configurations in both, one not
  EXPECT_EQ(Get("/api/compare?baseline=abc1234").status, 400);
  EXPECT_EQ(Get("/api/compare?baseline=nosuchbranch&contender=def5678").status, 404);
}

TEST_F(ServerTest, TemplatesAreThoseOfThisBuildAndPredictionsAreEmptyHere) {
  int64_t concrete = 0;
  for (const auto& t : models::Templates()) concrete += !t.abstract;
  EXPECT_EQ(Total("/api/templates?limit=1"), concrete);
  const Answer llama = Get("/api/templates/llama");
  ASSERT_EQ(llama.status, 200);
  EXPECT_EQ(llama.body["model_type"], "llama");
  EXPECT_EQ(Get("/api/templates/no-such-model").status, 404);
  EXPECT_EQ(Total("/api/predictions"), 0);
}

TEST_F(ServerTest, UnknownPathsAre404WithAJsonBody) {
  for (const char* path : {"/api", "/api/", "/api/nothing", "/api/runs/x/y"}) {
    const Answer a = Get(path);
    EXPECT_EQ(a.status, 404) << path;
    EXPECT_EQ(a.body["status"], 404) << path;
  }
}

TEST_F(ServerTest, DocsPageRendersTheDocumentAndLoadsNothingFromElsewhere) {
  const auto r = server_->Client().Get("/docs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/html"), std::string::npos);
  EXPECT_NE(r->body.find("fetch('/openapi.json')"), std::string::npos);
  EXPECT_EQ(r->body.find("src="), std::string::npos);
  EXPECT_EQ(r->body.find("<link"), std::string::npos);
}

}  // namespace server_test
}  // namespace ipfs_accel::testing

namespace ipfs_accel::testing {
namespace server_test {

// What a CLI command prints for the fixture database (a copy: the server holds its own file).
nlohmann::json CliJson(const std::string& args) {
  TempDir dir;
  const std::string db = dir.File("copy.duckdb");
  WriteFixture(db);
  const std::string out = dir.File("out.json");
  const std::string command =
      std::string(IPFS_ACCEL_CLI) + " " + args + " --db " + db + " > " + out + " 2>/dev/null";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(out);
  return nlohmann::json::parse(in, nullptr, false);
}

TEST_F(ServerTest, RunsAndTheMatrixAreWhatTheCommandsPrint) {
  const nlohmann::json cli_runs = CliJson("runs list --all --format json");
  EXPECT_EQ(Get("/api/runs").body["items"], cli_runs);
  nlohmann::json cli_matrix = CliJson("matrix --format json");
  nlohmann::json api_matrix = Get("/api/matrix").body;
  for (auto* m : {&cli_matrix, &api_matrix}) {  // when and where from differ, nothing else
    m->erase("generated_at");
    m->erase("database");
  }
  EXPECT_EQ(api_matrix, cli_matrix);
}

TEST_F(ServerTest, SelectRanksTheHardwareAsTheCommandDoesAndRefusesPathsAndUnmeasuredShapes) {
  const std::string query = "model=bert-tiny&seed=0&batch_size=1&seq_len=8";
  const Answer a = Get("/api/select?" + query);
  ASSERT_EQ(a.status, 200) << a.body.dump();
  EXPECT_EQ(a.body, CliJson("select --model bert-tiny --seed 0 -b 1 -s 8 --json"));
  ASSERT_EQ(a.body["ranked"].size(), 2u);
  EXPECT_EQ(a.body["ranked"][0]["origin"], "measured");
  EXPECT_EQ(a.body["ranked"][0]["run_id"], kRunB);  // the newer of run A's 2.0 and B's 2.1 ms
  EXPECT_DOUBLE_EQ(a.body["ranked"][0]["latency_ms"].get<double>(), 2.1);
  const Answer tight = Get("/api/select?" + query + "&metric=memory&max_memory_gb=0.000001");
  ASSERT_EQ(tight.status, 200) << tight.body.dump();
  EXPECT_TRUE(tight.body["ranked"].empty());
  EXPECT_EQ(tight.body["excluded"].size(), 2u);
  EXPECT_EQ(Get("/api/select?model=/etc/passwd").status, 400);  // the API reads no paths
  EXPECT_EQ(Get("/api/select?" + query + "&metric=speed").status, 400);
  EXPECT_EQ(Get("/api/select?model=bert-tiny&seed=0&batch_size=3&seq_len=8").status, 404);
}

}  // namespace server_test
}  // namespace ipfs_accel::testing
