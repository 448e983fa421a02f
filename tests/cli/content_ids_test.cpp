// CIDs stored with results (schema v11) and `bundle export/import`, checked against the
// reference JavaScript implementations (ipfs-unixfs-importer and @ipld/car, multiformats) run
// under Node.js by tests/content/car_reference.mjs.

#include <algorithm>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/cli_fixture.h"
#include "content/content_files.h"
#include "ipfs_accel/content/cid.h"

namespace ipfs_accel {
namespace content_ids_test {

using testing::Quoted;
using testing::RunCapture;

const std::string kNodeModules = IPFS_ACCEL_SOURCE_DIR "/third_party/prefix/share/node_modules";
const std::string kScript = IPFS_ACCEL_SOURCE_DIR "/tests/content/car_reference.mjs";

class ContentIdsTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    bool ok = false;
    RunCapture("command -v node >/dev/null", &ok);
    if (!ok || !fs::exists(kNodeModules + "/ipfs-unixfs-importer/package.json"))
      GTEST_SKIP() << "node or the npm references are missing (scripts/bootstrap.sh)";
  }

  // stdout of the reference script; fails the test when it exits non-zero.
  std::string Reference(const std::string& args) {
    bool ok = false;
    const std::string out =
        RunCapture("node " + Quoted(kScript) + " " + Quoted(kNodeModules) + " " + args, &ok);
    EXPECT_TRUE(ok) << args << ": " << out;
    return out;
  }
  std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

  // The folder's root CID (CIDv1, raw leaves) as ipfs-unixfs-importer computes it.
  std::string ReferenceFolderCid(const fs::path& folder) {
    return FirstLine(Reference("write 1 " + Quoted(folder.string()) + " " +
                               Quoted((dir_ / "reference.car").string())));
  }

  void Benchmark(const fs::path& model) {
    const Result r = Run("benchmark -m " + model.string() +
                         " --seq-lens 8 --iterations 3 --min-time 0 --warmup 0 --db " + db_);
    ASSERT_EQ(r.status, 0) << r.err;
  }

  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    auto store = store::ResultStore::Open(db_, {.read_only = true});
    std::vector<std::vector<std::string>> out;
    for (const auto& row : store->Query(sql).rows) {
      out.emplace_back();
      for (const auto& cell : row) out.back().push_back(cell.value_or("NULL"));
    }
    return out;
  }
};

TEST_F(ContentIdsTest, ABenchmarkStoresTheFolderCidAndTheGraphCidTheReferencesCompute) {
  const fs::path model = CopyFixture();
  Benchmark(model);
  const auto stored = Rows(
      "SELECT m.content_cid, p.graph_cid FROM performance_results p JOIN models m USING "
      "(model_id)");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0][0], ReferenceFolderCid(model));

  // The graph the runtime was given, written out by `export`, as one raw block.
  const fs::path graph = dir_ / "graph.onnx";
  ASSERT_EQ(Run("export -m " + model.string() + " -o " + graph.string()).status, 0);
  EXPECT_EQ(stored[0][1], FirstLine(Reference("raw-cid " + Quoted(graph.string()))));

  const Result report = Run("report --format json --db " + db_);
  ASSERT_EQ(report.status, 0) << report.err;
  const auto row = nlohmann::json::parse(report.out).at(0);
  EXPECT_EQ(row["model_cid"], stored[0][0]);
  EXPECT_EQ(row["graph_cid"], stored[0][1]);
  // --model takes the CID too.
  const Result by_cid = Run("report --format json --model " + stored[0][0] + " --db " + db_);
  ASSERT_EQ(by_cid.status, 0) << by_cid.err;
  EXPECT_EQ(nlohmann::json::parse(by_cid.out).size(), 1u);
}

TEST_F(ContentIdsTest, ACatalogModelWithSeededWeightsHasNoContentCidButItsGraphHasOne) {
  SeedDatabase();
  const auto stored = Rows(
      "SELECT m.content_cid, p.graph_cid FROM performance_results p JOIN models m USING "
      "(model_id)");
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0][0], "NULL");
  EXPECT_EQ(stored[0][1].rfind("bafkrei", 0), 0u) << stored[0][1];
}

// The same bytes in two folders of other names are two models; by CID they are one.
TEST_F(ContentIdsTest, CompareByCidPairsTheSameBytesStoredUnderTwoNames) {
  const fs::path a = dir_ / "bert-a", b = dir_ / "bert-b";
  fs::copy(kBertFixture, a);
  fs::copy(kBertFixture, b);
  Benchmark(a);
  Benchmark(b);
  std::map<std::string, std::string> run_of;
  for (const auto& row : Rows("SELECT DISTINCT m.name, p.run_id FROM performance_results p JOIN "
                              "models m USING (model_id)"))
    run_of[row[0]] = row[1];
  ASSERT_EQ(run_of.size(), 2u);
  auto paired = [&](const std::string& by) {
    const Result r = Run("compare --baseline " + run_of["bert-a"] + " --contender " +
                         run_of["bert-b"] + " --by " + by + " --format json --db " + db_);
    EXPECT_LE(r.status, 1) << r.err;
    int both = 0;
    for (const auto& row : nlohmann::json::parse(r.out))
      both += !row["baseline_median_ms"].is_null() && !row["contender_median_ms"].is_null();
    return both;
  };
  EXPECT_EQ(paired("model"), 0);
  EXPECT_EQ(paired("cid"), 1);
  EXPECT_EQ(Run("compare --baseline x --contender y --by hash --db " + db_).status, 2);
}

// One benchmarked run and its bundle, made by the first test that needs them and shared by the
// others (each benchmark costs seconds); each test works on its own copies.
class BundleTest : public ContentIdsTest {
 protected:
  static fs::path& Shared() {
    static fs::path dir;
    return dir;
  }
  static void TearDownTestSuite() {
    if (!Shared().empty()) fs::remove_all(Shared());
  }

  // Copies the shared run's database and bundle into this test's folder; returns the root CID
  // `bundle export` printed.
  std::string ExportBundle(const fs::path& car) {
    if (Shared().empty()) {
      const fs::path dir = dir_.string() + "-shared";
      fs::remove_all(dir);
      fs::create_directories(dir);
      Benchmark(CopyFixture());
      const Result r = Run("bundle export --run latest -o " + (dir / "results.car").string() +
                           " --json --db " + db_);
      EXPECT_EQ(r.status, 0) << r.err;
      std::ofstream(dir / "root") << nlohmann::json::parse(r.out)["root"].get<std::string>();
      fs::copy_file(db_, dir / "results.duckdb");
      EXPECT_FALSE(fs::exists(db_ + ".wal"));  // closed and checkpointed: the file is whole
      Shared() = dir;
    }
    fs::copy_file(Shared() / "results.duckdb", db_, fs::copy_options::overwrite_existing);
    fs::copy_file(Shared() / "results.car", car);
    return ReadFile(Shared() / "root");
  }
};

// The bundle is the folder {run.json: `db export --format run-json`, models/bert/config.json:
// the model's own config.json} as ipfs-unixfs-importer builds it, and @ipld/car reads the CAR
// with every block reachable from its root.
TEST_F(BundleTest, ExportIsTheRunExportAndTheConfigAsTheReferenceImporterBuildsThem) {
  const fs::path car = dir_ / "results.car";
  const std::string root = ExportBundle(car);
  const fs::path folder = dir_ / "expected";
  fs::create_directories(folder / "models" / "bert");
  ASSERT_EQ(Run("db export --format run-json --run latest -o " + (folder / "run.json").string() +
                " --db " + db_)
                .status,
            0);
  fs::copy_file(kBertFixture + "/config.json", folder / "models" / "bert" / "config.json");
  EXPECT_EQ(root, ReferenceFolderCid(folder));
  EXPECT_EQ(FirstLine(Reference("read " + Quoted(car.string()))), root);
}

TEST_F(BundleTest, ImportVerifiesEveryBlockAndASecondImportAddsNothing) {
  const fs::path car = dir_ / "results.car";
  ExportBundle(car);
  const int64_t results = Count("performance_results");
  db_ = (dir_ / "other.duckdb").string();
  Result r = Run("bundle import " + car.string() + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(Count("runs"), 1);
  EXPECT_EQ(Count("performance_results"), results);
  EXPECT_EQ(Rows("SELECT origin, imported_from FROM runs")[0],
            (std::vector<std::string>{"imported", car.string()}));
  EXPECT_EQ(Rows("SELECT count(*) FROM models WHERE content_cid LIKE 'bafybei%'")[0][0], "1");
  r = Run("bundle import " + car.string() + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("1 already stored"), std::string::npos) << r.out;
  EXPECT_EQ(Count("runs"), 1);
  EXPECT_EQ(Count("performance_results"), results);
}

TEST_F(BundleTest, ATamperedBlockIsRefusedByItsCidAndNothingIsImported) {
  const fs::path car = dir_ / "results.car";
  ExportBundle(car);
  std::string bytes = ReadFile(car);
  const size_t at = bytes.find("\"entries\"");  // inside run.json's block
  ASSERT_NE(at, std::string::npos);
  bytes[at + 1] = 'E';
  std::ofstream(car, std::ios::binary | std::ios::trunc) << bytes;
  const std::string reference = Reference("read " + Quoted(car.string()) + " 2>&1 || true");
  db_ = (dir_ / "other.duckdb").string();
  const Result r = Run("bundle import " + car.string() + " --db " + db_);
  EXPECT_NE(r.status, 0);
  const auto lines = r.ErrorLines();
  ASSERT_EQ(lines.size(), 1u) << r.err;
  // The block @ipld/car + sha2-256 names as not hashing to its CID is the one refused.
  const std::string bad = reference.substr(6, reference.find(' ', 6) - 6);
  ASSERT_EQ(reference.rfind("block ", 0), 0u) << reference;
  EXPECT_NE(lines[0].find(bad), std::string::npos) << lines[0] << " vs " << reference;
  EXPECT_FALSE(fs::exists(db_) && Count("runs") > 0);
}

// `models fetch`'s bad input: one line naming the thing, the exit status of its kind, nothing
// written (the fetch itself is tested against a reference gateway in tests/content).
TEST_F(CliTest, ModelsFetchRefusesABadCidAnHttpsGatewayAndAnUnreachableOneInOneLine) {
  const std::string out = (dir_ / "fetched").string();
  const std::string cid = content::Cid::Of(1, content::kRaw, "weights").ToString();
  struct Case {
    std::string args, names;
    int status;
  };
  for (const Case& c :
       std::vector<Case>{{"not-a-cid --gateway http://127.0.0.1:9", "not-a-cid", 2},
                         {cid + " --gateway https://gateway.example", "https", 5},
                         {cid + " --gateway http://127.0.0.1:9 --timeout 5", "127.0.0.1:9", 6}}) {
    const Result r = Run("models fetch " + c.args + " -o " + out);
    EXPECT_EQ(r.status, c.status) << c.args << ": " << r.err;
    const auto lines = r.ErrorLines();
    ASSERT_EQ(lines.size(), 1u) << r.err;
    EXPECT_NE(lines[0].find(c.names), std::string::npos) << lines[0];
    EXPECT_FALSE(fs::exists(out));
  }
}

}  // namespace content_ids_test
}  // namespace ipfs_accel
