// End-to-end tests of the ipfs-accelerate program: exit statuses, one-line
// errors, and that bad input leaves the results database as it was.

#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include "cli/cli_fixture.h"
#include "support/media_writers.h"
#include "support/stored_runs.h"

#include "ipfs_accel/hw/hardware.h"
#include "ipfs_accel/models/safetensors.h"
#include "ipfs_accel/store/result_store.h"

namespace ipfs_accel {
namespace cli_test {

namespace fs = std::filesystem;

TEST_F(CliTest, BenchmarkStoresEveryConfigurationWithRunMetadata) {
  const Result r =
      Run("benchmark --model bert-tiny --batch-sizes 1,2 --seq-len 32 --iterations 5 "
          "--min-time 0 --warmup 1 --json --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json["results"].size(), 2u);
  EXPECT_EQ(json["model"]["parameters"], 4385920);  // google/bert_uncased_L-2_H-128_A-2

  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto perf = store->Query(
      "SELECT batch_size, seq_len, iterations, latency_p50_ms, latency_p99_ms, "
      "throughput_items_per_s, peak_rss_bytes, len(samples_ms), execution_provider, "
      "input_shapes_json::VARCHAR FROM performance_results ORDER BY batch_size");
  ASSERT_EQ(perf.rows.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const auto& row = perf.rows[i];
    EXPECT_EQ(*row[0], i == 0 ? "1" : "2");
    EXPECT_EQ(*row[1], "32");
    EXPECT_GE(std::stoi(*row[2]), 5);
    EXPECT_GT(std::stod(*row[3]), 0.0);
    EXPECT_GE(std::stod(*row[4]), std::stod(*row[3]));
    EXPECT_GT(std::stod(*row[5]), 0.0);
    EXPECT_GT(std::stoll(*row[6]), 0);
    EXPECT_EQ(*row[7], *row[2]);  // every timed sample stored
    EXPECT_EQ(*row[8], "CPUExecutionProvider");
    EXPECT_NE(row[9]->find("input_ids"), std::string::npos);
  }
  const auto run =
      store->Query("SELECT command_line, tool_version, git_commit, hostname, seed FROM runs");
  ASSERT_EQ(run.rows.size(), 1u);
  EXPECT_NE(run.rows[0][0]->find("--batch-sizes 1,2"), std::string::npos);
  EXPECT_FALSE(run.rows[0][1]->empty());
  EXPECT_FALSE(run.rows[0][2]->empty());
  EXPECT_EQ(*run.rows[0][4], "42");
  const auto compat = store->Query("SELECT status FROM compatibility_results");
  ASSERT_EQ(compat.rows.size(), 1u);
  EXPECT_EQ(*compat.rows[0][0], "ok");
}

TEST_F(CliTest, DbQueryPrintsJsonAndCsv) {
  SeedDatabase();
  Result r = Run("db query --db " + db_ +
                 " --format json --sql \"SELECT batch_size, execution_provider FROM "
                 "performance_results\"");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["batch_size"], 1);
  r = Run("db query --db " + db_ + " --format csv --sql \"SELECT 'a,b' AS x, 2 AS y\"");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "x,y\n\"a,b\",2\n");
  r = Run("db query --db " + db_ + " --sql \"SELECT * FROM no_such_table\"");
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.ErrorLines().size(), 1u);
}

TEST_F(CliTest, ReportShowsLatestRun) {
  SeedDatabase();
  const Result r = Run("report --db " + db_ + " --format json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  ASSERT_EQ(json.size(), 1u);
  EXPECT_EQ(json[0]["model"], "bert-tiny (seed 42)");  // the catalog's seeded weights
  EXPECT_EQ(json[0]["hardware"], "cpu");
}

TEST_F(CliTest, VerifyPassesOnFixtureAndFailsOnPerturbedReference) {
  Result r = Run("verify --model-dir " + kBertFixture);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS"), std::string::npos);
  EXPECT_NE(r.out.find("last_hidden_state"), std::string::npos);
  EXPECT_NE(r.out.find("pooler_output"), std::string::npos);

  r = Run("verify --model-dir " + kBertFixture + " --tolerance 1e-12");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL"), std::string::npos);
}

TEST_F(CliTest, DetectListsEveryPlatform) {
  const Result r = Run("detect --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  std::vector<std::string> names;
  for (const auto& p : json["platforms"]) {
    names.push_back(p["platform"]);
    if (!p["available"].get<bool>()) {
      EXPECT_FALSE(p["reason"].get<std::string>().empty());
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"cpu", "cuda", "tensorrt", "rocm", "openvino", "qnn",
                                             "mps", "xnnpack", "dnnl", "webgpu-native", "webgpu",
                                             "webnn", "wasm"}));
  EXPECT_TRUE(json["platforms"][0]["available"].get<bool>());
  EXPECT_FALSE(json["onnxruntime"]["version"].get<std::string>().empty());
  if (!fs::exists("/dev/nvidia0")) {
    EXPECT_NE(json["platforms"][1]["reason"].get<std::string>().find("NVIDIA"), std::string::npos);
  }
}

// `run` on a real image: the ViT fixture, a PNG written here; JSON names every output with
// the fixture's shapes, --save writes them, and a missing image is one clean error.
TEST_F(CliTest, RunOnAnImageFile) {
  const std::string png = (dir_ / "cat.png").string();
  std::vector<uint8_t> rgb;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) rgb.insert(rgb.end(), {uint8_t(4 * x), uint8_t(5 * y), 128});
  testing::WriteRgbPng(png, 64, 48, rgb);
  const std::string vit = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/vit";
  const std::string saved = (dir_ / "out.safetensors").string();
  const Result r = Run("run --model " + vit + " --image " + png + " --json --save " + saved);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["inputs"]["pixel_values"], nlohmann::json({1, 3, 32, 32}));
  ASSERT_EQ(json["outputs"].size(), 2u);
  EXPECT_EQ(json["outputs"][0]["name"], "last_hidden_state");
  EXPECT_EQ(json["outputs"][0]["shape"], nlohmann::json({1, 17, 64}));
  EXPECT_TRUE(fs::exists(saved));
  EXPECT_TRUE(json["generated_inputs"].empty());

  const Result missing = Run("run --model " + vit + " --image " + (dir_ / "no.png").string());
  EXPECT_EQ(missing.status, 3) << missing.err;
  EXPECT_EQ(missing.ErrorLines().size(), 1u) << missing.err;
}

TEST_F(CliTest, RunTakesTokenIdsAloneForATextModel) {
  const Result r = Run("run -m bert-tiny --ids input_ids=101,7592,102 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["inputs"]["input_ids"], nlohmann::json({1, 3}));
  EXPECT_EQ(json["inputs"]["token_type_ids"], nlohmann::json({1, 3}));
  EXPECT_EQ(json["defaulted_inputs"],
            nlohmann::json({{"attention_mask", "ones"}, {"token_type_ids", "zeros"}}));
  EXPECT_TRUE(json["generated_inputs"].empty());
  EXPECT_EQ(json["outputs"][0]["shape"], nlohmann::json({1, 3, 128}));
  EXPECT_NE(r.err.find("Hugging Face's default used: attention_mask (ones)"), std::string::npos)
      << r.err;
}

TEST_F(CliTest, RunWithNoInputGeneratesItAndSaysSoOnStderr) {
  const Result r = Run("run -m bert-tiny --seed 7");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("generated (seed 7): input_ids"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("input_ids[1,128] (generated: not given)"), std::string::npos) << r.out;
  // Media too: a vision model without --image runs on generated pixels, and says so.
  const std::string vit = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/vit";
  const Result image = Run("run -m " + vit);
  ASSERT_EQ(image.status, 0) << image.err;
  EXPECT_NE(image.err.find("generated (seed 42): pixel_values"), std::string::npos) << image.err;
  ExpectCleanFailureOnFreshDb(Run("run -m " + vit + " --image a.png --audio b.wav"), 2,
                              "at most one of --image, --audio, --video");
}

TEST_F(CliTest, VerifySaysWhichInputsTookHfDefaults) {
  // The fixture's token_type_ids are zeros; without them HF uses zeros, so verify still passes.
  const std::string io = (dir_ / "io.safetensors").string();
  auto reference = models::SafetensorsFile::Open(kBertFixture + "/io.safetensors");
  std::map<std::string, core::Tensor> kept;
  for (const auto& [name, entry] : reference->entries())
    if (name != "input.token_type_ids") kept[name] = reference->Read(name);
  models::WriteSafetensors(io, kept);
  const Result r = Run("verify --model-dir " + kBertFixture + " --io " + io + " --json");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const auto json = nlohmann::json::parse(r.out);
  EXPECT_EQ(json["defaulted_inputs"], nlohmann::json({{"token_type_ids", "zeros"}}));
  const Result text = Run("verify --model-dir " + kBertFixture + " --io " + io);
  EXPECT_EQ(text.status, 0) << text.out;
  EXPECT_NE(text.out.find("default used: token_type_ids (zeros)"), std::string::npos) << text.out;
}

TEST_F(CliTest, BenchmarkTakesInputValuesAndStoresThatTheyWereGiven) {
  const std::string file = (dir_ / "inputs.safetensors").string();
  models::WriteSafetensors(
      file, {{"input.token_type_ids", core::Tensor::Zeros(core::DType::kInt64, {1, 3})}});
  // One item's ids, repeated along the batch of 2; run in a worker process (--isolate), so the
  // values travel with the configuration.
  const Result r = Run("benchmark -m bert-tiny --input input_ids=101,7592,102 --inputs " + file +
                       " --seq-len 3 -b 2 -n 2 --min-time 0 --warmup 0 --isolate --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto rows = store->Query(
      "SELECT configuration_json->>'$.given_inputs.input_ids', "
      "configuration_json->>'$.given_inputs.token_type_ids' FROM compatibility_results");
  ASSERT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(*rows.rows[0][0], "--input");
  EXPECT_EQ(*rows.rows[0][1], file);
  store.reset();

  ExpectCleanFailure(
      Run("benchmark -m bert-tiny --input input_ids=1,2 --seq-len 3 -b 2 --db " + db_), 2,
      "input 'input_ids', which takes shape [2,3] here");
  ExpectCleanFailure(Run("benchmark -m bert-tiny --input sr=16000 --db " + db_), 2,
                     "input 'sr', which the model does not have");
  ExpectCleanFailure(Run("benchmark -m bert-tiny --input input_ids=a --db " + db_), 2,
                     "'a' is not a number");
}

TEST_F(CliTest, MissingModelFile) {
  SeedDatabase();
  ExpectCleanFailure(Run("benchmark --model " + (dir_ / "absent.onnx").string() + " --db " + db_),
                     3, "absent.onnx");
}

TEST_F(CliTest, BadInputDoesNotCreateDatabase) {
  EXPECT_EQ(Run("benchmark --model no-such-model --db " + db_).status, 3);
  EXPECT_EQ(Run("benchmark --model bert-tiny --batch-sizes 1,2 --seq-len 513 --db " + db_).status,
            2);
  // Debian's Chromium has no WebNN backend, so webnn is unavailable on these machines. Alone
  // it leaves nothing to measure; beside cpu it would be recorded as unavailable (see
  // PlatformsThatAreNotHereAreRecordedAsUnavailable).
  EXPECT_EQ(Run("benchmark --model bert-tiny --hardware webnn --db " + db_).status, 6);
  EXPECT_FALSE(fs::exists(db_));
}

TEST_F(CliTest, TruncatedSafetensors) {
  SeedDatabase();
  const fs::path copy = CopyFixture();
  fs::resize_file(copy / "model.safetensors", fs::file_size(copy / "model.safetensors") - 100);
  ExpectCleanFailure(Run("benchmark --model " + copy.string() + " --db " + db_), 4, "truncated");
}

TEST_F(CliTest, CorruptSafetensorsHeader) {
  SeedDatabase();
  const fs::path copy = CopyFixture();
  {
    std::fstream f(copy / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.write("#garbage", 8);
  }
  ExpectCleanFailure(Run("benchmark --model " + copy.string() + " --db " + db_), 4,
                     "header is not a JSON object");
}

TEST_F(CliTest, UnknownArchitecture) {
  SeedDatabase();
  const fs::path copy = CopyFixture();
  auto config = nlohmann::json::parse(ReadFile(copy / "config.json"));
  config["model_type"] = "nonesuch";
  std::ofstream(copy / "config.json") << config.dump();
  ExpectCleanFailure(Run("benchmark --model " + copy.string() + " --db " + db_), 5, "nonesuch");
}

TEST_F(CliTest, ShapeThatDoesNotFit) {
  SeedDatabase();
  ExpectCleanFailure(Run("benchmark --model bert-tiny --seq-len 1000 --db " + db_), 2, "512");
  ExpectCleanFailure(
      Run("benchmark --model bert-tiny --shape pixel_values=1,3,224,224 --db " + db_), 2,
      "pixel_values");
}

TEST_F(CliTest, ExecutionProviderNotPresent) {
  if (fs::exists("/dev/nvidia0")) GTEST_SKIP() << "a CUDA device is present";
  SeedDatabase();
  ExpectCleanFailure(Run("benchmark --model bert-tiny --hardware cuda --db " + db_), 6, "cuda");
  ExpectCleanFailure(Run("benchmark --model bert-tiny --hardware tpu9 --db " + db_), 2, "tpu9");
}

TEST_F(CliTest, DatabaseThatIsNotDuckDb) {
  const fs::path text = dir_ / "notes.duckdb";
  std::ofstream(text) << "these are my notes, not a database\n";
  const std::string before = ReadFile(text);
  const Result r = Run("benchmark --model bert-tiny --db " + text.string());
  EXPECT_EQ(r.status, 7);
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.ErrorLines()[0].find("not a DuckDB database"), std::string::npos);
  EXPECT_EQ(ReadFile(text), before);
}

TEST_F(CliTest, DatabaseLockedByAnotherWriter) {
  SeedDatabase();
  int ready[2], release[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(release), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto store = store::ResultStore::Open(db_);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    (void)!read(release[0], &c, 1);
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const Result r = Run("benchmark --model bert-tiny --lock-wait 0.5 --db " + db_);
  const Result stats = Run("db stats --lock-wait 0.5 --db " + db_);  // maintenance waits alike
  (void)!write(release[1], &c, 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_EQ(r.status, 7);
  // The wait is said once, then the error: the lock stayed past --lock-wait.
  ASSERT_EQ(r.ErrorLines().size(), 2u) << r.err;
  EXPECT_NE(r.ErrorLines()[0].find("is locked by another process; waiting up to 0.5 s"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.ErrorLines()[1].find("stayed locked for 0.5 s"), std::string::npos) << r.err;
  EXPECT_EQ(stats.status, 7);
  ASSERT_EQ(stats.ErrorLines().size(), 2u) << stats.err;
  EXPECT_NE(stats.ErrorLines()[1].find("stayed locked for 0.5 s"), std::string::npos) << stats.err;
  EXPECT_EQ(Count("runs"), 1);
}

// ONNX's own conformance models (Debian's libonnx-testdata): graphs nobody here wrote.
const std::string kOnnxTestData = "/usr/share/libonnx-testdata/data";

TEST_F(CliTest, ArbitraryOnnxModelIsStoredWithTheShapesItRan) {
  const std::string conv = kOnnxTestData + "/pytorch-converted/test_Conv2d/model.onnx";
  if (!fs::exists(conv)) GTEST_SKIP() << "libonnx-testdata is not installed";
  Result r = Run("benchmark --model " + conv + " --iterations 3 --min-time 0 --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto row = store->Query(
      "SELECT m.name, m.source, p.batch_size, p.seq_len, p.input_shapes_json::VARCHAR "
      "FROM performance_results p JOIN models m USING (model_id)");
  ASSERT_EQ(row.rows.size(), 1u);
  EXPECT_EQ(*row.rows[0][0], "test_Conv2d");
  EXPECT_EQ(*row.rows[0][1], "onnx-file");
  EXPECT_EQ(*row.rows[0][2], "2");  // the graph's fixed batch, not the default 1
  EXPECT_EQ(*row.rows[0][3], "0");  // no sequence axis
  EXPECT_NE(row.rows[0][4]->find("[2,3,7,5]"), std::string::npos) << *row.rows[0][4];
  store.reset();

  // Asking for a batch the graph cannot take is an error, not a silent batch of 2.
  r = Run("benchmark --model " + conv + " --batch-sizes 4 --db " + db_);
  EXPECT_EQ(r.status, 2);
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.ErrorLines()[0].find("fixed batch of 2"), std::string::npos);
}

TEST_F(CliTest, ConfigurationThatFailsIsStoredAsFailure) {
  // Expand's shape input is data: the generated zeros are not a valid shape, so ORT fails.
  const std::string expand = kOnnxTestData + "/simple/test_expand_shape_model1/model.onnx";
  if (!fs::exists(expand)) GTEST_SKIP() << "libonnx-testdata is not installed";
  const Result r = Run("benchmark --model " + expand + " --iterations 3 --min-time 0 --db " + db_);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_EQ(Count("performance_results"), 0);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto row =
      store->Query("SELECT status, error_class, error_message FROM compatibility_results");
  ASSERT_EQ(row.rows.size(), 1u);
  EXPECT_EQ(*row.rows[0][0], "failed");
  EXPECT_EQ(*row.rows[0][1], "runtime");
  EXPECT_NE(row.rows[0][2]->find("Expand"), std::string::npos);
}

TEST_F(CliTest, GenerateScenarioAcrossPrecisionsAndGraphs) {
  const std::string llama = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/llama";
  const Result r = Run("benchmark --model " + llama +
                       " --scenario generate --prompt-len 8 --new-tokens 4 --precision fp32,int4 "
                       "--graph plain,fused --json --db " +
                       db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["results"].size(), 4u);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto perf = store->Query(
      "SELECT scenario, prompt_len, new_tokens, iterations, time_to_first_token_ms > 0, "
      "throughput_items_per_s > 0 FROM performance_results");
  ASSERT_EQ(perf.rows.size(), 4u);
  for (const auto& row : perf.rows) {
    EXPECT_EQ(*row[0], "generate");
    EXPECT_EQ(*row[1], "8");
    EXPECT_EQ(*row[2], "4");
    EXPECT_EQ(*row[3], "3");  // decode steps after the prefill's token
    EXPECT_EQ(*row[4], "true");
    EXPECT_EQ(*row[5], "true");
  }
  const auto compat = store->Query(
      "SELECT graph_variant || '/' || precision, max_abs_error, top1_agreement "
      "FROM compatibility_results ORDER BY 1");
  ASSERT_EQ(compat.rows.size(), 4u);
  EXPECT_EQ(*compat.rows[2][0], "plain/fp32");
  EXPECT_FALSE(compat.rows[2][1].has_value());  // the reference itself
  EXPECT_EQ(*compat.rows[3][0], "plain/int4");
  EXPECT_GT(std::stod(*compat.rows[3][1]), 0.0);  // really quantized
  ASSERT_TRUE(compat.rows[3][2].has_value());     // logits: top-1 agreement stored
}

// --prompt: the text's ids are the prompt (so two seeds generate the same tokens from the same
// checkpoint), its length is theirs, and the progress line shows the generated text. The ids are
// the tokenizer's (checked against Hugging Face tokenizers in tests/serving); Llama 2's " a" is
// one of the first thousand, which the tiny fixture's vocabulary holds.
TEST_F(CliTest, GenerateFromATextPromptUsesItsIdsAndPrintsTheGeneratedText) {
  const std::string llama = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/llama";
  const std::string tokenizer = std::string(IPFS_ACCEL_SOURCE_DIR) +
                                "/third_party/prefix/share/tokenizers/llama2/tokenizer.json";
  if (!fs::exists(tokenizer)) GTEST_SKIP() << "no " << tokenizer << " (run scripts/bootstrap.sh)";
  const Result ids = Run("tokenize --tokenizer " + tokenizer + " --text a --json");
  ASSERT_EQ(ids.status, 0) << ids.err;
  const size_t prompt_ids = nlohmann::json::parse(ids.out)["ids"].size();
  std::vector<std::string> generated;
  for (const char* seed : {"1", "2"}) {
    const Result r =
        Run("benchmark --model " + llama + " --scenario generate --prompt a --tokenizer " +
            tokenizer + " --new-tokens 4 --seed " + seed + " --db " + db_);
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string said = r.out + r.err;
    const size_t at = said.find("generated: \"");
    ASSERT_NE(at, std::string::npos) << said;
    // The text up to its closing quote (the line goes on with the store's timing).
    const size_t end = std::min(said.find("\"; ", at + 12), said.find('\n', at));
    generated.push_back(said.substr(at, end - at));
  }
  EXPECT_EQ(generated[0], generated[1]);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  EXPECT_EQ(*store->Query("SELECT DISTINCT prompt_len FROM performance_results").rows.at(0).at(0),
            std::to_string(prompt_ids));
  // Where a prompt cannot be: no tokenizer, beside --prompt-len, outside generate.
  EXPECT_EQ(Run("benchmark --model bert-tiny --scenario generate --prompt a --db " + db_).status,
            2);
  EXPECT_EQ(Run("benchmark --model " + llama + " --scenario generate --prompt a --prompt-len 4 " +
                "--tokenizer " + tokenizer + " --db " + db_)
                .status,
            2);
  EXPECT_EQ(
      Run("benchmark --model " + llama + " --prompt a --tokenizer " + tokenizer + " --db " + db_)
          .status,
      2);
}

TEST_F(CliTest, AutoGraphIsFusedOnTheCpu) {
  const Result r =
      Run("benchmark --model bert-tiny --graph auto --seq-len 16 --iterations 2 "
          "--min-time 0 --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto rows = store->Query(
      "SELECT p.graph_variant, c.max_abs_error < 1e-4 FROM performance_results p, "
      "compatibility_results c");
  ASSERT_EQ(rows.rows.size(), 1u);
  EXPECT_EQ(*rows.rows[0][0], "fused");
  EXPECT_EQ(*rows.rows[0][1], "true");  // compared with the plain fp32 graph, and equal
}

TEST_F(CliTest, GenerateNeedsAKvCache) {
  ExpectCleanFailureOnFreshDb(Run("benchmark --model bert-tiny --scenario generate --db " + db_), 5,
                              "KV cache");
  EXPECT_FALSE(fs::exists(db_));
  const std::string llama = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/hf-tiny/llama";
  ExpectCleanFailureOnFreshDb(
      Run("benchmark --model " + llama +
          " --scenario generate --prompt-len 120 --new-tokens 16 --db " + db_),
      2, "positions");
  EXPECT_FALSE(fs::exists(db_));
}

TEST_F(CliTest, HelpAndUsageErrors) {
  Result r = Run("--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("benchmark"), std::string::npos);
  r = Run("benchmark --help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--batch-sizes"), std::string::npos);
  r = Run("benchmark --batch-sizes 0 --model bert-tiny");
  EXPECT_EQ(r.status, 2);
  r = Run("no-such-command");
  EXPECT_EQ(r.status, 2);
}

// Processes whose command line contains `needle` (arguments joined with spaces).
std::vector<pid_t> ProcessesWith(const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmdline = ReadFile(e.path() / "cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

// --isolate: the second of three configurations crashes (its worker is killed by SIGKILL, as the
// kernel's OOM killer does; not SIGSEGV, which a sanitizer build catches and turns into an exit);
// the crash is stored as that configuration's failure and the sweep measures the third.
TEST_F(CliTest, IsolatedSweepRecordsACrashAndGoesOn) {
  env_ = "TMPDIR=" + dir_.string() + " ";  // the workers' job files, to find them by
  auto sweep = std::async(std::launch::async, [&] {
    return Run(
        "benchmark --model bert-tiny --seq-lens 16 --batch-sizes 1,2,3 --isolate "
        "--min-time 4 --warmup 0 --db " +
        db_);
  });
  // The second configuration's worker: kill it once it is running.
  const std::string needle = "_configuration --job " + dir_.string();
  bool killed = false;
  for (int i = 0; i < 1800 && !killed; ++i) {  // up to 180 s on a loaded machine
    for (pid_t pid : ProcessesWith(needle))
      if (ReadFile(fs::path("/proc") / std::to_string(pid) / "cmdline")
              .find("configuration-2.json") != std::string::npos)
        killed = ::kill(pid, SIGKILL) == 0;
    if (!killed) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(killed) << "never saw the second configuration's worker";
  const Result r = sweep.get();
  EXPECT_EQ(r.status, 1) << r.err;  // a configuration failed
  EXPECT_NE(r.err.find("SIGKILL"), std::string::npos) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto perf = store->Query("SELECT batch_size FROM performance_results ORDER BY 1");
  ASSERT_EQ(perf.rows.size(), 2u);
  EXPECT_EQ(*perf.rows[0][0], "1");
  EXPECT_EQ(*perf.rows[1][0], "3");  // after the crash
  const auto failed = store->Query(
      "SELECT error_class, error_message, batch_size FROM compatibility_results "
      "WHERE status = 'failed'");
  ASSERT_EQ(failed.rows.size(), 1u);
  EXPECT_EQ(*failed.rows[0][0], "crash");
  EXPECT_NE(failed.rows[0][1]->find("SIGKILL"), std::string::npos);
  EXPECT_EQ(*failed.rows[0][2], "2");
}

TEST_F(CliTest, IsolatedConfigurationPastItsTimeoutIsKilledAndRecorded) {
  const Result r =
      Run("benchmark --model bert-tiny --seq-lens 16 --isolate --config-timeout 1 --min-time 30 "
          "--db " +
          db_);
  EXPECT_EQ(r.status, 1) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto failed =
      store->Query("SELECT error_class FROM compatibility_results WHERE status = 'failed'");
  ASSERT_EQ(failed.rows.size(), 1u);
  EXPECT_EQ(*failed.rows[0][0], "timeout");
}

// `--hardware all` runs what is here and records every other known platform as unavailable,
// with the reason; a named platform that is not here is recorded too, and the exit status says
// so after the others are stored.
TEST_F(CliTest, PlatformsThatAreNotHereAreRecordedAsUnavailable) {
  if (fs::exists("/dev/nvidia0")) GTEST_SKIP() << "a CUDA device is present";
  Result r =
      Run("benchmark --model bert-tiny --seq-lens 16 --hardware all --iterations 3 "
          "--min-time 0 --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  auto rows = [&](const std::string& sql) {
    return store::ResultStore::Open(db_, {.read_only = true})->Query(sql).rows;
  };
  const auto cuda = rows(
      "SELECT c.status, c.error_message FROM compatibility_results c JOIN hardware_platforms h "
      "USING (hardware_id) WHERE h.platform = 'cuda'");
  ASSERT_EQ(cuda.size(), 1u);
  EXPECT_EQ(*cuda[0][0], "unavailable");
  EXPECT_FALSE(cuda[0][1]->empty());  // the reason
  // cpu, plus the browser platforms where Chromium runs here (cli_browser_test covers them).
  const std::string cpu_results =
      "SELECT count(*) FROM performance_results JOIN hardware_platforms USING (hardware_id) "
      "WHERE platform = 'cpu'";
  EXPECT_EQ(*rows(cpu_results)[0][0], "1");
  // A software WebGPU adapter (SwiftShader here) is recorded as skipped, not run, by "all".
  const auto webgpu = rows(
      "SELECT c.status, c.error_message, (SELECT count(*) FROM performance_results p WHERE "
      "p.hardware_id = c.hardware_id) FROM compatibility_results c JOIN hardware_platforms h "
      "USING (hardware_id) WHERE h.platform = 'webgpu'");
  if (!webgpu.empty() && *webgpu[0][0] == "skipped") {
    EXPECT_NE(webgpu[0][1]->find("FALLBACK"), std::string::npos) << *webgpu[0][1];
    EXPECT_EQ(*webgpu[0][2], "0");
  }

  r =
      Run("benchmark --model bert-tiny --seq-lens 16 --hardware cpu,cuda --iterations 3 "
          "--min-time 0 --db " +
          db_);
  EXPECT_EQ(r.status, 6) << r.err;
  EXPECT_EQ(*rows(cpu_results)[0][0], "2");
  EXPECT_EQ(*rows("SELECT count(*) FROM compatibility_results c JOIN hardware_platforms h USING "
                  "(hardware_id) WHERE h.platform = 'cuda' AND status = 'unavailable'")[0][0],
            "2");
}

// A sweep over threads and graph optimisation levels stores each point with its settings.
TEST_F(CliTest, SweepStoresEachPointWithItsSettings) {
  const Result r =
      Run("benchmark --model bert-tiny --seq-lens 8,16 --threads 1,2 --graph-opt 0,99 "
          "--iterations 3 --min-time 0 --json --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["results"].size(), 8u);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  EXPECT_EQ(*store
                 ->Query("SELECT count(DISTINCT (seq_len, threads, graph_optimization_level)) "
                         "FROM performance_results")
                 .rows[0][0],
            "8");
  EXPECT_EQ(*store->Query("SELECT count(*) FROM latest_performance").rows[0][0], "8");
}

// --rounds: each configuration stored once, with the samples of every pass over the sweep and
// the figures of all of them; it means nothing outside single-stream, and says so.
TEST_F(CliTest, RoundsPoolEachConfigurationsSamplesOverPassesAndStoreItOnce) {
  const Result r =
      Run("benchmark --model bert-tiny --batch-sizes 1,2 --seq-lens 8 --iterations 4 --warmup 0 "
          "--min-time 0 --rounds 3 --json --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["results"].size(), 2u);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto rows = store
                        ->Query(
                            "SELECT iterations, len(samples_ms), "
                            "abs(latency_p50_ms - list_aggregate(samples_ms, 'median')) < 1e-9, "
                            "latency_max_ms = list_max(samples_ms) FROM performance_results")
                        .rows;
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(*row[0], "12");  // 3 passes of 4 timed runs
    EXPECT_EQ(*row[1], "12");
    EXPECT_EQ(*row[2], "true");  // the p50 is the pooled samples' median
    EXPECT_EQ(*row[3], "true");
  }
  const Result offline =
      Run("benchmark --model bert-tiny --scenario offline --rounds 2 --db " + db_);
  EXPECT_EQ(offline.status, 2);
  EXPECT_NE(offline.err.find("--rounds"), std::string::npos) << offline.err;
}

TEST_F(CliTest, MatrixShowsTheStoredResultOfAFamily) {
  // A database that does not exist is an error, and is not created.
  Result r = Run("matrix --db " + db_);
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_FALSE(fs::exists(db_));

  SeedDatabase();
  r = Run("matrix --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out);
  const nlohmann::json* text = nullptr;
  for (const auto& row : j["rows"])
    if (row["section"] == "family" && row["label"] == "text") text = &row;
  ASSERT_NE(text, nullptr) << r.out;
  EXPECT_EQ((*text)["models"], nlohmann::json({"bert-tiny (seed 42)"}));
  EXPECT_EQ((*text)["cells"]["CPU"]["status"], "ok");
  EXPECT_EQ((*text)["cells"]["CUDA"]["status"], "never-tried");

  const std::string html = (dir_ / "matrix.html").string();
  r = Run("matrix --format html --output " + html + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(ReadFile(html).find("state-ok"), std::string::npos);
  EXPECT_FALSE(fs::exists(html + ".tmp"));
  EXPECT_EQ(Run("matrix --format pdf --db " + db_).status, 2);
}

// A configuration whose estimated memory cannot fit on any machine (a million sequences of
// 512 tokens: terabytes of attention scores) is skipped with the reason; the others run, and
// each measured record keeps its estimate beside its peak RSS.
TEST_F(CliTest, ConfigurationThatCannotFitIsSkippedWithTheReason) {
  const Result r =
      Run("benchmark --model bert-tiny --batch-sizes 1,1000000 --seq-lens 512 --iterations 3 "
          "--min-time 0 --json --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["skipped"], 1);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto skipped = store->Query(
      "SELECT error_class, error_message, batch_size FROM compatibility_results "
      "WHERE status = 'skipped'");
  ASSERT_EQ(skipped.rows.size(), 1u);
  EXPECT_EQ(*skipped.rows[0][0], "insufficient_memory");
  EXPECT_NE(skipped.rows[0][1]->find("GiB"), std::string::npos);
  EXPECT_EQ(*skipped.rows[0][2], "1000000");
  const auto perf = store->Query(
      "SELECT batch_size, memory_estimate_bytes > 4385920 * 4 FROM performance_results");
  ASSERT_EQ(perf.rows.size(), 1u);
  EXPECT_EQ(*perf.rows[0][0], "1");
  EXPECT_EQ(*perf.rows[0][1], "true");  // at least the fp32 weights
}

// Offline marks the best batch; server stores target and achieved rates with the p99 estimate.
TEST_F(CliTest, OfflineAndServerScenarios) {
  Result r =
      Run("benchmark --model bert-tiny --seq-lens 8 --scenario offline --batch-sizes 1,4 "
          "--iterations 5 --min-time 0 --json --db " +
          db_);
  ASSERT_EQ(r.status, 0) << r.err;
  int best = 0;
  const nlohmann::json offline = nlohmann::json::parse(r.out);
  for (const auto& row : offline["results"]) best += row["note"] == "best batch";
  EXPECT_EQ(best, 1);
  r = Run(
      "benchmark --model bert-tiny --seq-lens 8 --scenario server --target-qps 50 --iterations 20 "
      "--min-time 0.2 --db " +
      db_);
  ASSERT_EQ(r.status, 0) << r.err;
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto server = store->Query(
      "SELECT target_qps, achieved_qps > 0, tail_percentile, iterations >= 459 "
      "FROM performance_results WHERE scenario = 'server'");
  ASSERT_EQ(server.rows.size(), 1u);
  EXPECT_EQ(*server.rows[0][0], "50.0");
  EXPECT_EQ(*server.rows[0][1], "true");
  EXPECT_EQ(*server.rows[0][2], "99.0");
  EXPECT_EQ(*server.rows[0][3], "false");  // an explicit --iterations is honoured as given
  EXPECT_EQ(*store->Query("SELECT count(*) FROM performance_results WHERE scenario = 'offline'")
                 .rows[0][0],
            "2");
}

TEST_F(CliTest, DbMaintenanceCommandsAndTheirExitStatuses) {
  SeedDatabase();
  Result r = Run("db stats --json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("\"performance_results\": 1"), std::string::npos) << r.out;
  r = Run("db check --db " + db_);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 problems"), std::string::npos) << r.out;
  r = Run("db vacuum --db " + db_);
  EXPECT_EQ(r.status, 0) << r.err;
  r = Run("db purge --older-than soon --db " + db_);
  EXPECT_EQ(r.status, 2) << r.err;
  r = Run("db purge --older-than 2000-01-01 --dry-run --db " + db_);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("would delete runs started before 2000-01-01 00:00:00 UTC: 0 runs"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Run("db stats --db " + (dir_ / "absent.duckdb").string()).status, 3);

  // A result whose run is gone (a table copied without its constraints) fails the check.
  {
    auto store = store::ResultStore::Open(db_);
    store->Query(
        "CREATE TABLE p2 AS SELECT * FROM performance_results; DROP VIEW latest_performance; "
        "DROP TABLE performance_results; ALTER TABLE p2 RENAME TO performance_results; "
        "UPDATE performance_results SET run_id = 'ghost'");
  }
  r = Run("db check --db " + db_);
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("problem  performance_results 1: run_id ghost does not exist in runs"),
            std::string::npos)
      << r.out;
}

TEST_F(CliTest, DbBackupAndExportNeverOverwriteAndLeaveNoHalfFile) {
  SeedDatabase();
  const std::string copy = (dir_ / "copy.duckdb").string();
  Result r = Run("db backup " + copy + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto size = fs::file_size(copy);
  r = Run("db backup " + copy + " --db " + db_);
  ExpectCleanFailure(r, 8, "already exists");
  EXPECT_EQ(fs::file_size(copy), size);

  r = Run("db export --format csv --output " + (dir_ / "csv").string() + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "csv" / "performance_results.csv"));

  const fs::path unwritable = dir_ / "missing" / "runs.parquet";
  r = Run("db export --format parquet --table runs --output " + unwritable.string() + " --db " +
          db_);
  ExpectCleanFailure(r, 8, unwritable.string());
  EXPECT_FALSE(fs::exists(dir_ / "missing"));
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".partial"), std::string::npos) << e.path();
}

TEST_F(CliTest, DbRestoreBringsBackABackupAndRefusesADamagedOne) {
  SeedDatabase();
  const std::string folder = (dir_ / "backup").string();
  ASSERT_EQ(Run("db backup --compress " + folder + " --db " + db_).status, 0);
  const std::string restored = (dir_ / "restored.duckdb").string();
  Result r = Run("db restore " + folder + " --db " + restored);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("1 performance_results"), std::string::npos) << r.out;
  EXPECT_EQ(*store::ResultStore::Open(restored, {.read_only = true})
                 ->Query("SELECT count(*) FROM performance_results")
                 .rows.at(0)
                 .at(0),
            "1");

  fs::resize_file(fs::path(folder) / "runs.parquet", 10);  // a backup cut short
  const std::string before = ReadFile(db_);
  r = Run("db restore " + folder + " --force --db " + db_);
  ExpectCleanFailure(r, 4, "incomplete or damaged");
  EXPECT_EQ(ReadFile(db_), before);
  ExpectCleanFailure(Run("db restore " + folder + " --db " + db_), 8, "--force");
}

// Threads are the intra-op threads the run used: ONNX Runtime's default (one per physical
// core) resolved and said so, or the number asked for.
TEST_F(CliTest, BenchmarkStoresTheThreadsItUsed) {
  SeedDatabase();
  ASSERT_EQ(Run("benchmark --model bert-tiny --seq-len 16 --iterations 3 --min-time 0 --warmup 0 "
                "-t 1 --db " +
                db_)
                .status,
            0);
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto rows = store
                        ->Query(
                            "SELECT threads, session_options_json->>'threads_source', "
                            "CAST(session_options_json->>'intra_op_threads' AS INTEGER) "
                            "FROM performance_results ORDER BY result_id")
                        .rows;
  ASSERT_EQ(rows.size(), 2u);
  const std::string cores = std::to_string(hw::DetectCpu().physical_cores);
  EXPECT_EQ(rows[0], (std::vector<std::optional<std::string>>{cores, "runtime default", cores}));
  EXPECT_EQ(rows[1], (std::vector<std::optional<std::string>>{"1", "asked", "1"}));
}

// Two folders with the same weights and different config.json are two models; the same
// folder again is the same model.
TEST_F(CliTest, AModelIsItsWeightsAndItsConfig) {
  const fs::path a = CopyFixture();
  const fs::path b = dir_ / "other" / "bert";
  fs::create_directories(b.parent_path());
  fs::copy(a, b);
  nlohmann::json config = nlohmann::json::parse(ReadFile(b / "config.json"));
  config["num_attention_heads"] = 2;  // another structure over the same weights
  std::ofstream(b / "config.json") << config.dump(2);
  for (const fs::path& folder : {a, b, a}) {
    const Result r = Run("benchmark --model " + folder.string() +
                         " --seq-len 16 --iterations 3 --min-time 0 --warmup 0 --db " + db_);
    ASSERT_EQ(r.status, 0) << r.err;
  }
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto rows = store
                        ->Query(
                            "SELECT count(DISTINCT content_hash), count(DISTINCT config_hash), "
                            "count(*) FROM models")
                        .rows;
  EXPECT_EQ(rows.at(0), (std::vector<std::optional<std::string>>{"1", "2", "2"}));
  EXPECT_EQ(Count("performance_results p JOIN models m USING (model_id) WHERE m.source_path = '" +
                  a.string() + "'"),
            2);
}

// A legacy file without p50 stores none: nothing ranks it as the fastest, db check passes.
TEST_F(CliTest, AnImportedResultWithoutP50IsNotTheFastest) {
  const std::string flat = std::string(IPFS_ACCEL_SHARED_DIR) +
                           "/fixtures/legacy-json/benchmark_bert_cpu_20250305_195714.json";
  ASSERT_EQ(Run("db import " + flat + " --db " + db_).status, 0);
  const Result r = Run("report hardware --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json rows = nlohmann::json::parse(r.out);
  ASSERT_FALSE(rows.empty()) << r.out;
  EXPECT_TRUE(rows.dump().find("\"best_p50_ms\":0.0") == std::string::npos) << r.out;
  EXPECT_EQ(Count("performance_results WHERE latency_p50_ms IS NULL"), 2);
  EXPECT_EQ(Count("performance_results WHERE latency_mean_ms = 20"), 1);
  EXPECT_EQ(Run("db check --db " + db_).status, 0);
}

const std::string kLegacyJson = std::string(IPFS_ACCEL_SHARED_DIR) + "/fixtures/legacy-json/";
const std::string kLegacyFiles = kLegacyJson + "benchmark_bert_cpu_20250305_195714.json " +
                                 kLegacyJson + "batch_benchmarks_cpu_20250306_174805.json " +
                                 kLegacyJson + "nested_benchmark_results_20250303_050235.json";

TEST_F(CliTest, DbImportReadsTheLegacyFilesOnceAndMarksThemImported) {
  Result r = Run("db import " + kLegacyFiles + " --json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  ASSERT_EQ(summary.size(), 3u);
  EXPECT_EQ(summary[0]["performance_rows"], 2);
  EXPECT_EQ(summary[1]["performance_rows"], 2);
  EXPECT_EQ(summary[2]["performance_rows"], 27);
  for (const auto& file : summary) EXPECT_FALSE(file["unmapped"].empty());
  EXPECT_EQ(Count("runs"), 3);
  EXPECT_EQ(Count("runs WHERE origin = 'imported' AND imported_from LIKE '%legacy-json/%.json'"),
            3);
  EXPECT_EQ(Count("performance_results"), 31);
  r = Run("db import " + kLegacyFiles + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("already imported"), std::string::npos) << r.out;
  EXPECT_EQ(Count("runs"), 3);
  EXPECT_EQ(Count("performance_results"), 31);
}

TEST_F(CliTest, DbImportWithOneMalformedFileImportsNothing) {
  // A database that already holds one import, so "nothing written" is checked against it.
  ASSERT_EQ(Run("db import " + kLegacyJson + "benchmark_bert_cpu_20250305_195714.json --db " + db_)
                .status,
            0);
  const std::string bad = (dir_ / "broken.json").string();
  std::ofstream(bad) << "{\"model\": \"bert\", \"batch_sizes\": {";
  const Result r = Run("db import " + kLegacyFiles + " " + bad + " --db " + db_);
  EXPECT_EQ(r.status, 4) << r.err;  // kExitCorrupt
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.ErrorLines()[0].find("broken.json' is not valid JSON"), std::string::npos) << r.err;
  EXPECT_EQ(Count("runs"), 1);  // the database opens and holds what it held
  EXPECT_EQ(Count("performance_results"), 2);
}

TEST_F(CliTest, DbImportRefusesAFileOfNoKnownShape) {
  const std::string other = (dir_ / "other.json").string();
  std::ofstream(other) << "[1, 2, 3]";
  const Result r = Run("db import " + other + " --db " + db_);
  EXPECT_EQ(r.status, 5) << r.err;  // kExitUnsupported
  EXPECT_FALSE(fs::exists(db_));    // checked before the database was opened
}

TEST_F(CliTest, DbImportDryRunWritesNothing) {
  const Result r = Run("db import --dry-run " + kLegacyFiles + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("would import 1 run(s), 27 performance row(s)"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(db_));
}

// `compare`: runs written straight into the store (a baseline history on main and a contender
// commit), so the verdicts do not depend on this machine's timing.
store::RunResults CompareRun(const std::string& id, const std::string& started,
                             const std::string& commit, const std::string& branch, double level) {
  // 40 distinct latencies within +-2% of the level, in a shuffled order.
  std::vector<double> samples;
  for (int i = 0; i < 40; ++i) samples.push_back(level * (0.98 + 0.001 * ((i * 17) % 40)));
  return testing::StoredRunWithSamples(id, started, commit, branch, samples);
}

TEST_F(CliTest, CompareExitsOneOnARegressionAndZeroOnAnEqualContender) {
  {
    auto store = store::ResultStore::Open(db_);
    const double levels[] = {10.0, 10.2, 9.9, 10.1};
    for (int i = 0; i < 4; ++i)
      store->WriteRun(CompareRun("base-" + std::to_string(i),
                                 "2026-11-2" + std::to_string(i) + "T10:00:00Z",
                                 "aaaa0000000" + std::to_string(i), "main", levels[i]));
    store->WriteRun(
        CompareRun("slow", "2026-11-25T10:00:00Z", "bbbb00000000", "feature-slow", 13.0));
    store->WriteRun(
        CompareRun("same", "2026-11-26T10:00:00Z", "cccc00000000", "feature-same", 10.05));
  }
  Result r =
      Run("compare --baseline main --contender bbbb00000000ffffffffffffffffffffffffffff "
          "--format json --db " +
          db_);
  ASSERT_EQ(r.status, 1) << r.err;
  const nlohmann::json rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 1u) << r.out;
  EXPECT_EQ(rows[0]["model"], "bert-tiny (seed 0)");
  EXPECT_EQ(rows[0]["verdict"], "regression");
  EXPECT_EQ(rows[0]["z_verdict"], "regression");
  EXPECT_EQ(rows[0]["u_verdict"], "regression");
  EXPECT_NEAR(rows[0]["ratio"].get<double>(), 1.3, 0.05);

  r = Run("compare --baseline main --contender feature-same --db " + db_);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("bert-tiny"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no change"), std::string::npos) << r.out;

  r = Run("compare --baseline nope --contender feature-same --db " + db_);
  EXPECT_EQ(r.status, 3) << r.err;
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.ErrorLines()[0].find("'nope'"), std::string::npos) << r.err;
}

// --- report: every kind and format; the HTML page in a real browser ---------------------------

TEST_F(CliTest, ReportKindsAndFormats) {
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(Run("benchmark --model bert-tiny --seq-lens 8 --batch-sizes 1,2 --iterations 3 "
                  "--min-time 0 --db " +
                  db_)
                  .status,
              0);
  for (const std::string kind : {"performance", "hardware", "compatibility", "trend"})
    for (const std::string format : {"md", "csv", "json", "html"}) {
      const fs::path out = dir_ / (kind + "." + format);
      const Result r =
          Run("report " + kind + " --format " + format + " -o " + out.string() + " --db " + db_);
      ASSERT_EQ(r.status, 0) << kind << " " << format << ": " << r.err;
      const std::string text = ReadFile(out);
      // The matrix names models only in its details (footnotes, titles, JSON); its columns
      // are platforms.
      EXPECT_NE(text.find(kind == "compatibility" ? "CPU" : "bert-tiny"), std::string::npos)
          << kind << " " << format;
      if (format == "json") {
        EXPECT_TRUE(nlohmann::json::accept(text)) << kind;
      }
      if (format == "html") {
        EXPECT_EQ(text.find("<script"), std::string::npos) << kind;
      }
    }
  // No temporary file is left beside the outputs.
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_NE(e.path().filename().string().front(), '.') << e.path();
  const nlohmann::json trend = nlohmann::json::parse(ReadFile(dir_ / "trend.json"));
  EXPECT_EQ(trend.size(), 4u);  // 2 configurations x 2 runs

  // Regressions between the two runs, named by their ids.
  auto store = store::ResultStore::Open(db_, {.read_only = true});
  const auto runs = store->Query("SELECT run_id FROM runs ORDER BY started_at, run_id");
  store.reset();
  ASSERT_EQ(runs.rows.size(), 2u);
  Result r = Run("report regressions --baseline " + *runs.rows[0][0] + " --contender " +
                 *runs.rows[1][0] + " --format json --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).size(), 2u) << r.out;
  r = Run("report regressions --baseline " + *runs.rows[0][0] + " --db " + db_);
  EXPECT_EQ(r.status, 2) << r.err;  // one ref without the other
  r = Run("report nonsense --db " + db_);
  EXPECT_NE(r.status, 0);
  // A folder that does not exist: a one-line I/O error naming the path.
  r = Run("report performance -o " + (dir_ / "no" / "such" / "r.md").string() + " --db " + db_);
  EXPECT_NE(r.status, 0);
  ASSERT_EQ(r.ErrorLines().size(), 1u) << r.err;
  EXPECT_NE(r.ErrorLines()[0].find("r.md"), std::string::npos) << r.err;
}

constexpr const char* kChromium = "/usr/lib/chromium/chromium";

// Runs Chromium headless on `args` in its own process group with stdout to `stdout_path`;
// kills the whole group after `timeout`. Returns the exit status, or -1 on timeout.
int RunChromium(const std::vector<std::string>& args, const fs::path& stdout_path,
                std::chrono::seconds timeout) {
  const fs::path profile = stdout_path.string() + ".profile";
  fs::create_directories(profile);
  std::vector<std::string> argv = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--user-data-dir=" + profile.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    const int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(out, 1);
    ::dup2(null, 2);  // Chromium's D-Bus complaints
    ::execv(kChromium, cargv.data());
    ::_exit(127);
  }
  if (pid < 0) return -2;
  ::setpgid(pid, pid);  // also here: no race with the child's own call
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(-pid, SIGKILL);  // helpers (GPU, network service) that outlived the browser
  return WIFEXITED(status) ? WEXITSTATUS(status) : -3;
}

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

TEST_F(CliTest, ReportHtmlRendersInChromium) {
  if (!fs::exists(kChromium)) GTEST_SKIP() << kChromium << " is not installed";
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(Run("benchmark --model bert-tiny --seq-lens 8 --batch-sizes 1,2 --iterations 3 "
                  "--min-time 0 --db " +
                  db_)
                  .status,
              0);
  const fs::path page = dir_ / "report.html";
  const Result r = Run("report performance --format html -o " + page.string() + " --db " + db_);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string url = "file://" + page.string();

  const fs::path png = dir_ / "report.png";
  ASSERT_EQ(RunChromium({"--screenshot=" + png.string(), "--window-size=1200,900", url},
                        dir_ / "screenshot.out", std::chrono::seconds(60)),
            0);
  ASSERT_TRUE(fs::exists(png));
  // A 1200x900 PNG of a page with two charts: well over a blank page's few kB, under raw pixels.
  EXPECT_GT(fs::file_size(png), 10'000u);
  EXPECT_LT(fs::file_size(png), 1200u * 900 * 4);
  EXPECT_EQ(ReadFile(png).substr(1, 3), "PNG");

  const fs::path dom = dir_ / "dom.html";
  ASSERT_EQ(RunChromium({"--dump-dom", url}, dom, std::chrono::seconds(60)), 0);
  const std::string html = ReadFile(dom);
  // The latest run: one line (bert-tiny on the CPU, plain fp32, seq 8) of two batch sizes,
  // one bar, two table rows.
  EXPECT_EQ(Occurrences(html, "<svg"), 2u) << html;
  EXPECT_EQ(Occurrences(html, "class=\"chart-series\""), 1u) << html;
  EXPECT_EQ(Occurrences(html, "class=\"chart-bar\""), 1u) << html;
  EXPECT_EQ(Occurrences(html, "class=\"report-row\""), 2u) << html;
  EXPECT_EQ(Occurrences(html, "<circle"), 2u) << html;  // one dot per batch size
}

// `db export --format run-json` writes what `db import` reads: every run moves to a fresh
// database with the same rows. `report performance` shows each configuration once unless
// --all, and --limit caps it.
TEST_F(CliTest, RunJsonExportMovesRunsBetweenDatabasesAndReportShowsLatestUnlessAll) {
  {
    auto store = store::ResultStore::Open(db_);
    store->WriteRun(CompareRun("first", "2026-11-20T10:00:00Z", "aaaa00000000", "main", 10.0));
    store->WriteRun(CompareRun("second", "2026-11-21T10:00:00Z", "bbbb00000000", "main", 11.0));
  }
  const std::string file = (dir_ / "runs.json").string();
  const Result exported = Run("db export --format run-json --output " + file + " --db " + db_);
  ASSERT_EQ(exported.status, 0) << exported.err;
  const std::string fresh = (dir_ / "fresh.duckdb").string();
  const Result imported = Run("db import " + file + " --db " + fresh);
  ASSERT_EQ(imported.status, 0) << imported.err;
  const auto rows = [](const std::string& path) {
    auto store = store::ResultStore::Open(path, {.read_only = true});
    return store
        ->Query(
            "SELECT run_id, samples_ms, latency_p50_ms, batch_size FROM performance_results "
            "ORDER BY run_id")
        .rows;
  };
  EXPECT_EQ(rows(fresh), rows(db_));
  EXPECT_EQ(rows(fresh).size(), 2u);

  const Result one = Run("db export --format run-json --run first --output " +
                         (dir_ / "first.json").string() + " --db " + db_);
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_NE(ReadFile(dir_ / "first.json").find("\"first\""), std::string::npos);
  EXPECT_EQ(ReadFile(dir_ / "first.json").find("\"second\""), std::string::npos);

  const Result latest = Run("report performance --run all --format csv --db " + db_);
  ASSERT_EQ(latest.status, 0) << latest.err;
  EXPECT_EQ(Occurrences(latest.out, "\n"), 2u) << latest.out;  // header + one configuration
  EXPECT_NE(latest.out.find("second"), std::string::npos) << latest.out;
  const Result all = Run("report performance --run all --all --format csv --db " + db_);
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_EQ(Occurrences(all.out, "\n"), 3u) << all.out;
  const Result limited =
      Run("report performance --run all --all --limit 1 --format csv --db " + db_);
  ASSERT_EQ(limited.status, 0) << limited.err;
  EXPECT_EQ(Occurrences(limited.out, "\n"), 2u) << limited.out;
}

}  // namespace cli_test
}  // namespace ipfs_accel
