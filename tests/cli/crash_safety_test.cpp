// Faults a user's machine will see: the process killed with SIGKILL at random moments of a
// sweep, an import and a backup (seeded, so a failing trial can be replayed), and four sweeps
// writing into one database at once. After each: the database opens, `db check` passes, and
// nothing the program reported as stored is missing.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"
#include "ipfs_accel/store/json_import.h"

namespace ipfs_accel {
namespace crash_safety_test {

class CrashSafetyTest : public CliTest {
 protected:
  // Starts the program with `args` (split at spaces), stderr into `err`; returns its pid.
  pid_t Spawn(const std::string& args, const fs::path& err) {
    std::vector<std::string> words{kCli};
    std::istringstream in(args);
    for (std::string w; in >> w;) words.push_back(w);
    const pid_t pid = fork();
    if (pid == 0) {
      const int fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int null = ::open("/dev/null", O_WRONLY);
      dup2(fd, 2);
      dup2(null, 1);
      unsetenv("BENCHMARK_DB_PATH");
      std::vector<char*> argv;
      for (auto& w : words) argv.push_back(w.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }

  // Kills `pid` with SIGKILL after `delay` (unless it ended before); true when it was killed.
  static bool KillAfter(pid_t pid, std::chrono::microseconds delay) {
    std::this_thread::sleep_for(delay);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status);
  }

  static int CountLines(const fs::path& file, const std::string& needle) {
    std::ifstream in(file);
    int n = 0;
    for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
    return n;
  }

  int64_t CountWhere(const std::string& sql) {
    auto store = store::ResultStore::Open(db_, {.read_only = true});
    return std::stoll(*store->Query(sql).rows.at(0).at(0));
  }

  // The database opens and `db check` finds no problem.
  void ExpectHealthy(const std::string& trial) {
    const Result check = Run("db check --db " + db_);
    EXPECT_EQ(check.status, 0) << trial << ": " << check.out << check.err;
  }
};

constexpr int kSweepTrials = 60;

TEST_F(CrashSafetyTest, ASweepKilledAtRandomMomentsKeepsEveryConfigurationItReportedStored) {
  SeedDatabase();
  const std::string sweep =
      "benchmark --model bert-tiny --seq-len 8 --batch-sizes 1,2,3,4,5,6 --threads 1 "
      "--iterations 10 --min-time 0 --warmup 0 --db " +
      db_;
  int killed = 0, mid_sweep = 0;
  for (int trial = 0; trial < kSweepTrials; ++trial) {
    std::mt19937 rng(trial);
    const auto delay =
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 900000)(rng));
    const int64_t before = Count("performance_results");
    const fs::path err = dir_ / "sweep.err";
    const pid_t pid = Spawn(sweep, err);
    killed += KillAfter(pid, delay);
    const std::string label = "trial " + std::to_string(trial) + " (killed after " +
                              std::to_string(delay.count()) + " us)";
    ExpectHealthy(label);
    const int reported = CountLines(err, "; stored");
    const int64_t stored = Count("performance_results") - before;
    // Everything reported is there; at most one more (stored, then killed before saying so).
    EXPECT_GE(stored, reported) << label;
    EXPECT_LE(stored, reported + 1) << label;
    mid_sweep += reported > 0 && reported < 6;
  }
  EXPECT_EQ(CountWhere("SELECT count(*) FROM runs WHERE state = 'interrupted'"), 0);
  std::cerr << "sweep kill trials: " << kSweepTrials << ", killed " << killed
            << ", killed between the first and the last configuration " << mid_sweep << "\n";
  EXPECT_GT(killed, kSweepTrials / 2);  // the delays reach into the sweep, not past it
}

TEST_F(CrashSafetyTest, CtrlCStopsASweepKeepingWhatFinishedAndMarksItsRunInterrupted) {
  const fs::path err = dir_ / "sweep.err";
  const pid_t pid = Spawn(
      "benchmark --model bert-tiny --seq-len 8 --batch-sizes 1,2,3,4,5,6,7,8 --threads 1 "
      "--iterations 20 --min-time 0.3 --warmup 0 --db " +
          db_,
      err);
  // Interrupt once the first configuration is stored.
  for (int waited = 0; CountLines(err, "; stored") == 0 && waited < 600; ++waited)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  kill(pid, SIGINT);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << ReadFile(err);
  EXPECT_EQ(WEXITSTATUS(status), 130) << ReadFile(err);
  const std::string text = ReadFile(err);
  EXPECT_NE(text.find("stopped by SIGINT: "), std::string::npos) << text;
  EXPECT_NE(text.find("configurations finished and kept in run"), std::string::npos) << text;
  EXPECT_EQ(CountWhere("SELECT count(*) FROM runs WHERE state = 'interrupted' AND finished_at "
                       "IS NOT NULL"),
            1);
  const int reported = CountLines(err, "; stored");
  EXPECT_GE(reported, 1);
  EXPECT_LT(reported, 8);
  EXPECT_EQ(Count("performance_results"), reported);
  ExpectHealthy("after Ctrl-C");
}

// A run export of `rows` performance results (written by the library, read by `db import`).
void WriteExport(const fs::path& path, int rows, int index) {
  store::RunResults r;
  r.run.run_id = "00000000-0000-4000-8000-00000000000" + std::to_string(index);
  r.run.started_at = "2026-11-26T15:04:05Z";
  r.run.finished_at = "2026-11-26T15:09:59Z";
  r.run.tool_version = "0.1.0";
  r.run.git_commit = "abc";
  r.run.command_line = "x";
  r.run.hostname = "h";
  r.run.os = "Linux";
  store::RunResults::Entry e;
  e.model = {"m", "bert", "text", "catalog", "", 1, "seed:1"};
  e.hardware = {"cpu", "x", "h", "{}"};
  for (int i = 0; i < rows; ++i) {
    store::PerformanceRecord p;
    p.execution_provider = "CPUExecutionProvider";
    p.batch_size = 1 + i;
    p.iterations = 3;
    p.latency_mean_ms = p.latency_p50_ms = p.latency_p99_ms = 1.0 + i;
    p.samples_ms = {1.0 + i, 1.0 + i, 1.0 + i};
    e.performance.push_back(p);
  }
  r.entries.push_back(e);
  std::ofstream(path) << store::RunResultsToJson(r).dump();
}

TEST_F(CrashSafetyTest, AnImportKilledAtAnyMomentImportsAllOfItsFilesOrNone) {
  std::string files;
  for (int f = 0; f < 3; ++f) {
    WriteExport(dir_ / ("export" + std::to_string(f) + ".json"), 20000, f);
    files += " " + (dir_ / ("export" + std::to_string(f) + ".json")).string();
  }
  // How long a whole import takes here: the kills fall within it.
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(Run("db import" + files + " --db " + (dir_ / "timing.duckdb").string()).status, 0);
  const auto whole =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  SeedDatabase();
  const std::string seeded = db_;
  int none = 0, all = 0;
  for (int trial = 0; trial < 12; ++trial) {
    db_ = (dir_ / ("import" + std::to_string(trial) + ".duckdb")).string();
    fs::copy_file(seeded, db_);
    std::mt19937 rng(1000 + trial);
    const auto delay = std::chrono::microseconds(
        std::uniform_int_distribution<int64_t>(0, whole.count() * 3 / 2)(rng));
    const pid_t pid = Spawn("db import" + files + " --db " + db_, dir_ / "import.err");
    KillAfter(pid, delay);
    ExpectHealthy("import trial " + std::to_string(trial));
    const int64_t runs = Count("runs") - 1;
    EXPECT_TRUE(runs == 0 || runs == 3) << runs << " of 3 runs after trial " << trial;
    EXPECT_EQ(Count("performance_results") - 1, runs * 20000);
    (runs == 0 ? none : all) += 1;
  }
  std::cerr << "import kill trials: 12 (whole import " << whole.count() / 1000 << " ms), none "
            << none << ", all " << all << "\n";
  EXPECT_GT(none, 0);  // some kills landed before the commit
  db_ = seeded;
}

TEST_F(CrashSafetyTest, ABackupKilledAtAnyMomentLeavesNoBackupOrAWholeOne) {
  SeedDatabase();
  WriteExport(dir_ / "big.json", 50000, 7);
  ASSERT_EQ(Run("db import " + (dir_ / "big.json").string() + " --db " + db_).status, 0);
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(Run("db backup " + (dir_ / "timing.duckdb").string() + " --db " + db_).status, 0);
  const auto took =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  int whole = 0;
  for (int trial = 0; trial < 10; ++trial) {
    std::mt19937 rng(2000 + trial);
    const auto delay =
        std::chrono::microseconds(std::uniform_int_distribution<int64_t>(0, took.count() * 2)(rng));
    const fs::path dest = dir_ / ("backup" + std::to_string(trial) + ".duckdb");
    const pid_t pid = Spawn("db backup " + dest.string() + " --db " + db_, dir_ / "backup.err");
    KillAfter(pid, delay);
    ExpectHealthy("backup trial " + std::to_string(trial));
    if (!fs::exists(dest)) continue;
    const Result check = Run("db check --db " + dest.string());
    EXPECT_EQ(check.status, 0) << "trial " << trial << ": " << check.err;
    auto copy = store::ResultStore::Open(dest.string(), {.read_only = true});
    EXPECT_EQ(*copy->Query("SELECT count(*) FROM performance_results").rows.at(0).at(0), "50001");
    ++whole;
  }
  std::cerr << "backup kill trials: 10, whole backups " << whole << "\n";
}

TEST_F(CrashSafetyTest, FourSweepsIntoOneDatabaseAtOnceLoseNoRow) {
  SeedDatabase();
  std::vector<pid_t> pids;
  for (int w = 0; w < 4; ++w)
    pids.push_back(Spawn(
        "benchmark --model bert-tiny --seq-len 8 --batch-sizes 1,2,3 --threads 1 --iterations "
        "20 --min-time 0 --warmup 0 --db " +
            db_,
        dir_ / ("writer" + std::to_string(w) + ".err")));
  for (size_t w = 0; w < pids.size(); ++w) {
    int status = 0;
    ASSERT_EQ(waitpid(pids[w], &status, 0), pids[w]);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "writer " << w << ": " << ReadFile(dir_ / ("writer" + std::to_string(w) + ".err"));
  }
  EXPECT_EQ(CountWhere("SELECT count(*) FROM runs WHERE state = 'complete'"), 5);
  EXPECT_EQ(Count("performance_results"), 1 + 4 * 3);
  ExpectHealthy("after four writers");
}

}  // namespace crash_safety_test
}  // namespace ipfs_accel
