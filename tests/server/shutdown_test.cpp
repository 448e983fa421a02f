// `ipfs-accelerate serve` as a child process: the port it prints, SIGTERM with a request in
// flight (it finishes, or gets 503), a clean exit, and a database that passes `db check`.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <regex>

#include "support/child_process.h"
#include "test_server.h"

namespace ipfs_accel::testing {
namespace shutdown_test {

TEST(Serve, SigtermLetsTheRequestInFlightEndAndLeavesADatabaseThatPassesItsCheck) {
  TempDir dir;
  const std::string db = dir.File("results.duckdb");
  WriteFixture(db);
  // Four workers: the idle connection, the query, and the probes below each hold one.
  Child child = Spawn({"serve", "--db", db, "--port", "0", "--workers", "4"});
  ASSERT_GT(child.pid, 0);
  char line[512] = {};
  ASSERT_NE(fgets(line, sizeof line, child.out), nullptr);
  std::cmatch m;
  ASSERT_TRUE(std::regex_search(line, m, std::regex(R"(http://127\.0\.0\.1:(\d+)/)"))) << line;
  const int port = std::stoi(m[1]);

  httplib::Client idle("127.0.0.1", port);  // a kept-alive connection, idle at the signal
  idle.set_keep_alive(true);
  ASSERT_EQ(ToAnswer(idle.Get("/api/health")).status, 200);
  // A query that takes a while, in flight when the signal comes.
  auto in_flight = std::async(std::launch::async, [port] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(120, 0);
    return ToAnswer(client.Post(
        "/api/sql",
        R"({"sql": "SELECT sum(hash(a.range + b.range)) AS s FROM range(20000) a, range(5000) b"})",
        "application/json"));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  // Once no new connection is taken, the server is draining: the idle connection's next
  // request is answered 503.
  for (int i = 0; i < 200; ++i) {
    httplib::Client probe("127.0.0.1", port);
    if (!probe.Get("/api/health")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ToAnswer(idle.Get("/api/health")).status, 503);
  const Answer finished = in_flight.get();
  EXPECT_TRUE(finished.status == 200 || finished.status == 503) << finished.status;
  EXPECT_EQ(ExitStatus(child.pid), 0);
  fclose(child.out);

  Child check = Spawn({"db", "check", "--db", db});
  char ignored[4096];
  while (fgets(ignored, sizeof ignored, check.out) != nullptr) {
  }
  fclose(check.out);
  EXPECT_EQ(ExitStatus(check.pid), 0);
}

TEST(Serve, APortInUseIsOneLineAndExit8) {
  TestServer server;
  Child child =
      Spawn({"serve", "--db", server.path() + ".other", "--port", std::to_string(server.port())});
  char ignored[512];
  while (fgets(ignored, sizeof ignored, child.out) != nullptr) {
  }
  fclose(child.out);
  EXPECT_EQ(ExitStatus(child.pid), 8);
}

}  // namespace shutdown_test
}  // namespace ipfs_accel::testing
