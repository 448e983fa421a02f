// POST /api/runs: a run export stored in one transaction behind the bearer token; duplicates add
// nothing; bodies over the limit are refused with 413.

#include <gtest/gtest.h>

#include "ipfs_accel/store/json_import.h"
#include "test_server.h"

namespace ipfs_accel::testing {
namespace push_test {

constexpr const char* kRunC = "cccccccc-0000-4000-8000-000000000003";
constexpr const char* kRunD = "dddddddd-0000-4000-8000-000000000004";

std::string Export(const std::string& run_id, const std::string& started) {
  store::RunResults::Entry e = StoredEntry("cuda", "Test GPU");
  e.performance = {Result(1, 0.5, "fp16"), Result(8, 1.5, "fp16")};
  return store::RunResultsToJson(StoredRun(run_id, started, "0123abc", "main", {e})).dump();
}

Answer Push(const TestServer& server, const std::string& body,
            const std::optional<std::string>& token) {
  httplib::Headers headers;
  if (token) headers.emplace("Authorization", "Bearer " + *token);
  return ToAnswer(server.Client().Post("/api/runs", headers, body, "application/json"));
}

int64_t StoredRuns(const TestServer& server) {
  const Answer a = ToAnswer(server.Client().Get("/api/runs"));
  return a.body.value("total", int64_t{-1});
}

TEST(PushRuns, WithoutOrWithAWrongTokenIs401AndStoresNothing) {
  TestServer server;
  EXPECT_EQ(Push(server, Export(kRunC, "2026-12-03T10:00:00Z"), std::nullopt).status, 401);
  EXPECT_EQ(Push(server, Export(kRunC, "2026-12-03T10:00:00Z"), "wrong-token-0123456789").status,
            401);
  EXPECT_EQ(StoredRuns(server), 2);
}

TEST(PushRuns, StoresARunOnceAndADuplicateAddsNothing) {
  TestServer server;
  const Answer first = Push(server, Export(kRunC, "2026-12-03T10:00:00Z"), kToken);
  ASSERT_EQ(first.status, 201) << first.body.dump();
  EXPECT_EQ(first.body["stored"], nlohmann::json::array({kRunC}));
  EXPECT_EQ(first.body["performance_results"], 2);
  const Answer again = Push(server, Export(kRunC, "2026-12-03T10:00:00Z"), kToken);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body["stored"].size(), 0u);
  EXPECT_EQ(again.body["duplicates"], nlohmann::json::array({kRunC}));
  // An array: the duplicate is skipped, the new run stored.
  const std::string both = "[" + Export(kRunC, "2026-12-03T10:00:00Z") + "," +
                           Export(kRunD, "2026-12-04T10:00:00Z") + "]";
  const Answer mixed = Push(server, both, kToken);
  EXPECT_EQ(mixed.status, 201);
  EXPECT_EQ(mixed.body["stored"], nlohmann::json::array({kRunD}));
  EXPECT_EQ(StoredRuns(server), 4);
  const Answer results = ToAnswer(server.Client().Get("/api/results?platform=cuda"));
  EXPECT_EQ(results.body["total"], 4);
  // The pushed run keeps the origin it was measured with: it is not an import.
  const Answer origin = ToAnswer(server.Client().Post(
      "/api/sql",
      nlohmann::json{{"sql", std::string("SELECT origin FROM runs WHERE run_id = '") + kRunC + "'"}}
          .dump(),
      "application/json"));
  EXPECT_EQ(origin.body["rows"][0]["origin"], "measured");
}

TEST(PushRuns, ABodyThatIsNotARunExportIs400AndOneOverTheLimitIs413) {
  TestServer server;  // 1 MiB limit
  EXPECT_EQ(Push(server, "{\"format\": \"ipfs-accelerate-run\"", kToken).status, 400);
  EXPECT_EQ(Push(server, R"({"batch_sizes": {}, "model": "bert"})", kToken).status, 400);
  EXPECT_EQ(Push(server, R"({"hello": "world"})", kToken).status, 400);
  const Answer big = Push(server, std::string(2 << 20, ' ') + "{}", kToken);
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(big.body["status"], 413);
  EXPECT_EQ(StoredRuns(server), 2);
}

TEST(PushRuns, AServerWithoutATokenTakesNoWrites) {
  TestServer server(TestServer::Options{.with_token = false});
  EXPECT_EQ(Push(server, Export(kRunC, "2026-12-03T10:00:00Z"), kToken).status, 403);
  EXPECT_EQ(StoredRuns(server), 2);
}

}  // namespace push_test
}  // namespace ipfs_accel::testing
