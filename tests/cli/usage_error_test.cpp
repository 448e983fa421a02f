// Usage errors: every bad option value or unknown argument ends in one line of our form,
// exit 2, and nothing created or stored, checked while the command line is parsed.

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace usage_error_test {

class UsageErrorTest : public CliTest {
 protected:
  // One line "ipfs-accelerate: error: ..." naming `needle`, exit 2, and no database file.
  void ExpectUsageError(const std::string& args, const std::string& needle) {
    SCOPED_TRACE(args);
    const Result r = Run(args + " --db " + db_);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
    EXPECT_EQ(r.err.rfind("ipfs-accelerate: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_LT(r.err.size(), 300u) << r.err;
    EXPECT_FALSE(fs::exists(db_)) << "a database was created for " << args;
  }
};

TEST_F(UsageErrorTest, OutOfRangeNumbersAreOneLineNamingTheRangeInWords) {
  ExpectUsageError("benchmark -m bert-tiny --threads 100000",
                   "--threads: '100000' is not a thread count");
  ExpectUsageError("benchmark -m bert-tiny --threads -1", "thread count");
  ExpectUsageError("benchmark -m bert-tiny --batch-sizes 0",
                   "--batch-sizes: '0' is not a whole number from 1");
  ExpectUsageError("benchmark -m bert-tiny --seq-lens 99999999999", "--seq-lens");
  ExpectUsageError("benchmark -m bert-tiny --iterations abc", "--iterations: 'abc'");
  ExpectUsageError("report --limit -1", "--limit: '-1'");
}

TEST_F(UsageErrorTest, NegativeNanAndInfiniteTimesAreRefusedBeforeAnythingIsCreated) {
  ExpectUsageError("benchmark -m bert-tiny --max-time -5",
                   "--max-time: '-5' is not a finite number");
  ExpectUsageError("benchmark -m bert-tiny --min-time nan", "--min-time: 'nan'");
  ExpectUsageError("benchmark -m bert-tiny --min-time inf", "--min-time: 'inf'");
  ExpectUsageError("benchmark -m bert-tiny --min-time 1e400", "--min-time: '1e400'");
  ExpectUsageError("benchmark -m bert-tiny --config-timeout -1", "--config-timeout");
  ExpectUsageError("benchmark -m bert-tiny --scenario server --target-qps 0", "--target-qps");
}

TEST_F(UsageErrorTest, ANegativeSeedIsRefusedNotWrappedAround) {
  ExpectUsageError("benchmark -m bert-tiny --seed -1", "--seed: '-1' is not a seed");
  ExpectUsageError("benchmark -m bert-tiny --seed 18446744073709551616", "--seed");
  ExpectUsageError("run -m bert-tiny --seed -3", "--seed");
}

TEST_F(UsageErrorTest, CliParseErrorsGetOurPrefixAndPointAtHelp) {
  ExpectUsageError("benchmark --bogus", "see `ipfs-accelerate benchmark --help`");
  ExpectUsageError("compare --baseline a", "--contender is required");
  ExpectUsageError("db query", "see `ipfs-accelerate db query --help`");
  ExpectUsageError("nosuchcommand", "see `ipfs-accelerate --help`");
  ExpectUsageError("compare --baseline a --contender b --alpha 2",
                   "--alpha: '2' is not a probability");
}

TEST_F(UsageErrorTest, HelpAndVersionStillExitZero) {
  EXPECT_EQ(Run("--help").status, 0);
  EXPECT_EQ(Run("benchmark --help").status, 0);
  EXPECT_EQ(Run("--version").status, 0);
}

}  // namespace usage_error_test
}  // namespace ipfs_accel
