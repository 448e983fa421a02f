// The dashboard in headless Chromium, driven by Playwright (playwright-core, run by node,
// driving Debian's Chromium by path) against `ipfs-accelerate serve` on loopback:
// dashboard_check.mjs loads /dashboard and checks what this test expects of the database it
// wrote: no console errors, a point per stored configuration, a filter change that redraws the
// charts and lands in the URL (a reload restores it), a regression marker where the stored
// results regress, the matrix of `matrix --json` with the footnotes of `matrix`'s Markdown,
// the recommender ranking the hardware as `select --json` does, and a screenshot.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/store/result_store.h"
#include "support/stored_runs.h"
#include "support/temp_dir.h"

namespace ipfs_accel::testing {
namespace dashboard_test {

namespace fs = std::filesystem;

const char* kChromium = "/usr/lib/chromium/chromium";
const std::string kPlaywright = IPFS_ACCEL_PLAYWRIGHT;
const std::string kScript =
    std::string(IPFS_ACCEL_SOURCE_DIR) + "/tests/server/dashboard_check.mjs";

// A single-stream result of batch `batch` whose 12 samples lie within 1 % of `p50`.
store::PerformanceRecord Result(int64_t batch, double p50, const std::string& precision) {
  std::vector<double> samples;
  for (int k = 0; k < 12; ++k) samples.push_back(p50 * (1 + 0.01 * ((k * 7 % 12) - 5.5) / 6));
  store::PerformanceRecord p = StoredPerformance(samples);
  p.batch_size = batch;
  p.precision = precision;
  p.latency_mean_ms = p.latency_p50_ms = p50;
  p.latency_min_ms = p50 * 0.99;
  p.latency_max_ms = p.latency_p90_ms = p.latency_p99_ms = p50 * 1.01;
  p.throughput_items_per_s = 1000.0 * batch / p50;
  return p;
}

store::CompatibilityRecord Compatibility(const std::string& status, const std::string& precision,
                                         const std::string& error_class = "",
                                         const std::string& message = "") {
  store::CompatibilityRecord c;
  c.execution_provider = "ExecutionProvider";
  c.status = status;
  c.precision = precision;
  c.error_class = error_class;
  c.error_message = message;
  return c;
}

// Three commits of main, a run each, bert-tiny in each: cpu fp32 at batch 1, 2, 4, 8 (p50 2 ms
// per item, but batch 1 doubles at the third commit), wasm fp32 at batch 1 and 2, and cpu fp16
// at batch 1 in the first run only. The third run adds compatibility results: cpu ok, wasm ok
// (fp16 failed), webgpu failed, webnn unavailable.
void WriteFixture(const std::string& path) {
  auto store = store::ResultStore::Open(path);
  const char* commits[] = {"1111aaaa2222", "3333bbbb4444", "5555cccc6666"};
  for (int i = 0; i < 3; ++i) {
    store::RunResults::Entry cpu = StoredEntry("cpu", "Test CPU");
    for (int64_t b : {1, 2, 4, 8})
      cpu.performance.push_back(Result(b, (b == 1 && i == 2) ? 4.0 : 2.0 * b, "fp32"));
    if (i == 0) cpu.performance.push_back(Result(1, 1.5, "fp16"));
    store::RunResults::Entry wasm = StoredEntry("wasm", "Chromium wasm");
    for (int64_t b : {1, 2}) wasm.performance.push_back(Result(b, 9.0 * b, "fp32"));
    std::vector<store::RunResults::Entry> entries = {cpu, wasm};
    if (i == 2) {
      entries[0].compatibility = {Compatibility("ok", "fp32")};
      store::CompatibilityRecord wasm_ok = Compatibility("ok", "fp32");
      wasm_ok.max_abs_error = 2.4e-6;
      entries[1].compatibility = {
          wasm_ok, Compatibility("failed", "fp16", "runtime", "Cast to float16 is not supported")};
      entries.push_back(StoredEntry("webgpu", "SwiftShader"));
      entries.back().compatibility = {
          Compatibility("failed", "fp32", "runtime", "GatherND has no WebGPU kernel")};
      entries.push_back(StoredEntry("webnn", "Chromium WebNN"));
      entries.back().compatibility = {
          Compatibility("unavailable", "fp32", "unavailable", "Chromium has no WebNN backend")};
    }
    const std::string id =
        fmt::format("{0}{0}{0}{0}{0}{0}{0}{0}-0000-4000-8000-00000000000{0}", i + 1);
    store->WriteRun(
        StoredRun(id, fmt::format("2026-11-0{}T10:00:00Z", i + 1), commits[i], "main", entries));
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The program's stdout; the test fails on a non-zero exit.
std::string RunCli(const std::string& args, const TempDir& dir) {
  const std::string out = dir.File("cli.out");
  const int status = std::system((std::string(IPFS_ACCEL_CLI) + " " + args + " >" + out).c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << args;
  return ReadAll(out);
}

// The footnotes of `matrix`'s Markdown ("[n] text  "), Markdown escapes undone.
std::vector<std::string> Footnotes(const std::string& markdown) {
  std::vector<std::string> notes;
  std::istringstream in(markdown);
  const std::regex note(R"(^\[\d+\] (.*?) *$)");
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_match(line, m, note))
      notes.push_back(std::regex_replace(m[1].str(), std::regex(R"(\\(.))"), "$1"));
  return notes;
}

// `ipfs-accelerate serve` in the background; the port it printed.
class Server {
 public:
  Server(const std::string& db, const TempDir& dir) {
    const std::string out = dir.File("serve.out");
    pid_ = fork();
    if (pid_ == 0) {
      std::freopen(out.c_str(), "w", stdout);
      execl(IPFS_ACCEL_CLI, IPFS_ACCEL_CLI, "serve", "--db", db.c_str(), "--port", "0", nullptr);
      _exit(127);
    }
    const std::regex url(R"(http://127\.0\.0\.1:(\d+)/)");
    for (int i = 0; i < 200 && port_ == 0; ++i) {  // up to 10 s for the line
      std::smatch m;
      const std::string text = ReadAll(out);
      if (std::regex_search(text, m, url))
        port_ = std::stoi(m[1]);
      else
        usleep(50'000);
    }
  }
  ~Server() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  int port() const { return port_; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

std::string MissingTool() {
  if (std::system("node --version >/dev/null 2>&1") != 0) return "node is not installed";
  if (!fs::exists(kPlaywright + "/playwright-core/package.json"))
    return "playwright-core is not installed at " + kPlaywright + " (scripts/bootstrap.sh)";
  if (!fs::exists(kChromium)) return std::string("Chromium is not at ") + kChromium;
  return "";
}

TEST(Dashboard, ShowsTheStoredResultsFiltersThroughTheUrlAndMatchesTheCliMatrix) {
  if (const std::string missing = MissingTool(); !missing.empty())
    GTEST_SKIP() << missing << "; the dashboard test needs node, playwright-core and Chromium";
  TempDir dir;
  const std::string db = dir.File("results.duckdb");
  WriteFixture(db);
  // Before the server holds the file.
  nlohmann::json expected;
  expected["matrix"] = nlohmann::json::parse(RunCli("matrix --db " + db + " --json", dir));
  expected["markdown"] = RunCli("matrix --db " + db, dir);
  expected["footnotes"] = Footnotes(expected["markdown"].get<std::string>());
  ASSERT_EQ(expected["footnotes"].size(), 3u) << "the fixture's three results that are not ok";
  expected["results_total"] = 3 * 6 + 1;
  expected["latency_points"] = {{"cpu fp16", 1}, {"cpu fp32", 4}, {"wasm fp32", 2}};
  expected["filter"] = {
      {"name", "platform"}, {"value", "wasm"}, {"latency_points", {{"wasm fp32", 2}}}};
  expected["trend"] = {
      {"commits", 3}, {"series", 7}, {"marks", nlohmann::json::array({"cpu fp32 b1 @ 2"})}};
  // The recommender's question, and `select`'s answer to it.
  expected["recommend"] = {{"model", "bert-tiny\n0"}, {"batch_size", "2"}, {"seq_len", "8"}};
  expected["select"] = nlohmann::json::parse(
      RunCli("select --model bert-tiny --seed 0 -b 2 -s 8 --json --db " + db, dir));
  ASSERT_EQ(expected["select"]["ranked"].size(), 2u) << "cpu and wasm measured at batch 2";
  expected["screenshot"] = dir.File("dashboard.png");
  std::ofstream(dir.File("expected.json")) << expected.dump(2);

  Server server(db, dir);
  ASSERT_GT(server.port(), 0) << "serve printed no address: " << ReadAll(dir.File("serve.out"));
  const std::string log = dir.File("check.log");
  const std::string command = fmt::format(
      "timeout 60 node {} --url http://127.0.0.1:{}/dashboard --expect {} --chromium {} "
      "--playwright {} >{} 2>&1",
      kScript, server.port(), dir.File("expected.json"), kChromium, kPlaywright, log);
  const int status = std::system(command.c_str());
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadAll(log);
  const std::string png = ReadAll(dir.File("dashboard.png"));
  ASSERT_GT(png.size(), 8u) << "no screenshot";
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
}

}  // namespace dashboard_test
}  // namespace ipfs_accel::testing
