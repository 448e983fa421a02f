#pragma once
// The fixture of the end-to-end tests: runs the built program in a fresh folder with its own
// results database and reads back its status, output and stored rows.

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel {

namespace fs = std::filesystem;

const std::string kCli = IPFS_ACCEL_CLI;
const std::string kBertFixture = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/bert";

struct Result {
  int status = -1;
  std::string out, err;
  // Lines of stderr that are not progress lines.
  std::vector<std::string> ErrorLines() const {
    std::vector<std::string> lines;
    std::istringstream in(err);
    for (std::string l; std::getline(in, l);)
      if (l.rfind("ipfs-accelerate:", 0) == 0) lines.push_back(l);
    return lines;
  }
};

inline std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ipfs_accel_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "results.duckdb").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result Run(const std::string& args) {
    const std::string out = (dir_ / "stdout").string(), err = (dir_ / "stderr").string();
    const std::string cmd =
        "env -u BENCHMARK_DB_PATH " + env_ + kCli + " " + args + " >" + out + " 2>" + err;
    const int raw = std::system(cmd.c_str());
    Result r;
    r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    r.out = ReadFile(out);
    r.err = ReadFile(err);
    return r;
  }

  std::string env_;  // NAME=value ... for the program, each followed by a space

  // A copy of the hf-tiny BERT fixture to damage.
  fs::path CopyFixture() {
    const fs::path copy = dir_ / "bert";
    fs::copy(kBertFixture, copy);
    for (const auto& e : fs::directory_iterator(copy))
      fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    return copy;
  }

  int64_t Count(const std::string& table) {
    auto store = store::ResultStore::Open(db_, {.read_only = true});
    return std::stoll(*store->Query("SELECT count(*) FROM " + table).rows.at(0).at(0));
  }

  // Runs a small benchmark so the database holds something to lose.
  void SeedDatabase() {
    const Result r =
        Run("benchmark --model bert-tiny --seq-len 16 --iterations 3 --min-time 0 "
            "--warmup 0 --db " +
            db_);
    ASSERT_EQ(r.status, 0) << r.err;
  }

  // Asserts a failed command: the status, exactly one error line naming `needle`,
  // and the database's rows unchanged.
  void ExpectCleanFailure(const Result& r, int status, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.err;
    const auto lines = r.ErrorLines();
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
    EXPECT_EQ(Count("runs"), 1);
    EXPECT_EQ(Count("performance_results"), 1);
  }

  // A failed command on a database that did not exist: one error line, no file left.
  void ExpectCleanFailureOnFreshDb(const Result& r, int status, const std::string& needle) {
    EXPECT_EQ(r.status, status) << r.err;
    const auto lines = r.ErrorLines();
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(needle), std::string::npos) << lines[0];
  }

  fs::path dir_;
  std::string db_;
};

}  // namespace ipfs_accel
