// The benchmark command on the browser platforms, end to end: headless Chromium runs the
// model through onnxruntime-web, and the stored results say which browser, runtime, threads
// and isolation produced them, with the outputs compared against native CPU fp32.

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ipfs_accel/store/result_store.h"
#include "support/temp_dir.h"

namespace ipfs_accel {
namespace cli_browser_test {

namespace fs = std::filesystem;

constexpr const char* kChromium = "/usr/lib/chromium/chromium";

int RunCli(const std::string& args, const testing::TempDir& dir, std::string* err) {
  const std::string cmd = "env -u BENCHMARK_DB_PATH " + std::string(IPFS_ACCEL_CLI) + " " + args +
                          " >" + dir.File("stdout") + " 2>" + dir.File("stderr");
  const int raw = std::system(cmd.c_str());
  std::ifstream in(dir.File("stderr"));
  err->assign(std::istreambuf_iterator<char>(in), {});
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

TEST(CliBrowser, BenchmarkOnWasmStoresBrowserAndIsolation) {
  if (!fs::exists(kChromium)) GTEST_SKIP() << kChromium << " is not installed";
  testing::TempDir dir;
  const std::string db = dir.File("results.duckdb");
  std::string err;
  const int status = RunCli(
      "benchmark -m bert-tiny --seq-lens 16 --hardware wasm,webnn --threads 1,2 --iterations 5 "
      "--min-time 0 --db " +
          db,
      dir, &err);
  if (err.find("onnxruntime-web is not installed") != std::string::npos)
    GTEST_SKIP() << "onnxruntime-web is not installed (scripts/bootstrap.sh)";
  EXPECT_EQ(status, 6) << err;  // webnn named and unavailable: recorded, and said so
  auto store = store::ResultStore::Open(db, {.read_only = true});
  const auto perf = store->Query(
      "SELECT threads, session_options_json, runtime_version, execution_provider "
      "FROM performance_results ORDER BY threads");
  ASSERT_EQ(perf.rows.size(), 2u) << err;
  for (size_t i = 0; i < 2; ++i) {
    const auto options = nlohmann::json::parse(*perf.rows[i][1]);
    EXPECT_EQ(options.at("threads"), static_cast<int>(i) + 1) << *perf.rows[i][1];
    EXPECT_EQ(options.at("cross_origin_isolated"), true) << *perf.rows[i][1];
    EXPECT_FALSE(options.at("browser").at("version").get<std::string>().empty());
    EXPECT_NE(perf.rows[i][2]->find("onnxruntime-web 1.30.0"), std::string::npos);
    EXPECT_EQ(*perf.rows[i][3], "wasm");
  }
  // wasm's outputs were compared with the CPU's; webnn is recorded with the browser's words.
  const auto compat = store->Query(
      "SELECT h.platform, c.status, c.max_abs_error, c.error_message FROM compatibility_results "
      "c JOIN hardware_platforms h USING (hardware_id) ORDER BY h.platform");
  ASSERT_EQ(compat.rows.size(), 2u);
  EXPECT_EQ(*compat.rows[0][0], "wasm");
  EXPECT_EQ(*compat.rows[0][1], "ok");
  ASSERT_TRUE(compat.rows[0][2].has_value());
  EXPECT_LT(std::stod(*compat.rows[0][2]), 1e-4);
  EXPECT_EQ(*compat.rows[1][0], "webnn");
  EXPECT_EQ(*compat.rows[1][1], "unavailable");
  EXPECT_NE(compat.rows[1][3]->find("createContext"), std::string::npos) << *compat.rows[1][3];
}

// --scenario load: the hf-tiny CLIP's two towers loaded in the page one after the other and all
// at once, each way a stored result of the page's load times; models without parts and native
// platforms are refused before anything runs.
TEST(CliBrowser, LoadScenarioStoresSequentialAndConcurrentLoading) {
  if (!fs::exists(kChromium)) GTEST_SKIP() << kChromium << " is not installed";
  testing::TempDir dir;
  const std::string db = dir.File("results.duckdb");
  const std::string clip = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/clip";
  std::string err;
  const int status =
      RunCli("benchmark -m " + clip + " --scenario load --hardware wasm --iterations 2 --db " + db,
             dir, &err);
  if (err.find("onnxruntime-web is not installed") != std::string::npos)
    GTEST_SKIP() << "onnxruntime-web is not installed (scripts/bootstrap.sh)";
  ASSERT_EQ(status, 0) << err;
  {
    auto store = store::ResultStore::Open(db, {.read_only = true});
    const auto perf = store->Query(
        "SELECT json_extract_string(provider_options_json, '$.load'), len(samples_ms), "
        "latency_min_ms, json_extract_string(provider_options_json, '$.parts') "
        "FROM performance_results WHERE scenario = 'load' ORDER BY 1");
    ASSERT_EQ(perf.rows.size(), 2u) << err;
    EXPECT_EQ(*perf.rows[0][0], "concurrent");
    EXPECT_EQ(*perf.rows[1][0], "sequential");
    for (const auto& row : perf.rows) {
      EXPECT_EQ(*row[1], "2");
      EXPECT_GT(std::stod(*row[2]), 0.0);
      EXPECT_EQ(*row[3], R"(["text_model","vision_model"])");
    }
  }
  EXPECT_EQ(RunCli("benchmark -m bert-tiny --scenario load --hardware wasm --db " + db, dir, &err),
            2);
  EXPECT_NE(err.find("0 parts"), std::string::npos) << err;
  EXPECT_EQ(
      RunCli("benchmark -m " + clip + " --scenario load --hardware cpu --db " + db, dir, &err), 2);
  EXPECT_NE(err.find("not a browser platform"), std::string::npos) << err;
}

}  // namespace cli_browser_test
}  // namespace ipfs_accel
