// `benchmark --push`: a real sweep's run sent to a real `serve` (both the built CLI, as child
// processes, on loopback) arrives in the server's database; a wrong token is refused and the
// run stays stored locally.

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "support/child_process.h"
#include "test_server.h"

namespace ipfs_accel::testing {
namespace benchmark_push_test {

std::string ReadAll(FILE* f) {
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, f)) out.append(buffer, n);
  fclose(f);
  return out;
}

// A one-configuration bert-tiny sweep into `db`, pushed; returns its exit status and stdout.
std::pair<int, std::string> BenchmarkPushing(const std::string& db, int port,
                                             const std::string& token_file) {
  Child child = Spawn({"benchmark",
                       "--model",
                       "bert-tiny",
                       "--iterations",
                       "3",
                       "--warmup",
                       "0",
                       "--min-time",
                       "0",
                       "--batch-sizes",
                       "1",
                       "--seq-lens",
                       "8",
                       "--db",
                       db,
                       "--format",
                       "json",
                       "--push",
                       "http://127.0.0.1:" + std::to_string(port),
                       "--token-file",
                       token_file});
  std::string out = ReadAll(child.out);
  return {ExitStatus(child.pid), out};
}

TEST(BenchmarkPush, TheFinishedRunIsStoredByTheServerAndAWrongTokenIsRefused) {
  TempDir dir;
  std::ofstream(dir.File("token")) << kToken << "\n";
  std::ofstream(dir.File("wrong")) << "wrong-token-0123456789abcdef\n";
  Child server = Spawn({"serve", "--db", dir.File("server.duckdb"), "--port", "0", "--token-file",
                        dir.File("token")});
  ASSERT_GT(server.pid, 0);
  char line[512] = {};
  ASSERT_NE(fgets(line, sizeof line, server.out), nullptr);
  std::cmatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(http://127\.0\.0\.1:(\d+)/)"))) << line;
  const int port = std::stoi(m[1]);

  const auto [status, out] = BenchmarkPushing(dir.File("local.duckdb"), port, dir.File("token"));
  EXPECT_EQ(status, 0) << out;
  const std::string run_id = nlohmann::json::parse(out, nullptr, false).value("run_id", "");
  ASSERT_FALSE(run_id.empty()) << out;
  httplib::Client client("127.0.0.1", port);
  const Answer runs = ToAnswer(client.Get("/api/runs"));
  ASSERT_EQ(runs.status, 200);
  ASSERT_EQ(runs.body["items"].size(), 1u) << runs.body.dump();
  EXPECT_EQ(run_id.rfind(runs.body["items"][0]["id"].get<std::string>(), 0), 0u)
      << run_id << " " << runs.body.dump();

  const auto [refused, refused_out] =
      BenchmarkPushing(dir.File("local.duckdb"), port, dir.File("wrong"));
  EXPECT_EQ(refused, 6) << refused_out;  // kUnavailable: the server refused
  EXPECT_EQ(ToAnswer(client.Get("/api/runs")).body["total"], 1);

  ASSERT_EQ(kill(server.pid, SIGTERM), 0);
  fclose(server.out);
  EXPECT_EQ(ExitStatus(server.pid), 0);
}

}  // namespace benchmark_push_test
}  // namespace ipfs_accel::testing
