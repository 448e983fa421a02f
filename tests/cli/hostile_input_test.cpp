// Hostile input end to end, as an attacker or an unlucky user would hand it over: every case
// ends with its documented exit status, one line naming the thing, and the results database
// exactly as it was. One row per input; the classes follow issue 14's list.

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "cli/cli_fixture.h"

namespace ipfs_accel {
namespace hostile_input_test {

struct HostileCase {
  const char* name;
  // Makes the input in `dir` and returns the arguments (the database option is added).
  std::string (*make)(const fs::path& dir);
  int status;
  const char* needle;
  bool takes_db = true;  // run and verify have no --db
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

std::string Fifo(const fs::path& dir) {
  const fs::path p = dir / "pipe";
  ::mkfifo(p.c_str(), 0600);
  return p.string();
}

std::string Loop(const fs::path& dir) {
  fs::create_symlink(dir / "b", dir / "a");
  fs::create_symlink(dir / "a", dir / "b");
  return (dir / "a").string();
}

// A copy of the BERT fixture with `index` as its shard index instead of model.safetensors.
fs::path ShardedFolder(const fs::path& dir, const std::string& index) {
  const fs::path folder = dir / "model";
  fs::create_directories(folder);
  fs::copy_file(kBertFixture + "/config.json", folder / "config.json");
  std::ofstream(folder / "model.safetensors.index.json") << index;
  return folder;
}

std::string Write(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path.string();
}

const HostileCase kCases[] = {
    // Paths that are not regular files: refused by what they are, nothing blocks.
    {"ModelIsAFifo", [](const fs::path& d) { return "benchmark -m " + Fifo(d); }, 2, "FIFO"},
    {"ModelIsALinkLoop", [](const fs::path& d) { return "benchmark -m " + Loop(d); }, 2,
     "symbolic link loop"},
    {"ImageIsAFifo",
     [](const fs::path& d) { return "run -m clip-vit-base-patch32 --image " + Fifo(d); }, 2, "FIFO",
     false},
    {"AudioIsADirectory",
     [](const fs::path& d) { return "run -m whisper-tiny --audio " + d.string(); }, 2,
     "is a directory", false},
    {"ImportOfADirectory", [](const fs::path& d) { return "db import " + d.string(); }, 2,
     "is a directory, not a file"},
    {"ImportOfAFifo", [](const fs::path& d) { return "db import " + Fifo(d); }, 2, "FIFO"},
    {"VerifyOfAFifo", [](const fs::path& d) { return "verify --model-dir " + Fifo(d); }, 2,
     "is not a folder", false},
    {"DeviceAsModel", [](const fs::path&) { return std::string("benchmark -m /dev/zero"); }, 2,
     "character device"},
    // Model folders that try to leave themselves or break the reader.
    {"ShardIndexEscapes",
     [](const fs::path& d) {
       return "benchmark -m " +
              ShardedFolder(d, R"({"weight_map": {"a": "../../../../../../etc/passwd"}})").string();
     },
     4, "outside the model folder"},
    {"ShardIndexAbsolute",
     [](const fs::path& d) {
       return "benchmark -m " +
              ShardedFolder(d, R"({"weight_map": {"a": "/etc/hostname"}})").string();
     },
     4, "not a file name inside the model folder"},
    {"ShardIndexValueNotText",
     [](const fs::path& d) {
       return "benchmark -m " + ShardedFolder(d, R"({"weight_map": {"a": 5}})").string();
     },
     4, "not a shard file name"},
    {"ShardIsAFifo",
     [](const fs::path& d) {
       const fs::path f = ShardedFolder(d, R"({"weight_map": {"a": "pipe"}})");
       ::mkfifo((f / "pipe").c_str(), 0600);
       return "benchmark -m " + f.string();
     },
     2, "FIFO"},
    {"ConfigIsADirectory",
     [](const fs::path& d) {
       fs::create_directories(d / "m/config.json");
       return "benchmark -m " + (d / "m").string();
     },
     2, "is a directory"},
    {"ConfigNestedAHundredThousandDeep",
     [](const fs::path& d) {
       fs::create_directories(d / "m");
       Write(d / "m/config.json", std::string(100000, '[') + std::string(100000, ']'));
       return "benchmark -m " + (d / "m").string();
     },
     4, "nests more than"},
    {"ConfigOfAbsurdSize",
     [](const fs::path& d) {
       fs::create_directories(d / "m");
       std::ifstream in(kBertFixture + "/config.json");
       std::string text((std::istreambuf_iterator<char>(in)), {});
       text.replace(text.find("\"vocab_size\""), 12, "\"vocab_size\": 2147483647, \"x\"");
       Write(d / "m/config.json", text);
       fs::copy_file(kBertFixture + "/model.safetensors", d / "m/model.safetensors");
       return "benchmark -m " + (d / "m").string();
     },
     5, "float32 weights need"},
    // Result files for `db import`.
    {"ImportNumberOverflow",
     [](const fs::path& d) {
       return "db import " + Write(d / "bench_20250305_195714.json",
                                   R"({"model": "bert", "hardware": "cpu", "batch_sizes": {"1": )"
                                   R"({"latency_ms": 1e400, "throughput": 1, "success": true}}})");
     },
     4, "number overflow"},
    {"ImportNestedDeep",
     [](const fs::path& d) {
       return "db import " +
              Write(d / "deep.json", std::string(100000, '[') + std::string(100000, ']'));
     },
     4, "nests more than"},
    {"ImportRecordOfWrongTypes",
     [](const fs::path& d) {
       return "db import " +
              Write(d / "bench_20250305_195714.json",
                    R"({"model": "bert", "hardware_key": "cpu", "batch_sizes": {)"
                    R"("1": {"latency_ms": 20, "throughput": 50, "success": true},)"
                    R"("2": {"latency_ms": "fast", "throughput": [], "success": "yes"}}})");
     },
     4, "batch_sizes.2.success is \"yes\", not true or false"},
    // Sizes on the command line that cannot exist.
    {"ShapeThatOverflows",
     [](const fs::path&) {
       return std::string("benchmark -m bert-tiny --shape input_ids=4611686018427387904,4");
     },
     2, "more elements than 64-bit sizes can count"},
};

class HostileInputTest : public CliTest, public ::testing::WithParamInterface<HostileCase> {};

TEST_P(HostileInputTest, EndsInItsStatusWithOneLineAndTheDatabaseAsItWas) {
  SeedDatabase();
  const fs::path inputs = dir_ / "inputs";
  fs::create_directories(inputs);
  const std::string args = GetParam().make(inputs);
  const Result r = Run(GetParam().takes_db ? args + " --db " + db_ : args);
  ExpectCleanFailure(r, GetParam().status, GetParam().needle);
}

INSTANTIATE_TEST_SUITE_P(Inputs, HostileInputTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace hostile_input_test
}  // namespace ipfs_accel
